/**
 * The resources layer: one changed resource → every feature that registered a reconciler for its
 * type. The id is parsed once and the resource read from ARM once (ARM is the truth: a delete
 * delivered after a re-create must not revoke, so it reads even then); each reconciler gets that
 * read and the run's shared reads. The event path runs it; the HTTP preview runs it with `dryRun`;
 * the sweep runs it for the features that claimed a resource.
 *
 * Order: reconcilers run side by side, except one that `runsAfter` another (pull credentials after
 * registry access), which waits for it and is left out when it threw. One feature's error does not
 * hide another's work: all finish, then the first error (in registration order) is rethrown.
 */
import type { AuditEntry, AuditLog } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { DecisionRecorder, type DecisionOptions } from '../audit/decisionRecorder.js';
import type { ArmResource, ArmResources } from '../azure/arm.js';
import { AppError } from '../errors.js';
import { parseResourceId } from '../policy/resourceId.js';
import type { FeatureResult, ReadResource, ResourceReconciler } from '../reconciler.js';
import { readOnce } from './reads.js';

/** What the layer needs: the reconcilers the app registered, and ARM and the audit trail for its own read. */
export interface ResourcesDeps {
  readonly audit: AuditLog;
  readonly arm: ArmResources;
  readonly reconcilers: readonly ResourceReconciler[];
}

/** One feature's part of a run. */
export interface FeatureOutcome {
  readonly feature: string;
  readonly result: FeatureResult;
}

export interface ChangedResourceResult {
  readonly resourceId: string;
  /** Every decision, the layer's own first, then each feature's in registration order (in a dry run, the would-be audit rows). */
  readonly decisions: readonly AuditEntry[];
  /** Each feature that ran, with its own result. */
  readonly features: readonly FeatureOutcome[];
}

/** What each reconciler made of the resource: settled, threw, or (for a `features` filter or a failed predecessor) not run. */
export interface SettledResource {
  readonly resourceId: string;
  /** The layer's own decisions: a resource id that is not one, a type no feature acts on, a read that failed. */
  readonly decisions: readonly AuditEntry[];
  readonly settled: readonly { readonly feature: string; readonly outcome: PromiseSettledResult<FeatureResult> }[];
}

/** Reconciles one resource with every feature registered for its type; throws the first retryable error (or bug) after all ran. */
export async function reconcileChangedResource(
  deps: ResourcesDeps,
  resourceId: string,
  options: DecisionOptions,
): Promise<ChangedResourceResult> {
  const { decisions, settled, resourceId: id } = await settleChangedResource(deps, resourceId, options);
  const failed = settled.find((s) => s.outcome.status === 'rejected');
  if (failed?.outcome.status === 'rejected') throw failed.outcome.reason;
  const features = settled.flatMap((s) => (s.outcome.status === 'fulfilled' ? [{ feature: s.feature, result: s.outcome.value }] : []));
  return { resourceId: id, decisions: [...decisions, ...features.flatMap((f) => f.result.decisions)], features };
}

/**
 * The same, without the rethrow: every feature's outcome, so the sweep can count each. Throws only
 * when the one read failed and redelivery can fix it (after its failed audit row), or on a bug.
 * `features`: only these features run (the sweep hands each resource to those that claimed it).
 */
export async function settleChangedResource(
  deps: ResourcesDeps,
  resourceId: string,
  options: DecisionOptions,
  features?: ReadonlySet<string>,
): Promise<SettledResource> {
  const recorder = new DecisionRecorder(deps.audit, options);
  const parsed = parseResourceId(resourceId);
  if (!parsed.ok || !parsed.value.type) {
    await recorder.decide({
      action: 'reconcile',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: parsed.ok ? `${resourceId} is not a resource` : parsed.error,
      resourceId,
      errorCode: 'InvalidResourceId',
    });
    return { resourceId, decisions: recorder.decisions, settled: [] };
  }
  const { id, type, name } = parsed.value;
  const reconcilers = deps.reconcilers.filter((r) => r.handles(type) && (!features || features.has(r.feature)));
  if (reconcilers.length === 0) {
    await recorder.decide({
      action: 'reconcile',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `resource type ${type} is not one the automation acts on`,
      resourceId: id,
    });
    return { resourceId: id, decisions: recorder.decisions, settled: [] };
  }

  const reads = readOnce(deps.arm);
  let resource: ArmResource | undefined;
  try {
    resource = await reads.getResource(id);
  } catch (error) {
    // Only AppErrors are decisions; anything else is a bug and escapes as it is.
    if (!(error instanceof AppError)) throw error;
    await recorder.fail({ action: 'reconcile', resourceId: id, reason: `could not reconcile ${name}` }, error);
    recorder.throwIfRetryNeeded();
    return { resourceId: id, decisions: recorder.decisions, settled: [] };
  }

  const read: ReadResource = { id, type, name, resource };
  const runs = new Map<string, Promise<FeatureResult | undefined>>();
  for (const reconciler of reconcilers) {
    const before = (reconciler.runsAfter ?? []).flatMap((f) => runs.get(f) ?? []);
    runs.set(
      reconciler.feature,
      (async () => {
        const earlier = await Promise.allSettled(before);
        if (earlier.some((e) => e.status === 'rejected')) return undefined; // it waits on work that did not finish
        return reconciler.reconcile(read, { ...options, reads });
      })(),
    );
  }
  const outcomes = await Promise.allSettled(runs.values());
  const settled = [...runs.keys()].flatMap((feature, i) => {
    const outcome = outcomes[i]!;
    if (outcome.status === 'fulfilled' && outcome.value === undefined) return [];
    return [{ feature, outcome: outcome as PromiseSettledResult<FeatureResult> }];
  });
  return { resourceId: id, decisions: recorder.decisions, settled };
}
