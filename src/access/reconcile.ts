/**
 * The access use case: bring one resource's registry access in line with the tag policy.
 *
 * Event mode takes only the resource id from the event and re-reads ARM (events arrive at least
 * once, out of order, and in pairs for template deployments), so a duplicated or stale event
 * converges on the same state. Dry-run plans on the same path and writes nothing.
 *
 *   consumer (VM, VMSS, AKS, ACR task, Container App, App Service, user-assigned identity)
 *     → its identities → its acr-pull/acr-push requests → registries (cached) → assignments on
 *       those registries and on those the grant index remembers → planAccess → apply, audit
 *   consumer gone → the grant index says where we granted → revoke ours that name it
 *   registry written → every consumer tagged for it (Resource Graph) is settled for that registry,
 *     and ours there that nobody is entitled to any more are revoked
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { customRegistryLoginServers, SYSTEM_IDENTITY } from '../azure/acrTasks.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError } from '../errors.js';
import { DecisionRecorder, type DecisionOptions, type DecisionTrigger } from '../audit/decisionRecorder.js';
import { OWNERSHIP_KINDS, standsFor, subjectOf } from '../policy/ownership.js';
import { planAccess, refersToRegistry, type AccessPlan, type PlannedGrant, type RegistryFacts } from '../policy/plan.js';
import { consentForPrincipal, evaluateConsent, registryConsentFor } from '../policy/consent.js';
import { normalizeResourceId, parseResourceId, sameResourceId } from '../policy/resourceId.js';
import { accessOf, describeRole, roleFor } from '../policy/roles.js';
import { parseConsumerTags, TAG_NAMES, type AccessRequest } from '../policy/tags.js';
import type { AccessDeps } from './accessDeps.js';
import { registryAskers } from './askers.js';
import { grantAssignment, ownershipOfListed, revokeAssignment, REVOKE_RESULTS, type GrantSpec } from '../assignments/executor.js';
import { noteContainerGroupOrder, wireConsumer, type HeldRegistry, type NewGrant } from './consumerWiring.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import type { GrantIndexEntry } from '../assignments/grantIndex.js';
import { identitiesOf, IDENTITY_KINDS, taskCredentialIdentity, toPlanIdentity, type ConsumerIdentity } from './identities.js';
import { keepManualGrants } from './manualGrantDescription.js';

export { identitiesOf, toPlanIdentity } from './identities.js';

/** What started a reconciliation, for the audit row. */
export type Trigger = DecisionTrigger;

/** `dryRun`: plan only — nothing is written to ARM, the grant index or the audit log. */
export type ReconcileOptions = DecisionOptions;

export interface ReconcileResult {
  readonly resourceId: string;
  /** One entry per decision, in the order made; in a dry run the would-be audit rows. */
  readonly decisions: readonly AuditEntry[];
  /** The plans computed (one per consumer settled). */
  readonly plans: readonly { readonly consumerId: string; readonly plan: AccessPlan }[];
  /**
   * For a registry: what ARM answered when it was read (undefined: deleted), so other features
   * that act on registry events (pull credentials) reuse the one read of the resource.
   */
  readonly registry?: { readonly resource: ArmResource | undefined };
}

const CONSUMER_TYPES = new Set<string>(Object.values(WATCHED_RESOURCE_TYPES).filter((t) => t !== WATCHED_RESOURCE_TYPES.registry));

