import type { ApiName } from './contract.js';

export interface CallRecord {
  readonly at: number;
  readonly api: ApiName;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  /** Rows a query answered, when the handler says (Resource Graph). */
  readonly rows?: number;
}

export interface CallCount {
  readonly api: ApiName;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly count: number;
  /** Rows answered by these calls in all, for queries (Resource Graph); absent otherwise. */
  readonly rows?: number;
}

/** Every call the emulator answered (bounded), counted per api, method, path template and status. */
export class CallLog {
  private records: CallRecord[] = [];
  private static readonly MAX = 200_000;

  record(r: CallRecord): void {
    this.records.push(r);
    if (this.records.length > CallLog.MAX) this.records = this.records.slice(-CallLog.MAX / 2);
  }

  counts(sinceMs = 0): CallCount[] {
    const map = new Map<string, { api: ApiName; method: string; route: string; status: number; count: number; rows?: number }>();
    for (const r of this.records) {
      if (r.at < sinceMs) continue;
      const key = `${r.api} ${r.method} ${r.route} ${r.status}`;
      const c = map.get(key) ?? { api: r.api, method: r.method, route: r.route, status: r.status, count: 0 };
      c.count += 1;
      if (r.rows !== undefined) c.rows = (c.rows ?? 0) + r.rows;
      map.set(key, c);
    }
    return [...map.values()].sort(
      (a, b) => a.api.localeCompare(b.api) || a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.status - b.status,
    );
  }

  clear(): void {
    this.records = [];
  }
}
