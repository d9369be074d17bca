/**
 * One sweep run: its counters, options and trigger, its failure rows, and the one summary row it
 * writes at the end. A sweep's decisions that change nothing are only counted here (a quiet run).
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Trigger } from '../audit/auditLog.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { SweepProgress } from '../state/sweepProgress.js';
import type { ResourcesDeps } from './changedResource.js';
import type { SweepBudget } from './sweepBudget.js';

/** The caller on every audit row the sweep writes. */
export const SWEEP_CALLER = 'sweep';

/** Resources reconciled at once: enough to overlap ARM round trips, few enough to stay far from ARM's throttles. */
export const DEFAULT_SWEEP_CONCURRENCY = 4;

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
  /** Resources handed to the features' reconcilers. */
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

/** Counters and shared options of one sweep. */
export class SweepRun {
  resources = 0;
  failedResources = 0;
  assignmentsChecked = 0;
  readonly outcomes = new Map<string, number>();
  readonly ownedAssignments = new Map<string, number>();
  /** Registries whose unfinished settlement this run carried on: registry access does not read them again from the start. */
  resumedRegistries: ReadonlySet<string> = new Set();
  readonly concurrency: number;
  constructor(
    readonly deps: Pick<ResourcesDeps, 'audit'>,
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

  /**
   * The sweep's one row of its own: what it looked at and its decisions by outcome. Decisions that
   * changed nothing (already-present, skipped) have no rows of their own (a quiet run), so at 10,000
   * settled consumers a sweep adds this row, not 10,000.
   */
  async recordSummary(summary: SweepSummary): Promise<void> {
    const counts = Object.entries(summary.outcomes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([outcome, n]) => `${n} ${outcome}`)
      .join(', ');
    const row: AuditEntry = {
      action: 'sweep',
      outcome: AUDIT_OUTCOMES.swept,
      reason: summary.busy
        ? `another sweep (${summary.busy.holder}) holds the sweep lease until ${summary.busy.until}; this run walked nothing`
        : (summary.resumed
            ? `resumed the sweep pass run ${summary.resumed.passId} began (run ${summary.resumed.runs} of it; ${summary.resumed.skippedDone} item(s) done by earlier runs skipped); `
            : '') +
          `swept ${summary.subscriptions} subscription(s): ${summary.resources} resource(s) reconciled, ${summary.assignmentsChecked} assignment(s) of ours checked` +
          (counts ? `; decisions: ${counts}` : '; no decisions') +
          (summary.failedResources > 0 ? `; ${summary.failedResources} resource(s) failed (the next sweep retries)` : '') +
          (summary.registriesResumed
            ? `; carried on ${summary.registriesResumed} registry settlement(s) an earlier run left unfinished`
            : '') +
          (summary.unfinished
            ? `; partial: the time budget ran out with ${summary.left} item(s) left in this phase, resumes next run`
            : summary.resumed
              ? '; the pass is finished'
              : ''),
      caller: SWEEP_CALLER,
      ...(this.trigger.correlationId ? { correlationId: this.trigger.correlationId } : {}),
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
      await this.deps.audit.record(row);
    } catch (error) {
      this.options.log.error('could not write the summary audit row of the sweep', { error });
    }
  }
}
