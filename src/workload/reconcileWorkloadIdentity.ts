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
 * Like the access use case, only the resource id is taken from the event and ARM is re-read; a
 * dry run plans on the same path and writes nothing (not even audit rows).
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { DecisionRecorder, type DecisionOptions } from '../audit/decisionRecorder.js';
import { grantAssignment, ownershipOfListed, revokeAssignment } from '../assignments/executor.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError, NotReadyError } from '../errors.js';
import { describeOwnership, OWNERSHIP_KINDS, roleAssignmentName, standsFor, subjectOf } from '../policy/ownership.js';
import { TAG_NAMES } from '../policy/tags.js';
import { isWorkloadIdentityEnabled, serviceAccountManifest } from './clusterSide.js';
import { decideVaultGrant, VAULT_DENIALS, type VaultGrantDecision } from '../policy/vaultGrant.js';
import { evaluateFederationEligibility, type FederationEligibility } from '../policy/federationEligibility.js';
import { normalizeResourceId, parseResourceId, sameResourceId } from '../policy/resourceId.js';
import { describeRole, ROLES } from '../policy/roles.js';
import {
  federatedCredentialName,
  isOwnedCredentialName,
  parseWorkloadTags,
  WORKLOAD_AUDIENCE,
  WORKLOAD_TAG_NAMES,
  type ClusterRef,
  type VaultRef,
} from '../policy/workloadTags.js';
import { planFederatedCredentials, type CredentialPlan, type WantedCredential } from './credentialPlan.js';
import type { WorkloadDeps } from './workloadDeps.js';

export const USER_ASSIGNED_IDENTITY_TYPE = 'microsoft.managedidentity/userassignedidentities';
export const MANAGED_CLUSTER_TYPE = 'microsoft.containerservice/managedclusters';
export const KEY_VAULT_TYPE = 'microsoft.keyvault/vaults';

/** `dryRun`: plan only — nothing is written to ARM, the index or the audit log. */
export type WorkloadReconcileOptions = DecisionOptions;

/** The Key Vault part of one identity's plan. */
export interface VaultPlan {
  readonly grants: readonly { readonly vaultId: string; readonly vaultName: string; readonly name: string; readonly reason: string }[];
  readonly unchanged: readonly { readonly vaultId: string; readonly vaultName: string; readonly name: string; readonly owned: boolean; readonly reason: string }[];
  /** Named by the identity, but the vault does not consent (`acr-workload-allow`): nothing granted. */
  readonly denied: readonly { readonly vaultId: string; readonly vaultName: string; readonly reason: string }[];
  readonly revokes: readonly { readonly vaultId: string; readonly vaultName: string; readonly name: string; readonly principalId: string; readonly reason: string }[];
}

export interface WorkloadReconcileResult {
  readonly resourceId: string;
  /** One entry per decision, in the order made; in a dry run the would-be audit rows. */
  readonly decisions: readonly AuditEntry[];
  /** One per identity settled. */
  readonly plans: readonly { readonly identityId: string; readonly credentials: CredentialPlan; readonly vaults: VaultPlan }[];
}

const WORKLOAD_TYPES = new Set<string>([USER_ASSIGNED_IDENTITY_TYPE, MANAGED_CLUSTER_TYPE, KEY_VAULT_TYPE]);

/** Whether a resource id is one this use case acts on (a user-assigned identity, an AKS cluster or a Key Vault). */
export function isWorkloadResource(resourceId: string): boolean {
  const type = parseResourceId(resourceId);
  return type.ok && type.value.type !== undefined && WORKLOAD_TYPES.has(type.value.type);
}

/** Reconciles the workload-identity state of one identity, or of every identity naming one cluster or Key Vault, from ARM's current state. */
export async function reconcileWorkloadIdentity(deps: WorkloadDeps, resourceId: string, options: WorkloadReconcileOptions): Promise<WorkloadReconcileResult> {
  const run = new Run(deps, options);
  const parsed = parseResourceId(resourceId);
  if (!parsed.ok || parsed.value.type === undefined || !WORKLOAD_TYPES.has(parsed.value.type)) {
    const reason = parsed.ok ? `${resourceId} is not a user-assigned identity, an AKS cluster or a Key Vault` : parsed.error;
    await run.decide({ action: 'workload identity', outcome: AUDIT_OUTCOMES.rejectedInput, reason, resourceId, errorCode: 'InvalidResourceId' });
    return run.result(resourceId);
  }
  const id = parsed.value.id;
  try {
    if (parsed.value.type === USER_ASSIGNED_IDENTITY_TYPE) await settleIdentity(run, id, new Map());
    else if (parsed.value.type === KEY_VAULT_TYPE) await settleVault(run, id);
    else await settleCluster(run, id);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await run.fail({ action: 'workload identity', resourceId: id, reason: `could not reconcile workload identity for ${parsed.value.name}` }, error);
  }
  run.throwIfRetryNeeded();
  return run.result(id);
}

