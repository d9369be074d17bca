/**
 * Ownership of role assignments: their deterministic names, every `description` format the
 * automation writes, the parser for each, and the one test of "is this ours".
 *
 * An assignment is ours only when BOTH hold:
 *   - its name is the deterministic name of its (scope, principal, role) — a name-based UUID
 *     (RFC 4122 §4.3, version 5, SHA-1), so a retried or duplicated event PUTs the same name; and
 *   - its description parses as one of the formats below.
 * A description alone proves nothing: anyone who can write a role assignment can copy it.
 *
 * Formats (each after `Managed by acr-pull-automation: `), all written by earlier versions too:
 *   acr-pull on <consumer id>                                   tag policy (acr-push likewise)
 *   manual acr-pull by <caller> on <consumer id>                manual grant to a resource's identities
 *   manual acr-pull (consent override) by <caller> on <id>      … made over the registry's consent
 *   manual acr-pull by <caller> for principal <principal id>    manual grant to a bare principal
 *   acr-workload-vault on <identity id>                         workload identity's Key Vault Secrets User
 *   pull credentials for <registry name>                        a pull-credential service principal's role
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { parseResourceId, sameResourceId } from './resourceId.js';
import { fail, isGuid, ok, quote, type Result } from './result.js';
import { roleDefinitionGuid } from './roles.js';
import { TAG_NAMES } from './tags.js';
import { WORKLOAD_TAG_NAMES } from './workloadTags.js';

/** Our namespace for v5 names. Never change it: every existing assignment name derives from it. */
export const ASSIGNMENT_NAMESPACE = 'ff621b0d-acba-47d5-8b0c-f3a3cc447b7b';

/** Starts the `description` of every role assignment the automation creates. */
export const OWNERSHIP_MARKER = 'Managed by acr-pull-automation';

/** RFC 4122 version-5 UUID of `name` (UTF-8) in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  if (!isGuid(namespace)) throw new TypeError(`namespace ${quote(namespace)} is not a UUID`); // programming error: namespaces are constants
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface AssignmentKey {
  /** Resource id the role is assigned at (a registry, a key vault). */
  readonly scope: string;
  readonly principalId: string;
  /** Bare GUID or any ARM form of the role definition id. */
  readonly roleDefinitionId: string;
}

/**
 * The deterministic name of the assignment of a role to a principal at a scope. Inputs are
 * normalised first (scope casing and `resourcegroups`, principal case, role id form), so every
 * spelling of the same assignment gets the same name.
 */
export function roleAssignmentName(key: AssignmentKey): Result<string> {
  const scope = parseResourceId(key.scope);
  if (!scope.ok) return fail(`cannot name a role assignment: ${scope.error}`);
  if (!isGuid(key.principalId)) return fail(`cannot name a role assignment: principal id ${quote(key.principalId)} is not a GUID`);
  const role = roleDefinitionGuid(key.roleDefinitionId);
  if (role === undefined)
    return fail(`cannot name a role assignment: role definition id ${quote(key.roleDefinitionId)} does not end in a GUID`);
  return ok(uuidV5(`${scope.value.normalized}|${key.principalId.toLowerCase()}|${role}`, ASSIGNMENT_NAMESPACE));
}

/** What an assignment of ours stands for, as its description says. */
export const OWNERSHIP_KINDS = {
  tagPolicy: 'tag-policy',
  manual: 'manual',
  workloadVault: 'workload-vault',
  pullCredential: 'pull-credential',
} as const;
export type OwnershipKind = (typeof OWNERSHIP_KINDS)[keyof typeof OWNERSHIP_KINDS];

/** The access tags a registry grant stands for. */
export type AccessTag = typeof TAG_NAMES.pull | typeof TAG_NAMES.push;

export type Ownership =
  /** Granted because `<tag>` on the consumer asked for it. */
  | { readonly kind: typeof OWNERSHIP_KINDS.tagPolicy; readonly tag: AccessTag; readonly consumerId: string }
  /** Granted by hand (POST /api/access/grants), to a resource's identities or to one principal. */
  | {
      readonly kind: typeof OWNERSHIP_KINDS.manual;
      readonly tag: AccessTag;
      readonly caller: string;
      /** Made over the registry's consent (ACCESS_ALLOW_CONSENT_OVERRIDE). */
      readonly override: boolean;
      readonly consumerId?: string;
      readonly principalId?: string;
    }
  /** Key Vault Secrets User for a workload identity whose `acr-workload-vault` names the vault. */
  | { readonly kind: typeof OWNERSHIP_KINDS.workloadVault; readonly identityId: string }
  /** The pull role of a registry's pull-credential service principal. */
  | { readonly kind: typeof OWNERSHIP_KINDS.pullCredential; readonly registryName: string };

/** Callers come from request headers (already cleaned of control characters); keep descriptions short. */
const MAX_CALLER_LENGTH = 120;
const PREFIX = `${OWNERSHIP_MARKER}: `;
const PULL_CREDENTIAL_DETAIL = 'pull credentials for ';

