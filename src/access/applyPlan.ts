/**
 * Executing one consumer's access plan: grants (the grant index written ahead), revokes nobody else
 * asks for, the index kept in step, a Container App's or site's pull setting, and an ACR task's
 * custom-registry credential pointed at the identity that holds the role.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { customRegistryLoginServers, SYSTEM_IDENTITY } from '../azure/acrTasks.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { grantAssignment, grantSpecOf, revokeAssignment, REVOKE_RESULTS } from '../assignments/executor.js';
import type { GrantIndexEntry } from '../assignments/grantIndex.js';
import type { AccessPlan, RegistryFacts } from '../policy/accessPlan.js';
import { resourceIdKey, parseResourceId, sameResourceId } from '../policy/resourceId.js';
import { describeRole } from '../policy/roles.js';
import { registryAskers } from './askers.js';
import { noteContainerGroupOrder, type NewGrant } from './containerGroups.js';
import { wireConsumer, type HeldRegistry } from './consumerWiring.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import { IDENTITY_KINDS, taskCredentialIdentity, type ConsumerIdentity } from './identities.js';
import type { AccessRun } from './run.js';

/** The principal (lower-cased) of the identity an ACR task's registry credential uses (`taskCredentialIdentity`). */
function taskCredentialPrincipal(identities: readonly ConsumerIdentity[]): string | undefined {
  const identity = taskCredentialIdentity(identities);
  const holder = identities.find((i) =>
    identity === SYSTEM_IDENTITY
      ? i.kind === IDENTITY_KINDS.systemAssigned
      : i.kind === IDENTITY_KINDS.userAssigned && i.clientId === identity,
  );
  return holder?.principalId.toLowerCase();
}

/** Enough of a registry to name it and reach it. */
interface RegistryTarget {
  readonly id: string;
  readonly name: string;
  readonly loginServer?: string;
}

/** Everything `applyPlan` works from: the consumer as read, the plan made for it, and what was listed. */
export interface ApplyPlanInput {
  readonly consumer: ArmResource;
  /** The consumer's principals (lower-cased). */
  readonly principals: ReadonlySet<string>;
  readonly identities: readonly ConsumerIdentity[];
  readonly plan: AccessPlan;
  /** The assignments listed for the plan: a revoke is executed against what ARM listed, description included. */
  readonly listed: readonly RoleAssignmentInfo[];
  /** Ours naming the consumer, held by principals it no longer has. */
  readonly stale: readonly RoleAssignmentInfo[];
  readonly indexed: readonly GrantIndexEntry[];
  readonly facts: readonly RegistryFacts[];
  /** The registry-event path: settle the consumer for this one registry only (read fresh from ARM). */
  readonly only?: RegistryFacts;
}

