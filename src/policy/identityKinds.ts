/**
 * How a principal is attached to the consumer that holds it — the one vocabulary identity
 * resolution, the planner and the audit reasons use. Azure's own words: an `identity.type` of
 * `SystemAssigned` / `UserAssigned`, and AKS's kubelet identity
 * (`properties.identityProfile.kubeletidentity`).
 */
export const IDENTITY_KINDS = {
  systemAssigned: 'system-assigned',
  userAssigned: 'user-assigned',
  kubelet: 'kubelet',
} as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[keyof typeof IDENTITY_KINDS];

/** What a reason calls each kind: "vm-web-1's system-assigned identity". */
export const IDENTITY_KIND_WORDS: Readonly<Record<IdentityKind, string>> = {
  [IDENTITY_KINDS.systemAssigned]: 'system-assigned identity',
  [IDENTITY_KINDS.userAssigned]: 'user-assigned identity',
  [IDENTITY_KINDS.kubelet]: 'kubelet identity',
};
