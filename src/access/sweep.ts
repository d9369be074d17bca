/**
 * The reconciliation sweep: what events missed, caught on a timer (RECONCILE_SCHEDULE).
 *
 * Event Grid delivers at least once, but may drop an event after its retry window, and nothing
 * is delivered while a subscription is being (re)created. Per watched subscription the sweep:
 *
 *   1. lists our role assignments in the subscription (the marker in `description`);
 *   2. finds with Resource Graph every resource with `acr-pull` / `acr-push`, every registry with
 *      `acr-pull-allow` or `acr-push-allow`, every user-assigned identity with `acr-workload-*` tags — plus every
 *      registry that holds ours and every consumer our descriptions name (untagged or deleted
 *      while the event was lost) — and reconciles each through the same use cases the events use
 *      (`reconcileResource`, `reconcileWorkloadIdentity`), a few at a time;
 *   3. lists ours again and revokes those whose principal is gone: the consumer the description
 *      names no longer exists (404), or no longer has that principal (identity removed or
 *      replaced) — unless another consumer holding that principal still asks for it (a shared
 *      identity): then it is kept, and handed over to name that consumer. An assignment that is not
 *      ours (our deterministic name AND our description), or whose description names no consumer
 *      (pull-credential service principals, manual grants to a bare principal), is never touched.
 *
 * Every change and failure is an audit row with `caller: 'sweep'` and the sweep's id as correlation
 * id; decisions that change nothing (QUIET_OUTCOMES: already-present, skipped, standing denials and
 * bad tags, which their own event recorded) are only counted, in the one `swept` summary row each
 * sweep writes, so a settled estate costs one row per sweep.
 * A failure on one resource (recorded by the use case, or here) does not stop the others, and
 * the sweep never throws for it: timers have no redelivery, the next sweep retries.
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError, errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { OWNERSHIP_KINDS } from '../policy/ownership.js';
import { normalizeResourceId, parseResourceId, REGISTRY_TYPE, resourceTypeOf, subscriptionIdOf } from '../policy/resourceId.js';
import { roleFor } from '../policy/roles.js';
import { TAG_NAMES } from '../policy/tags.js';
import { WORKLOAD_TAG_NAMES } from '../policy/workloadTags.js';
import { reconcileWorkloadIdentity, USER_ASSIGNED_IDENTITY_TYPE } from '../workload/reconcileWorkloadIdentity.js';
import { hasWorkloadDeps } from '../workload/workloadDeps.js';
import type { AccessDeps } from './accessDeps.js';
import { reconcileChangedResource } from './handleResourceEvent.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import { registryAskers } from './askers.js';
import { ownershipOfListed, revokeAssignment, REVOKE_RESULTS } from '../assignments/executor.js';
import { identitiesOf, reconcileResource, startRun, type Trigger } from './reconcile.js';
import { subjectOf } from '../policy/ownership.js';
import { SWEEP_PHASES, type SweepProgress } from '../status/sweepProgress.js';
import { DEFAULT_SWEEP_TIME_BUDGET_SECONDS, SweepBudget, sweepLeaseMs } from './sweepBudget.js';
import { resumeUnfinishedRegistries } from './registryContinuations.js';

/** The caller on every audit row the sweep writes. */
export const SWEEP_CALLER = 'sweep';

/** Resources reconciled at once: enough to overlap ARM round trips, few enough to stay far from ARM's throttles. */
export const DEFAULT_SWEEP_CONCURRENCY = 4;

/** Resource types the access use case settles as consumers (registries are settled as registries). */
const CONSUMER_TYPES: ReadonlySet<string> = new Set([
  WATCHED_RESOURCE_TYPES.acrTask,
  WATCHED_RESOURCE_TYPES.virtualMachine,
  WATCHED_RESOURCE_TYPES.virtualMachineScaleSet,
  WATCHED_RESOURCE_TYPES.managedCluster,
  WATCHED_RESOURCE_TYPES.userAssignedIdentity,
  WATCHED_RESOURCE_TYPES.containerApp,
  WATCHED_RESOURCE_TYPES.site,
]);

const WORKLOAD_TAGS = [WORKLOAD_TAG_NAMES.cluster, WORKLOAD_TAG_NAMES.subjects, WORKLOAD_TAG_NAMES.vault] as const;

