/**
 * The reconciliation sweep timer (`%RECONCILE_SCHEDULE%`, default every 30 minutes): settles
 * what resource events missed. It never throws for a failed resource — timers have no
 * redelivery; the failure is an audit row and the next sweep retries.
 */
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { sweepSubscriptions } from '../access/sweep.js';
import { getDeps } from '../deps.js';
import { invocationLogger } from '../log.js';
import { recordSweep } from '../status/recordSweep.js';

export async function reconcileSweep(timer: Timer, context: InvocationContext): Promise<void> {
  const log = invocationLogger(context, { isPastDue: timer.isPastDue });
  const deps = getDeps();
  await recordSweep(deps.sweepRecords, log, () => sweepSubscriptions(deps, { log, sweepId: context.invocationId }));
}

app.timer('reconcileSweep', { schedule: '%RECONCILE_SCHEDULE%', handler: reconcileSweep });