/** The `description` to write for what an assignment stands for. */
export function describeOwnership(ownership: Ownership): string {
  switch (ownership.kind) {
    case OWNERSHIP_KINDS.tagPolicy:
      return `${PREFIX}${ownership.tag} on ${ownership.consumerId}`;
    case OWNERSHIP_KINDS.manual: {
      const caller = ownership.caller.replace(/\s+/g, ' ').trim().slice(0, MAX_CALLER_LENGTH) || 'unknown caller';
      const what = `manual ${ownership.tag}${ownership.override ? ' (consent override)' : ''} by ${caller}`;
      return `${PREFIX}${ownership.consumerId ? `${what} on ${ownership.consumerId}` : `${what} for principal ${ownership.principalId ?? ''}`}`;
    }
    case OWNERSHIP_KINDS.workloadVault:
      return `${PREFIX}${WORKLOAD_TAG_NAMES.vault} on ${ownership.identityId}`;
    case OWNERSHIP_KINDS.pullCredential:
      return `${PREFIX}${PULL_CREDENTIAL_DETAIL}${ownership.registryName.toLowerCase()}`;
  }
}

// Resource ids hold no whitespace, so ` on /subscriptions/…` at the very end names the resource even
// when a caller's name contains " on ": the caller is matched greedily up to the last one.
const TAG_POLICY = /^(acr-pull|acr-push) on (\/subscriptions\/\S+)$/i;
const MANUAL_ON = /^manual (acr-pull|acr-push)( \(consent override\))? by (.+) on (\/subscriptions\/\S+)$/i;
const MANUAL_FOR =
  /^manual (acr-pull|acr-push)( \(consent override\))? by (.+) for principal ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const WORKLOAD_VAULT = new RegExp(`^${WORKLOAD_TAG_NAMES.vault} on (\\/subscriptions\\/\\S+)$`, 'i');
const PULL_CREDENTIAL = /^pull credentials for (\S+)$/i;

/**
 * What a description says the assignment stands for; undefined when it is not one we write (no
 * marker, or a detail in no known format). Accepts every format earlier versions wrote.
 */
export function parseOwnership(description: string | null | undefined): Ownership | undefined {
  if (typeof description !== 'string') return undefined;
  const text = description.trim();
  if (!text.startsWith(PREFIX)) return undefined;
  const detail = text.slice(PREFIX.length).trim();
  let m: RegExpExecArray | null;
  if ((m = TAG_POLICY.exec(detail))) return { kind: OWNERSHIP_KINDS.tagPolicy, tag: accessTag(m[1]!), consumerId: m[2]! };
  if ((m = MANUAL_ON.exec(detail)))
    return { kind: OWNERSHIP_KINDS.manual, tag: accessTag(m[1]!), override: m[2] !== undefined, caller: m[3]!, consumerId: m[4]! };
  if ((m = MANUAL_FOR.exec(detail)))
    return {
      kind: OWNERSHIP_KINDS.manual,
      tag: accessTag(m[1]!),
      override: m[2] !== undefined,
      caller: m[3]!,
      principalId: m[4]!.toLowerCase(),
    };
  if ((m = WORKLOAD_VAULT.exec(detail))) return { kind: OWNERSHIP_KINDS.workloadVault, identityId: m[1]! };
  if ((m = PULL_CREDENTIAL.exec(detail))) return { kind: OWNERSHIP_KINDS.pullCredential, registryName: m[1]!.toLowerCase() };
  return undefined;
}

function accessTag(value: string): AccessTag {
  return value.toLowerCase() === TAG_NAMES.push ? TAG_NAMES.push : TAG_NAMES.pull;
}

/** A role assignment as ARM lists it; `roleDefinitionId` in any form (bare GUID included). */
export interface AssignmentLike {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly roleDefinitionId: string;
  readonly description?: string | null;
}

/** Whether an assignment's name is the deterministic name of its own (scope, principal, role). */
export function hasOurName(a: AssignmentLike): boolean {
  const expected = roleAssignmentName({ scope: a.scope, principalId: a.principalId, roleDefinitionId: a.roleDefinitionId });
  return expected.ok && expected.value === a.name.toLowerCase();
}

/** What an assignment of ours stands for; undefined unless it has our deterministic name AND our description. */
export function ownershipOf(a: AssignmentLike): Ownership | undefined {
  const ownership = parseOwnership(a.description);
  return ownership && hasOurName(a) ? ownership : undefined;
}

/** Whether the automation made this assignment: our deterministic name and a description we write. */
export function isOurs(a: AssignmentLike): boolean {
  return ownershipOf(a) !== undefined;
}

/**
 * The resource an assignment of ours stands for: the consumer (tag policy, manual grant to a
 * resource) or the workload identity (vault grant); undefined for a bare principal or a
 * pull-credential service principal, which no resource asks for.
 */
export function subjectOf(ownership: Ownership | undefined): string | undefined {
  if (!ownership) return undefined;
  switch (ownership.kind) {
    case OWNERSHIP_KINDS.tagPolicy:
      return ownership.consumerId;
    case OWNERSHIP_KINDS.manual:
      return ownership.consumerId;
    case OWNERSHIP_KINDS.workloadVault:
      return ownership.identityId;
    case OWNERSHIP_KINDS.pullCredential:
      return undefined;
  }
}

/** Whether an assignment of ours stands for this resource (its consumer, or its workload identity), whatever the id's casing. */
export function standsFor(ownership: Ownership | undefined, resourceId: string): boolean {
  const subject = subjectOf(ownership);
  return subject !== undefined && sameResourceId(subject, resourceId);
}
