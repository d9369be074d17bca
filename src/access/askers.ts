/**
 * "Who still asks?" for a registry role: the consumers that hold a principal and still ask, through
 * their `acr-pull` / `acr-push` tags, for the role the automation assigned to it on a registry.
 *
 * One user-assigned identity is often shared — by a fleet of VMs, by clusters as their kubelet
 * identity, or tagged itself while attached to tagged VMs — and one assignment (deterministic name
 * of scope + principal + role) serves them all. So a revoke for one consumer must first ask:
 *
 *   1. Resource Graph: resources with a consumer tag whose `identity` or `properties` mention the
 *      principal id (system-assigned `identity.principalId`, `identity.userAssignedIdentities[*]
 *      .principalId`, AKS `properties.identityProfile.kubeletidentity.objectId`, a user-assigned
 *      identity's own `properties.principalId`). Candidates only: its index lags and it matches text.
 *   2. ARM, for each candidate: re-read it, resolve its identities, parse its tags, and plan its
 *      access to this registry as the tag policy would (consent and role from the registry read
 *      fresh from ARM). It asks when that plan grants exactly this principal this role here.
 *
 * Only ARM's answer confirms an asker; a search result or an index row alone never removes one.
 */
import type { AccessDeps } from './accessDeps.js';
import type { Asker, AskerLookup } from '../assignments/executor.js';
import { CONSUMER_TYPES } from '../policy/resourceTypes.js';
import { identitiesOf, toPlanIdentity } from './identities.js';
import { describeOwnership, OWNERSHIP_KINDS } from '../policy/ownership.js';
import { planAccess, refersToRegistry } from '../policy/plan.js';
import type { RegistryFacts } from '../policy/accessPlan.js';
import { parseResourceId, REGISTRY_TYPE, resourceIdKey, sameResourceId } from '../policy/resourceId.js';
import { isGuid } from '../policy/result.js';
import { accessOf, REGISTRY_ROLES, roleFor } from '../policy/roles.js';
import { parseConsumerTags, TAG_FOR_ACCESS, TAG_NAMES } from '../policy/tags.js';

/** Resource Graph: consumers carrying an access tag whose identities mention this principal id (a GUID). */
export function consumersHoldingPrincipalQuery(principalId: string): string {
  const tagged = `isnotempty(tags['${TAG_NAMES.pull}']) or isnotempty(tags['${TAG_NAMES.push}'])`;
  return `resources | where ${tagged} | where tostring(identity) contains '${principalId}' or tostring(properties) contains '${principalId}' | project id, type`;
}

/**
 * The asker lookup for registry roles. `registry`: the registry as just read from ARM, when the
 * caller has that read (a registry event); otherwise it is read once, and only if a candidate exists.
 */
export function registryAskers(deps: AccessDeps, known?: { readonly registry?: RegistryFacts }): AskerLookup {
  let registry: Promise<RegistryFacts | undefined> | undefined;
  const readRegistry = (scope: string): Promise<RegistryFacts | undefined> => {
    if (known?.registry && sameResourceId(known.registry.id, scope)) return Promise.resolve(known.registry);
    registry ??= deps.arm.getResource(scope).then((r) => (r ? deps.registries.remember(r) : undefined));
    return registry;
  };
  return async (a, { except }) => {
    const role = roleFor(a.roleDefinitionGuid);
    const access = role && REGISTRY_ROLES.includes(role) ? accessOf(role) : undefined;
    const scope = parseResourceId(a.scope);
    // Not a registry role at a registry, or a principal id that is no GUID: no consumer tag asks for it.
    if (!role || !access || !scope.ok || scope.value.type !== REGISTRY_TYPE || !isGuid(a.principalId)) return [];
    const principalId = a.principalId.toLowerCase();
    const excluded = new Set(except.map((id) => resourceIdKey(id)));

    const candidates = new Map<string, string>();
    for (const row of await deps.resourceGraph.query(consumersHoldingPrincipalQuery(principalId), deps.config.watchedSubscriptions)) {
      if (typeof row['id'] !== 'string' || typeof row['type'] !== 'string' || !CONSUMER_TYPES.has(row['type'].toLowerCase())) continue;
      const key = resourceIdKey(row['id']);
      if (!excluded.has(key)) candidates.set(key, row['id']);
    }
    if (candidates.size === 0) return [];
    const facts = await readRegistry(a.scope);
    if (!facts) return []; // the registry is gone: nobody can ask for a role on it

    const askers: Asker[] = [];
    for (const id of candidates.values()) {
      const consumer = await deps.arm.getResource(id);
      if (!consumer) continue;
      const identities = await identitiesOf(deps, consumer);
      const holder = identities.find((i) => i.principalId.toLowerCase() === principalId);
      if (!holder) continue;
      const requests = parseConsumerTags(consumer.tags).requests.filter(
        (r) => r.access === access && refersToRegistry(r.registryRef, facts),
      );
      if (requests.length === 0) continue;
      const plan = planAccess({
        consumer: { id: consumer.id, name: consumer.name, ...(consumer.tags ? { tags: consumer.tags } : {}) },
        identities: [toPlanIdentity(holder)],
        requests: requests.map((r) => ({ registryRef: r.registryRef, access: r.access })),
        registries: [facts],
        existing: [],
        defaultConsent: deps.config.defaultConsent,
      });
      if (!plan.grants.some((g) => g.principalId === principalId && g.role.roleDefinitionId === role.roleDefinitionId)) continue;
      askers.push({
        resourceId: consumer.id,
        name: consumer.name,
        description: describeOwnership({ kind: OWNERSHIP_KINDS.tagPolicy, tag: TAG_FOR_ACCESS[access], consumerId: consumer.id }),
        writeAhead: { index: deps.grantIndex, entry: await indexEntryWith(deps, consumer.id, facts, principalId) },
      });
    }
    return askers;
  };
}

/** The asker's index row for this registry, with the principal added (its other fields kept). */
async function indexEntryWith(deps: AccessDeps, consumerId: string, facts: RegistryFacts, principalId: string) {
  const existing = (await deps.grantIndex.listForConsumer(consumerId)).find((e) => sameResourceId(e.registryId, facts.id));
  const base = existing ?? { consumerId, registryId: facts.id, ...(facts.loginServer ? { loginServer: facts.loginServer } : {}) };
  // A row without principals means "list the whole registry": adding one would narrow it.
  if (existing && !existing.principalIds) return base;
  const principalIds = [...new Set([...(existing?.principalIds ?? []), principalId])].sort();
  return { ...base, principalIds };
}
