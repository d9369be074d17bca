/**
 * The last reconciliation sweep's time and outcome, for `GET /api/health` and the status page.
 * One row in Table Storage (`<TABLE_PREFIX>status`), so every instance reads what any instance
 * swept; two sweeps finishing at once both write it and the later one stands, which is what
 * "the last sweep" means.
 */
import type { LazyTable } from '../azure/tables.js';

export const SWEEP_OUTCOMES = {
  /** Every resource reconciled. */
  succeeded: 'succeeded',
  /** The sweep finished, but some resources failed (each a `failed` audit row). */
  partial: 'partial',
  /** The sweep itself failed (it threw); `errorCode` says why. */
  failed: 'failed',
} as const;
export type SweepOutcome = (typeof SWEEP_OUTCOMES)[keyof typeof SWEEP_OUTCOMES];

export interface SweepRecord {
  readonly finishedAt: string;
  readonly outcome: SweepOutcome;
  readonly resources: number;
  readonly failedResources: number;
  readonly durationMs: number;
  readonly errorCode?: string;
  /** Per watched subscription (lower-case id), the role assignments of ours the sweep found: health's "owned" without a listing. */
  readonly ownedAssignments?: Readonly<Record<string, number>>;
}

export interface SweepRecords {
  save(record: SweepRecord): Promise<void>;
  /** The last sweep recorded, or undefined when none has finished yet. */
  last(): Promise<SweepRecord | undefined>;
}

export const STATUS_TABLE_SUFFIX = 'status';
const KEY = { partitionKey: 'sweep', rowKey: 'last' } as const;

/** The outcome of a sweep that finished, from its summary. */
export function sweepOutcomeOf(summary: { failedResources: number }): SweepOutcome {
  return summary.failedResources > 0 ? SWEEP_OUTCOMES.partial : SWEEP_OUTCOMES.succeeded;
}

/** The stored per-subscription counts, when they read as such (a row from an older version has none). */
function ownedOf(value: unknown): { ownedAssignments?: Record<string, number> } {
  if (typeof value !== 'string') return {};
  try {
    const parsed = JSON.parse(value) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    const counts = Object.entries(parsed as Record<string, unknown>).filter(
      (e): e is [string, number] => typeof e[1] === 'number' && Number.isInteger(e[1]) && e[1] >= 0,
    );
    return { ownedAssignments: Object.fromEntries(counts) };
  } catch {
    return {};
  }
}

/** Sweep records over one Table Storage row. */
export function createTableSweepRecords(table: LazyTable): SweepRecords {
  return {
    async save(record) {
      const client = await table.client();
      const { ownedAssignments, ...scalars } = record;
      await client.upsertEntity(
        { ...KEY, ...scalars, ...(ownedAssignments ? { ownedAssignments: JSON.stringify(ownedAssignments) } : {}) },
        'Replace',
      );
    },
    async last() {
      const client = await table.client();
      try {
        const row = await client.getEntity<Record<string, unknown>>(KEY.partitionKey, KEY.rowKey);
        const outcome = Object.values(SWEEP_OUTCOMES).find((o) => o === row['outcome']);
        if (typeof row['finishedAt'] !== 'string' || !outcome) return undefined;
        return {
          finishedAt: row['finishedAt'],
          outcome,
          resources: Number(row['resources'] ?? 0),
          failedResources: Number(row['failedResources'] ?? 0),
          durationMs: Number(row['durationMs'] ?? 0),
          ...(typeof row['errorCode'] === 'string' ? { errorCode: row['errorCode'] } : {}),
          ...ownedOf(row['ownedAssignments']),
        };
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return undefined;
        throw error;
      }
    },
  };
}
