/**
 * One sweep run: its counters, options and trigger, its failure rows, and the one summary row it
 * writes at the end. A sweep's decisions that change nothing are only counted here (a quiet run).
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Trigger } from '../audit/auditLog.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ResourcesDeps } from './changedResource.js';

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
}

/** Counters and shared options of one sweep. */
export class SweepRun {
  resources = 0;
  failedResources = 0;
  assignmentsChecked = 0;
  readonly outcomes = new Map<string, number>();
  readonly ownedAssignments = new Map<string, number>();
  readonly concurrency: number;
  constructor(
    readonly deps: Pick<ResourcesDeps, 'audit'>,
    readonly options: SweepOptions,
    readonly trigger: Trigger,
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
      reason:
        `swept ${summary.subscriptions} subscription(s): ${summary.resources} resource(s) reconciled, ${summary.assignmentsChecked} assignment(s) of ours checked` +
        (counts ? `; decisions: ${counts}` : '; no decisions') +
        (summary.failedResources > 0 ? `; ${summary.failedResources} resource(s) failed (the next sweep retries)` : ''),
      caller: SWEEP_CALLER,
      ...(this.trigger.correlationId ? { correlationId: this.trigger.correlationId } : {}),
      durationMs: summary.durationMs,
      details: {
        subscriptions: summary.subscriptions,
        resources: summary.resources,
        failedResources: summary.failedResources,
        assignmentsChecked: summary.assignmentsChecked,
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

/** Runs `fn` over `items`, at most `limit` at a time; a throw goes to `onError` and the others carry on. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, onError: (item: T, error: unknown) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (error) {
        await onError(item, error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