/** State of one reconciliation: its decision record, the plans made, and the vaults read. */
class Run extends DecisionRecorder {
  readonly plans: { identityId: string; credentials: CredentialPlan; vaults: VaultPlan }[] = [];
  /** Key Vaults as ARM has them now (null: gone), read once per run however many identities name them. */
  readonly vaults = new Map<string, ArmResource | null>();
  /** Whether a vault (by lower-case name) holds the app's pull credentials, and how we know; read once per run. */
  readonly credentialsVaults = new Map<string, Promise<string | undefined>>();
  constructor(
    readonly deps: WorkloadDeps,
    override readonly options: WorkloadReconcileOptions,
  ) {
    super(deps.audit, options);
  }

  action(name: string): string {
    return this.dryRun ? `${name} (dry run)` : name;
  }

  result(resourceId: string): WorkloadReconcileResult {
    return { resourceId, decisions: this.decisions, plans: this.plans };
  }
}

/** A cluster as the run knows it: ARM's current copy, or null when it does not exist. */
type KnownClusters = Map<string, ArmResource | null>;

/** A cluster event: settle every identity whose `acr-workload-cluster` tag names this cluster. */
async function settleCluster(run: Run, clusterId: string): Promise<void> {
  const { deps } = run;
  const cluster = await deps.arm.getResource(clusterId);
  const parsed = parseResourceId(clusterId);
  const clusterName = parsed.ok ? parsed.value.name : clusterId;
  const known: KnownClusters = new Map([[key(clusterId), cluster ?? null]]);
  const rows = await deps.resourceGraph.query(identitiesNamingClusterQuery(clusterName), deps.config.watchedSubscriptions);
  const identities = rows
    .filter((row) => typeof row['id'] === 'string')
    .filter((row) => parseWorkloadTags(row['tags'] as Record<string, string> | undefined).clusters.some((ref) => refersToCluster(ref, String(row['id']), clusterId)));
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
      await run.fail({ action: 'workload identity', resourceId: identityId, reason: `could not settle workload identity ${String(row['name'] ?? identityId)} for cluster ${clusterName}` }, error);
    }
  }
}

/**
 * Settles one identity. Writes are serialised per identity: in this process by the lock, across
 * instances by the lease (a dry run only reads, and takes neither).
 */
async function settleIdentity(run: Run, identityId: string, known: KnownClusters): Promise<void> {
  if (run.dryRun) return settleIdentityNow(run, identityId, known);
  const { identityLocks, identityLeases } = run.deps;
  return identityLocks.run(identityId, () => identityLeases.run(identityId, () => settleIdentityNow(run, identityId, known), { log: run.options.log }));
}

