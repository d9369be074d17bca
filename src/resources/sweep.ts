/**
 * The reconciliation sweep: what events missed, caught on a timer (RECONCILE_SCHEDULE).
 *
 * Event Grid delivers at least once, but may drop an event after its retry window, and nothing
 * is delivered while a subscription is being (re)created. Per watched subscription the sweep:
 *
 *   1. lists our role assignments in the subscription (the marker in `description`);
 *   2. finds with one Resource Graph query what every registered reconciler settles (each says
 *      which rows it wants: tagged consumers, consenting or enrolled registries, identities with
 *      `acr-workload-*` tags) — plus what our assignments point at (registries that hold ours,
 *      consumers our descriptions name: untagged or deleted while the event was lost) and what a
 *      feature knows it must settle (registries enrolled for pull credentials) — and reconciles
 *      each through the event path's own layer, with the features that claimed it, a few at a time;
 *   3. lists ours again and revokes those whose principal is gone (gonePrincipals.ts). An
 *      assignment that is not ours (our deterministic name AND our description), or whose
 *      description names no consumer (pull-credential service principals, manual grants to a bare
 *      principal), is never touched.
 *
 * Every change and failure is an audit row with `caller: 'sweep'` and the sweep's id as correlation
 * id; decisions that change nothing (QUIET_OUTCOMES: already-present, skipped, standing denials and
 * bad tags, which their own event recorded) are only counted, in the one `swept` summary row each
 * sweep writes, so a settled estate costs one row per sweep.
 * A failure on one resource (recorded by the use case, or here) does not stop the others, and
 * the sweep never throws for it: timers have no redelivery, the next sweep retries.
 *
 * Across runs (issue 15): first, registry settlements an earlier run left unfinished at their
 * Resource Graph budget are carried on (access/registryContinuations.ts). A run starts new work for
 * SWEEP_TIME_BUDGET_SECONDS (sweepBudget.ts); one that runs out saves a cursor, and the next run
 * carries the pass on after it. A lease in Table Storage (options.progress) lets one sweep walk at a time.
 */
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { ownershipOfListed } from '../assignments/executor.js';
import { AppError } from '../errors.js';
import { subjectOf } from '../policy/ownership.js';
import { normalizeResourceId, REGISTRY_TYPE, resourceIdKey, resourceTypeOf, subscriptionIdOf } from '../policy/resourceId.js';
import { FEATURES, type Feature, type ResourceReconciler } from '../reconciler.js';
import { reconcileResource } from '../access/reconcile.js';
import { resumeUnfinishedRegistries } from '../access/registryContinuations.js';
import { SWEEP_PHASES } from '../state/sweepProgress.js';
import { settleChangedResource } from './changedResource.js';
import { nameOf, revokeGonePrincipals, type GonePrincipalsDeps } from './gonePrincipals.js';
import { DEFAULT_SWEEP_TIME_BUDGET_SECONDS, SweepBudget, sweepLeaseMs } from './sweepBudget.js';
import { SweepRun, SWEEP_CALLER, type SweepOptions, type SweepSummary } from './sweepRun.js';

export { DEFAULT_SWEEP_CONCURRENCY, SWEEP_CALLER, type SweepOptions, type SweepSummary } from './sweepRun.js';

/** What the sweep needs: the registered reconcilers, and the access adapters step 3 revokes with. */
export type SweepDeps = GonePrincipalsDeps;

/** One resource and the features that claimed it. */
interface SweepTarget {
  readonly id: string;
  readonly features: Set<Feature>;
}