export interface SweepOptions {
  readonly log: Logger;
  /** Correlates every audit row of one sweep (the timer invocation's id). */
  readonly sweepId?: string;
  /** Resources reconciled at once; default DEFAULT_SWEEP_CONCURRENCY. */
  readonly concurrency?: number;
  /**
   * The sweep's lease and cursor in Table Storage: one sweep walks at a time, and one that runs out
   * of its time budget (SWEEP_TIME_BUDGET_SECONDS) is resumed by the next run. Without it every run
   * walks everything within its budget and starts over (tests of a single sweep).
   */
  readonly progress?: SweepProgress;
}

export interface SweepSummary {
  readonly subscriptions: number;
  /** Resources handed to the access and workload use cases. */
  readonly resources: number;
  /** Of those, how many ended in an error (recorded as failed audit rows; the next sweep retries). */
  readonly failedResources: number;
  /** Our assignments whose principal was checked in step 3. */
  readonly assignmentsChecked: number;
  /** Audit rows by outcome, over the whole sweep. */
  readonly outcomes: Readonly<Record<string, number>>;
  /** Per subscription, the role assignments of ours found after reconciling (for health, without a listing of its own). */
  readonly ownedAssignments: Readonly<Record<string, number>>;
  readonly durationMs: number;
  /** True when the time budget ran out before the end: the next run resumes where this one stopped. */
  readonly unfinished?: boolean;
  /** When unfinished: items left in the phase it stopped in (more may follow in later phases and subscriptions). */
  readonly left?: number;
  /** When this run carried on a pass an earlier run began: that run's sweep id, and how many runs the pass has had. */
  readonly resumed?: { readonly passId: string; readonly runs: number; readonly skippedDone: number };
  /** When another sweep held the lease: this run walked nothing. */
  readonly busy?: { readonly holder: string; readonly until: string };
  /** Registry settlements an earlier run left unfinished (Resource Graph budget) that this sweep carried on. */
  readonly registriesResumed?: number;
}

/** What one resource needs: the access use case, the workload-identity use case, or both. */
interface SweepTarget {
  readonly id: string;
  access: boolean;
  workload: boolean;
}

/** Reconciles every watched subscription against ARM's current state; never throws for a failed resource. */
export async function sweepSubscriptions(deps: AccessDeps, options: SweepOptions): Promise<SweepSummary> {
  const started = Date.now();
  const trigger: Trigger = { caller: SWEEP_CALLER, ...(options.sweepId ? { correlationId: options.sweepId } : {}) };
  const budgetSeconds = deps.config.sweepTimeBudgetSeconds ?? DEFAULT_SWEEP_TIME_BUDGET_SECONDS;
  const owner = options.sweepId ?? `sweep-${started}`;
  // Table Storage unreachable: walk without lease or cursor (items are idempotent; a second walker costs reads, not harm).
  const lease = options.progress ? await options.progress.begin(owner, sweepLeaseMs(budgetSeconds)).catch((error: unknown) => (options.log.error('could not take the sweep lease; this run walks from the start without it', { error }), undefined)) : undefined;
  if (lease && !lease.ok) {
    const summary: SweepSummary = { subscriptions: 0, resources: 0, failedResources: 0, assignmentsChecked: 0, outcomes: {}, ownedAssignments: {}, durationMs: Date.now() - started, busy: { holder: lease.holder, until: lease.until } };
    await recordSummary(new SweepState(deps, options, trigger, new SweepBudget(started, undefined, [])), summary);
    options.log.info('reconciliation sweep finished', { ...summary });
    return summary;
  }
  const cursor = lease?.lease.cursor;
  const sweep = new SweepState(deps, options, trigger, new SweepBudget(started + budgetSeconds * 1000, cursor, deps.config.watchedSubscriptions));
  // Registry settlements a registry event (or an earlier sweep) could not finish within its Resource Graph budget.
  sweep.resumedRegistries = await resumeUnfinishedRegistries(deps, sweep.budget, { log: options.log, trigger, quiet: true }, (decisions) => sweep.count(decisions), reconcileResource);
  for (const subscriptionId of deps.config.watchedSubscriptions) {
    if (sweep.budget.stopped) break;
    if (sweep.budget.isSubscriptionDone(subscriptionId)) continue;
    await sweepSubscription(sweep, subscriptionId);
  }
  const resumedFrom = sweep.budget.resumeFrom;
  const pass = resumedFrom ? { passId: resumedFrom.passId, passStartedAt: resumedFrom.passStartedAt, runs: resumedFrom.runs + 1 } : { passId: owner, passStartedAt: new Date(started).toISOString(), runs: 1 };
  const next = sweep.budget.cursorFor(pass);
  const ended = lease?.ok && options.progress ? await options.progress.end(lease.lease, next).catch((error: unknown) => (options.log.error('could not save the sweep cursor; the next run starts this pass over', { error }), true)) : true;
  if (!ended) {
    options.log.warn('the sweep lease lapsed while this run walked; another run holds it now, so this run leaves the cursor as that run writes it');
  }
  const summary: SweepSummary = {
    subscriptions: deps.config.watchedSubscriptions.length,
    resources: sweep.resources,
    failedResources: sweep.failedResources,
    assignmentsChecked: sweep.assignmentsChecked,
    outcomes: Object.fromEntries(sweep.outcomes),
    ownedAssignments: Object.fromEntries(sweep.ownedAssignments),
    durationMs: Date.now() - started,
    ...(next ? { unfinished: true, left: sweep.budget.left } : {}),
    ...(resumedFrom ? { resumed: { passId: resumedFrom.passId, runs: pass.runs, skippedDone: sweep.budget.skippedDone } } : {}),
    ...(sweep.resumedRegistries.size > 0 ? { registriesResumed: sweep.resumedRegistries.size } : {}),
  };
  await recordSummary(sweep, summary);
  options.log.info('reconciliation sweep finished', { ...summary });
  return summary;
}

