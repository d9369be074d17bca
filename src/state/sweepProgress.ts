/**
 * Where the reconciliation sweep stands, across runs and instances: one row in the status table
 * (`<TABLE_PREFIX>status`, partition `sweep`, row `progress`) holding the sweep's lease and its cursor.
 *
 *   - The lease: one sweep at a time walks the estate. A run takes it with a conditional write
 *     (insert fails when the row exists; replace carries the ETag read —
 *     https://learn.microsoft.com/rest/api/storageservices/update-entity2), so two instances fired
 *     at once (the Functions timer is a singleton per app, but a second app on the same storage, a
 *     slot swap or a run past its schedule are not) cannot both walk it: the loser skips and says so.
 *     It lasts the sweep's time budget plus a margin, so a crashed run blocks the next ones that long at most.
 *   - The cursor: a sweep that runs out of its time budget (SWEEP_TIME_BUDGET_SECONDS) saves the
 *     last resource it started, and the next run resumes after it; the pass (the runs from the first
 *     to the one that reaches the end) keeps the id of the run that began it, for the audit rows.
 */
import type { TableEntity } from '@azure/data-tables';
import type { LazyTable } from '../azure/tables.js';

/** The phases of one subscription's sweep, in order: resources reconciled, then our assignments' principals checked. */
export const SWEEP_PHASES = { targets: 'targets', principals: 'principals' } as const;
export type SweepPhase = (typeof SWEEP_PHASES)[keyof typeof SWEEP_PHASES];

/** Where a pass stopped: everything up to and including `after` in this subscription's phase is done. */
export interface SweepCursor {
  /** The sweep id (timer invocation) of the run that began the pass. */
  readonly passId: string;
  readonly passStartedAt: string;
  /** Runs of this pass so far. */
  readonly runs: number;
  /** Lower-case subscription id the pass is in. */
  readonly subscriptionId: string;
  readonly phase: SweepPhase;
  /** The sort key (normalised resource id) of the last item started. */
  readonly after: string;
  /** Items of this subscription's phase that were left, when the run stopped. */
  readonly left: number;
}

/** A lease held: pass it back to `end`. */
export interface HeldSweepLease {
  readonly owner: string;
  readonly etag: string;
  /** The cursor the last run left, when a pass is unfinished. */
  readonly cursor?: SweepCursor;
}

export type SweepLeaseResult =
  | { readonly ok: true; readonly lease: HeldSweepLease }
  | { readonly ok: false; readonly holder: string; readonly until: string };

export interface SweepProgress {
  /** Takes the sweep's lease for `leaseMs` if it is free or lapsed; otherwise who holds it, until when. */
  begin(owner: string, leaseMs: number): Promise<SweepLeaseResult>;
  /** Saves `cursor` (undefined: the pass ended) and frees the lease; false when the lease lapsed and another run took the row meanwhile (nothing written). */
  end(lease: HeldSweepLease, cursor: SweepCursor | undefined): Promise<boolean>;
}

const KEY = { partitionKey: 'sweep', rowKey: 'progress' } as const;

type Entity = TableEntity<{ owner: string; leaseUntil: string; cursor: string }>;

/** Sweep progress over one row of the status table; one per app, built in deps.ts. */
export function createTableSweepProgress(table: LazyTable): SweepProgress {
  return {
    async begin(owner, leaseMs) {
      const client = await table.client();
      let current: (Entity & { etag?: string }) | undefined;
      try {
        current = await client.getEntity<Entity>(KEY.partitionKey, KEY.rowKey);
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
      const until = new Date(Date.now() + leaseMs).toISOString();
      // A lease further ahead than twice ours was not written by a sweep with sane settings (a hand-edited
      // row, a clock far off): it would block every sweep, so it counts as lapsed.
      const heldUntil = Date.parse(current?.leaseUntil ?? '');
      if (current?.owner && heldUntil > Date.now() && heldUntil - Date.now() <= 2 * leaseMs)
        return { ok: false, holder: current.owner, until: current.leaseUntil };
      const entity: Entity = { ...KEY, owner, leaseUntil: until, cursor: current?.cursor ?? '' };
      try {
        const etag = current
          ? (await client.updateEntity(entity, 'Replace', { etag: current.etag ?? '*' })).etag
          : (await client.createEntity(entity)).etag;
        if (!etag) throw new Error('Table Storage answered no ETag for the sweep lease');
        const cursor = cursorOf(entity.cursor);
        return { ok: true, lease: { owner, etag, ...(cursor ? { cursor } : {}) } };
      } catch (error) {
        // 409: another run created the row first; 412: another run took the lease since our read.
        if (statusOf(error) === 409 || statusOf(error) === 412) {
          const winner = await client.getEntity<Entity>(KEY.partitionKey, KEY.rowKey).catch(() => undefined);
          return { ok: false, holder: winner?.owner || 'another sweep', until: winner?.leaseUntil ?? until };
        }
        throw error;
      }
    },
    async end(lease, cursor) {
      const client = await table.client();
      try {
        await client.updateEntity<Entity>(
          { ...KEY, owner: '', leaseUntil: new Date(0).toISOString(), cursor: cursor ? JSON.stringify(cursor) : '' },
          'Replace',
          { etag: lease.etag },
        );
        return true;
      } catch (error) {
        if (statusOf(error) === 412 || statusOf(error) === 404) return false;
        throw error;
      }
    },
  };
}

/** The stored cursor, when it reads as one (an empty or foreign value is no cursor: the pass starts over). */
export function cursorOf(value: unknown): SweepCursor | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const c = JSON.parse(value) as Partial<SweepCursor>;
    const phases: readonly string[] = Object.values(SWEEP_PHASES);
    if (
      typeof c.passId !== 'string' ||
      typeof c.passStartedAt !== 'string' ||
      typeof c.subscriptionId !== 'string' ||
      typeof c.after !== 'string' ||
      !phases.includes(String(c.phase))
    )
      return undefined;
    return {
      passId: c.passId,
      passStartedAt: c.passStartedAt,
      runs: Number(c.runs) || 1,
      subscriptionId: c.subscriptionId,
      phase: c.phase as SweepPhase,
      after: c.after,
      left: Number(c.left) || 0,
    };
  } catch {
    return undefined;
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}