/** Reconciles every watched subscription against ARM's current state; never throws for a failed resource. */
export async function sweepSubscriptions(deps: SweepDeps, options: SweepOptions): Promise<SweepSummary> {
  const started = Date.now();
  const trigger = { caller: SWEEP_CALLER, ...(options.sweepId ? { correlationId: options.sweepId } : {}) };
  const budgetSeconds = deps.config.sweepTimeBudgetSeconds ?? DEFAULT_SWEEP_TIME_BUDGET_SECONDS;
  const owner = options.sweepId ?? `sweep-${started}`;
  // Table Storage unreachable: walk without lease or cursor (items are idempotent; a second walker costs reads, not harm).
  const lease = options.progress
    ? await options.progress
        .begin(owner, sweepLeaseMs(budgetSeconds))
        .catch(
          (error: unknown) => (
            options.log.error('could not take the sweep lease; this run walks from the start without it', { error }), undefined
          ),
        )
    : undefined;
  if (lease && !lease.ok) {
    const summary: SweepSummary = {
      subscriptions: 0,
      resources: 0,
      failedResources: 0,
      assignmentsChecked: 0,
      outcomes: {},
      ownedAssignments: {},
      durationMs: Date.now() - started,
      busy: { holder: lease.holder, until: lease.until },
    };
    await new SweepRun(deps, options, trigger, new SweepBudget(started, undefined, [])).recordSummary(summary);
    options.log.info('reconciliation sweep finished', { ...summary });
    return summary;
  }
  const sweep = new SweepRun(
    deps,
    options,
    trigger,
    new SweepBudget(started + budgetSeconds * 1000, lease?.lease.cursor, deps.config.watchedSubscriptions),
  );
  // Registry settlements a registry event (or an earlier sweep) could not finish within its Resource Graph budget.
  sweep.resumedRegistries = await resumeUnfinishedRegistries(
    deps,
    sweep.budget,
    { log: options.log, trigger, quiet: true },
    (decisions) => sweep.count(decisions),
    reconcileResource,
  );
  for (const subscriptionId of deps.config.watchedSubscriptions) {
    if (sweep.budget.stopped) break;
    if (sweep.budget.isSubscriptionDone(subscriptionId)) continue;
    await sweepSubscription(sweep, deps, subscriptionId);
  }
  const resumedFrom = sweep.budget.resumeFrom;
  const pass = resumedFrom
    ? { passId: resumedFrom.passId, passStartedAt: resumedFrom.passStartedAt, runs: resumedFrom.runs + 1 }
    : { passId: owner, passStartedAt: new Date(started).toISOString(), runs: 1 };
  const next = sweep.budget.cursorFor(pass);
  const ended =
    lease?.ok && options.progress
      ? await options.progress
          .end(lease.lease, next)
          .catch(
            (error: unknown) => (options.log.error('could not save the sweep cursor; the next run starts this pass over', { error }), true),
          )
      : true;
  if (!ended)
    options.log.warn(
      'the sweep lease lapsed while this run walked; another run holds it now, so this run leaves the cursor as that run writes it',
    );
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
  await sweep.recordSummary(summary);
  options.log.info('reconciliation sweep finished', { ...summary });
  return summary;
}

