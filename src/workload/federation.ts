/**
 * Federated identity credentials for workload identities (AKS): from an identity's
 * `acr-workload-cluster` and `acr-workload-subjects` tags, its clusters as ARM has them now (with
 * their exact OIDC issuer) and Entra's cap of 20 → the pure plan (credentialPlan.ts) → deletes, then
 * writes, one at a time. Federation gives a service account every role the identity holds, so who
 * the identity is gets checked on every decision (policy/federationEligibility.ts).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import { evaluateFederationEligibility, type FederationEligibility } from '../policy/federationEligibility.js';
import { parseResourceId } from '../policy/resourceId.js';
import {
  federatedCredentialName,
  isOwnedCredentialName,
  WORKLOAD_AUDIENCE,
  WORKLOAD_TAG_NAMES,
  type ClusterRef,
  type WorkloadTags,
} from '../policy/workloadTags.js';
import { isWorkloadIdentityEnabled, serviceAccountManifest } from './clusterSide.js';
import { planFederatedCredentials, type CredentialPlan, type FederatedCredential, type WantedCredential } from './credentialPlan.js';
import { clustersByNameQuery, key, sameSubscriptionAndName } from './workloadQueries.js';
import type { KnownClusters, WorkloadRun } from './workloadRun.js';

/**
 * Brings one identity's federated credentials in line with its tags and applies the plan. Answers
 * the plan and whether what is wanted was fully known (no bad tag item, no ambiguous cluster): only
 * then may anything merely not asked for be removed, here or on the vaults.
 */
export async function settleFederatedCredentials(
  run: WorkloadRun,
  identity: ArmResource,
  principalId: string,
  tags: WorkloadTags,
  existing: readonly FederatedCredential[],
  known: KnownClusters,
): Promise<{ readonly credentials: CredentialPlan; readonly complete: boolean }> {
  const { id, name } = identity;
  // Federation gives the service account every role the identity holds: check who it is on every decision.
  const asks = tags.clusters.length > 0 && tags.serviceAccounts.length > 0;
  const holdsOurs = existing.some((c) => isOwnedCredentialName(c.name));
  const eligibility = asks || holdsOurs ? await federationEligibility(run, id, principalId) : undefined;
  if (eligibility && !eligibility.eligible) {
    const plan = planFederatedCredentials({
      identityName: name,
      wanted: [],
      existing,
      allowDeletes: true,
      ineligible: `${name} may not be federated (${eligibility.reason})`,
    });
    await denyIneligible(run, identity, principalId, eligibility, asks, plan.deletes.length);
    await applyCredentialPlan(run, id, principalId, plan);
    return { credentials: plan, complete: tags.errors.length === 0 };
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
  return { credentials: plan, complete };
}

/**
 * Whether the identity may be federated: in WORKLOAD_FEDERATION_SCOPES, and holding no role beyond
 * the managed ones in the watched subscriptions (Resource Graph, read now, management groups above
 * included). Outside the scopes, no lookup is made.
 */
async function federationEligibility(run: WorkloadRun, identityId: string, principalId: string): Promise<FederationEligibility> {
  const { config, resourceGraph } = run.deps;
  const byScope = evaluateFederationEligibility({ identityId, scopes: config.federationScopes });
  if (!byScope.eligible) return byScope;
  const assignments = await resourceGraph.roleAssignmentsOf(principalId, config.watchedSubscriptions);
  return evaluateFederationEligibility({ identityId, scopes: config.federationScopes, assignments });
}

/** The `denied-ineligible` row: what the tags asked for, why the identity may not be federated, and that ours go. */
async function denyIneligible(
  run: WorkloadRun,
  identity: ArmResource,
  principalId: string,
  eligibility: Extract<FederationEligibility, { eligible: false }>,
  asks: boolean,
  deletes: number,
): Promise<void> {
  const asked = asks
    ? `${WORKLOAD_TAG_NAMES.cluster} and ${WORKLOAD_TAG_NAMES.subjects} on ${identity.name} ask for federated credentials, but`
    : `${identity.name} holds federated credentials of ours, but`;
  const outcome =
    deletes > 0 ? `; no federated credential is created, and ours (${deletes}) are deleted` : '; no federated credential is created';
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
  readonly withIssuer: readonly {
    readonly id: string;
    readonly name: string;
    readonly issuer: string;
    readonly workloadIdentityEnabled: boolean;
  }[];
  /** False when a reference could not be settled (ambiguous name): nothing is deleted then. */
  readonly complete: boolean;
}

/** Cluster references → clusters as ARM has them now, with their exact OIDC issuer URL. */
async function resolveClusters(
  run: WorkloadRun,
  identity: ArmResource,
  refs: readonly ClusterRef[],
  known: KnownClusters,
): Promise<ResolvedClusters> {
  const { deps } = run;
  const subscriptionId = parseResourceId(identity.id).ok
    ? (parseResourceId(identity.id) as { value: { subscriptionId: string } }).value.subscriptionId
    : '';
  const ids = new Map<string, { id: string; ref: ClusterRef }>();
  let complete = true;

  const byName = refs.filter((r) => r.kind === 'name');
  if (byName.length > 0) {
    // Resource Graph finds the id; ARM (below) gives the current issuer, since Resource Graph may lag.
    const rows = await deps.resourceGraph.query(clustersByNameQuery(byName.map((r) => r.name)), [subscriptionId]);
    for (const ref of byName) {
      const matches = rows.filter((row) => typeof row['id'] === 'string' && String(row['name']).toLowerCase() === ref.name.toLowerCase());
      // A cluster this run already knows (the event's cluster) counts even if Resource Graph has not caught up.
      const fromKnown = [...known.entries()]
        .filter(([k, v]) => v && parseResourceId(k).ok && sameSubscriptionAndName(k, subscriptionId, ref.name))
        .map(([, v]) => v!.id);
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

async function applyCredentialPlan(
  run: WorkloadRun,
  identityId: string,
  principalId: string,
  plan: CredentialPlan,
  clientId?: string,
): Promise<void> {
  const { deps } = run;
  const base = { resourceId: identityId, principalId };
  // A credential the tags ask for carries what the cluster owner applies: the client id and the
  // ServiceAccount manifest annotated with it (issue 19.5).
  const details = (c: {
    name: string;
    subject: string;
    issuer: string;
    clusterId?: string;
    namespace?: string;
    serviceAccount?: string;
  }) => ({
    credential: c.name,
    subject: c.subject,
    issuer: c.issuer,
    ...(c.clusterId ? { cluster: c.clusterId } : {}),
    ...(clientId && c.namespace && c.serviceAccount
      ? { clientId, serviceAccountManifest: serviceAccountManifest(c.namespace, c.serviceAccount, clientId) }
      : {}),
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
      await run.decide({
        ...entry,
        outcome: AUDIT_OUTCOMES.revoked,
        reason: outcome === 'deleted' ? `${d.reason}; deleted` : `${d.reason} (it was already gone)`,
      });
    } catch (error) {
      await run.fail({ ...entry, reason: `could not delete federated credential ${d.credential.name}` }, error);
    }
  }
  for (const k of plan.kept) {
    await run.decide({
      ...base,
      action: run.action('delete federated credential'),
      outcome: AUDIT_OUTCOMES.skipped,
      reason: k.reason,
      details: details(k.credential),
    });
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