/** Executes a consumer's plan: grants (write-ahead index), revokes nobody else asks for, the index kept in step, an ACR task's credentials. */
export async function applyPlan(run: AccessRun, input: ApplyPlanInput): Promise<void> {
  const { consumer, principals, identities, plan, listed, stale, indexed, facts } = input;
  const limited = input.only !== undefined;
  const { deps } = run;
  const consumerId = consumer.id;
  const isTask = consumer.type.toLowerCase() === WATCHED_RESOURCE_TYPES.acrTask;
  /** Registries (normalized id) where the consumer holds ours after this run. */
  const keep = new Map<string, RegistryTarget>();
  // An ACR task's registry credential follows what it asks for: each registry where the identity
  // its credential uses holds the role now — granted here, or already there, whoever assigned it.
  const credentialPrincipal = isTask ? taskCredentialPrincipal(identities) : undefined;
  const credentialFor = new Map<string, RegistryTarget>();
  const indexedByScope = new Map<string, GrantIndexEntry>(indexed.map((e) => [resourceIdKey(e.registryId), e]));
  const current = unionOf(principals);
  const factsOf = (scope: string) => facts.find((f) => sameResourceId(f.id, scope));
  /** An ACR task's credential entries, by login server, as its response lists them (undefined: not listed). */
  const taskLoginServers = isTask ? customRegistryLoginServers(consumer) : undefined;

  /** Registries (normalized id) where the consumer's principals hold a role now, or would in a dry run: a Container App's or site's pull setting follows these. */
  const held = new Map<string, { registry: HeldRegistry['registry']; principals: Set<string> }>();
  const hold = (scope: string, registry: RegistryTarget, principalId: string) => {
    const scopeKey = resourceIdKey(scope);
    const h = held.get(scopeKey) ?? { registry, principals: new Set<string>() };
    h.principals.add(principalId.toLowerCase());
    held.set(scopeKey, h);
  };

  for (const u of plan.unchanged) {
    hold(u.scope, factsOf(u.scope) ?? { id: u.scope, name: u.registryName }, u.principalId);
    if (u.owned) keep.set(resourceIdKey(u.scope), factsOf(u.scope) ?? { id: u.scope, name: u.registryName });
    if (u.principalId === credentialPrincipal)
      credentialFor.set(resourceIdKey(u.scope), factsOf(u.scope) ?? { id: u.scope, name: u.registryName });
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.alreadyPresent,
      reason: u.owned ? u.reason : `${u.reason} (assigned outside the automation; left as it is)`,
      resourceId: consumerId,
      principalId: u.principalId,
      registry: u.scope,
      role: describeRole(u.role),
    });
  }

  for (const d of plan.denied) {
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.deniedByConsent,
      reason: d.reason,
      resourceId: consumerId,
      ...(d.principalIds.length === 1 && d.principalIds[0] ? { principalId: d.principalIds[0] } : {}),
      ...(d.scope ? { registry: d.scope } : {}),
      ...(d.principalIds.length > 1 ? { details: { principalIds: d.principalIds.join(',') } } : {}),
    });
  }

  for (const u of plan.unresolved) {
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: u.reason,
      resourceId: consumerId,
      details: { registryRef: u.registryRef, access: u.access },
    });
  }

  /** Grants made now (or that would be, in a dry run): a container group created before them has not pulled with them. */
  const newGrants: NewGrant[] = [];
  for (const g of plan.grants) {
    const scopeKey = resourceIdKey(g.scope);
    const registry: RegistryTarget = factsOf(g.scope) ?? { id: g.scope, name: g.registryName };
    // Write-ahead: the index names the registry, and the principals it grants to, before the
    // assignment exists, so a crash in between still leaves both on the list to check when the
    // consumer is untagged, re-identified or deleted. A row that records no principals (written
    // before they were recorded) stays so: its registry is listed whole until a settle narrows it.
    const entry = indexedByScope.get(scopeKey);
    const recorded = entry ? entry.principalIds : [];
    let writeAhead: { index: typeof deps.grantIndex; entry: GrantIndexEntry } | undefined;
    if (!run.dryRun && recorded && !recorded.includes(g.principalId.toLowerCase())) {
      const next: GrantIndexEntry = {
        ...(entry ?? { consumerId, registryId: g.scope, ...(registry.loginServer ? { loginServer: registry.loginServer } : {}) }),
        principalIds: unionOf(recorded, current, [g.principalId]),
      };
      writeAhead = { index: deps.grantIndex, entry: next };
      indexedByScope.set(scopeKey, next);
    }
    if (await grantAssignment(deps, run, grantSpecOf(g), { resourceId: consumerId, reason: g.reason }, writeAhead)) {
      keep.set(scopeKey, registry);
      hold(g.scope, registry, g.principalId);
      newGrants.push({ registry, principalId: g.principalId, roleName: g.role.name });
      if (g.principalId === credentialPrincipal) credentialFor.set(scopeKey, registry);
    } else if (run.dryRun) {
      hold(g.scope, registry, g.principalId);
      newGrants.push({ registry, principalId: g.principalId, roleName: g.role.name });
    }
  }
  await noteContainerGroupOrder(run, consumer, newGrants);

  // Revokes are executed against the assignment as ARM listed it (the executor checks it is ours).
  const byName = new Map(listed.map((a) => [a.name.toLowerCase(), a]));
  const revokes = [
    ...plan.revokes.flatMap((r) => {
      const a = byName.get(r.name.toLowerCase());
      return a ? [{ a, reason: r.reason, scopeName: r.registryName }] : [];
    }),
    ...stale.map((a) => ({
      a,
      reason: `principal ${a.principalId} no longer belongs to ${consumer.name} (identity removed or replaced)`,
      scopeName: nameOf(a.scope),
    })),
  ];
  const askers = registryAskers(deps, input.only ? { registry: input.only } : undefined);
  /** Registries where a revoke failed: what the index recorded there must stay, so a redelivery finds it again. */
  const unsettled = new Set<string>();
  for (const r of revokes) {
    const result = await revokeAssignment(deps, run, r.a, {
      resourceId: consumerId,
      reason: r.reason,
      scopeName: r.scopeName,
      askers,
      except: [consumerId],
    });
    if (result === REVOKE_RESULTS.failed) unsettled.add(resourceIdKey(r.a.scope));
  }

  // Once ours held by principals the consumer no longer has are revoked, only its current
  // principals can hold ours there: the row records just those (on a consumer event, which listed
  // every principal the row named, or the whole registry for a row that named none).
  const narrowToCurrent = async (scopeKey: string, entry: GrantIndexEntry) => {
    if (limited || unsettled.has(scopeKey) || (entry.principalIds && sameSet(unionOf(entry.principalIds), current))) return;
    const next: GrantIndexEntry = { ...entry, principalIds: current };
    await deps.grantIndex.upsert(next);
    indexedByScope.set(scopeKey, next);
  };

  // A Container App's registry entry or a site's acrUseManagedIdentityCreds follows the registries held
  // (issue 19); what it keeps (set, or a take-back that failed) stays on the index.
  const wired = await wireConsumer(run, {
    consumer,
    identities,
    held,
    indexedByScope,
    principalIds: current,
    ...(input.only ? { only: input.only } : {}),
  });

  // Keep what we still hold on the index; drop registries where nothing of ours remains.
  if (!run.dryRun) {
    for (const [scopeKey, entry] of [...indexedByScope]) {
      if (keep.has(scopeKey) || credentialFor.has(scopeKey) || wired.has(scopeKey)) {
        await narrowToCurrent(scopeKey, entry);
        continue;
      }
      if (limited && !facts.some((f) => sameResourceId(f.id, entry.registryId))) continue;
      const stillOurs = plan.unchanged.some((u) => u.owned && sameResourceId(u.scope, entry.registryId));
      if (stillOurs) {
        await narrowToCurrent(scopeKey, entry);
        continue;
      }
      // Only an entry the index says we wrote is removed (and only while the task still lists it).
      if (isTask && entry.taskIdentity && entry.loginServer && taskLoginServers?.has(entry.loginServer.toLowerCase()) !== false) {
        try {
          await deps.acrTasks.removeCustomRegistry(consumerId, entry.loginServer);
        } catch (error) {
          await run.fail(
            {
              action: 'revoke',
              resourceId: consumerId,
              registry: entry.registryId,
              reason: `could not remove the task's credential for ${entry.loginServer}`,
            },
            error,
          );
          continue;
        }
      }
      await deps.grantIndex.remove(consumerId, entry.registryId);
    }
  }

  // ACR task: point its custom-registry credential for each registry it holds the role on at its
  // identity. An entry for that login server the automation did not write (by hand, with a
  // password or another identity) is someone else's setting: never changed, and said so.
  if (isTask && !run.dryRun) {
    const identity = taskCredentialIdentity(identities);
    if (!identity) return;
    for (const [scopeKey, registry] of credentialFor) {
      const loginServer = (registry.loginServer ?? `${registry.name.toLowerCase()}.azurecr.io`).toLowerCase();
      const entry = indexedByScope.get(scopeKey);
      const ours = entry?.taskIdentity !== undefined && entry.loginServer?.toLowerCase() === loginServer;
      const listed = taskLoginServers?.has(loginServer);
      if (ours && entry?.taskIdentity === identity && listed !== false) continue;
      if (!ours && listed === true) {
        await run.decide({
          action: 'task-credential',
          outcome: AUDIT_OUTCOMES.skipped,
          reason: `task ${consumer.name} already has a credential for ${loginServer} that the automation did not set (by hand: a password or another identity); it is left as it is`,
          resourceId: consumerId,
          registry: registry.id,
        });
        continue;
      }
      // Write-ahead: once the index says the entry is ours, a crash after the PATCH cannot make it look like someone else's.
      // A new row (the role was assigned by hand) records the task's principals, so its registry is listed by principal.
      const principalIds = entry ? entry.principalIds : current;
      const next: GrantIndexEntry = {
        consumerId,
        registryId: registry.id,
        loginServer,
        taskIdentity: identity,
        ...(principalIds ? { principalIds } : {}),
      };
      try {
        await deps.grantIndex.upsert(next);
        try {
          await deps.acrTasks.setCustomRegistryIdentity(consumerId, loginServer, identity);
        } catch (error) {
          // Not written: the index must not claim it (an entry someone adds meanwhile would look like ours).
          if (entry) await deps.grantIndex.upsert(entry);
          else await deps.grantIndex.remove(consumerId, registry.id);
          throw error;
        }
        await run.decide({
          action: 'task-credential',
          outcome: AUDIT_OUTCOMES.granted,
          reason: `task ${consumer.name} now authenticates to ${loginServer} with ${identity === '[system]' ? 'its system-assigned identity' : `user-assigned identity ${identity}`}`,
          resourceId: consumerId,
          registry: registry.id,
        });
      } catch (error) {
        await run.fail(
          {
            action: 'task-credential',
            resourceId: consumerId,
            registry: registry.id,
            reason: `could not set task ${consumer.name}'s credential for ${loginServer}`,
          },
          error,
        );
      }
    }
  }
}

function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}

/** Lower-cased, de-duplicated and sorted, so an unchanged set writes nothing. */
export function unionOf(...sets: (Iterable<string> | undefined)[]): string[] {
  const all = new Set<string>();
  for (const set of sets) for (const p of set ?? []) all.add(p.toLowerCase());
  return [...all].sort();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}
