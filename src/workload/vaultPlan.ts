/**
 * The pure planner for one identity's Key Vault Secrets User grants, one vault at a time: from what
 * the identity's `acr-workload-vault` tag asks for, what the vault says (its consent, its permission
 * model, whether it holds the app's pull credentials) and the assignments at its scope → the steps
 * to take, in order: deny, leave, grant, revoke, keep, forget the index row.
 *
 * The consent decision itself is policy/vaultGrant.ts; this adds what the identity already holds.
 * The steps are carried out by vaultGrants.ts, which reads the facts and writes.
 */
import { ownershipOfListed } from '../assignments/executor.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError } from '../errors.js';
import { roleAssignmentName, standsFor } from '../policy/ownership.js';
import type { Tags } from '../policy/result.js';
import { ROLES } from '../policy/roles.js';
import { decideVaultGrant, VAULT_DENIALS, type VaultDenial } from '../policy/vaultGrant.js';
import { WORKLOAD_TAG_NAMES } from '../policy/workloadTags.js';

/** The Key Vault part of one identity's plan. */
export interface VaultPlan {
  readonly grants: readonly { readonly vaultId: string; readonly vaultName: string; readonly name: string; readonly reason: string }[];
  readonly unchanged: readonly {
    readonly vaultId: string;
    readonly vaultName: string;
    readonly name: string;
    readonly owned: boolean;
    readonly reason: string;
  }[];
  /** Named by the identity, but the vault does not consent (`acr-workload-allow`): nothing granted. */
  readonly denied: readonly { readonly vaultId: string; readonly vaultName: string; readonly reason: string }[];
  readonly revokes: readonly {
    readonly vaultId: string;
    readonly vaultName: string;
    readonly name: string;
    readonly principalId: string;
    readonly reason: string;
  }[];
}

/** A vault plan being filled in as its steps are carried out. */
export type VaultPlanDraft = { -readonly [K in keyof VaultPlan]: VaultPlan[K][number][] };

export function emptyVaultPlan(): VaultPlanDraft {
  return { grants: [], unchanged: [], denied: [], revokes: [] };
}

/** What is known of one vault scope when its grant is decided. */
export interface VaultScopeFacts {
  readonly identity: { readonly id: string; readonly name: string; readonly tags?: Tags };
  /** The identity's principal now. */
  readonly principalId: string;
  readonly vault: { readonly id: string; readonly name: string };
  /** ARM's copy of the vault when the identity's tag names it and it exists; absent when only the index remembers it. */
  readonly wanted?: {
    readonly id: string;
    readonly name: string;
    readonly tags?: Tags;
    readonly properties?: Readonly<Record<string, unknown>>;
  };
  /** Named, and found by Resource Graph, but gone in ARM (deleted; Resource Graph lags). */
  readonly gone: boolean;
  /** False when the identity's workload tags could not be fully read: nothing that is merely not asked for is revoked. */
  readonly allowRevoke: boolean;
  /** The role assignments at the vault's scope, as ARM lists them. */
  readonly assignments: readonly RoleAssignmentInfo[];
  /** Why the vault holds the app's pull credentials (vaultGrants.ts reads it), when it does; asked only when `needsCredentialsVaultAnswer`. */
  readonly holdsPullCredentials?: string;
}

/** One step of a vault's plan, carried out in order. */
export type VaultStep =
  /** No grant: the vault does not consent, holds pull credentials, or uses access policies. */
  | { readonly kind: 'deny'; readonly reason: string; readonly byConsent: boolean; readonly code: VaultDenial }
  /** The identity's principal already holds the role (ours or made by hand). */
  | { readonly kind: 'present'; readonly name: string; readonly owned: boolean; readonly reason: string }
  | { readonly kind: 'grant'; readonly name: string; readonly reason: string }
  /** Ours, revoked through the executor (which deletes only what is ours). */
  | { readonly kind: 'revoke'; readonly assignment: RoleAssignmentInfo; readonly reason: string }
  /** Ours, not asked for, but kept: a `skipped` row. */
  | { readonly kind: 'keep'; readonly assignment: RoleAssignmentInfo; readonly reason: string }
  /** Drop the index row, unless a step before it failed in a way worth retrying. */
  | { readonly kind: 'forget' };

const ROLE = ROLES.keyVaultSecretsUser;

/** The Key Vault Secrets User assignments the automation made for this identity. */
export function oursOf(assignments: readonly RoleAssignmentInfo[], identityId: string): RoleAssignmentInfo[] {
  return assignments.filter((a) => a.roleDefinitionGuid === ROLE.roleDefinitionId && standsFor(ownershipOfListed(a), identityId));
}