async function settleIdentityNow(run: Run, identityId: string, known: KnownClusters): Promise<void> {
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

  // Federation gives the service account every role the identity holds: check who it is on every decision.
  const asks = tags.clusters.length > 0 && tags.serviceAccounts.length > 0;
  const holdsOurs = existing.some((c) => isOwnedCredentialName(c.name));
  const eligibility = asks || holdsOurs ? await federationEligibility(run, id, principalId) : undefined;
  if (eligibility && !eligibility.eligible) {
    const plan = planFederatedCredentials({ identityName: name, wanted: [], existing, allowDeletes: true, ineligible: `${name} may not be federated (${eligibility.reason})` });
    await denyIneligible(run, identity, principalId, eligibility, asks, plan.deletes.length);
    await applyCredentialPlan(run, id, principalId, plan);
    const vaults = await settleVaults(run, identity, principalId, tags.vaults, indexedVaults.map((e) => e.registryId), tags.errors.length === 0);
    run.plans.push({ identityId: id, credentials: plan, vaults });
    return;
  }

  const clusters = await resolveClusters(run, identity, tags.clusters, known);
  const wanted: WantedCredential[] = [];
  for (const cluster of clusters.withIssuer) {
    for (const sa of tags.serviceAccounts) {
      wanted.push({
        name: federatedCredentialName(cluster.id, sa.namespace, sa.serviceAccount),
        issuer: cluster.issuer,
        subject: sa.subject,
        audiences: [WORKLOAD_AUDIENCE],
        clusterId: cluster.id,
        clusterName: cluster.name,
        namespace: sa.namespace,
        serviceAccount: sa.serviceAccount,
      });
    }
  }
  // A bad tag item or an ambiguous cluster means part of what is wanted is unknown: delete nothing then.
  const complete = tags.errors.length === 0 && clusters.complete;
  const plan = planFederatedCredentials({ identityName: name, wanted, existing, allowDeletes: complete });
  const clientId = typeof identity.properties?.['clientId'] === 'string' ? identity.properties['clientId'] : undefined;
  await applyCredentialPlan(run, id, principalId, plan, clientId);
  // The cluster side (issue 19.5): a credential is made for the OIDC issuer alone, but pods use it
  // only where the cluster runs the workload identity webhook; say so where it does not.
  if (tags.serviceAccounts.length > 0) {
    for (const cluster of clusters.withIssuer) {
      if (cluster.workloadIdentityEnabled) continue;
      await run.decide({
        action: 'workload identity',
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `cluster ${cluster.name} does not have workload identity enabled (properties.securityProfile.workloadIdentity.enabled is not true), so pods there can't use ${name}'s federated credentials yet (az aks update --enable-workload-identity); the credentials are created anyway, as they need only the OIDC issuer`,
        resourceId: id,
        principalId,
        details: { cluster: cluster.id, ...(clientId ? { clientId } : {}) },
      });
    }
  }

  const vaults = await settleVaults(run, identity, principalId, tags.vaults, indexedVaults.map((e) => e.registryId), complete);
  run.plans.push({ identityId: id, credentials: plan, vaults });
}

/**
 * Whether the identity may be federated: in WORKLOAD_FEDERATION_SCOPES, and holding no role beyond
 * the managed ones in the watched subscriptions (Resource Graph, read now, management groups above
 * included). Outside the scopes, no lookup is made.
 */
async function federationEligibility(run: Run, identityId: string, principalId: string): Promise<FederationEligibility> {
  const { config, resourceGraph } = run.deps;
  const byScope = evaluateFederationEligibility({ identityId, scopes: config.federationScopes });
  if (!byScope.eligible) return byScope;
  const assignments = await resourceGraph.roleAssignmentsOf(principalId, config.watchedSubscriptions);
  return evaluateFederationEligibility({ identityId, scopes: config.federationScopes, assignments });
}

/** The `denied-ineligible` row: what the tags asked for, why the identity may not be federated, and that ours go. */
async function denyIneligible(run: Run, identity: ArmResource, principalId: string, eligibility: Extract<FederationEligibility, { eligible: false }>, asks: boolean, deletes: number): Promise<void> {
  const asked = asks ? `${WORKLOAD_TAG_NAMES.cluster} and ${WORKLOAD_TAG_NAMES.subjects} on ${identity.name} ask for federated credentials, but` : `${identity.name} holds federated credentials of ours, but`;
  const outcome = deletes > 0 ? `; no federated credential is created, and ours (${deletes}) are deleted` : '; no federated credential is created';
  await run.decide({
    action: run.action('federated credential'),
    outcome: AUDIT_OUTCOMES.deniedIneligible,
    reason: `${asked} ${eligibility.reason}${outcome}`,
    resourceId: identity.id,
    principalId,
    errorCode: eligibility.code,
    ...(eligibility.role ? { role: eligibility.role } : {}),
    details: {
      ...(eligibility.roleScope ? { roleScope: eligibility.roleScope } : {}),
      federationScopes: run.deps.config.federationScopes.join(',') || '(empty)',
    },
  });
}

interface ResolvedClusters {
  readonly withIssuer: readonly { readonly id: string; readonly name: string; readonly issuer: string; readonly workloadIdentityEnabled: boolean }[];
  /** False when a reference could not be settled (ambiguous name): nothing is deleted then. */
  readonly complete: boolean;
}

