/**
 * Registry settlements left unfinished, and the next sweep carrying them on (the record itself:
 * src/state/unfinishedRegistries.ts).
 *
 * A registry event reads the consumers that name the registry from Resource Graph within a budget
 * (REGISTRY_QUERY_BUDGET). An estate too big for one run stops there: the run records where
 * (Resource Graph's `$skipToken`) in a row of `<TABLE_PREFIX>status` (partition `unfinished`), and
 * the next sweep resumes it from that token, settling the consumers the first run never read; the
 * run that reaches the end writes a `resumed` audit row naming the run that began it, and deletes
 * the row — conditionally on its ETag, so a newer run's record (a later registry event) is never
 * deleted by an older one. Each registry has one row: a newer unfinished run replaces an older one.
 */
import { AUDIT_OUTCOMES, type AuditEntry } from '../audit/auditLog.js';
import type { DecisionRecorder } from '../audit/decisionRecorder.js';
import type { BudgetedRows } from '../azure/resourceGraph.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { resourceIdKey } from '../policy/resourceId.js';
import type { UnfinishedRegistry } from '../state/unfinishedRegistries.js';
import type { DecisionOptions } from '../audit/decisionRecorder.js';
import type { AccessDeps } from './accessDeps.js';

/**
 * Carries on every unfinished registry settlement, through the registry-event use case resumed at
 * its token (`resume`), while the sweep's budget lasts. Returns the (normalised) ids of the
 * registries it carried on: the sweep does not read them again from the start in the same run. A
 * failure is recorded by the use case and the record stays for the next sweep.
 */
export async function resumeUnfinishedRegistries(
  deps: AccessDeps,
  budget: { readonly exhausted: boolean },
  options: DecisionOptions & { readonly log: Logger },
  count: (decisions: readonly AuditEntry[]) => void,
  /** The registry-event use case (reconcileResource), passed in: it records continuations through this module. */
  reconcile: (
    deps: AccessDeps,
    registryId: string,
    options: DecisionOptions & { readonly resume: UnfinishedRegistry },
  ) => Promise<{ readonly decisions: readonly AuditEntry[] }>,
): Promise<Set<string>> {
  const resumed = new Set<string>();
  if (!deps.registryContinuations) return resumed;
  let entries: UnfinishedRegistry[];
  try {
    entries = await deps.registryContinuations.list();
  } catch (error) {
    options.log.error('could not list the unfinished registry settlements; the next sweep tries again', { error });
    return resumed;
  }
  for (const entry of entries) {
    if (budget.exhausted) break;
    try {
      const result = await reconcile(deps, entry.registryId, {
        ...options,
        log: options.log.child({ resourceId: entry.registryId }),
        resume: entry,
      });
      count(result.decisions);
      resumed.add(resourceIdKey(entry.registryId));
    } catch (error) {
      options.log.warn(`could not carry on the settlement of ${entry.registryId}; the next sweep tries again`, {
        resourceId: entry.registryId,
        error,
      });
    }
  }
  return resumed;
}

/** The consumers a registry run read, and what it owes the record once it has settled them. */
export interface NamingConsumers {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** Every consumer naming the registry was read, from the first page: only then may ours that name no consumer be judged by them. */
  readonly whole: boolean;
  /** Once the rows are settled: a run that reached the end of a resumed settlement records it (`resumed`) and deletes the record. */
  settled(): Promise<void>;
}

/**
 * Reads the consumers that name a registry within `budget`, from where an unfinished settlement
 * stopped (`resume`) or from the start. Past the budget it records the continuation and a failed
 * `QueryBudgetExhausted` row (the next sweep carries on). A stored token Resource Graph no longer
 * takes (it may lapse between runs) starts the read over.
 */
export async function readNamingConsumers(
  deps: AccessDeps,
  recorder: DecisionRecorder,
  facts: { readonly id: string; readonly name: string },
  query: string,
  budget: { readonly maxPages: number; readonly seconds: number },
  resume: UnfinishedRegistry | undefined,
): Promise<NamingConsumers> {
  const within = (skipToken?: string) =>
    deps.resourceGraph.queryWithin(query, deps.config.watchedSubscriptions, {
      maxPages: budget.maxPages,
      deadline: Date.now() + budget.seconds * 1000,
      ...(skipToken ? { skipToken } : {}),
    });
  let read: BudgetedRows;
  let from = resume;
  try {
    read = await within(resume?.skipToken);
  } catch (error) {
    if (!resume || !(error instanceof AppError)) throw error;
    recorder.options.log.warn(
      `Resource Graph did not take the stored continuation of ${facts.name}; reading its consumers from the start`,
      { resourceId: facts.id, errorCode: error.code },
    );
    from = undefined;
    read = await within();
  }
  const trigger = recorder.options.trigger;
  const thisRun = trigger.eventId ?? trigger.correlationId ?? 'unknown';
  if (!read.complete) {
    const entry: UnfinishedRegistry = {
      registryId: facts.id,
      skipToken: read.skipToken ?? '',
      startedBy: from?.startedBy ?? thisRun,
      startedAt: from?.startedAt ?? new Date().toISOString(),
      runs: (from?.runs ?? 0) + 1,
      rowsRead: (from?.rowsRead ?? 0) + read.rows.length,
    };
    let saved = false;
    if (deps.registryContinuations && entry.skipToken && !recorder.dryRun) {
      try {
        await deps.registryContinuations.save(entry);
        saved = true;
      } catch (error) {
        recorder.options.log.error(`could not record where the settlement of ${facts.name} stopped; the next sweep starts it over`, {
          resourceId: facts.id,
          error,
        });
      }
    }
    await recorder.fail(
      {
        action: 'reconcile',
        resourceId: facts.id,
        registry: facts.id,
        reason:
          `registry ${facts.name}: Resource Graph named more consumers than one run reads (${read.rows.length} rows in ${read.pages} pages${from ? `, carrying on what ${from.startedBy} began` : ''}); those read are settled, ours held by the rest are checked against ARM, and the next sweep settles the rest` +
          (saved ? `, carrying on from where this run stopped (run ${entry.runs} of this settlement)` : ', reading them from the start'),
        details: { unfinished: true, startedBy: entry.startedBy, runs: entry.runs, rowsRead: entry.rowsRead },
      },
      new AppError('QueryBudgetExhausted', `stopped after ${read.pages} pages (${budget.maxPages} pages or ${budget.seconds} s)`),
    );
  }
  return {
    rows: read.rows,
    whole: read.complete && !from,
    async settled() {
      if (!read.complete || !from || !deps.registryContinuations || recorder.dryRun) return;
      const finished = await deps.registryContinuations.finish(from).catch((error: unknown) => {
        recorder.options.log.error(`could not delete the finished continuation of ${facts.name}; the next sweep reads the rest again`, {
          resourceId: facts.id,
          error,
        });
        return false;
      });
      await recorder.decide({
        action: 'reconcile',
        outcome: AUDIT_OUTCOMES.resumed,
        resourceId: facts.id,
        registry: facts.id,
        reason:
          `registry ${facts.name}: finished the settlement ${from.startedBy} left unfinished at its Resource Graph budget (${from.runs} run(s) before this one read ${from.rowsRead} rows; this one read the remaining ${read.rows.length})` +
          (finished ? '' : '; a newer run has recorded its own continuation, which stays'),
        details: { startedBy: from.startedBy, runs: from.runs + 1, rowsRead: from.rowsRead + read.rows.length },
      });
    },
  };
}