/** Whether the plan for this vault needs to know if it holds the app's pull credentials (a lookup is made only then). */
export function needsCredentialsVaultAnswer(facts: Omit<VaultScopeFacts, 'holdsPullCredentials'>): boolean {
  if (facts.wanted) return true;
  if (facts.allowRevoke || facts.gone) return false;
  return oursOf(facts.assignments, facts.identity.id).length > 0;
}

/** The steps for one vault scope. Throws InvalidScope when the vault id makes no assignment name (ARM gave an id we cannot use). */
export function planVaultScope(facts: VaultScopeFacts): VaultStep[] {
  const { identity, principalId, vault, wanted } = facts;
  const secretsUser = facts.assignments.filter((a) => a.roleDefinitionGuid === ROLE.roleDefinitionId);
  const ours = secretsUser.filter((a) => standsFor(ownershipOfListed(a), identity.id));
  const holds = facts.holdsPullCredentials;
  const steps: VaultStep[] = [];

  if (wanted) {
    const present = secretsUser.find((a) => a.principalId.toLowerCase() === principalId.toLowerCase());
    const consent = decideVaultGrant(
      {
        id: wanted.id,
        name: wanted.name,
        ...(wanted.tags ? { tags: wanted.tags } : {}),
        ...(wanted.properties ? { properties: wanted.properties } : {}),
        ...(holds ? { holdsPullCredentials: holds } : {}),
      },
      { id: identity.id, ...(identity.tags ? { tags: identity.tags } : {}) },
    );
    if (!consent.allowed) {
      // It does not consent (a `denied-by-consent` row), or holds the app's pull credentials or uses
      // access policies (a `denied` row whose errorCode says which); ours is revoked.
      const byConsent = consent.code === VAULT_DENIALS.noConsent;
      const byHand = present !== undefined && ownershipOfListed(present) === undefined;
      const reason =
        `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names ${vault.name}, but ${consent.reason}; ${ROLE.name} is not granted` +
        (byHand ? ` (an assignment made outside the automation exists and is left as it is)` : '');
      steps.push({ kind: 'deny', reason, byConsent, code: consent.code });
      for (const assignment of ours) {
        const why = byConsent
          ? `Key Vault ${vault.name} does not consent to ${identity.name} (${consent.reason}), so its ${ROLE.name} is revoked`
          : `${consent.reason}; ${identity.name}'s ${ROLE.name} there is revoked`;
        steps.push({ kind: 'revoke', assignment, reason: why });
      }
      steps.push({ kind: 'forget' });
      return steps;
    }
    const name = roleAssignmentName({ scope: vault.id, principalId, roleDefinitionId: ROLE.roleDefinitionId });
    if (!name.ok) throw new AppError('InvalidScope', name.error);
    if (present) {
      const owned = ownershipOfListed(present) !== undefined;
      const reason = owned
        ? `${identity.name} holds ${ROLE.name} on ${vault.name} (${consent.reason})`
        : `${identity.name} holds ${ROLE.name} on ${vault.name} (assigned outside the automation; left as it is)`;
      steps.push({ kind: 'present', name: present.name, owned, reason });
    } else {
      steps.push({
        kind: 'grant',
        name: name.value,
        reason: `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names ${vault.name}, and ${consent.reason}`,
      });
    }
    // Ours for an earlier principal of this identity (deleted and recreated under the same name).
    for (const assignment of ours.filter((x) => x.principalId.toLowerCase() !== principalId.toLowerCase())) {
      steps.push({
        kind: 'revoke',
        assignment,
        reason: `${identity.name}'s principal changed; the grant to its old principal ${assignment.principalId} is revoked`,
      });
    }
    return steps;
  }

  if (facts.allowRevoke || facts.gone) {
    const why = facts.gone
      ? `Key Vault ${vault.name} no longer exists`
      : `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} no longer names ${vault.name}`;
    for (const assignment of ours) steps.push({ kind: 'revoke', assignment, reason: why });
    steps.push({ kind: 'forget' });
    return steps;
  }

  for (const assignment of ours) {
    // Ours on a vault holding pull credentials goes whatever the tags say.
    if (holds)
      steps.push({
        kind: 'revoke',
        assignment,
        reason: `Key Vault ${vault.name} holds the automation's pull credentials (${holds}), so ${identity.name}'s ${ROLE.name} there is revoked`,
      });
    else
      steps.push({
        kind: 'keep',
        assignment,
        reason: `${ROLE.name} on ${vault.name} is not asked for, but kept: the workload tags on ${identity.name} could not be fully read this time`,
      });
  }
  return steps;
}
