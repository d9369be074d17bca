import {
  API_NAMES,
  INJECTABLE_STATUSES,
  type ApiName,
  type EmulatorFaults,
  type FaultsView,
  type InjectableStatus,
  type InjectedErrorRates,
} from './contract.js';

export const DEFAULT_FAULTS: EmulatorFaults = {
  latencyMs: {},
  errorRate: {},
  errors: {},
  retryAfterSeconds: 1,
  // ARM's documented write limit: 200 burst, then 10 per second per principal and region.
  throttle: { enabled: true, burst: 200, refillPerSecond: 10, reads: { burst: 250, refillPerSecond: 25, enforce: false } },
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
    const obj = (v: unknown): Record<string, unknown> =>
      v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    const nums = (v: unknown, name: string): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const [k, n] of Object.entries(obj(v))) {
        if (typeof n !== 'number' || !Number.isFinite(n) || n < 0)
          throw new RangeError(`${name}.${k}: expected a number >= 0, got ${JSON.stringify(n)}`);
        out[k] = n;
      }
      return out;
    };
    const rate = (n: unknown, name: string): number => {
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1)
        throw new RangeError(`${name}: expected a probability 0..1, got ${JSON.stringify(n)}`);
      return n;
    };
    const cur = this.value;
    const errors: Partial<Record<ApiName, InjectedErrorRates>> = { ...cur.errors };
    for (const [api, rates] of Object.entries(obj(p.errors))) {
      if (!(API_NAMES as readonly string[]).includes(api)) throw new RangeError(`errors.${api}: expected one of ${API_NAMES.join(', ')}`);
      const merged: InjectedErrorRates = { ...errors[api as ApiName] };
      for (const [status, n] of Object.entries(obj(rates))) {
        if (!(INJECTABLE_STATUSES as readonly string[]).includes(status))
          throw new RangeError(`errors.${api}.${status}: expected a status of ${INJECTABLE_STATUSES.join(', ')}`);
        merged[status as InjectableStatus] = rate(n, `errors.${api}.${status}`);
      }
      errors[api as ApiName] = merged;
    }
    const retryAfter = p.retryAfterSeconds;
    if (retryAfter !== undefined && (typeof retryAfter !== 'number' || !Number.isFinite(retryAfter) || retryAfter < 0))
      throw new RangeError(`retryAfterSeconds: expected a number >= 0, got ${JSON.stringify(retryAfter)}`);
    this.value = {
      latencyMs: { ...cur.latencyMs, ...nums(p.latencyMs, 'latencyMs') },
      errorRate: { ...cur.errorRate, ...nums(p.errorRate, 'errorRate') },
      errors,
      retryAfterSeconds: typeof retryAfter === 'number' ? retryAfter : (cur.retryAfterSeconds ?? 1),
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

/**
 * Which status, if any, to inject for one request to `api`: one roll against the stacked rates of
 * `errors[api]` (429, 500, 503) plus the older `errorRate[api]` (503).
 */
export function pickInjectedStatus(faults: EmulatorFaults, api: ApiName, roll: number = Math.random()): InjectableStatus | undefined {
  const rates = faults.errors?.[api] ?? {};
  let edge = 0;
  for (const status of INJECTABLE_STATUSES) {
    edge += (rates[status] ?? 0) + (status === '503' ? (faults.errorRate[api] ?? 0) : 0);
    if (roll < edge) return status;
  }
  return undefined;
}

/** ARM's throttle: one token bucket per key (principal, scope, operation kind), refilled in real time. */
export class WriteThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly config: () => EmulatorFaults['throttle']) {}

  /** Takes one token; answers the tokens left, or the seconds to wait when the bucket is empty. */
  take(
    principal: string,
    limits: { burst: number; refillPerSecond: number } = this.config(),
  ): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const { burst, refillPerSecond } = limits;
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
