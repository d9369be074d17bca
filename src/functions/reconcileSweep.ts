/**
 * The reconciliation sweep timer (`%RECONCILE_SCHEDULE%`, default every 30 minutes): settles
 * what resource events missed — within SWEEP_TIME_BUDGET_SECONDS, under the sweep's lease, carrying
 * on where the last run stopped (deps.sweepProgress) — then deletes audit rows older than AUDIT_RETENTION_DAYS. It never throws for a failed resource — timers have no
 * redelivery; the failure is an audit row and the next sweep retries.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { sweepSubscriptions } from '../resources/sweep.js';
import { expireAuditRows } from '../audit/retention.js';
import { getDeps } from '../deps.js';
import { invocationLogger } from '../log.js';
import { recordSweep } from '../state/recordSweep.js';

export async function reconcileSweep(timer: Timer, context: InvocationContext): Promise<void> {
  const log = invocationLogger(context, { isPastDue: timer.isPastDue });
  const deps = getDeps();
  try {
    await recordSweep(deps.sweepRecords, log, () =>
      sweepSubscriptions(deps, { log, sweepId: context.invocationId, progress: deps.sweepProgress }),
    );
  } finally {
    // Retention rides the sweep's timer: a day's expiry is a few batched deletes, not worth a timer of its own.
    await expireAuditRows(deps, log, { correlationId: context.invocationId });
  }
}

app.timer('reconcileSweep', { schedule: '%RECONCILE_SCHEDULE%', handler: reconcileSweep });
