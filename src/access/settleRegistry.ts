/**
 * A registry was written or deleted: the cache refreshed, every consumer tagged for it (Resource
 * Graph, within a budget) settled for that registry, ours there that nobody is entitled to any more
 * revoked, and manual grants held to the registry's consent.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { ownershipOfListed, revokeAssignment, REVOKE_RESULTS } from '../assignments/executor.js';
import { consentForPrincipal, evaluateConsent, registryConsentFor } from '../policy/consent.js';
import { OWNERSHIP_KINDS, subjectOf } from '../policy/ownership.js';
import type { RegistryFacts } from '../policy/accessPlan.js';
import { resourceIdKey, sameResourceId } from '../policy/resourceId.js';
import { accessOf, roleFor } from '../policy/roles.js';
import { parseConsumerTags, TAG_NAMES } from '../policy/tags.js';
import { registryAskers } from './askers.js';
import { CONSUMER_TYPES } from '../policy/resourceTypes.js';
import { refersTo } from './registries.js';
import { readNamingConsumers } from './registryContinuations.js';
import type { AccessRun } from './run.js';
import { settleConsumer } from './settleConsumer.js';

/** A registry was written or deleted: refresh the cache, settle every consumer tagged for it, revoke ours nobody asks for. */
export async function settleRegistry(run: AccessRun, registryId: string, registry: ArmResource | undefined): Promise<void> {
  const { deps } = run;
  deps.registries.invalidate(registryId);
  if (!registry) {
    await run.decide({
      action: 'reconcile',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `registry ${registryId} does not exist (deleted); its cached look-ups are dropped`,
      resourceId: registryId,
      registry: registryId,
    });
    return;
  }
  const facts = deps.registries.remember(registry);
  const assignments = await deps.roleAssignments.listAtScope(facts.id);
  // Only the consumers whose tags mention the registry, filtered by Resource Graph; the exact check is refersTo below.
  const resume = run.options.resume && sameResourceId(run.options.resume.registryId, facts.id) ? run.options.resume : undefined;
  const read = await readNamingConsumers(deps, run, facts, taggedConsumersQuery(facts), REGISTRY_QUERY_BUDGET, resume);
  const rows = read.rows;

  const settledConsumers = new Set<string>();
  const entitled = new Set<string>();
  for (const row of rows) {
    const consumer = rowToResource(row);
    if (!consumer || !CONSUMER_TYPES.has(consumer.type.toLowerCase())) continue;
    const tags = parseConsumerTags(consumer.tags);
    if (!tags.requests.some((r) => refersTo(r, facts))) continue;
    settledConsumers.add(resourceIdKey(consumer.id));
    try {
      const principals = await settleConsumer(run, consumer, { facts, assignments });
      for (const p of principals) entitled.add(p);
    } catch (error) {
      await run.fail(
        {
          action: 'grant',
          resourceId: consumer.id,
          registry: facts.id,
          reason: `could not settle ${consumer.name} for registry ${facts.name}`,
        },
        error,
      );
    }
  }

  // Ours on this registry held by principals of no consumer that asks for it now. The tag policy
  // owns only the assignments it made for a consumer (the description names it): manual grants
  // are revoked by hand (or with their consumer), and pull-credential service principals by
  // un-enrolment — never by a registry event.
  const orphans = assignments.filter(
    (a) => ownershipOfListed(a)?.kind === OWNERSHIP_KINDS.tagPolicy && !entitled.has(a.principalId.toLowerCase()),
  );
  const askers = registryAskers(deps, { registry: facts });
  const checked = new Set<string>();
  for (const a of orphans) {
    const consumerId = subjectOf(ownershipOfListed(a));
    const key = consumerId ? resourceIdKey(consumerId) : undefined;
    if (consumerId && key && !settledConsumers.has(key) && !checked.has(key)) {
      checked.add(key);
      // ARM, not Resource Graph, decides: the consumer may have been untagged, deleted, or not indexed yet.
      const consumer = await deps.arm.getResource(consumerId);
      if (consumer) {
        try {
          await settleConsumer(run, consumer, { facts, assignments });
        } catch (error) {
          await run.fail(
            {
              action: 'revoke',
              resourceId: consumerId,
              registry: facts.id,
              reason: `could not settle ${consumer.name} for registry ${facts.name}`,
            },
            error,
          );
        }
        continue;
      }
    } else if (consumerId && key && (settledConsumers.has(key) || checked.has(key))) {
      continue; // settled above: its stale principals were handled there
    }
    // Naming no consumer, it is judged by the consumers read; with only part of them read, keep it for the sweep.
    if (!consumerId && !read.whole) continue;
    const result = await revokeAssignment(deps, run, a, {
      resourceId: consumerId ?? registryId,
      reason: consumerId
        ? `${consumerId} no longer exists, so its assignment on ${facts.name} is revoked`
        : `no consumer asks for this assignment of ours on ${facts.name} any more`,
      scopeName: facts.name,
      askers,
    });
    if (consumerId && !run.dryRun && result !== REVOKE_RESULTS.failed) await deps.grantIndex.remove(consumerId, facts.id);
  }
  await read.settled();

  await settleManualGrants(run, facts, registry, assignments);
}