/** Cluster references → clusters as ARM has them now, with their exact OIDC issuer URL. */
async function resolveClusters(run: Run, identity: ArmResource, refs: readonly ClusterRef[], known: KnownClusters): Promise<ResolvedClusters> {
  const { deps } = run;
  const subscriptionId = parseResourceId(identity.id).ok ? (parseResourceId(identity.id) as { value: { subscriptionId: string } }).value.subscriptionId : '';
  const ids = new Map<string, { id: string; ref: ClusterRef }>();
  let complete = true;

  const byName = refs.filter((r) => r.kind === 'name');
  if (byName.length > 0) {
    // Resource Graph finds the id; ARM (below) gives the current issuer, since Resource Graph may lag.
    const rows = await deps.resourceGraph.query(clustersByNameQuery(byName.map((r) => r.name)), [subscriptionId]);
    for (const ref of byName) {
      const matches = rows.filter((row) => typeof row['id'] === 'string' && String(row['name']).toLowerCase() === ref.name.toLowerCase());
      // A cluster this run already knows (the event's cluster) counts even if Resource Graph has not caught up.
      const fromKnown = [...known.entries()].filter(([k, v]) => v && parseResourceId(k).ok && sameSubscriptionAndName(k, subscriptionId, ref.name)).map(([, v]) => v!.id);
      const found = [...new Set([...matches.map((row) => String(row['id'])), ...fromKnown].map((x) => key(x)))];
      if (found.length === 0) {
        await run.decide({
          action: 'workload identity',
          outcome: AUDIT_OUTCOMES.skipped,
          reason: `${WORKLOAD_TAG_NAMES.cluster} on ${identity.name} names cluster ${ref.name}, which does not exist in subscription ${subscriptionId}; no federated credentials for it`,
          resourceId: identity.id,
          details: { cluster: ref.name },
        });
        continue;
      }
      if (found.length > 1) {
        complete = false;
        await run.decide({
          action: 'workload identity',
          outcome: AUDIT_OUTCOMES.rejectedInput,
          reason: `${WORKLOAD_TAG_NAMES.cluster} on ${identity.name} names cluster ${ref.name}, but ${found.length} clusters have that name in subscription ${subscriptionId}; write its resource id instead`,
          resourceId: identity.id,
          errorCode: 'AmbiguousCluster',
          details: { cluster: ref.name },
        });
        continue;
      }
      const only = matches.find((row) => key(String(row['id'])) === found[0]);
      ids.set(found[0]!, { id: only ? String(only['id']) : (known.get(found[0]!)?.id ?? found[0]!), ref });
    }
  }
  for (const ref of refs) if (ref.kind === 'resourceId') ids.set(key(ref.resourceId), { id: ref.resourceId, ref });

  const withIssuer: { id: string; name: string; issuer: string; workloadIdentityEnabled: boolean }[] = [];
  for (const [k, { id }] of ids) {
    let cluster = known.get(k);
    if (cluster === undefined) {
      cluster = (await deps.arm.getResource(id)) ?? null;
      known.set(k, cluster);
    }
    const name = parseResourceId(id).ok ? (parseResourceId(id) as { value: { name: string } }).value.name : id;
    if (!cluster) {
      await run.decide({
        action: 'workload identity',
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `cluster ${name} named by ${identity.name} does not exist; no federated credentials for it`,
        resourceId: identity.id,
        details: { cluster: id },
      });
      continue;
    }
    const issuer = issuerOf(cluster);
    if (!issuer) {
      await run.decide({
        action: 'workload identity',
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `cluster ${cluster.name} has no OIDC issuer yet (az aks update --enable-oidc-issuer --enable-workload-identity); its federated credentials follow when it does`,
        resourceId: identity.id,
        details: { cluster: cluster.id },
      });
      continue;
    }
    withIssuer.push({ id: cluster.id, name: cluster.name, issuer, workloadIdentityEnabled: isWorkloadIdentityEnabled(cluster) });
  }
  return { withIssuer, complete };
}

/** `properties.oidcIssuerProfile.issuerURL` (capital URL on the wire), exactly as AKS reports it, when enabled. */
export function issuerOf(cluster: ArmResource): string | undefined {
  const profile = cluster.properties?.['oidcIssuerProfile'];
  if (typeof profile !== 'object' || profile === null) return undefined;
  const p = profile as Record<string, unknown>;
  if (p['enabled'] === false) return undefined;
  const url = p['issuerURL'] ?? p['issuerUrl'];
  return typeof url === 'string' && url.trim() !== '' ? url : undefined;
}