/** Reconciles the registry access of one resource (consumer or registry) from ARM's current state. */
export async function reconcileResource(deps: AccessDeps, resourceId: string, options: ReconcileOptions): Promise<ReconcileResult> {
  const run = new Run(deps, options);
  const parsed = parseResourceId(resourceId);
  if (!parsed.ok || !parsed.value.type) {
    await run.decide({ action: 'reconcile', outcome: AUDIT_OUTCOMES.rejectedInput, reason: parsed.ok ? `${resourceId} is not a resource` : parsed.error, resourceId, errorCode: 'InvalidResourceId' });
    return run.result(resourceId);
  }
  const id = parsed.value.id;
  const type = parsed.value.type;
  if (type !== WATCHED_RESOURCE_TYPES.registry && !CONSUMER_TYPES.has(type)) {
    await run.decide({ action: 'reconcile', outcome: AUDIT_OUTCOMES.skipped, reason: `resource type ${type} is not one the access feature watches`, resourceId: id });
    return run.result(id);
  }

  // ARM is the truth: a delete event delivered after a re-create must not revoke, so read even then.
  try {
    const resource = await deps.arm.getResource(id);
    if (type === WATCHED_RESOURCE_TYPES.registry) {
      run.registryRead = { resource };
      await settleRegistry(run, id, resource);
    }
    else if (resource) await settleConsumer(run, resource);
    else await revokeForDeletedConsumer(run, id);
  } catch (error) {
    // Only AppErrors are decisions; anything else is a bug and escapes as it is.
    if (!(error instanceof AppError)) throw error;
    await run.fail({ action: 'reconcile', resourceId: id, reason: `could not reconcile ${parsed.value.name}` }, error);
  }
  run.throwIfRetryNeeded();
  return run.result(id);
}

/** Starts the decision record of one use-case run (reconciliation, manual grant or revoke): audit, log, dry run. */
export function startRun(deps: AccessDeps, options: ReconcileOptions): Run {
  return new Run(deps, options);
}

/** State of one reconciliation: its decision record, the plans made, and the registry read. */
export class Run extends DecisionRecorder {
  readonly plans: { consumerId: string; plan: AccessPlan }[] = [];
  /** Set when the resource reconciled is a registry: ARM's answer to the one read. */
  registryRead: { resource: ArmResource | undefined } | undefined;
  constructor(
    readonly deps: AccessDeps,
    override readonly options: ReconcileOptions,
  ) {
    super(deps.audit, options);
  }

  result(resourceId: string): ReconcileResult {
    return { resourceId, decisions: this.decisions, plans: this.plans, ...(this.registryRead ? { registry: this.registryRead } : {}) };
  }
}

/** Settles a consumer that exists; `only` limits it to one registry (the registry-event path). */
async function settleConsumer(
  run: Run,
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
  for (const f of facts) scopes.set(normalizeResourceId(f.id) ?? f.id.toLowerCase(), f.id);
  if (!only) for (const e of indexed) scopes.set(normalizeResourceId(e.registryId) ?? e.registryId.toLowerCase(), e.registryId);

  if (requests.length === 0 && scopes.size === 0) {
    if (!only && tags.errors.length === 0) {
      await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.skipped, reason: `${consumerName} has no ${TAG_NAMES.pull} or ${TAG_NAMES.push} tag and holds no assignments of ours`, resourceId: consumerId });
    }
    return principals;
  }

  const assignments: RoleAssignmentInfo[] = [];
  if (only) assignments.push(...only.assignments);
  else {
    const indexedByScope = new Map(indexed.map((e) => [normalizeResourceId(e.registryId) ?? e.registryId.toLowerCase(), e]));
    for (const [scopeKey, scope] of scopes) assignments.push(...(await listForConsumer(deps, scope, principals, indexedByScope.get(scopeKey))));
  }

  const existing = assignments.filter((a) => principals.has(a.principalId.toLowerCase()));
  // Ours for this consumer whose principal it no longer has (identity removed or recreated, or a
  // shared identity detached from it): revoked unless another consumer holding that principal asks.
  const stale = assignments.filter((a) => !principals.has(a.principalId.toLowerCase()) && standsFor(ownershipOfListed(a), consumerId));

  if (requests.length > 0 && identities.length === 0) {
    await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.skipped, reason: `${consumerName} asks for registry access but has no managed identity`, resourceId: consumerId });
  }

  // Manual grants (POST /api/access/grants) are ours, but the tag policy does not revoke them.
  const planWith = (registries: readonly RegistryFacts[]) => keepManualGrants(planAccess({
    consumer: { id: consumerId, name: consumerName, ...(consumer.tags ? { tags: consumer.tags } : {}) },
    identities: identities.map(toPlanIdentity),
    requests: requests.map((r) => ({ registryRef: r.registryRef, access: r.access })),
    registries,
    existing: existing.map((a) => ({ name: a.name, scope: a.scope, principalId: a.principalId, roleDefinitionId: a.roleDefinitionGuid, ...(a.description ? { description: a.description } : {}) })),
    defaultConsent: deps.config.defaultConsent,
  }), existing);
  let plan = planWith(facts);
  // A grant is a write, decided on consent read from ARM now: cached or indexed facts may only
  // lead to "no change" or "deny" (issue 13, stale consent). So when the plan grants, read those
  // registries again and plan once more; an event that grants nothing stays at one read.
  // (The registry-event path's facts are ARM's answer to that event's own read already.)
  if (!only && plan.grants.length > 0) {
    facts = await rereadRegistries(deps, facts, new Set(plan.grants.map((g) => normalizeResourceId(g.scope) ?? g.scope.toLowerCase())));
    plan = planWith(facts);
  }
  run.plans.push({ consumerId, plan });

  await applyPlan(run, { consumer, principals, identities, plan, listed: assignments, stale, indexed, facts, ...(only ? { only: only.facts } : {}) });
  return principals;
}

