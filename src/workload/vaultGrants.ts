/**
 * Key Vault Secrets User for workload identities: reads what a vault plan needs (the vaults an
 * identity names, as ARM has them now; the assignments at each vault; whether a vault holds the
 * app's pull credentials), asks the pure planner (vaultPlan.ts) one vault at a time, and carries
 * out its steps through the role-assignment executor, with the grant index beside it.
 *
 * A vault grant needs both sides, as a registry grant does: the identity names the vault
 * (`acr-workload-vault`) and the vault consents (`acr-workload-allow`). The app's own vaults (those
 * holding pull credentials) and vaults in access-policy mode are refused whatever they say.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { grantAssignment, revokeAssignment } from '../assignments/executor.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { describeOwnership, OWNERSHIP_KINDS } from '../policy/ownership.js';
import { sameResourceId } from '../policy/resourceId.js';
import { describeRole, ROLES } from '../policy/roles.js';
import { TAG_NAMES } from '../policy/tags.js';
import { WORKLOAD_TAG_NAMES, type VaultRef } from '../policy/workloadTags.js';
import {
  emptyVaultPlan,
  needsCredentialsVaultAnswer,
  oursOf,
  planVaultScope,
  type VaultPlan,
  type VaultPlanDraft,
  type VaultScopeFacts,
} from './vaultPlan.js';
import { key, nameOf, registriesStoringCredentialsInQuery, vaultsByNameQuery } from './workloadQueries.js';
import { readVault, type WorkloadRun } from './workloadRun.js';

/** Key Vault Secrets User on the vaults the tag names; ours on vaults it no longer names are revoked. */
export async function settleVaults(
  run: WorkloadRun,
  identity: ArmResource,
  principalId: string,
  refs: readonly VaultRef[],
  indexed: readonly string[],
  allowRevoke: boolean,
): Promise<VaultPlan> {
  const { deps } = run;
  const plan = emptyVaultPlan();
  const role = ROLES.keyVaultSecretsUser;
  const wantedVaults = new Map<string, ArmResource>();
  /** Named, and found by Resource Graph, but gone in ARM (deleted; Resource Graph lags). */
  const gone = new Set<string>();
  if (refs.length > 0) {
    const rows = await deps.resourceGraph.query(vaultsByNameQuery(refs.map((r) => r.name)), deps.config.watchedSubscriptions);
    for (const ref of refs) {
      const row = rows.find(
        (r) =>
          typeof r['id'] === 'string' &&
          String(r['name']).toLowerCase() === ref.name &&
          (ref.kind === 'name' || sameResourceId(String(r['id']), ref.resourceId)),
      );
      if (!row) {
        await run.decide({
          action: run.action('grant'),
          outcome: AUDIT_OUTCOMES.skipped,
          reason: `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names Key Vault ${ref.raw}, which was not found in the watched subscriptions`,
          resourceId: identity.id,
          principalId,
          role: describeRole(role),
          details: { vault: ref.raw },
        });
        continue;
      }
      // Resource Graph finds the id; ARM gives the current tags, so a withdrawn consent is never missed through its lag.
      const vault = await readVault(run, String(row['id']));
      if (!vault) {
        gone.add(key(String(row['id'])));
        await run.decide({
          action: run.action('grant'),
          outcome: AUDIT_OUTCOMES.skipped,
          reason: `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names Key Vault ${ref.raw}, which no longer exists`,
          resourceId: identity.id,
          principalId,
          role: describeRole(role),
          details: { vault: String(row['id']) },
        });
        continue;
      }
      wantedVaults.set(key(vault.id), vault);
    }
  }

  const scopes = new Map<string, { id: string; name: string }>(wantedVaults);
  for (const vaultId of indexed) if (!scopes.has(key(vaultId))) scopes.set(key(vaultId), { id: vaultId, name: nameOf(vaultId) });

  for (const [k, vault] of scopes) {
    const wanted = wantedVaults.get(k);
    const facts: Omit<VaultScopeFacts, 'holdsPullCredentials'> = {
      identity: { id: identity.id, name: identity.name, ...(identity.tags ? { tags: identity.tags } : {}) },
      principalId,
      vault,
      ...(wanted ? { wanted } : {}),
      gone: gone.has(k),
      allowRevoke,
      assignments: await deps.roleAssignments.listAtScope(vault.id),
    };
    const holds = needsCredentialsVaultAnswer(facts) ? await credentialsVaultReason(run, vault.name) : undefined;
    const steps = planVaultScope({ ...facts, ...(holds ? { holdsPullCredentials: holds } : {}) });
    await carryOut(run, plan, identity, principalId, vault, steps);
  }
  return plan;
}

/** Carries out one vault's steps in order; the index row is forgotten only when nothing before it failed in a way worth retrying. */
async function carryOut(
  run: WorkloadRun,
  plan: VaultPlanDraft,
  identity: ArmResource,
  principalId: string,
  vault: { id: string; name: string },
  steps: readonly ReturnType<typeof planVaultScope>[number][],
): Promise<void> {
  const base = { resourceId: identity.id, role: describeRole(ROLES.keyVaultSecretsUser), details: { vault: vault.id } };
  const before = run.retryError;
  for (const step of steps) {
    switch (step.kind) {
      case 'deny':
        plan.denied.push({ vaultId: vault.id, vaultName: vault.name, reason: step.reason });
        await run.decide({
          ...base,
          action: run.action('grant'),
          outcome: step.byConsent ? AUDIT_OUTCOMES.deniedByConsent : AUDIT_OUTCOMES.denied,
          principalId,
          reason: step.reason,
          ...(step.byConsent ? {} : { errorCode: step.code }),
        });
        break;
      case 'present':
        plan.unchanged.push({ vaultId: vault.id, vaultName: vault.name, name: step.name, owned: step.owned, reason: step.reason });
        await run.decide({ ...base, action: 'grant', outcome: AUDIT_OUTCOMES.alreadyPresent, principalId, reason: step.reason });
        break;
      case 'grant':
        plan.grants.push({ vaultId: vault.id, vaultName: vault.name, name: step.name, reason: step.reason });
        await grantVault(run, identity, principalId, vault, step.name, step.reason);
        break;
      case 'revoke':
        await revokeVault(run, plan, identity.id, vault, step.assignment, step.reason);
        break;
      case 'keep':
        await run.decide({
          ...base,
          action: run.action('revoke'),
          outcome: AUDIT_OUTCOMES.skipped,
          principalId: step.assignment.principalId,
          reason: step.reason,
        });
        break;
      case 'forget':
        if (!run.dryRun && run.retryError === before) await run.deps.vaultGrantIndex.remove(identity.id, vault.id);
        break;
    }
  }
}