/**
 * The sweep's one row of its own: what it looked at and its decisions by outcome. Decisions that
 * changed nothing (already-present, skipped) have no rows of their own (a quiet run), so at 10,000
 * settled consumers a sweep adds this row, not 10,000.
 */
async function recordSummary(sweep: SweepState, summary: SweepSummary): Promise<void> {
  const counts = Object.entries(summary.outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(', ');
  const row: AuditEntry = {
    action: 'sweep',
    outcome: AUDIT_OUTCOMES.swept,
    reason: summary.busy
      ? `another sweep (${summary.busy.holder}) holds the sweep lease until ${summary.busy.until}; this run walked nothing`
      : (summary.resumed ? `resumed the sweep pass run ${summary.resumed.passId} began (run ${summary.resumed.runs} of it; ${summary.resumed.skippedDone} item(s) done by earlier runs skipped); ` : '') +
        `swept ${summary.subscriptions} subscription(s): ${summary.resources} resource(s) reconciled, ${summary.assignmentsChecked} assignment(s) of ours checked` +
        (counts ? `; decisions: ${counts}` : '; no decisions') +
        (summary.failedResources > 0 ? `; ${summary.failedResources} resource(s) failed (the next sweep retries)` : '') +
        (summary.registriesResumed ? `; carried on ${summary.registriesResumed} registry settlement(s) an earlier run left unfinished` : '') +
        (summary.unfinished ? `; partial: the time budget ran out with ${summary.left} item(s) left in this phase, resumes next run` : summary.resumed ? '; the pass is finished' : ''),
    caller: SWEEP_CALLER,
    ...(sweep.trigger.correlationId ? { correlationId: sweep.trigger.correlationId } : {}),
    durationMs: summary.durationMs,
    details: {
      subscriptions: summary.subscriptions,
      resources: summary.resources,
      failedResources: summary.failedResources,
      assignmentsChecked: summary.assignmentsChecked,
      ...(summary.unfinished ? { unfinished: true, left: summary.left ?? 0 } : {}),
      ...(summary.resumed ? { resumedPass: summary.resumed.passId, passRuns: summary.resumed.runs } : {}),
      ...(summary.busy ? { busyHolder: summary.busy.holder } : {}),
      ...(summary.registriesResumed ? { registriesResumed: summary.registriesResumed } : {}),
      ...Object.fromEntries(Object.entries(summary.outcomes).map(([outcome, n]) => [`outcome.${outcome}`, n])),
    },
  };
  try {
    await sweep.deps.audit.record(row);
  } catch (error) {
    sweep.options.log.error('could not write the summary audit row of the sweep', { error });
  }
}

/** Counters and shared options of one sweep. */
class SweepState {
  resources = 0;
  failedResources = 0;
  assignmentsChecked = 0;
  readonly outcomes = new Map<string, number>();
  readonly ownedAssignments = new Map<string, number>();
  /** Registries whose unfinished settlement this run carried on: not read again from the start. */
  resumedRegistries: ReadonlySet<string> = new Set();
  readonly concurrency: number;
  constructor(
    readonly deps: AccessDeps,
    readonly options: SweepOptions,
    readonly trigger: Trigger,
    readonly budget: SweepBudget,
  ) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_SWEEP_CONCURRENCY));
  }

  count(decisions: readonly AuditEntry[]): void {
    for (const d of decisions) this.outcomes.set(d.outcome, (this.outcomes.get(d.outcome) ?? 0) + 1);
  }

  /**
   * An error the use cases did not record (anything but an AppError, or a step of the sweep itself):
   * one failed audit row, and the sweep goes on. Recording itself may fail (Table Storage down): then the log has it.
   */
  async recordFailure(entry: { action: string; resourceId?: string; reason: string }, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const row: AuditEntry = {
      ...entry,
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: errorCode(error),
      reason: `${entry.reason}: ${message} (the next sweep retries)`,
      ...(this.trigger.correlationId ? { correlationId: this.trigger.correlationId } : {}),
      caller: SWEEP_CALLER,
    };
    this.count([row]);
    this.options.log.warn(row.reason, { outcome: row.outcome, resourceId: row.resourceId, errorCode: row.errorCode });
    try {
      await this.deps.audit.record(row);
    } catch (auditError) {
      this.options.log.error('could not write the audit row for a sweep failure', { resourceId: row.resourceId, error: auditError });
    }
  }
}