/** The facts with those of the registries in `scopes` read again from ARM (and the cache corrected); a registry gone is marked so. */
async function rereadRegistries(deps: AccessDeps, facts: readonly RegistryFacts[], scopes: ReadonlySet<string>): Promise<RegistryFacts[]> {
  const out: RegistryFacts[] = [];
  for (const f of facts) {
    if (!scopes.has(normalizeResourceId(f.id) ?? f.id.toLowerCase())) {
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
  for (const principalId of unionOf(principals, entry?.principalIds)) found.push(...(await deps.roleAssignments.listAtScope(scope, { principalId })));
  return found;
}

/** Lower-cased, de-duplicated and sorted, so an unchanged set writes nothing. */
function unionOf(...sets: (Iterable<string> | undefined)[]): string[] {
  const all = new Set<string>();
  for (const set of sets) for (const p of set ?? []) all.add(p.toLowerCase());
  return [...all].sort();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((p, i) => p === b[i]);
}

/** The principal (lower-cased) of the identity an ACR task's registry credential uses (`taskCredentialIdentity`). */
function taskCredentialPrincipal(identities: readonly ConsumerIdentity[]): string | undefined {
  const identity = taskCredentialIdentity(identities);
  const holder = identities.find((i) => (identity === SYSTEM_IDENTITY ? i.kind === IDENTITY_KINDS.systemAssigned : i.kind === IDENTITY_KINDS.userAssigned && i.clientId === identity));
  return holder?.principalId.toLowerCase();
}

/** Enough of a registry to name it and reach it. */
interface RegistryTarget {
  readonly id: string;
  readonly name: string;
  readonly loginServer?: string;
}

/** Everything `applyPlan` works from: the consumer as read, the plan made for it, and what was listed. */
interface ApplyPlanInput {
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
async function applyPlan(run: Run, input: ApplyPlanInput): Promise<void> {
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
  const indexedByScope = new Map<string, GrantIndexEntry>(indexed.map((e) => [normalizeResourceId(e.registryId) ?? e.registryId.toLowerCase(), e]));
  const current = unionOf(principals);
  const factsOf = (scope: string) => facts.find((f) => sameResourceId(f.id, scope));
  /** An ACR task's credential entries, by login server, as its response lists them (undefined: not listed). */
  const taskLoginServers = isTask ? customRegistryLoginServers(consumer) : undefined;

  /** Registries (normalized id) where the consumer's principals hold a role now, or would in a dry run: a Container App's or site's pull setting follows these. */
  const held = new Map<string, { registry: HeldRegistry['registry']; principals: Set<string> }>();
  const hold = (scope: string, registry: RegistryTarget, principalId: string) => {
    const scopeKey = normalizeResourceId(scope) ?? scope.toLowerCase();
    const h = held.get(scopeKey) ?? { registry, principals: new Set<string>() };
    h.principals.add(principalId.toLowerCase());
    held.set(scopeKey, h);
  };

  for (const u of plan.unchanged) {
    hold(u.scope, factsOf(u.scope) ?? { id: u.scope, name: u.registryName }, u.principalId);
    if (u.owned) keep.set(normalizeResourceId(u.scope) ?? u.scope.toLowerCase(), factsOf(u.scope) ?? { id: u.scope, name: u.registryName });
    if (u.principalId === credentialPrincipal) credentialFor.set(normalizeResourceId(u.scope) ?? u.scope.toLowerCase(), factsOf(u.scope) ?? { id: u.scope, name: u.registryName });
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
    await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.skipped, reason: u.reason, resourceId: consumerId, details: { registryRef: u.registryRef, access: u.access } });
  }

  /** Grants made now (or that would be, in a dry run): a container group created before them has not pulled with them. */
  const newGrants: NewGrant[] = [];
  for (const g of plan.grants) {
    const scopeKey = normalizeResourceId(g.scope) ?? g.scope.toLowerCase();
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
    if (await grantAssignment(deps, run, toGrantSpec(g), { resourceId: consumerId, reason: g.reason }, writeAhead)) {
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
    ...stale.map((a) => ({ a, reason: `principal ${a.principalId} no longer belongs to ${consumer.name} (identity removed or replaced)`, scopeName: nameOf(a.scope) })),
  ];
  const askers = registryAskers(deps, input.only ? { registry: input.only } : undefined);
  /** Registries where a revoke failed: what the index recorded there must stay, so a redelivery finds it again. */
  const unsettled = new Set<string>();
  for (const r of revokes) {
    const result = await revokeAssignment(deps, run, r.a, { resourceId: consumerId, reason: r.reason, scopeName: r.scopeName, askers, except: [consumerId] });
    if (result === REVOKE_RESULTS.failed) unsettled.add(normalizeResourceId(r.a.scope) ?? r.a.scope.toLowerCase());
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
  const wired = await wireConsumer(run, { consumer, identities, held, indexedByScope, principalIds: current, ...(input.only ? { only: input.only } : {}) });

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
          await run.fail({ action: 'revoke', resourceId: consumerId, registry: entry.registryId, reason: `could not remove the task's credential for ${entry.loginServer}` }, error);
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
      const next: GrantIndexEntry = { consumerId, registryId: registry.id, loginServer, taskIdentity: identity, ...(principalIds ? { principalIds } : {}) };
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
        await run.fail({ action: 'task-credential', resourceId: consumerId, registry: registry.id, reason: `could not set task ${consumer.name}'s credential for ${loginServer}` }, error);
      }
    }
  }
}

