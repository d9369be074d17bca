/**
 * The access plan for one consumer: which role assignments to create, which of ours to delete,
 * which are already there, and which requests are refused or cannot be resolved — each with the
 * reason the audit row will carry. Pure and deterministic: the same facts give the same plan, in
 * the same order, whatever order they came in.
 */
import type {
  PlanIdentity,
  RegistryFacts,
  ExistingAssignment,
  PlanInput,
  PlannedGrant,
  PlannedRevoke,
  PlannedUnchanged,
  PlannedDenial,
  PlannedUnresolved,
  AccessPlan,
} from './accessPlan.js';
import { describeOwnership, isOurs, OWNERSHIP_KINDS, roleAssignmentName } from './ownership.js';
import { evaluateConsent, registryConsentFor } from './consent.js';
import { IDENTITY_KIND_WORDS } from './identityKinds.js';
import { parseResourceId, REGISTRY_TYPE, sameResourceId } from './resourceId.js';
import { isGuid, quote } from './result.js';
import { accessOf, chooseRole, REGISTRY_ROLES, roleDefinitionGuid, roleFor, type Role, type RoleChoice } from './roles.js';
import { parseRegistryRef, TAG_FOR_ACCESS, type Access, type RegistryRef } from './tags.js';

interface Wanted {
  readonly facts: RegistryFacts;
  readonly key: string;
  readonly access: Access;
}

/** Whether a registry reference (by name, login server or resource id) names this registry. */
export function refersToRegistry(ref: RegistryRef, registry: Pick<RegistryFacts, 'id' | 'name' | 'loginServer'>): boolean {
  switch (ref.kind) {
    case 'resourceId':
      return sameResourceId(ref.resourceId, registry.id);
    case 'loginServer':
      return registry.loginServer ? registry.loginServer.toLowerCase() === ref.loginServer : registry.name.toLowerCase() === ref.name;
    case 'name':
      return registry.name.toLowerCase() === ref.name;
  }
}