async function sweepSubscription(sweep: SweepState, subscriptionId: string): Promise<void> {
  const { deps } = sweep;
  const subscriptionScope = `/subscriptions/${subscriptionId}`;

  // 1. Ours before: where they are and whom they name widen the set of resources to reconcile.
  let before: RoleAssignmentInfo[] = [];
  try {
    before = (await deps.roleAssignments.listInSubscription(subscriptionId)).filter((a) => ownershipOfListed(a) !== undefined);
  } catch (error) {
    await sweep.recordFailure({ action: 'sweep', resourceId: subscriptionScope, reason: `could not list role assignments in subscription ${subscriptionId}` }, error);
  }

  // 2. Everything tagged, and everything ours points at, through the event path's use cases.
  const targets = new Map<string, SweepTarget>();
  const add = (id: string, kind: { access?: boolean; workload?: boolean }) => {
    const key = normalizeResourceId(id);
    if (!key) return;
    const target = targets.get(key) ?? { id, access: false, workload: false };
    target.access ||= kind.access === true;
    target.workload ||= kind.workload === true;
    targets.set(key, target);
  };
  try {
    for (const row of await deps.resourceGraph.query(sweepTargetsQuery(), [subscriptionId])) {
      if (typeof row['id'] !== 'string' || typeof row['type'] !== 'string') continue;
      const type = row['type'].toLowerCase();
      const tags = (row['tags'] ?? {}) as Record<string, string>;
      if (type === REGISTRY_TYPE) add(row['id'], { access: true });
      else if (CONSUMER_TYPES.has(type)) {
        add(row['id'], {
          access: hasTag(tags, TAG_NAMES.pull) || hasTag(tags, TAG_NAMES.push),
          workload: type === USER_ASSIGNED_IDENTITY_TYPE && WORKLOAD_TAGS.some((t) => hasTag(tags, t)),
        });
      }
    }
  } catch (error) {
    await sweep.recordFailure({ action: 'sweep', resourceId: subscriptionScope, reason: `could not query Resource Graph for tagged resources in subscription ${subscriptionId}` }, error);
  }
  // Registries enrolled for pull credentials: a lost untag or delete event still un-enrols them.
  if (deps.listEnrolledRegistries) {
    try {
      for (const id of await deps.listEnrolledRegistries()) if (subscriptionIdOf(id)?.toLowerCase() === subscriptionId.toLowerCase()) add(id, { access: true });
    } catch (error) {
      await sweep.recordFailure({ action: 'sweep', resourceId: subscriptionScope, reason: 'could not list the registries enrolled for pull credentials' }, error);
    }
  }
  for (const a of before) {
    if (resourceTypeOf(a.scope) === REGISTRY_TYPE) add(a.scope, { access: true });
    const consumerId = subjectOf(ownershipOfListed(a));
    const type = consumerId ? resourceTypeOf(consumerId) : undefined;
    if (consumerId && type && CONSUMER_TYPES.has(type)) add(consumerId, { access: true, workload: type === USER_ASSIGNED_IDENTITY_TYPE });
  }
  // Consumers first, then registries: settling a registry settles its consumers and revokes ours
  // there, so running both at once would race to the same writes (and record each twice).
  const isRegistry = (t: SweepTarget) => resourceTypeOf(t.id) === REGISTRY_TYPE;
  const targetKey = (t: SweepTarget) => `${isRegistry(t) ? 1 : 0}|${normalizeResourceId(t.id) ?? t.id.toLowerCase()}`;
  const wanted = [...targets.values()].filter((t) => (t.access || t.workload) && !(isRegistry(t) && sweep.resumedRegistries.has(normalizeResourceId(t.id) ?? '')));
  const work = sweep.budget.remaining(subscriptionId, SWEEP_PHASES.targets, wanted, targetKey);
  for (const wave of [work.filter((t) => !isRegistry(t)), work.filter(isRegistry)]) {
    await sweep.budget.forEach(subscriptionId, SWEEP_PHASES.targets, wave, targetKey, sweep.concurrency, (target) => { sweep.resources++; return reconcileTarget(sweep, target); }, (target, error) =>
      sweep.recordFailure({ action: 'reconcile', resourceId: target.id, reason: `the sweep could not reconcile ${nameOf(target.id)}` }, error),
    );
  }
  if (sweep.budget.stopped) return;

  // 3. Ours after: revoke those whose principal is gone.
  let after: RoleAssignmentInfo[];
  try {
    after = (await deps.roleAssignments.listInSubscription(subscriptionId)).filter((a) => ownershipOfListed(a) !== undefined);
  } catch (error) {
    await sweep.recordFailure({ action: 'sweep', resourceId: subscriptionScope, reason: `could not list role assignments in subscription ${subscriptionId} to find those whose principal is gone` }, error);
    return;
  }
  sweep.ownedAssignments.set(subscriptionId.toLowerCase(), after.length);
  const byConsumer = new Map<string, { consumerId: string; assignments: RoleAssignmentInfo[] }>();
  for (const a of after) {
    const consumerId = subjectOf(ownershipOfListed(a));
    const key = consumerId ? normalizeResourceId(consumerId) : undefined;
    if (!consumerId || !key) continue; // names no consumer: not ours to judge by principal
    const group = byConsumer.get(key) ?? { consumerId, assignments: [] };
    group.assignments.push(a);
    byConsumer.set(key, group);
    sweep.assignmentsChecked++;
  }
  const groupKey = (group: { consumerId: string }) => normalizeResourceId(group.consumerId) ?? group.consumerId.toLowerCase();
  const groups = sweep.budget.remaining(subscriptionId, SWEEP_PHASES.principals, [...byConsumer.values()], groupKey);
  await sweep.budget.forEach(subscriptionId, SWEEP_PHASES.principals, groups, groupKey, sweep.concurrency, (group) => revokeGonePrincipals(sweep, group.consumerId, group.assignments), (group, error) =>
    sweep.recordFailure({ action: 'revoke', resourceId: group.consumerId, reason: `the sweep could not check the principals of ${nameOf(group.consumerId)}` }, error),
  );
}