/** The consumer is gone: revoke ours on every registry the index remembers for it, unless another consumer holding the principal asks. */
async function revokeForDeletedConsumer(run: Run, consumerId: string): Promise<void> {
  const { deps } = run;
  const indexed = await deps.grantIndex.listForConsumer(consumerId);
  const name = nameOf(consumerId);
  if (indexed.length === 0) {
    await run.decide({ action: 'revoke', outcome: AUDIT_OUTCOMES.skipped, reason: `${name} does not exist and holds no assignments of ours`, resourceId: consumerId });
    return;
  }
  const askers = registryAskers(deps);
  for (const entry of indexed) {
    const assignments = await deps.roleAssignments.listAtScope(entry.registryId);
    const ours = assignments.filter((a) => standsFor(ownershipOfListed(a), consumerId));
    const registryName = nameOf(entry.registryId);
    let settled = true;
    for (const a of ours) {
      const result = await revokeAssignment(deps, run, a, { resourceId: consumerId, reason: `${name} was deleted, so its ${roleNameOf(a)} on ${registryName} is revoked`, scopeName: registryName, askers });
      if (result === REVOKE_RESULTS.failed) settled = false;
    }
    if (!run.dryRun && settled) await deps.grantIndex.remove(consumerId, entry.registryId);
  }
}

