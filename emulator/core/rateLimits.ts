/**
 * What ARM and Resource Graph tell a caller about their limits, and ARM's refusals when a bucket is
 * empty: the request pipeline asks `answer` before a request reaches its module.
 */
import type { IncomingMessage } from 'node:http';
import type { ApiName, EmuResponse } from './contract.js';
import { apiError } from './errors.js';
import type { FaultSettings, WriteThrottle } from './faults.js';
import type { EmulatorTokens } from './tokens.js';

const WRITE_METHODS = new Set(['PUT', 'PATCH', 'DELETE', 'POST']);
const THROTTLED_APIS = new Set<ApiName>(['arm', 'authorization']);

export class RateLimits {
  constructor(
    private readonly faults: FaultSettings,
    private readonly throttle: WriteThrottle,
    private readonly tokens: EmulatorTokens,
  ) {}

  /**
   * ARM's token buckets (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
   * "Regional throttling and token bucket algorithm"): per principal, per subscription (or the tenant,
   * for requests without a subscription id) and per operation kind — reads 250 burst then 25/s, writes
   * and deletes 200 then 10/s each — plus a subscription-wide bucket 15 times as large for all
   * principals together. Every response carries what is left ("Remaining requests"):
   * `x-ms-ratelimit-remaining-{subscription|tenant}-{reads|writes|deletes}`,
   * `x-ms-ratelimit-remaining-subscription-global-{kind}` (the subscription-wide bucket: ARM answers
   * 3749 global reads after one read, 250 × 15 − 1), and on requests a resource provider
   * serves `x-ms-ratelimit-remaining-subscription-resource-requests` (collection reads:
   * `-resource-entities-read`), which mirror the subscription bucket: the emulated providers set no
   * limits of their own. A write or delete over the limit is a 429; a read only when `throttle.reads.enforce`.
   */
  answer(api: ApiName, req: IncomingMessage, path: string): EmuResponse | { headers: Record<string, string> } {
    const cfg = this.faults.current().throttle;
    if (api === 'resourceGraph') return { headers: this.resourceGraphQuota(req) };
    if (!THROTTLED_APIS.has(api)) return { headers: {} };
    const method = (req.method ?? 'GET').toUpperCase();
    const kind = !WRITE_METHODS.has(method) ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
    const subscription = /^\/+subscriptions\/([^/?]+)/i.exec(path)?.[1]?.toLowerCase();
    const scope = subscription ? 'subscription' : 'tenant';
    const limits =
      kind === 'reads'
        ? { burst: cfg.reads?.burst ?? 250, refillPerSecond: cfg.reads?.refillPerSecond ?? 25 }
        : { burst: cfg.burst, refillPerSecond: cfg.refillPerSecond };
    const enforced = cfg.enabled && (kind !== 'reads' || cfg.reads?.enforce === true);
    const principal = this.tokens.peek(req.headers.authorization)?.oid ?? 'anonymous';
    // With throttling off nothing is counted: every bucket stays full.
    const own = cfg.enabled
      ? this.throttle.take(`${principal}|${subscription ?? 'tenant'}|${kind}`, limits)
      : { ok: true as const, remaining: limits.burst };
    // "Requests are throttled if the global, service principal, or tenant specific limits are exceeded."
    // A request refused by its own bucket takes nothing from the global one; one served anyway (an unenforced read) does.
    const global =
      cfg.enabled && subscription && (own.ok || !enforced)
        ? this.throttle.take(`*|${subscription}|${kind}`, { burst: limits.burst * 15, refillPerSecond: limits.refillPerSecond * 15 })
        : undefined;
    const taken = own.ok && global && !global.ok ? global : own;
    const remaining = own.ok ? own.remaining : 0;
    const header = `x-ms-ratelimit-remaining-${scope}-${kind}`;
    if (!taken.ok && enforced) {
      // https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling#error-code
      const operation = kind === 'reads' ? 'Read' : kind === 'deletes' ? 'Delete' : 'Write';
      return apiError(
        api,
        429,
        'TooManyRequests',
        `The request is being throttled as the limit has been reached for operation type - ${operation}.`,
        {
          'Retry-After': String(taken.retryAfterSeconds),
          [header]: '0',
        },
      );
    }
    const headers: Record<string, string> = { [header]: String(remaining) };
    if (subscription)
      headers[`x-ms-ratelimit-remaining-subscription-global-${kind}`] = String(
        !cfg.enabled ? limits.burst * 15 : global?.ok ? global.remaining : 0,
      );
    const provider = /\/providers\/(?!Microsoft\.Resources\/)[^/]+\/(.+)$/i.exec(path);
    if (subscription && provider) {
      const segments = provider[1]!.split('/').filter(Boolean);
      const isCollection = kind === 'reads' && segments.length % 2 === 1;
      headers[
        isCollection
          ? 'x-ms-ratelimit-remaining-subscription-resource-entities-read'
          : 'x-ms-ratelimit-remaining-subscription-resource-requests'
      ] = String(remaining);
    }
    return { headers };
  }

  /** Resource Graph's window per user: 15 queries per 5 seconds. */
  private readonly graphWindows = new Map<string, { start: number; used: number }>();

  /**
   * What Resource Graph adds to every query response
   * (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests):
   * `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss) for the caller's window
   * of 15 queries per 5 seconds. Reported only: queries over the quota are not refused (inject 429s with
   * `errors: { resourceGraph: { "429": rate } }`).
   */
  private resourceGraphQuota(req: IncomingMessage): Record<string, string> {
    const principal = this.tokens.peek(req.headers.authorization)?.oid ?? 'anonymous';
    const now = Date.now();
    const w = this.graphWindows.get(principal);
    const window = w && now - w.start < 5000 ? w : { start: now, used: 0 };
    window.used += 1;
    this.graphWindows.set(principal, window);
    const resetsIn = Math.max(0, Math.ceil((window.start + 5000 - now) / 1000));
    return {
      'x-ms-user-quota-remaining': String(Math.max(0, 15 - window.used)),
      'x-ms-user-quota-resets-after': `00:00:${String(resetsIn).padStart(2, '0')}`,
    };
  }
}