/** Finds the registry a reference names among the facts; a reference must match exactly one. */
function resolve(ref: RegistryRef, registries: readonly RegistryFacts[]): RegistryFacts[] {
  return registries.filter((r) => refersToRegistry(ref, r));
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

/** Plans grants and revokes for one consumer's identities from its requests, the registries' consent and what exists. */
export function planAccess(input: PlanInput): AccessPlan {
  const grants: PlannedGrant[] = [];
  const revokes: PlannedRevoke[] = [];
  const unchanged: PlannedUnchanged[] = [];
  const denied: PlannedDenial[] = [];
  const unresolved: PlannedUnresolved[] = [];

  const consumerParsed = parseResourceId(input.consumer.id);
  const consumerName = input.consumer.name ?? (consumerParsed.ok ? consumerParsed.value.name : input.consumer.id);

  // Identities: one per principal, valid GUIDs only.
  const identities = new Map<string, PlanIdentity>();
  for (const identity of input.identities) {
    const principalId = identity.principalId.trim().toLowerCase();
    if (!isGuid(principalId)) {
      denied.push({
        principalIds: [identity.principalId],
        reason: `${consumerName}'s ${IDENTITY_KIND_WORDS[identity.kind]} has principal id ${quote(identity.principalId)}, which is not a GUID; nothing is granted to it`,
      });
      continue;
    }
    if (!identities.has(principalId)) identities.set(principalId, { ...identity, principalId });
  }
  const principalIds = [...identities.keys()].sort();

  // Requests → registries, once per (registry, access).
  const wanted = new Map<string, Wanted>();
  const unresolvedScopes = new Set<string>();
  const unresolvedNames = new Set<string>();
  for (const request of input.requests) {
    const tag = TAG_FOR_ACCESS[request.access];
    const parsedRef =
      typeof request.registryRef === 'string' ? parseRegistryRef(request.registryRef) : { ok: true as const, value: request.registryRef };
    const raw = typeof request.registryRef === 'string' ? request.registryRef : request.registryRef.raw;
    if (!parsedRef.ok) {
      unresolved.push({ registryRef: raw, access: request.access, reason: parsedRef.error });
      continue;
    }
    const ref = parsedRef.value;
    const found = resolve(ref, input.registries);
    const only = found[0];
    if (found.length === 0 || only === undefined) {
      unresolvedNames.add(ref.name);
      unresolved.push({ registryRef: raw, access: request.access, reason: `registry ${raw} (${tag}) was not found` });
      continue;
    }
    if (found.length > 1) {
      unresolvedNames.add(ref.name);
      const ids = found
        .map((f) => f.id)
        .sort()
        .join(', ');
      unresolved.push({
        registryRef: raw,
        access: request.access,
        reason: `registry ${raw} (${tag}) matches more than one registry (${ids}); name it by resource id`,
      });
      continue;
    }
    const key = parseResourceId(only.id);
    if (!only.exists || !key.ok) {
      if (key.ok) unresolvedScopes.add(key.value.normalized);
      unresolvedNames.add(ref.name);
      const why = key.ok ? 'does not exist' : `has an invalid resource id: ${key.error}`;
      unresolved.push({ registryRef: raw, access: request.access, reason: `registry ${only.name} (${tag}) ${why}` });
      continue;
    }
    const wantedKey = `${key.value.normalized}|${request.access}`;
    if (!wanted.has(wantedKey)) wanted.set(wantedKey, { facts: only, key: key.value.normalized, access: request.access });
  }

  // Consent and role per wanted (registry, access); assignments per identity.
  const desired = new Set<string>();
  const existingByTriple = new Map<string, ExistingAssignment[]>();
  for (const e of input.existing) {
    const scope = parseResourceId(e.scope);
    const role = roleDefinitionGuid(e.roleDefinitionId);
    if (!scope.ok || role === undefined) continue;
    const triple = `${scope.value.normalized}|${e.principalId.toLowerCase()}|${role}`;
    existingByTriple.set(triple, [...(existingByTriple.get(triple) ?? []), e]);
  }
  const decisions = new Map<string, { allowed: boolean; reason: string; choice: RoleChoice }>();
  for (const w of [...wanted.values()].sort(byKey((w) => `${w.key}|${w.access}`))) {
    const tag = TAG_FOR_ACCESS[w.access];
    // Pull and push each need their own consent: acr-pull-allow (or the default) for pull, acr-push-allow for push.
    const consent = evaluateConsent(
      { id: w.facts.id, tags: w.facts.tags },
      { id: input.consumer.id, tags: input.consumer.tags },
      input.defaultConsent,
      registryConsentFor(w.access),
    );
    const choice = chooseRole(w.facts.roleAssignmentMode, w.access);
    decisions.set(`${w.key}|${w.access}`, { allowed: consent.allowed, reason: consent.reason, choice });
    if (!consent.allowed) {
      denied.push({
        scope: w.facts.id,
        registryName: w.facts.name,
        access: w.access,
        principalIds,
        reason: `${consumerName} asks for ${w.facts.name} (${tag}), but ${consent.reason}`,
      });
      continue;
    }
    for (const principalId of principalIds) {
      const identity = identities.get(principalId);
      if (!identity) continue;
      const triple = `${w.key}|${principalId}|${choice.role.roleDefinitionId}`;
      desired.add(triple);
      const present = existingByTriple.get(triple) ?? [];
      for (const e of present) {
        unchanged.push({
          name: e.name,
          scope: w.facts.id,
          registryName: w.facts.name,
          principalId,
          role: choice.role,
          owned: isOurs(e),
          reason: `${choice.role.name} on ${w.facts.name} is already assigned to ${consumerName}'s ${IDENTITY_KIND_WORDS[identity.kind]} ${principalId}`,
        });
      }
      if (present.length > 0) continue;
      const name = roleAssignmentName({ scope: w.facts.id, principalId, roleDefinitionId: choice.role.roleDefinitionId });
      if (!name.ok) {
        denied.push({ scope: w.facts.id, registryName: w.facts.name, access: w.access, principalIds: [principalId], reason: name.error });
        continue;
      }
      grants.push({
        name: name.value,
        scope: w.facts.id,
        registryName: w.facts.name,
        principalId,
        principalType: identity.principalType,
        kind: identity.kind,
        ...(identity.resourceId === undefined ? {} : { identityResourceId: identity.resourceId }),
        access: w.access,
        role: choice.role,
        description: describeOwnership({ kind: OWNERSHIP_KINDS.tagPolicy, tag, consumerId: input.consumer.id }),
        reason: `${consumerName} asks for ${w.facts.name} (${tag}); ${consent.reason}; ${choice.reason}`,
      });
    }
  }

  // Revokes: only ours, only registry roles, only for these principals, only what nothing asks for now.
  const seenNames = new Set<string>();
  for (const e of input.existing) {
    const nameKey = e.name.toLowerCase();
    if (seenNames.has(nameKey)) continue;
    seenNames.add(nameKey);
    if (!isOurs(e)) continue;
    const principalId = e.principalId.toLowerCase();
    if (!identities.has(principalId)) continue;
    const role = roleFor(e.roleDefinitionId);
    const access = role === undefined ? undefined : accessOf(role);
    if (role === undefined || access === undefined || !REGISTRY_ROLES.includes(role)) continue;
    const scope = parseResourceId(e.scope);
    if (!scope.ok || scope.value.type !== REGISTRY_TYPE) continue;
    const triple = `${scope.value.normalized}|${principalId}|${role.roleDefinitionId}`;
    if (desired.has(triple)) continue;

    const facts = input.registries.find((r) => sameResourceId(r.id, e.scope));
    const registryName = facts?.name ?? scope.value.name;
    const tag = TAG_FOR_ACCESS[access];
    if (unresolvedScopes.has(scope.value.normalized) || unresolvedNames.has(registryName.toLowerCase())) {
      unchanged.push({
        name: e.name,
        scope: e.scope,
        registryName,
        principalId,
        role,
        owned: true,
        reason: `kept while registry ${registryName} cannot be resolved`,
      });
      continue;
    }
    const decision = decisions.get(`${scope.value.normalized}|${access}`);
    let reason: string;
    if (decision === undefined) reason = `${consumerName} no longer asks for ${registryName} in its ${tag} tag`;
    else if (!decision.allowed && access === 'push')
      reason = `registry ${registryName} does not allow ${consumerName} to push (${role.name} is revoked): ${decision.reason}`;
    else if (!decision.allowed) reason = `registry ${registryName} no longer allows ${consumerName}: ${decision.reason}`;
    else reason = `${decision.choice.role.name} replaces ${role.name} on ${registryName}: ${decision.choice.reason}`;
    revokes.push({ name: e.name, scope: e.scope, registryName, principalId, role, reason });
  }

  const assignmentOrder = byKey(
    (a: { scope: string; principalId: string; role: Role; name: string }) =>
      `${a.scope.toLowerCase()}|${a.principalId}|${a.role.roleDefinitionId}|${a.name}`,
  );
  return {
    grants: grants.sort(assignmentOrder),
    revokes: revokes.sort(assignmentOrder),
    unchanged: unchanged.sort(assignmentOrder),
    denied: denied.sort(byKey((d) => `${d.scope?.toLowerCase() ?? ''}|${d.access ?? ''}|${d.principalIds.join(',')}`)),
    unresolved: unresolved.sort(byKey((u) => `${u.registryRef.toLowerCase()}|${u.access}`)),
  };
}
