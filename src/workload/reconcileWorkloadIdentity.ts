/**
 * The workload-identity use case (AKS): bring a user-assigned identity's federated identity
 * credentials and Key Vault Secrets User grants in line with its `acr-workload-*` tags.
 *
 *   identity written → its clusters (Resource Graph by name, then ARM for the exact issuer) ×
 *     its service accounts → planFederatedCredentials (cap of 20) → deletes, then writes, one at a
 *     time; its vaults → Key Vault Secrets User, ours revoked where no longer named
 *   identity deleted → its credentials went with it; ours on vaults the index remembers are revoked
 *   cluster written or deleted → every identity whose tag names it (Resource Graph) is settled with
 *     the cluster as ARM has it now: issuer enabled → created, changed → updated, gone → ours deleted
 *   Key Vault written, re-tagged or deleted → every identity that names it, or holds ours on it, is
 *     settled with the vault as ARM has it now: its `acr-workload-allow` consent decides the grant
 *
 * A vault grant needs both sides, as a registry grant does: the identity names the vault
 * (`acr-workload-vault`) and the vault consents (`acr-workload-allow`, the `acr-pull-allow` grammar;
 * a vault without it consents to nobody — `ACCESS_DEFAULT_CONSENT` is for registries). Without the
 * vault's consent, a tag on the identity would grant itself the vault's secrets. The app's own vaults
 * (those holding pull credentials) and vaults in access-policy mode are refused whatever they say
 * (policy/vaultGrant.ts).
 *
 * Writes are serialised per identity across instances (identityLeases.ts), and in this process first
 * (identityLocks.ts). Nothing else here outlives a run: vaults and own-vault answers are read per run.
 *
 * This file is the use case's entry and its fan-out (which identities an event settles); the parts
 * live beside it: federation.ts (federated credentials), vaultGrants.ts (Key Vault Secrets User, with
 * the pure vaultPlan.ts), workloadQueries.ts (types and Resource Graph queries), workloadRun.ts.
 *
 * Like the access use case, only the resource id is taken from the event and ARM is re-read; a
 * dry run plans on the same path and writes nothing (not even audit rows).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { ownershipOfListed } from '../assignments/executor.js';
import { AppError, NotReadyError } from '../errors.js';
import { subjectOf } from '../policy/ownership.js';
import { parseResourceId } from '../policy/resourceId.js';
import { ROLES } from '../policy/roles.js';
import { isOwnedCredentialName, parseWorkloadTags, WORKLOAD_TAG_NAMES } from '../policy/workloadTags.js';
import { settleFederatedCredentials } from './federation.js';
import { revokeVaultsOfDeletedIdentity, settleVaults } from './vaultGrants.js';
import {
  identitiesNamingClusterQuery,
  identitiesNamingVaultQuery,
  isWorkloadType,
  KEY_VAULT_TYPE,
  key,
  nameOf,
  refersToCluster,
  refersToVault,
  USER_ASSIGNED_IDENTITY_TYPE,
} from './workloadQueries.js';
import { readVault, WorkloadRun, type KnownClusters, type WorkloadReconcileOptions, type WorkloadReconcileResult } from './workloadRun.js';
import type { WorkloadDeps } from './workloadDeps.js';

// The entry's callers (the resource-event dispatcher, the sweep, tests) import these from here.
export { issuerOf } from './federation.js';
export type { VaultPlan } from './vaultPlan.js';
export {
  clustersByNameQuery,
  identitiesNamingClusterQuery,
  identitiesNamingVaultQuery,
  isWorkloadResource,
  KEY_VAULT_TYPE,
  MANAGED_CLUSTER_TYPE,
  refersToCluster,
  refersToVault,
  registriesStoringCredentialsInQuery,
  USER_ASSIGNED_IDENTITY_TYPE,
  vaultsByNameQuery,
} from './workloadQueries.js';
export type { WorkloadReconcileOptions, WorkloadReconcileResult } from './workloadRun.js';

/** Reconciles the workload-identity state of one identity, or of every identity naming one cluster or Key Vault, from ARM's current state. */
export async function reconcileWorkloadIdentity(
  deps: WorkloadDeps,
  resourceId: string,
  options: WorkloadReconcileOptions,
): Promise<WorkloadReconcileResult> {
  const run = new WorkloadRun(deps, options);
  const parsed = parseResourceId(resourceId);
  if (!parsed.ok || !isWorkloadType(parsed.value.type)) {
    const reason = parsed.ok ? `${resourceId} is not a user-assigned identity, an AKS cluster or a Key Vault` : parsed.error;
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason,
      resourceId,
      errorCode: 'InvalidResourceId',
    });
    return run.result(resourceId);
  }
  const id = parsed.value.id;
  try {
    if (parsed.value.type === USER_ASSIGNED_IDENTITY_TYPE) await settleIdentity(run, id, new Map());
    else if (parsed.value.type === KEY_VAULT_TYPE) await settleVault(run, id);
    else await settleCluster(run, id);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await run.fail(
      { action: 'workload identity', resourceId: id, reason: `could not reconcile workload identity for ${parsed.value.name}` },
      error,
    );
  }
  run.throwIfRetryNeeded();
  return run.result(id);
}