/** One resource through the same use cases an event for it would reach. */
async function reconcileTarget(sweep: SweepState, target: SweepTarget): Promise<void> {
  const { deps } = sweep;
  const options = { log: sweep.options.log.child({ resourceId: target.id }), trigger: sweep.trigger, quiet: true };
  const runs: Promise<{ decisions: readonly AuditEntry[] }>[] = [];
  // A registry goes through the event path's own step, so its pull credentials are settled too.
  if (target.access) runs.push(resourceTypeOf(target.id) === REGISTRY_TYPE ? reconcileChangedResource(deps, target.id, options) : reconcileResource(deps, target.id, options));
  if (target.workload && hasWorkloadDeps(deps)) runs.push(reconcileWorkloadIdentity(deps, target.id, options));
  let failed = false;
  for (const settled of await Promise.allSettled(runs)) {
    if (settled.status === 'fulfilled') {
      sweep.count(settled.value.decisions);
      continue;
    }
    failed = true;
    const error: unknown = settled.reason;
    // An AppError escapes a use case only after its failed audit row is written (the retry it asks for
    // is the next sweep); its other decisions are in the audit table, not in these counts.
    if (error instanceof AppError) sweep.options.log.warn(`could not reconcile ${target.id}; the next sweep retries`, { resourceId: target.id, errorCode: error.code });
    else await sweep.recordFailure({ action: 'reconcile', resourceId: target.id, reason: `the sweep could not reconcile ${nameOf(target.id)}` }, error);
  }
  if (failed) sweep.failedResources++;
}

