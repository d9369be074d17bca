/** Runs a reconciliation sweep and records its time and outcome for health and the status page. */
import { errorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { SWEEP_OUTCOMES, sweepOutcomeOf, type SweepRecords } from './sweepRecord.js';

/**
 * Runs `sweep`, then saves when it finished and how. A sweep that throws is recorded as `failed`
 * and rethrown; failing to save the record only logs (the sweep's own work stands).
 */
export async function recordSweep<
  T extends {
    resources: number;
    failedResources: number;
    durationMs: number;
    ownedAssignments?: Readonly<Record<string, number>>;
    busy?: unknown;
  },
>(records: SweepRecords, log: Logger, sweep: () => Promise<T>): Promise<T> {
  const started = Date.now();
  let summary: T;
  try {
    summary = await sweep();
  } catch (error) {
    await save(records, log, {
      finishedAt: new Date().toISOString(),
      outcome: SWEEP_OUTCOMES.failed,
      resources: 0,
      failedResources: 0,
      durationMs: Date.now() - started,
      errorCode: errorCode(error),
    });
    throw error;
  }
  // A run that found another sweep holding the lease walked nothing: the record is that sweep's to write.
  if (summary.busy) return summary;
  const { resources, failedResources, durationMs } = summary;
  // A run that stopped at its time budget counted ours only in the subscriptions it finished: keep the last count of the others.
  const previous = await records.last().catch(() => undefined);
  const ownedAssignments =
    summary.ownedAssignments || previous?.ownedAssignments ? { ...previous?.ownedAssignments, ...summary.ownedAssignments } : undefined;
  await save(records, log, {
    finishedAt: new Date().toISOString(),
    outcome: sweepOutcomeOf(summary),
    resources,
    failedResources,
    durationMs,
    ...(ownedAssignments ? { ownedAssignments } : {}),
  });
  return summary;
}

async function save(records: SweepRecords, log: Logger, record: Parameters<SweepRecords['save']>[0]): Promise<void> {
  try {
    await records.save(record);
  } catch (error) {
    log.error('could not record the sweep for health and the status page', { error });
  }
}