/** A cluster event: settle every identity whose `acr-workload-cluster` tag names this cluster. */
async function settleCluster(run: WorkloadRun, clusterId: string): Promise<void> {
  const { deps } = run;
  const cluster = await deps.arm.getResource(clusterId);
  const parsed = parseResourceId(clusterId);
  const clusterName = parsed.ok ? parsed.value.name : clusterId;
  const known: KnownClusters = new Map([[key(clusterId), cluster ?? null]]);
  const rows = await deps.resourceGraph.query(identitiesNamingClusterQuery(clusterName), deps.config.watchedSubscriptions);
  const identities = rows
    .filter((row) => typeof row['id'] === 'string')
    .filter((row) =>
      parseWorkloadTags(row['tags'] as Record<string, string> | undefined).clusters.some((ref) =>
        refersToCluster(ref, String(row['id']), clusterId),
      ),
    );
  if (identities.length === 0) {
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `no user-assigned identity names cluster ${clusterName} in ${WORKLOAD_TAG_NAMES.cluster}`,
      resourceId: clusterId,
    });
    return;
  }
  for (const row of identities) {
    const identityId = String(row['id']);
    try {
      await settleIdentity(run, identityId, known);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      await run.fail(
        {
          action: 'workload identity',
          resourceId: identityId,
          reason: `could not settle workload identity ${String(row['name'] ?? identityId)} for cluster ${clusterName}`,
        },
        error,
      );
    }
  }
}

/**
 * Settles one identity. Writes are serialised per identity: in this process by the lock, across
 * instances by the lease (a dry run only reads, and takes neither).
 */
async function settleIdentity(run: WorkloadRun, identityId: string, known: KnownClusters): Promise<void> {
  if (run.dryRun) return settleIdentityNow(run, identityId, known);
  const { identityLocks, identityLeases } = run.deps;
  return identityLocks.run(identityId, () =>
    identityLeases.run(identityId, () => settleIdentityNow(run, identityId, known), { log: run.options.log }),
  );
}

async function settleIdentityNow(run: WorkloadRun, identityId: string, known: KnownClusters): Promise<void> {
  const { deps } = run;
  const identity = await deps.arm.getResource(identityId);
  if (!identity) {
    await revokeVaultsOfDeletedIdentity(run, identityId);
    return;
  }
  const id = identity.id;
  const name = identity.name;
  const principalId = typeof identity.properties?.['principalId'] === 'string' ? identity.properties['principalId'] : undefined;
  if (!principalId) throw new NotReadyError('IdentityNotReady', `user-assigned identity ${name} has no principalId yet`);

  const tags = parseWorkloadTags(identity.tags);
  for (const error of tags.errors) {
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: `tag ${error.tag} on ${name}: ${error.message}`,
      resourceId: id,
      errorCode: 'InvalidTag',
      details: { tag: error.tag, item: error.item },
    });
  }

  const existing = (await deps.federatedCredentials.list(id)) ?? [];
  const indexedVaults = await deps.vaultGrantIndex.listForConsumer(id);
  if (!tags.present && !existing.some((c) => isOwnedCredentialName(c.name)) && indexedVaults.length === 0) {
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${name} has no ${WORKLOAD_TAG_NAMES.cluster}, ${WORKLOAD_TAG_NAMES.subjects} or ${WORKLOAD_TAG_NAMES.vault} tag and holds no federated credentials or vault grants of ours`,
      resourceId: id,
    });
    return;
  }

  const { credentials, complete } = await settleFederatedCredentials(run, identity, principalId, tags, existing, known);
  const vaults = await settleVaults(
    run,
    identity,
    principalId,
    tags.vaults,
    indexedVaults.map((e) => e.registryId),
    complete,
  );
  run.plans.push({ identityId: id, credentials, vaults });
}

/**
 * A Key Vault event (written, re-tagged, deleted): settle every identity whose `acr-workload-vault`
 * names it, and every identity that holds ours on it (it may no longer name it, or Resource Graph
 * may not show its tag yet), against the vault as ARM has it now.
 */
async function settleVault(run: WorkloadRun, vaultId: string): Promise<void> {
  const { deps } = run;
  const vault = await readVault(run, vaultId);
  const vaultName = vault?.name ?? nameOf(vaultId);
  const identities = new Map<string, string>();
  const rows = await deps.resourceGraph.query(identitiesNamingVaultQuery(vaultName), deps.config.watchedSubscriptions);
  for (const row of rows) {
    if (typeof row['id'] !== 'string') continue;
    const refs = parseWorkloadTags(row['tags'] as Record<string, string> | undefined).vaults;
    if (refs.some((ref) => refersToVault(ref, vaultId))) identities.set(key(row['id']), row['id']);
  }
  const assignments = await deps.roleAssignments.listAtScope(vaultId);
  for (const a of assignments) {
    if (a.roleDefinitionGuid !== ROLES.keyVaultSecretsUser.roleDefinitionId) continue;
    const identityId = subjectOf(ownershipOfListed(a));
    const parsed = identityId === undefined ? undefined : parseResourceId(identityId);
    if (identityId && parsed?.ok && parsed.value.type === USER_ASSIGNED_IDENTITY_TYPE) identities.set(key(identityId), identityId);
  }
  if (identities.size === 0) {
    await run.decide({
      action: 'workload identity',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `no user-assigned identity names Key Vault ${vaultName} in ${WORKLOAD_TAG_NAMES.vault} or holds ${ROLES.keyVaultSecretsUser.name} there from the automation`,
      resourceId: vaultId,
    });
    return;
  }
  for (const identityId of identities.values()) {
    try {
      await settleIdentity(run, identityId, new Map());
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      await run.fail(
        {
          action: 'workload identity',
          resourceId: identityId,
          reason: `could not settle workload identity ${nameOf(identityId)} for Key Vault ${vaultName}`,
        },
        error,
      );
    }
  }
}