async function applyCredentialPlan(run: Run, identityId: string, principalId: string, plan: CredentialPlan, clientId?: string): Promise<void> {
  const { deps } = run;
  const base = { resourceId: identityId, principalId };
  // A credential the tags ask for carries what the cluster owner applies: the client id and the
  // ServiceAccount manifest annotated with it (issue 19.5).
  const details = (c: { name: string; subject: string; issuer: string; clusterId?: string; namespace?: string; serviceAccount?: string }) => ({
    credential: c.name,
    subject: c.subject,
    issuer: c.issuer,
    ...(c.clusterId ? { cluster: c.clusterId } : {}),
    ...(clientId && c.namespace && c.serviceAccount ? { clientId, serviceAccountManifest: serviceAccountManifest(c.namespace, c.serviceAccount, clientId) } : {}),
  });

  // Deletes first: they free slots under the cap.
  for (const d of plan.deletes) {
    const entry = { ...base, action: run.action('delete federated credential'), details: details(d.credential) };
    if (run.dryRun) {
      await run.decide({ ...entry, outcome: AUDIT_OUTCOMES.wouldRevoke, reason: d.reason });
      continue;
    }
    try {
      const outcome = await deps.federatedCredentials.delete(identityId, d.credential.name);
      await run.decide({ ...entry, outcome: AUDIT_OUTCOMES.revoked, reason: outcome === 'deleted' ? `${d.reason}; deleted` : `${d.reason} (it was already gone)` });
    } catch (error) {
      await run.fail({ ...entry, reason: `could not delete federated credential ${d.credential.name}` }, error);
    }
  }
  for (const k of plan.kept) {
    await run.decide({ ...base, action: run.action('delete federated credential'), outcome: AUDIT_OUTCOMES.skipped, reason: k.reason, details: details(k.credential) });
  }

  const writes = [...plan.updates.map((u) => ({ credential: u.credential, reason: u.reason })), ...plan.creates];
  for (const w of writes) {
    const entry = { ...base, action: run.action('federated credential'), details: details(w.credential) };
    if (run.dryRun) {
      await run.decide({ ...entry, outcome: AUDIT_OUTCOMES.wouldGrant, reason: w.reason });
      continue;
    }
    try {
      const { name, issuer, subject, audiences } = w.credential;
      const outcome = await deps.federatedCredentials.put(identityId, { name, issuer, subject, audiences });
      await run.decide({ ...entry, outcome: AUDIT_OUTCOMES.granted, reason: `${w.reason}; federated credential ${name} ${outcome}` });
    } catch (error) {
      await run.fail({ ...entry, reason: `could not write federated credential ${w.credential.name}` }, error);
    }
  }

  for (const o of plan.overLimit) {
    await run.decide({
      ...base,
      action: run.action('federated credential'),
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: o.reason,
      errorCode: 'FederatedIdentityCredentialLimit',
      details: { ...details(o.credential), limit: plan.limit },
    });
  }
  for (const u of plan.unchanged) {
    await run.decide({
      ...base,
      action: run.action('federated credential'),
      outcome: AUDIT_OUTCOMES.alreadyPresent,
      reason: u.reason,
      details: { ...details(u.credential), existing: u.existingName, owned: u.owned },
    });
  }
}

