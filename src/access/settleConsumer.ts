/**
 * Settling one consumer that exists: its identities, the requests its tags make, the registries they
 * name (cached, read again from ARM before a grant), the assignments there — planned by the pure
 * `planAccess` and handed to `applyPlan`. `only` limits it to one registry (the registry-event path).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import type { GrantIndexEntry } from '../assignments/grantIndex.js';
import { ownershipOfListed } from '../assignments/executor.js';
import { standsFor } from '../policy/ownership.js';
import { planAccess } from '../policy/plan.js';
import type { RegistryFacts } from '../policy/accessPlan.js';
import { resourceIdKey } from '../policy/resourceId.js';
import { parseConsumerTags, TAG_NAMES, type AccessRequest } from '../policy/tags.js';
import type { AccessDeps } from './accessDeps.js';
import { applyPlan, unionOf } from './applyPlan.js';
import { identitiesOf, toPlanIdentity } from './identities.js';
import { keepManualGrants } from './manualGrantDescription.js';
import { refersTo } from './registries.js';
import type { AccessRun } from './run.js';

/** Settles a consumer that exists; `only` limits it to one registry (the registry-event path). */
export async function settleConsumer(
  run: AccessRun,
  consumer: ArmResource,
  only?: { readonly facts: RegistryFacts; readonly assignments: readonly RoleAssignmentInfo[] },
): Promise<ReadonlySet<string>> {
  const { deps } = run;
  const consumerId = consumer.id;
  const consumerName = consumer.name;

  const identities = await identitiesOf(deps, consumer);
  const principals = new Set(identities.map((i) => i.principalId.toLowerCase()));

  const tags = parseConsumerTags(consumer.tags);
  let requests: readonly AccessRequest[] = tags.requests;
  if (only) requests = requests.filter((r) => refersTo(r, only.facts));
  else {
    for (const error of tags.errors) {
      await run.decide({
        action: 'grant',
        outcome: AUDIT_OUTCOMES.rejectedInput,
        reason: `tag ${error.tag}=${JSON.stringify(consumer.tags ? tagValue(consumer.tags, error.tag) : '')} on ${consumerName}: ${error.message}`,
        resourceId: consumerId,
        errorCode: 'InvalidTag',
        details: { tag: error.tag, item: error.item },
      });
    }
  }

  const indexed = await deps.grantIndex.listForConsumer(consumerId);
  let facts = only ? [only.facts] : requests.length > 0 ? await deps.registries.resolve(requests.map((r) => r.registryRef)) : [];

  // Where to look: registries asked for now, and (unless limited to one) those we granted on before.
  const scopes = new Map<string, string>();
  for (const f of facts) scopes.set(resourceIdKey(f.id), f.id);
  if (!only) for (const e of indexed) scopes.set(resourceIdKey(e.registryId), e.registryId);

  if (requests.length === 0 && scopes.size === 0) {
    if (!only && tags.errors.length === 0) {
      await run.decide({
        action: 'grant',
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `${consumerName} has no ${TAG_NAMES.pull} or ${TAG_NAMES.push} tag and holds no assignments of ours`,
        resourceId: consumerId,
      });
    }
    return principals;
  }

  const assignments: RoleAssignmentInfo[] = [];
  if (only) assignments.push(...only.assignments);
  else {
    const indexedByScope = new Map(indexed.map((e) => [resourceIdKey(e.registryId), e]));
    for (const [scopeKey, scope] of scopes)
      assignments.push(...(await listForConsumer(deps, scope, principals, indexedByScope.get(scopeKey))));
  }

  const existing = assignments.filter((a) => principals.has(a.principalId.toLowerCase()));
  // Ours for this consumer whose principal it no longer has (identity removed or recreated, or a
  // shared identity detached from it): revoked unless another consumer holding that principal asks.
  const stale = assignments.filter((a) => !principals.has(a.principalId.toLowerCase()) && standsFor(ownershipOfListed(a), consumerId));

  if (requests.length > 0 && identities.length === 0) {
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${consumerName} asks for registry access but has no managed identity`,
      resourceId: consumerId,
    });
  }

  // Manual grants (POST /api/access/grants) are ours, but the tag policy does not revoke them.
  const planWith = (registries: readonly RegistryFacts[]) =>
    keepManualGrants(
      planAccess({
        consumer: { id: consumerId, name: consumerName, ...(consumer.tags ? { tags: consumer.tags } : {}) },
        identities: identities.map(toPlanIdentity),
        requests: requests.map((r) => ({ registryRef: r.registryRef, access: r.access })),
        registries,
        existing: existing.map((a) => ({
          name: a.name,
          scope: a.scope,
          principalId: a.principalId,
          roleDefinitionId: a.roleDefinitionGuid,
          ...(a.description ? { description: a.description } : {}),
        })),
        defaultConsent: deps.config.defaultConsent,
      }),
      existing,
    );
  let plan = planWith(facts);
  // A grant is a write, decided on consent read from ARM now: cached or indexed facts may only
  // lead to "no change" or "deny" (issue 13, stale consent). So when the plan grants, read those
  // registries again and plan once more; an event that grants nothing stays at one read.
  // (The registry-event path's facts are ARM's answer to that event's own read already.)
  if (!only && plan.grants.length > 0) {
    facts = await rereadRegistries(deps, facts, new Set(plan.grants.map((g) => resourceIdKey(g.scope))));
    plan = planWith(facts);
  }
  run.plans.push({ consumerId, plan });

  await applyPlan(run, {
    consumer,
    principals,
    identities,
    plan,
    listed: assignments,
    stale,
    indexed,
    facts,
    ...(only ? { only: only.facts } : {}),
  });
  return principals;
}

/** The facts with those of the registries in `scopes` read again from ARM (and the cache corrected); a registry gone is marked so. */
async function rereadRegistries(deps: AccessDeps, facts: readonly RegistryFacts[], scopes: ReadonlySet<string>): Promise<RegistryFacts[]> {
  const out: RegistryFacts[] = [];
  for (const f of facts) {
    if (!scopes.has(resourceIdKey(f.id))) {
      out.push(f);
      continue;
    }
    // Sent after this grant was decided; grants decided together under ARM's read limit share it.
    const resource = await deps.arm.getResource(f.id, { sentAfterCall: true });
    if (resource) out.push(deps.registries.remember(resource));
    else {
      deps.registries.invalidate(f.id);
      out.push({ ...f, exists: false });
    }
  }
  return out;
}

/**
 * What a consumer event needs of one registry's assignments: those of the consumer's principals and
 * of the principals the index recorded for it there (so ours held by a principal it no longer has
 * are still found), each listed by ARM's `assignedTo()` filter — a page per principal rather than
 * every page of a registry shared by many consumers. An index row from before principals were
 * recorded says nothing about who held ours, so then the whole registry is listed.
 */
async function listForConsumer(
  deps: AccessDeps,
  scope: string,
  principals: ReadonlySet<string>,
  entry: GrantIndexEntry | undefined,
): Promise<RoleAssignmentInfo[]> {
  if (entry && !entry.principalIds) return deps.roleAssignments.listAtScope(scope);
  const found: RoleAssignmentInfo[] = [];
  for (const principalId of unionOf(principals, entry?.principalIds))
    found.push(...(await deps.roleAssignments.listAtScope(scope, { principalId })));
  return found;
}

function tagValue(tags: Readonly<Record<string, string>>, name: string): string {
  const key = Object.keys(tags).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? '' : (tags[key] ?? '');
}
