import { errorCode, NotReadyError, TransientAzureError } from '../errors.js';
import type { Logger } from '../log.js';
import { AUDIT_OUTCOMES, type AuditEntry, type AuditLog, type Trigger } from './auditLog.js';

export interface DecisionOptions {
  readonly trigger: Trigger;
  readonly log: Logger;
  /** Plan only: decisions are returned, not written to the audit trail. */
  readonly dryRun?: boolean;
  /**
   * A routine pass (the sweep): decisions that change nothing (QUIET_OUTCOMES) are returned and
   * logged but not written, so a settled estate adds no rows; the caller writes one summary row
   * that counts them. Changes and failures are written as always.
   */
  readonly quiet?: boolean;
}

/**
 * Outcomes a quiet run leaves out of the audit trail: the automation changed nothing in Azure and
 * tried nothing that failed. A standing refusal (consent, the automation's rules, a bad tag) was
 * recorded when its event or request came in; re-deciding it every sweep adds no news.
 */
export const QUIET_OUTCOMES: ReadonlySet<string> = new Set([
  AUDIT_OUTCOMES.alreadyPresent,
  AUDIT_OUTCOMES.skipped,
  AUDIT_OUTCOMES.deniedByConsent,
  AUDIT_OUTCOMES.denied,
  AUDIT_OUTCOMES.deniedIneligible,
  AUDIT_OUTCOMES.rejectedInput,
]);

/**
 * The decision record of one use-case run: every decision becomes one audit row (with the
 * trigger's event id, correlation id and caller) and one log line; the first transient or
 * not-ready failure is kept so the run can rethrow it at the end for Event Grid to redeliver.
 *
 * Vocabulary: a "run" is one pass of one use case, named `<Feature>Run` — `AccessRun`,
 * `WorkloadRun` (both extend this), `SweepRun` (the sweep's counters and summary row).
 */
export class DecisionRecorder {
  readonly started = Date.now();
  readonly decisions: AuditEntry[] = [];
  retryError: Error | undefined;
  constructor(
    readonly audit: AuditLog,
    readonly options: DecisionOptions,
  ) {}

  get dryRun(): boolean {
    return this.options.dryRun === true;
  }

  async decide(entry: AuditEntry): Promise<void> {
    const { eventId, correlationId, caller } = this.options.trigger;
    const full: AuditEntry = {
      ...entry,
      ...(eventId ? { eventId } : {}),
      ...(correlationId ? { correlationId } : {}),
      ...(caller ? { caller } : {}),
      durationMs: Date.now() - this.started,
    };
    this.decisions.push(full);
    const fields = {
      outcome: full.outcome,
      resourceId: full.resourceId,
      registry: full.registry,
      principalId: full.principalId,
      role: full.role,
      errorCode: full.errorCode,
      ...full.details,
    };
    if (full.outcome === AUDIT_OUTCOMES.failed) this.options.log.warn(full.reason, fields);
    else this.options.log.info(full.reason, fields);
    const quiet = this.options.quiet === true && QUIET_OUTCOMES.has(full.outcome);
    if (!this.dryRun && !quiet) await this.audit.record(full);
  }

  /** Records a failure; transient and not-ready ones are rethrown by `throwIfRetryNeeded` so Event Grid redelivers. */
  async fail(entry: Omit<AuditEntry, 'outcome' | 'errorCode'>, error: unknown): Promise<void> {
    const retry = error instanceof TransientAzureError || error instanceof NotReadyError;
    if (retry) this.retryError ??= error as Error;
    const message = error instanceof Error ? error.message : String(error);
    await this.decide({
      ...entry,
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: errorCode(error),
      reason: `${entry.reason}: ${message}${retry ? ' (will retry on redelivery)' : ''}`,
    });
  }

  throwIfRetryNeeded(): void {
    if (this.retryError) throw this.retryError;
  }
}