/** Key Vault Secrets User on the vaults the tag names; ours on vaults it no longer names are revoked. */
async function settleVaults(run: Run, identity: ArmResource, principalId: string, refs: readonly VaultRef[], indexed: readonly string[], allowRevoke: boolean): Promise<VaultPlan> {
  const { deps } = run;
  const plan: { grants: VaultPlan['grants'][number][]; unchanged: VaultPlan['unchanged'][number][]; denied: VaultPlan['denied'][number][]; revokes: VaultPlan['revokes'][number][] } = {
    grants: [],
    unchanged: [],
    denied: [],
    revokes: [],
  };
  const role = ROLES.keyVaultSecretsUser;
  const wantedVaults = new Map<string, ArmResource>();
  /** Named, and found by Resource Graph, but gone in ARM (deleted; Resource Graph lags). */
  const gone = new Set<string>();
  if (refs.length > 0) {
    const rows = await deps.resourceGraph.query(vaultsByNameQuery(refs.map((r) => r.name)), deps.config.watchedSubscriptions);
    for (const ref of refs) {
      const row = rows.find((r) => typeof r['id'] === 'string' && String(r['name']).toLowerCase() === ref.name && (ref.kind === 'name' || sameResourceId(String(r['id']), ref.resourceId)));
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
    const assignments = await deps.roleAssignments.listAtScope(vault.id);
    const secretsUser = assignments.filter((a) => a.roleDefinitionGuid === role.roleDefinitionId);
    const ours = secretsUser.filter((a) => standsFor(ownershipOfListed(a), identity.id));
    const base = { resourceId: identity.id, role: describeRole(role), details: { vault: vault.id } };
    const before = run.retryError;

    const wanted = wantedVaults.get(k);
    if (wanted) {
      const present = secretsUser.find((a) => a.principalId.toLowerCase() === principalId.toLowerCase());
      const holds = await credentialsVaultReason(run, wanted.name);
      const consent = decideVaultGrant(
        { id: wanted.id, name: wanted.name, ...(wanted.tags ? { tags: wanted.tags } : {}), ...(wanted.properties ? { properties: wanted.properties } : {}), ...(holds ? { holdsPullCredentials: holds } : {}) },
        { id: identity.id, ...(identity.tags ? { tags: identity.tags } : {}) },
      );
      if (!consent.allowed) {
        await denyVault(run, plan, identity, principalId, vault, consent, ours, present, base);
        if (!run.dryRun && run.retryError === before) await deps.vaultGrantIndex.remove(identity.id, vault.id);
        continue;
      }
      const name = roleAssignmentName({ scope: vault.id, principalId, roleDefinitionId: role.roleDefinitionId });
      if (!name.ok) throw new AppError('InvalidScope', name.error);
      if (present) {
        const owned = ownershipOfListed(present) !== undefined;
        const reason = owned
          ? `${identity.name} holds ${role.name} on ${vault.name} (${consent.reason})`
          : `${identity.name} holds ${role.name} on ${vault.name} (assigned outside the automation; left as it is)`;
        plan.unchanged.push({ vaultId: vault.id, vaultName: vault.name, name: present.name, owned, reason });
        await run.decide({ ...base, action: 'grant', outcome: AUDIT_OUTCOMES.alreadyPresent, principalId, reason });
      } else {
        const reason = `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names ${vault.name}, and ${consent.reason}`;
        plan.grants.push({ vaultId: vault.id, vaultName: vault.name, name: name.value, reason });
        await grantVault(run, identity, principalId, vault, name.value, reason);
      }
      // Ours for an earlier principal of this identity (deleted and recreated under the same name).
      for (const a of ours.filter((x) => x.principalId.toLowerCase() !== principalId.toLowerCase())) {
        await revokeVault(run, plan, identity.id, vault, a, `${identity.name}'s principal changed; the grant to its old principal ${a.principalId} is revoked`);
      }
    } else if (allowRevoke || gone.has(k)) {
      const why = gone.has(k) ? `Key Vault ${vault.name} no longer exists` : `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} no longer names ${vault.name}`;
      for (const a of ours) await revokeVault(run, plan, identity.id, vault, a, why);
      if (!run.dryRun && run.retryError === before) await deps.vaultGrantIndex.remove(identity.id, vault.id);
    } else {
      const holds = ours.length > 0 ? await credentialsVaultReason(run, vault.name) : undefined;
      for (const a of ours) {
        // Ours on a vault holding pull credentials goes whatever the tags say.
        if (holds) await revokeVault(run, plan, identity.id, vault, a, `Key Vault ${vault.name} holds the automation's pull credentials (${holds}), so ${identity.name}'s ${role.name} there is revoked`);
        else await run.decide({ ...base, action: run.action('revoke'), outcome: AUDIT_OUTCOMES.skipped, principalId: a.principalId, reason: `${role.name} on ${vault.name} is not asked for, but kept: the workload tags on ${identity.name} could not be fully read this time` });
      }
    }
  }
  return plan;
}

/**
 * No grant on this vault: it does not consent (a `denied-by-consent` row), or it holds the app's pull
 * credentials or uses access policies (a `denied` row whose errorCode says which); ours is revoked.
 */
async function denyVault(
  run: Run,
  plan: { denied: VaultPlan['denied'][number][]; revokes: VaultPlan['revokes'][number][] },
  identity: ArmResource,
  principalId: string,
  vault: { id: string; name: string },
  decision: VaultGrantDecision & { allowed: false },
  ours: readonly RoleAssignmentInfo[],
  present: RoleAssignmentInfo | undefined,
  base: { resourceId: string; role: string; details: { vault: string } },
): Promise<void> {
  const role = ROLES.keyVaultSecretsUser;
  const byConsent = decision.code === VAULT_DENIALS.noConsent;
  const byHand = present !== undefined && ownershipOfListed(present) === undefined;
  const reason =
    `${WORKLOAD_TAG_NAMES.vault} on ${identity.name} names ${vault.name}, but ${decision.reason}; ${role.name} is not granted` +
    (byHand ? ` (an assignment made outside the automation exists and is left as it is)` : '');
  plan.denied.push({ vaultId: vault.id, vaultName: vault.name, reason });
  await run.decide({
    ...base,
    action: run.action('grant'),
    outcome: byConsent ? AUDIT_OUTCOMES.deniedByConsent : AUDIT_OUTCOMES.denied,
    principalId,
    reason,
    ...(byConsent ? {} : { errorCode: decision.code }),
  });
  for (const a of ours) {
    const why = byConsent
      ? `Key Vault ${vault.name} does not consent to ${identity.name} (${decision.reason}), so its ${role.name} is revoked`
      : `${decision.reason}; ${identity.name}'s ${role.name} there is revoked`;
    await revokeVault(run, plan, identity.id, vault, a, why);
  }
}

/**
 * Whether a Key Vault holds the app's pull credentials, and how the app knows; undefined when it does
 * not. Read at decision time (once per run, never kept across runs): the CREDENTIALS_VAULT_NAMES
 * setting, the credentials enrolments, and any registry whose `acr-pull-credential` tag names the
 * vault (Resource Graph) — a registry may be tagged before its enrolment exists.
 */
function credentialsVaultReason(run: Run, vaultName: string): Promise<string | undefined> {
  const name = vaultName.toLowerCase();
  let answer = run.credentialsVaults.get(name);
  if (!answer) {
    answer = (async () => {
      const { deps } = run;
      if (deps.config.credentialsVaultNames.includes(name)) return 'CREDENTIALS_VAULT_NAMES names it';
      const enrolled = (await deps.listCredentialVaults()).find((e) => e.vaultName.toLowerCase() === name);
      if (enrolled) return `registry ${enrolled.registryName} stores its pull credentials there`;
      const rows = await deps.resourceGraph.query(registriesStoringCredentialsInQuery(name), deps.config.watchedSubscriptions);
      const tagged = rows.find((row) => typeof row['name'] === 'string' && String(getTagValue(row['tags'], TAG_NAMES.credential) ?? '').trim().toLowerCase() === name);
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

/** Resource Graph: registries whose `acr-pull-credential` tag mentions this vault name (the caller then compares exactly). */
export function registriesStoringCredentialsInQuery(vaultName: string): string {
  const safe = vaultName.replace(/[^A-Za-z0-9-]/g, '');
  return `resources | where type =~ 'microsoft.containerregistry/registries' and tags['${TAG_NAMES.credential}'] contains '${safe}' | project id, name, type, tags`;
}

/** Key Vault Secrets User for the identity on the vault, through the executor (the index row first, as for registries). */
async function grantVault(run: Run, identity: ArmResource, principalId: string, vault: { id: string; name: string }, name: string, reason: string): Promise<void> {
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
async function revokeVault(run: Run, plan: { revokes: VaultPlan['revokes'][number][] }, identityId: string, vault: { id: string; name: string }, a: RoleAssignmentInfo, reason: string): Promise<void> {
  plan.revokes.push({ vaultId: vault.id, vaultName: vault.name, name: a.name, principalId: a.principalId, reason });
  await revokeAssignment(run.deps, run, a, { action: run.action('revoke'), resourceId: identityId, reason, scopeName: vault.name, details: { vault: vault.id } });
}

/** The identity is gone (its federated credentials went with it): revoke ours on the vaults the index remembers. */
async function revokeVaultsOfDeletedIdentity(run: Run, identityId: string): Promise<void> {
  const { deps } = run;
  const name = nameOf(identityId);
  const indexed = await deps.vaultGrantIndex.listForConsumer(identityId);
  if (indexed.length === 0) {
    await run.decide({ action: 'workload identity', outcome: AUDIT_OUTCOMES.skipped, reason: `${name} does not exist; its federated credentials were deleted with it and it holds no vault grants of ours`, resourceId: identityId });
    return;
  }
  const plan: { revokes: VaultPlan['revokes'][number][] } = { revokes: [] };
  for (const entry of indexed) {
    const vault = { id: entry.registryId, name: nameOf(entry.registryId) };
    const assignments = await deps.roleAssignments.listAtScope(vault.id);
    const ours = assignments.filter((a) => a.roleDefinitionGuid === ROLES.keyVaultSecretsUser.roleDefinitionId && standsFor(ownershipOfListed(a), identityId));
    const before = run.retryError;
    for (const a of ours) await revokeVault(run, plan, identityId, vault, a, `${name} was deleted, so its ${ROLES.keyVaultSecretsUser.name} on ${vault.name} is revoked`);
    if (!run.dryRun && run.retryError === before) await deps.vaultGrantIndex.remove(identityId, vault.id);
  }
}

/** A Key Vault as ARM has it now (null: gone), read once per run. */
async function readVault(run: Run, vaultId: string): Promise<ArmResource | null> {
  const k = key(vaultId);
  let vault = run.vaults.get(k);
  if (vault === undefined) {
    vault = (await run.deps.arm.getResource(vaultId)) ?? null;
    run.vaults.set(k, vault);
  }
  return vault;
}

/**
 * A Key Vault event (written, re-tagged, deleted): settle every identity whose `acr-workload-vault`
 * names it, and every identity that holds ours on it (it may no longer name it, or Resource Graph
 * may not show its tag yet), against the vault as ARM has it now.
 */
async function settleVault(run: Run, vaultId: string): Promise<void> {
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
      await run.fail({ action: 'workload identity', resourceId: identityId, reason: `could not settle workload identity ${nameOf(identityId)} for Key Vault ${vaultName}` }, error);
    }
  }
}

/** Resource Graph: identities whose `acr-workload-vault` tag mentions this vault name (the grammar then decides). */
export function identitiesNamingVaultQuery(vaultName: string): string {
  const safe = vaultName.replace(/[^A-Za-z0-9-]/g, '');
  return `resources | where type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and tags['${WORKLOAD_TAG_NAMES.vault}'] contains '${safe}' | project id, name, type, tags`;
}

/** Whether a vault reference on an identity names this vault: by id, or by name (vault names are globally unique). */
export function refersToVault(ref: VaultRef, vaultId: string): boolean {
  if (ref.kind === 'resourceId') return sameResourceId(ref.resourceId, vaultId);
  const vault = parseResourceId(vaultId);
  return vault.ok && vault.value.name.toLowerCase() === ref.name.toLowerCase();
}

/** Resource Graph: identities whose `acr-workload-cluster` tag mentions this cluster name (the grammar then decides). */
export function identitiesNamingClusterQuery(clusterName: string): string {
  const safe = clusterName.replace(/[^A-Za-z0-9_-]/g, '');
  return `resources | where type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and tags['${WORKLOAD_TAG_NAMES.cluster}'] contains '${safe}' | project id, name, type, tags`;
}

/** Resource Graph: AKS clusters by name. Names were validated (letters, digits, - and _) by the tag parser. */
export function clustersByNameQuery(names: readonly string[]): string {
  const list = names.map((n) => `'${n.replace(/[^A-Za-z0-9_-]/g, '')}'`).join(', ');
  return `resources | where type =~ '${MANAGED_CLUSTER_TYPE}' and name in~ (${list}) | project id, name, type`;
}

/** Resource Graph: Key Vaults by name. Names were validated (letters, digits, -) by the tag parser. */
export function vaultsByNameQuery(names: readonly string[]): string {
  const list = names.map((n) => `'${n.replace(/[^A-Za-z0-9-]/g, '')}'`).join(', ');
  return `resources | where type =~ '${KEY_VAULT_TYPE}' and name in~ (${list}) | project id, name, type`;
}

/** Whether a cluster reference on an identity names this cluster: by id, or by name in the identity's subscription. */
export function refersToCluster(ref: ClusterRef, identityId: string, clusterId: string): boolean {
  if (ref.kind === 'resourceId') return sameResourceId(ref.resourceId, clusterId);
  const identity = parseResourceId(identityId);
  return identity.ok && sameSubscriptionAndName(clusterId, identity.value.subscriptionId, ref.name);
}

function sameSubscriptionAndName(clusterId: string, subscriptionId: string, name: string): boolean {
  const cluster = parseResourceId(clusterId);
  return cluster.ok && cluster.value.subscriptionId === subscriptionId.toLowerCase() && cluster.value.name.toLowerCase() === name.toLowerCase();
}

function key(resourceId: string): string {
  return normalizeResourceId(resourceId) ?? resourceId.toLowerCase();
}

function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}
