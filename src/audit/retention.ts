/**
 * Audit retention: rows from UTC days older than AUDIT_RETENTION_DAYS are deleted, run from the
 * sweep timer (no timer of its own). A run that deletes anything leaves one `expired` row saying
 * how many and from which day rows are kept; a run with nothing to expire writes nothing.
 */
import { AUDIT_OUTCOMES, type AuditLog } from './auditLog.js';
import type { AuditPurgeResult, AuditRetention } from './tableAuditLog.js';
import { errorCode } from '../errors.js';
import type { Logger } from '../log.js';

export const RETENTION_CALLER = 'retention';

export interface RetentionDeps {
  readonly audit: AuditLog;
  readonly auditRetention: AuditRetention;
  readonly config: { readonly auditRetentionDays: number };
}

/** Deletes expired audit rows; never throws (the next timer run retries), the log has any failure. */
export async function expireAuditRows(
  deps: RetentionDeps,
  log: Logger,
  options: { correlationId?: string; maxRecords?: number } = {},
): Promise<AuditPurgeResult | undefined> {
  let result: AuditPurgeResult;
  try {
    result = await deps.auditRetention.purge({
      retentionDays: deps.config.auditRetentionDays,
      ...(options.maxRecords ? { maxRecords: options.maxRecords } : {}),
    });
  } catch (error) {
    log.error('could not delete expired audit rows; the next sweep timer run retries', { errorCode: errorCode(error), error });
    return undefined;
  }
  if (result.deleted === 0) return result;
  const reason =
    `deleted ${result.deleted} audit record(s) older than ${deps.config.auditRetentionDays} day(s) (AUDIT_RETENTION_DAYS); rows from ${result.keepFrom} on are kept` +
    (result.more ? '; more remain, the next sweep timer run continues' : '');
  log.info(reason, { deleted: result.deleted, more: result.more });
  try {
    await deps.audit.record({
      action: 'audit retention',
      outcome: AUDIT_OUTCOMES.expired,
      reason,
      caller: RETENTION_CALLER,
      ...(options.correlationId ? { correlationId: options.correlationId } : {}),
      details: { deleted: result.deleted, keptFrom: result.keepFrom, more: result.more, retentionDays: deps.config.auditRetentionDays },
    });
  } catch (error) {
    log.error('could not write the audit row for audit retention', { error });
  }
  return result;
}