/** A registry was written or deleted: refresh the cache, settle every consumer tagged for it, revoke ours nobody asks for. */
async function settleRegistry(run: Run, registryId: string, registry: ArmResource | undefined): Promise<void> {
  const { deps } = run;
  deps.registries.invalidate(registryId);
  if (!registry) {
    await run.decide({ action: 'reconcile', outcome: AUDIT_OUTCOMES.skipped, reason: `registry ${registryId} does not exist (deleted); its cached look-ups are dropped`, resourceId: registryId, registry: registryId });
    return;
  }
  const facts = deps.registries.remember(registry);
  const assignments = await deps.roleAssignments.listAtScope(facts.id);
  // Only the consumers whose tags mention the registry, filtered by Resource Graph; the exact check is refersTo below.
  const read = await deps.resourceGraph.queryWithin(taggedConsumersQuery(facts), deps.config.watchedSubscriptions, { ...REGISTRY_QUERY_BUDGET, deadline: Date.now() + REGISTRY_QUERY_BUDGET.seconds * 1000 });
  const rows = read.rows;
  if (!read.complete) {
    await run.fail(
      { action: 'reconcile', resourceId: registryId, registry: facts.id, reason: `registry ${facts.name}: Resource Graph named more consumers than one run reads (${rows.length} rows in ${read.pages} pages); those read are settled, ours held by the rest are checked against ARM, and the next sweep settles the rest` },
      new AppError('QueryBudgetExhausted', `stopped after ${read.pages} pages (${REGISTRY_QUERY_BUDGET.maxPages} pages or ${REGISTRY_QUERY_BUDGET.seconds} s)`),
    );
  }

  const settledConsumers = new Set<string>();
  const entitled = new Set<string>();
  for (const row of rows) {
    const consumer = rowToResource(row);
    if (!consumer || !CONSUMER_TYPES.has(consumer.type.toLowerCase())) continue;
    const tags = parseConsumerTags(consumer.tags);
    if (!tags.requests.some((r) => refersTo(r, facts))) continue;
    settledConsumers.add(normalizeResourceId(consumer.id) ?? consumer.id.toLowerCase());
    try {
      const principals = await settleConsumer(run, consumer, { facts, assignments });
      for (const p of principals) entitled.add(p);
    } catch (error) {
      await run.fail({ action: 'grant', resourceId: consumer.id, registry: facts.id, reason: `could not settle ${consumer.name} for registry ${facts.name}` }, error);
    }
  }

  // Ours on this registry held by principals of no consumer that asks for it now. The tag policy
  // owns only the assignments it made for a consumer (the description names it): manual grants
  // are revoked by hand (or with their consumer), and pull-credential service principals by
  // un-enrolment — never by a registry event.
  const orphans = assignments.filter((a) => ownershipOfListed(a)?.kind === OWNERSHIP_KINDS.tagPolicy && !entitled.has(a.principalId.toLowerCase()));
  const askers = registryAskers(deps, { registry: facts });
  const checked = new Set<string>();
  for (const a of orphans) {
    const consumerId = subjectOf(ownershipOfListed(a));
    const key = consumerId ? (normalizeResourceId(consumerId) ?? consumerId.toLowerCase()) : undefined;
    if (consumerId && key && !settledConsumers.has(key) && !checked.has(key)) {
      checked.add(key);
      // ARM, not Resource Graph, decides: the consumer may have been untagged, deleted, or not indexed yet.
      const consumer = await deps.arm.getResource(consumerId);
      if (consumer) {
        try {
          await settleConsumer(run, consumer, { facts, assignments });
        } catch (error) {
          await run.fail({ action: 'revoke', resourceId: consumerId, registry: facts.id, reason: `could not settle ${consumer.name} for registry ${facts.name}` }, error);
        }
        continue;
      }
    } else if (consumerId && key && (settledConsumers.has(key) || checked.has(key))) {
      continue; // settled above: its stale principals were handled there
    }
    // Naming no consumer, it is judged by the consumers read; with only part of them read, keep it for the sweep.
    if (!consumerId && !read.complete) continue;
    const result = await revokeAssignment(deps, run, a, {
      resourceId: consumerId ?? registryId,
      reason: consumerId ? `${consumerId} no longer exists, so its assignment on ${facts.name} is revoked` : `no consumer asks for this assignment of ours on ${facts.name} any more`,
      scopeName: facts.name,
      askers,
    });
    if (consumerId && !run.dryRun && result !== REVOKE_RESULTS.failed) await deps.grantIndex.remove(consumerId, facts.id);
  }

  await settleManualGrants(run, facts, registry, assignments);
}