/**
 * Whether a Key Vault holds the app's pull credentials, and how the app knows; undefined when it does
 * not. Read at decision time (once per run, never kept across runs): the CREDENTIALS_VAULT_NAMES
 * setting, the credentials enrolments, and any registry whose `acr-pull-credential` tag names the
 * vault (Resource Graph) — a registry may be tagged before its enrolment exists.
 */
function credentialsVaultReason(run: WorkloadRun, vaultName: string): Promise<string | undefined> {
  const name = vaultName.toLowerCase();
  let answer = run.credentialsVaults.get(name);
  if (!answer) {
    answer = (async () => {
      const { deps } = run;
      if (deps.config.credentialsVaultNames.includes(name)) return 'CREDENTIALS_VAULT_NAMES names it';
      const enrolled = (await deps.listCredentialVaults()).find((e) => e.vaultName.toLowerCase() === name);
      if (enrolled) return `registry ${enrolled.registryName} stores its pull credentials there`;
      const rows = await deps.resourceGraph.query(registriesStoringCredentialsInQuery(name), deps.config.watchedSubscriptions);
      const tagged = rows.find(
        (row) =>
          typeof row['name'] === 'string' &&
          String(getTagValue(row['tags'], TAG_NAMES.credential) ?? '')
            .trim()
            .toLowerCase() === name,
      );
      return tagged ? `registry ${String(tagged['name'])}'s ${TAG_NAMES.credential} tag names it` : undefined;
    })();
    run.credentialsVaults.set(name, answer);
  }
  return answer;
}

function getTagValue(tags: unknown, tag: string): string | undefined {
  if (typeof tags !== 'object' || tags === null) return undefined;
  const entry = Object.entries(tags).find(([k]) => k.toLowerCase() === tag);
  return typeof entry?.[1] === 'string' ? entry[1] : undefined;
}

/** Key Vault Secrets User for the identity on the vault, through the executor (the index row first, as for registries). */
async function grantVault(
  run: WorkloadRun,
  identity: ArmResource,
  principalId: string,
  vault: { id: string; name: string },
  name: string,
  reason: string,
): Promise<void> {
  await grantAssignment(
    run.deps,
    run,
    {
      name,
      scope: vault.id,
      scopeName: vault.name,
      principalId,
      principalType: 'ServicePrincipal',
      role: ROLES.keyVaultSecretsUser,
      description: describeOwnership({ kind: OWNERSHIP_KINDS.workloadVault, identityId: identity.id }),
    },
    { action: run.action('grant'), resourceId: identity.id, reason, details: { vault: vault.id } },
    { index: run.deps.vaultGrantIndex, entry: { consumerId: identity.id, registryId: vault.id } },
  );
}

/**
 * Revokes ours through the executor, which deletes it only if it is ours (deterministic name and
 * our description). No other consumer is asked: only a user-assigned identity's own
 * `acr-workload-vault` asks for Key Vault Secrets User, and its principal is its alone.
 */
async function revokeVault(
  run: WorkloadRun,
  plan: Pick<VaultPlanDraft, 'revokes'>,
  identityId: string,
  vault: { id: string; name: string },
  a: RoleAssignmentInfo,
  reason: string,
): Promise<void> {
  plan.revokes.push({ vaultId: vault.id, vaultName: vault.name, name: a.name, principalId: a.principalId, reason });
  await revokeAssignment(run.deps, run, a, {
    action: run.action('revoke'),
    resourceId: identityId,
    reason,
    scopeName: vault.name,
    details: { vault: vault.id },
  });
}

/** The identity is gone (its federated credentials went with it): revoke ours on the vaults the index remembers. */
export async function revokeVaultsOfDeletedIdentity(run: WorkloadRun, identityId: string): Promise<void> {
  const { deps } = run;
  const name = nameOf(identityId);
  const indexed = await deps.vaultGrantIndex.listForConsumer(identityId);
  if (indexed.length === 0) {
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${name} does not exist; its federated credentials were deleted with it and it holds no vault grants of ours`,
      resourceId: identityId,
    });
    return;
  }
  const plan: Pick<VaultPlanDraft, 'revokes'> = { revokes: [] };
  for (const entry of indexed) {
    const vault = { id: entry.registryId, name: nameOf(entry.registryId) };
    const ours = oursOf(await deps.roleAssignments.listAtScope(vault.id), identityId);
    const before = run.retryError;
    for (const a of ours)
      await revokeVault(
        run,
        plan,
        identityId,
        vault,
        a,
        `${name} was deleted, so its ${ROLES.keyVaultSecretsUser.name} on ${vault.name} is revoked`,
      );
    if (!run.dryRun && run.retryError === before) await deps.vaultGrantIndex.remove(identityId, vault.id);
  }
}
