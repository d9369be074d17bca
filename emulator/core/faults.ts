import type { EmulatorFaults, FaultsView } from './contract.js';

export const DEFAULT_FAULTS: EmulatorFaults = {
  latencyMs: {},
  errorRate: {},
  // ARM's documented write limit: 200 burst, then 10 per second per principal and region.
  throttle: { enabled: true, burst: 200, refillPerSecond: 10 },
  replicationDelayMs: 0,
  events: { duplicateRate: 0, reorderRate: 0, dropRate: 0, delayMs: 0 },
};

/** Holds the faults PUT /admin/faults sets; a partial update merges into the current one. */
export class FaultSettings implements FaultsView {
  private value: EmulatorFaults = DEFAULT_FAULTS;

  current(): EmulatorFaults {
    return this.value;
  }

  update(patch: unknown): EmulatorFaults {
    const p = (patch ?? {}) as Partial<Record<keyof EmulatorFaults, unknown>>;
    const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
    const nums = (v: unknown, name: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [k, n] of Object.entries(obj(v))) {
        if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new RangeError(`${name}.${k}: expected a number >= 0, got ${JSON.stringify(n)}`);
        out[k] = n;
      }
      return out;
    };
    const cur = this.value;
    this.value = {
      latencyMs: { ...cur.latencyMs, ...nums(p.latencyMs, 'latencyMs') },
      errorRate: { ...cur.errorRate, ...nums(p.errorRate, 'errorRate') },
      throttle: { ...cur.throttle, ...(obj(p.throttle) as Partial<EmulatorFaults['throttle']>) },
      replicationDelayMs: typeof p.replicationDelayMs === 'number' ? p.replicationDelayMs : cur.replicationDelayMs,
      events: { ...cur.events, ...(obj(p.events) as Partial<EmulatorFaults['events']>) },
    };
    return this.value;
  }

  reset(): void {
    this.value = DEFAULT_FAULTS;
  }
}

/** ARM's write throttle: one token bucket per principal, refilled in real time. */
export class WriteThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly config: () => EmulatorFaults['throttle']) {}

  /** Takes one token; answers the tokens left, or the seconds to wait when the bucket is empty. */
  take(principal: string): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const { burst, refillPerSecond } = this.config();
    const now = Date.now();
    const b = this.buckets.get(principal) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * refillPerSecond);
    b.at = now;
    this.buckets.set(principal, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens) };
    }
    const wait = refillPerSecond > 0 ? (1 - b.tokens) / refillPerSecond : 60;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
  }

  reset(): void {
    this.buckets.clear();
  }
}