/**
 * Manual grants made within consent go when the registry withdraws or narrows it, as the tag
 * policy's do; only a grant made as a consent override (ACCESS_ALLOW_CONSENT_OVERRIDE) outlives
 * consent, until it is revoked by hand or its consumer goes.
 */
async function settleManualGrants(run: Run, facts: RegistryFacts, registry: ArmResource, assignments: readonly RoleAssignmentInfo[]): Promise<void> {
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
      const key = normalizeResourceId(consumerId) ?? consumerId.toLowerCase();
      if (!consumers.has(key)) consumers.set(key, await deps.arm.getResource(consumerId));
      const consumer = consumers.get(key);
      if (!consumer) continue; // a deleted consumer's grants go with it (its delete event, or the sweep)
      decision = evaluateConsent({ id: facts.id, tags: registry.tags }, { id: consumer.id, tags: consumer.tags }, deps.config.defaultConsent, registryConsentFor(access));
    } else {
      decision = consentForPrincipal({ name: facts.name, tags: registry.tags }, deps.config.defaultConsent, `principal ${a.principalId}`, access);
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
  const terms = [registry?.name, registry?.loginServer].filter((t): t is string => typeof t === 'string' && /^[A-Za-z0-9.-]{1,253}$/.test(t));
  const needles = terms.filter((t, i) => !terms.slice(0, i).some((earlier) => t.toLowerCase().includes(earlier.toLowerCase())));
  const where =
    registry && needles.length > 0
      ? tagged.flatMap((tag) => needles.map((n) => `tags['${tag}'] contains '${n}'`)).join(' or ')
      : tagged.map((tag) => `isnotempty(tags['${tag}'])`).join(' or ');
  return `resources | where ${where} | project id, name, type, location, tags, identity, properties`;
}

/** Whether a consumer's request names this registry (by name, login server or id). */
export function refersTo(request: AccessRequest, registry: RegistryFacts): boolean {
  return refersToRegistry(request.registryRef, registry);
}

function toGrantSpec(g: PlannedGrant): GrantSpec {
  return { name: g.name, scope: g.scope, scopeName: g.registryName, principalId: g.principalId, principalType: g.principalType, role: g.role, description: g.description };
}

function roleNameOf(a: Pick<RoleAssignmentInfo, 'roleDefinitionGuid'>): string {
  return roleFor(a.roleDefinitionGuid)?.name ?? 'role';
}

function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}

function rowToResource(row: Readonly<Record<string, unknown>>): ArmResource | undefined {
  if (typeof row['id'] !== 'string' || typeof row['name'] !== 'string' || typeof row['type'] !== 'string') return undefined;
  return row as unknown as ArmResource;
}

function tagValue(tags: Readonly<Record<string, string>>, name: string): string {
  const key = Object.keys(tags).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? '' : (tags[key] ?? '');
}