async function sweepSubscription(sweep: SweepRun, deps: SweepDeps, subscriptionId: string): Promise<void> {
  const subscriptionScope = `/subscriptions/${subscriptionId}`;
  const sweepers = deps.reconcilers.filter(
    (r): r is ResourceReconciler & { sweep: NonNullable<ResourceReconciler['sweep']> } => r.sweep !== undefined,
  );

  // 1. Ours before: where they are and whom they name widen the set of resources to reconcile.
  let before: RoleAssignmentInfo[] = [];
  try {
    before = (await deps.roleAssignments.listInSubscription(subscriptionId)).filter((a) => ownershipOfListed(a) !== undefined);
  } catch (error) {
    await sweep.recordFailure(
      { action: 'sweep', resourceId: subscriptionScope, reason: `could not list role assignments in subscription ${subscriptionId}` },
      error,
    );
  }

  // 2. What each feature claims, through the event path's own layer.
  const targets = new Map<string, SweepTarget>();
  const add = (id: string, feature: Feature) => {
    const key = normalizeResourceId(id);
    if (!key) return;
    const target = targets.get(key) ?? { id, features: new Set<Feature>() };
    target.features.add(feature);
    targets.set(key, target);
  };
  if (sweepers.length > 0)
    try {
      for (const row of await deps.resourceGraph.query(sweepTargetsQuery(deps.reconcilers), [subscriptionId])) {
        if (typeof row['id'] !== 'string' || typeof row['type'] !== 'string') continue;
        const swept = { id: row['id'], type: row['type'].toLowerCase(), tags: (row['tags'] ?? {}) as Record<string, string> };
        for (const r of sweepers) if (r.sweep.wants(swept)) add(swept.id, r.feature);
      }
    } catch (error) {
      await sweep.recordFailure(
        {
          action: 'sweep',
          resourceId: subscriptionScope,
          reason: `could not query Resource Graph for tagged resources in subscription ${subscriptionId}`,
        },
        error,
      );
    }
  for (const r of sweepers) {
    if (!r.sweep.listKnown) continue;
    try {
      for (const id of await r.sweep.listKnown())
        if (subscriptionIdOf(id)?.toLowerCase() === subscriptionId.toLowerCase()) add(id, r.feature);
    } catch (error) {
      await sweep.recordFailure(
        { action: 'sweep', resourceId: subscriptionScope, reason: `could not list the resources ${r.feature} must settle` },
        error,
      );
    }
  }
  for (const a of before) for (const r of sweepers) for (const id of r.sweep.pointedAt?.(a) ?? []) add(id, r.feature);

  // Consumers first, then registries: settling a registry settles its consumers and revokes ours
  // there, so running both at once would race to the same writes (and record each twice).
  const isRegistry = (t: SweepTarget) => resourceTypeOf(t.id) === REGISTRY_TYPE;
  // A registry whose unfinished settlement this run carried on is not settled again by access (other features still run).
  for (const [key, t] of targets)
    if (isRegistry(t) && sweep.resumedRegistries.has(key) && t.features.delete(FEATURES.access) && t.features.size === 0)
      targets.delete(key);
  const targetKey = (t: SweepTarget) => `${isRegistry(t) ? 1 : 0}|${resourceIdKey(t.id)}`;
  const work = sweep.budget.remaining(subscriptionId, SWEEP_PHASES.targets, [...targets.values()], targetKey);
  for (const wave of [work.filter((t) => !isRegistry(t)), work.filter(isRegistry)]) {
    await sweep.budget.forEach(
      subscriptionId,
      SWEEP_PHASES.targets,
      wave,
      targetKey,
      sweep.concurrency,
      (target) => {
        sweep.resources++;
        return reconcileTarget(sweep, deps, target);
      },
      (target, error) =>
        sweep.recordFailure(
          { action: 'reconcile', resourceId: target.id, reason: `the sweep could not reconcile ${nameOf(target.id)}` },
          error,
        ),
    );
  }
  if (sweep.budget.stopped) return;

  // 3. Ours after: revoke those whose principal is gone.
  let after: RoleAssignmentInfo[];
  try {
    after = (await deps.roleAssignments.listInSubscription(subscriptionId)).filter((a) => ownershipOfListed(a) !== undefined);
  } catch (error) {
    await sweep.recordFailure(
      {
        action: 'sweep',
        resourceId: subscriptionScope,
        reason: `could not list role assignments in subscription ${subscriptionId} to find those whose principal is gone`,
      },
      error,
    );
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
  const groupKey = (group: { consumerId: string }) => resourceIdKey(group.consumerId);
  const groups = sweep.budget.remaining(subscriptionId, SWEEP_PHASES.principals, [...byConsumer.values()], groupKey);
  await sweep.budget.forEach(
    subscriptionId,
    SWEEP_PHASES.principals,
    groups,
    groupKey,
    sweep.concurrency,
    (group) => revokeGonePrincipals(sweep, deps, group.consumerId, group.assignments),
    (group, error) =>
      sweep.recordFailure(
        {
          action: 'revoke',
          resourceId: group.consumerId,
          reason: `the sweep could not check the principals of ${nameOf(group.consumerId)}`,
        },
        error,
      ),
  );
}

/** One resource through the same layer an event for it would reach, with the features that claimed it. */
async function reconcileTarget(sweep: SweepRun, deps: SweepDeps, target: SweepTarget): Promise<void> {
  const options = { log: sweep.options.log.child({ resourceId: target.id }), trigger: sweep.trigger, quiet: true };
  // Throws only when the one read failed and a retry may fix it (its failed row is written), or on a bug.
  let outcome;
  try {
    outcome = await settleChangedResource(deps, target.id, options, target.features);
  } catch (error) {
    sweep.failedResources++;
    if (error instanceof AppError)
      return sweep.options.log.warn(`could not reconcile ${target.id}; the next sweep retries`, {
        resourceId: target.id,
        errorCode: error.code,
      });
    return sweep.recordFailure(
      { action: 'reconcile', resourceId: target.id, reason: `the sweep could not reconcile ${nameOf(target.id)}` },
      error,
    );
  }
  sweep.count(outcome.decisions);
  let failed = false;
  for (const { outcome: settled } of outcome.settled) {
    if (settled.status === 'fulfilled') {
      sweep.count(settled.value.decisions);
      continue;
    }
    failed = true;
    const error: unknown = settled.reason;
    // An AppError escapes a use case only after its failed audit row is written (the retry it asks for
    // is the next sweep); its other decisions are in the audit table, not in these counts.
    if (error instanceof AppError)
      sweep.options.log.warn(`could not reconcile ${target.id}; the next sweep retries`, { resourceId: target.id, errorCode: error.code });
    else
      await sweep.recordFailure(
        { action: 'reconcile', resourceId: target.id, reason: `the sweep could not reconcile ${nameOf(target.id)}` },
        error,
      );
  }
  if (failed) sweep.failedResources++;
}

/** Resource Graph: what the sweep reconciles — the rows any registered reconciler may want. */
export function sweepTargetsQuery(reconcilers: readonly ResourceReconciler[]): string {
  const where = reconcilers.flatMap((r) => (r.sweep ? [`(${r.sweep.where})`] : []));
  return `resources | where ${where.join(' or ')} | project id, type, tags`;
}