/**
 * Our assignments naming one consumer: revoke those whose principal is gone — the consumer no
 * longer exists, or no longer has that principal. Records each revoke (or failure) as an audit row.
 */
async function revokeGonePrincipals(sweep: SweepState, consumerId: string, assignments: readonly RoleAssignmentInfo[]): Promise<void> {
  const { deps } = sweep;
  const run = startRun(deps, { log: sweep.options.log.child({ resourceId: consumerId }), trigger: sweep.trigger, quiet: true });
  const name = nameOf(consumerId);
  try {
    const consumer = await deps.arm.getResource(consumerId);
    const principals = consumer ? new Set((await identitiesOf(deps, consumer)).map((i) => i.principalId.toLowerCase())) : undefined;
    const askers = registryAskers(deps);
    for (const a of assignments) {
      if (principals?.has(a.principalId.toLowerCase())) continue;
      const scopeName = nameOf(a.scope);
      const roleName = roleFor(a.roleDefinitionGuid)?.name ?? `role ${a.roleDefinitionGuid}`;
      const result = await revokeAssignment(deps, run, a, {
        resourceId: consumerId,
        reason: principals
          ? `principal ${a.principalId} no longer belongs to ${name} (identity removed or replaced), so its ${roleName} on ${scopeName} is revoked`
          : `${name} no longer exists (its delete was not seen), so its ${roleName} on ${scopeName} is revoked`,
        scopeName,
        // A vault grant's principal is its user-assigned identity's own, which belongs to no other
        // resource; a registry grant's may be shared (a fleet's identity, a kubelet identity).
        ...(ownershipOfListed(a)?.kind === OWNERSHIP_KINDS.workloadVault ? { details: { vault: a.scope } } : { askers }),
      });
      // Gone for good (or now standing for another consumer): nothing of ours for this consumer remains there, so the indexes may forget it.
      if (!principals && (result === REVOKE_RESULTS.revoked || result === REVOKE_RESULTS.kept)) {
        await deps.grantIndex.remove(consumerId, a.scope);
        if (hasWorkloadDeps(deps)) await deps.vaultGrantIndex.remove(consumerId, a.scope);
      }
    }
  } catch (error) {
    sweep.count(run.decisions);
    if (!(error instanceof AppError)) throw error; // recorded by the pool's onError
    const recorded = run.decisions.length;
    await run.fail({ action: 'revoke', resourceId: consumerId, reason: `could not check the principals of ${name}` }, error);
    sweep.count(run.decisions.slice(recorded));
    return;
  }
  sweep.count(run.decisions);
}

/**
 * Resource Graph: what the sweep reconciles — consumers with `acr-pull` / `acr-push`, registries
 * with `acr-pull-allow`, `acr-push-allow` or `acr-pull-credential`, user-assigned identities with `acr-workload-*` tags.
 */
export function sweepTargetsQuery(): string {
  const tagged = (tag: string) => `isnotempty(tags['${tag}'])`;
  const workload = WORKLOAD_TAGS.map(tagged).join(' or ');
  return (
    `resources | where ${tagged(TAG_NAMES.pull)} or ${tagged(TAG_NAMES.push)}` +
    ` or (type =~ '${REGISTRY_TYPE}' and (${tagged(TAG_NAMES.allow)} or ${tagged(TAG_NAMES.pushAllow)} or ${tagged(TAG_NAMES.credential)}))` +
    ` or (type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and (${workload}))` +
    ` | project id, type, tags`
  );
}

function hasTag(tags: Readonly<Record<string, string>>, name: string): boolean {
  return Object.entries(tags).some(([k, v]) => k.toLowerCase() === name && typeof v === 'string' && v.trim() !== '');
}

function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}