/**
 * Manual grants made within consent go when the registry withdraws or narrows it, as the tag
 * policy's do; only a grant made as a consent override (ACCESS_ALLOW_CONSENT_OVERRIDE) outlives
 * consent, until it is revoked by hand or its consumer goes.
 */
async function settleManualGrants(
  run: AccessRun,
  facts: RegistryFacts,
  registry: ArmResource,
  assignments: readonly RoleAssignmentInfo[],
): Promise<void> {
  const { deps } = run;
  const consumers = new Map<string, ArmResource | undefined>();
  const askers = registryAskers(deps, { registry: facts });
  for (const a of assignments) {
    const ownership = ownershipOfListed(a);
    if (ownership?.kind !== OWNERSHIP_KINDS.manual || ownership.override) continue;
    const consumerId = ownership.consumerId;
    const grantedRole = roleFor(a.roleDefinitionGuid);
    const access = (grantedRole && accessOf(grantedRole)) ?? 'pull';
    let decision: { allowed: boolean; reason: string };
    if (consumerId) {
      const key = resourceIdKey(consumerId);
      if (!consumers.has(key)) consumers.set(key, await deps.arm.getResource(consumerId));
      const consumer = consumers.get(key);
      if (!consumer) continue; // a deleted consumer's grants go with it (its delete event, or the sweep)
      decision = evaluateConsent(
        { id: facts.id, tags: registry.tags },
        { id: consumer.id, tags: consumer.tags },
        deps.config.defaultConsent,
        registryConsentFor(access),
      );
    } else {
      decision = consentForPrincipal(
        { name: facts.name, tags: registry.tags },
        deps.config.defaultConsent,
        `principal ${a.principalId}`,
        access,
      );
    }
    if (decision.allowed) continue;
    await revokeAssignment(deps, run, a, {
      ...(consumerId ? { resourceId: consumerId } : {}),
      reason: `registry ${facts.name} no longer allows this manual grant: ${decision.reason}`,
      scopeName: facts.name,
      askers,
    });
  }
}

/**
 * What one registry event reads from Resource Graph at most: pages of 1,000 consumers that name the
 * registry, and seconds. Past it the run settles what it read and records that it stopped.
 */
export const REGISTRY_QUERY_BUDGET = { maxPages: 100, seconds: 120 } as const;

/**
 * Resource Graph query: the resources whose `acr-pull` / `acr-push` tag mentions the registry, with
 * what planning needs. A tag value is a list naming registries by name, login server or resource
 * id; each form contains the registry's name (a login server is `<name>.azurecr.io` or
 * `<name>-<hash>.azurecr.io`, an id ends in `/registries/<name>`), so KQL's case-insensitive
 * `contains` on the name keeps every consumer that may name it — and some that do not (`contosoacr2`),
 * which `refersTo` drops. A login server without the name is matched too. Without facts (or with a
 * name that is not a plain registry name), every tagged consumer.
 */
export function taggedConsumersQuery(registry?: Pick<RegistryFacts, 'name' | 'loginServer'>): string {
  const tagged = [TAG_NAMES.pull, TAG_NAMES.push];
  const terms = [registry?.name, registry?.loginServer].filter(
    (t): t is string => typeof t === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(t),
  );
  const needles = terms.filter((t, i) => !terms.slice(0, i).some((earlier) => t.toLowerCase().includes(earlier.toLowerCase())));
  const where =
    registry && needles.length > 0
      ? tagged.flatMap((tag) => needles.map((n) => `tags['${tag}'] contains '${n}'`)).join(' or ')
      : tagged.map((tag) => `isnotempty(tags['${tag}'])`).join(' or ');
  return `resources | where ${where} | project id, name, type, location, tags, identity, properties`;
}

function rowToResource(row: Readonly<Record<string, unknown>>): ArmResource | undefined {
  if (typeof row['id'] !== 'string' || typeof row['name'] !== 'string' || typeof row['type'] !== 'string') return undefined;
  return row as unknown as ArmResource;
}
