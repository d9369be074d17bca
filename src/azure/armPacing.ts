/**
 * Pacing of ARM requests on what ARM says is left, so a burst of events spends the subscription's
 * token buckets instead of answering 429s.
 *
 * ARM throttles with a token bucket per region, subscription (or tenant), principal and kind —
 * reads 250 then 25/s, writes and deletes 200 then 10/s — and sends what is left on every
 * response, not only on 429: `x-ms-ratelimit-remaining-subscription-{reads|writes|deletes}`
 * (`-tenant-` without a subscription) and `-subscription-global-{kind}` for the bucket all
 * principals share (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
 * "Regional throttling and token bucket algorithm" and "Remaining requests"). A 429 carries
 * `Retry-After` (seconds).
 *
 * One pacer per process, its policy in every ARM client's pipeline (per retry, so the SDK's own
 * retries are paced too). Per (subscription, kind) it keeps the last remaining count seen and
 * any open Retry-After window, and before a request is sent:
 * - waits out an open Retry-After window (every invocation in the process waits, not only the one
 *   that was refused) — when the bucket was low or unknown; a 429 while the count said plenty was
 *   left is another limit's, and only the refused request waits;
 * - keeps no more requests in flight than a quarter of what is left, so up to four processes
 *   draining the same bucket at once cannot overdraw it before they hear back;
 * - spaces requests when what is left falls under a small reserve, one token's worth of the refill
 *   this process measures apart (the count's growth plus what it spent: ARM's refill less what the
 *   other instances spend, since the count is the principal's and shared), wider when the count
 *   reaches zero, narrower when it rises again: each instance slows down on the same signal and
 *   together they settle on the refill without knowing it or how many instances there are;
 * - serves the oldest event first (`withArmPriority`), so requests of events already under way are
 *   not queued behind the first requests of every later event;
 * - gives up after `maxWaitMs` with a TransientAzureError (Event Grid redelivers the event later),
 *   rather than holding a delivery past Event Grid's 30 s response timeout.
 * Nothing here retries: the SDK's retry policies do, with Retry-After.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PipelinePolicy, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { TransientAzureError } from '../errors.js';

export const ARM_REQUEST_KINDS = { reads: 'reads', writes: 'writes', deletes: 'deletes' } as const;
export type ArmRequestKind = (typeof ARM_REQUEST_KINDS)[keyof typeof ARM_REQUEST_KINDS];

/**
 * The longest a request waits for its turn by default: under Event Grid's 30 s response timeout
 * (https://learn.microsoft.com/azure/event-grid/delivery-and-retry) with room for the rest of the invocation.
 */
export const DEFAULT_MAX_PACING_WAIT_MS = 20_000;
/** Below this many left (a quarter of the bucket at most), requests are spaced; the spacing narrows again at twice as many. */
const RESERVE = 10;
/** The narrowest spacing kept (ms; below it, none) and the widest (ms). */
const MIN_SPACING_MS = 5;
const MAX_SPACING_MS = 5_000;
/** Until this process has measured the refill, the spacing starts at ARM's documented refill: 25 reads, 10 writes or deletes a second. */
const DOCUMENTED_SPACING_MS: Readonly<Record<ArmRequestKind, number>> = { reads: 40, writes: 100, deletes: 100 };
/** In flight at most remaining / SHARE: safe for up to SHARE processes spending one bucket. */
const SHARE = 4;

export interface ArmPacerOptions {
  /** Longest wait for a turn before the request is given up with a TransientAzureError. */
  readonly maxWaitMs?: number;
}

/** What the pacer knows of one bucket, for tests and logs. */
export interface BucketView {
  readonly key: string;
  readonly remaining?: number;
  readonly spacingMs: number;
  readonly blockedForMs: number;
  readonly inFlight: number;
  readonly waiting: number;
}

export interface ArmPacer {
  /** The pipeline policy; add it per retry to every ARM client. */
  readonly policy: PipelinePolicy;
  /** The buckets seen so far. */
  buckets(): BucketView[];
  /** Whether requests like this one are being held back now (waiting, spaced, or in a Retry-After window). */
  isPacing(url: string, method: string): boolean;
}

const turns = new AsyncLocalStorage<{ readonly priority: number; readonly deadline?: number }>();

/**
 * Runs `work` with its ARM requests ranked by `priority` (smaller first; an event's time): a burst
 * finishes the events it started before it starts more. Without it, a request ranks by when it asked.
 * With `deadline` (epoch ms), no request of `work` waits for its turn past it: the whole invocation,
 * not each request, stays within what its caller waits for (Event Grid: 30 s).
 */
export function withArmPriority<T>(priority: number, work: () => Promise<T>, options: { deadline?: number } = {}): Promise<T> {
  return turns.run(
    {
      priority: Number.isFinite(priority) ? priority : Date.now(),
      ...(options.deadline !== undefined ? { deadline: options.deadline } : {}),
    },
    work,
  );
}

interface Waiter {
  readonly priority: number;
  readonly seq: number;
  readonly go: () => void;
}

interface Bucket {
  readonly key: string;
  remaining?: number;
  /** The most ever seen left: the bucket's size, near enough. */
  full: number;
  /** How fast the count grows for this process (tokens per ms): refill less what other instances spend. */
  refillPerMs?: number;
  /** The last point the refill was measured from: when, how many were left, and how many sent since. */
  sample?: { at: number; left: number; sent: number };
  /** Whether a request through this bucket was answered yet (an endpoint that sends no count is not paced). */
  known: boolean;
  /** A request is out to learn the count: until it answers, one at a time. */
  probing: boolean;
  spacingMs: number;
  lastSentAt: number;
  blockedUntil: number;
  inFlight: number;
  queue: Waiter[];
  timer?: NodeJS.Timeout;
}

/** Creates the process's pacer (deps.ts builds one and hands it to every ARM client). */
export function createArmPacer(options: ArmPacerOptions = {}): ArmPacer {
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_PACING_WAIT_MS;
  const buckets = new Map<string, Bucket>();
  let seq = 0;

  const bucketFor = (key: string): Bucket => {
    let b = buckets.get(key);
    if (!b) {
      b = { key, full: 0, known: false, probing: false, spacingMs: 0, lastSentAt: 0, blockedUntil: 0, inFlight: 0, queue: [] };
      buckets.set(key, b);
    }
    return b;
  };

  const mayStart = (b: Bucket): number => {
    const now = Date.now();
    if (now < b.blockedUntil) return b.blockedUntil - now;
    if (b.remaining === undefined) {
      // Nothing known yet: one request learns the count. A bucket ARM does not count is not paced.
      return b.known || !b.probing ? 0 : Infinity;
    }
    if (b.inFlight >= Math.max(1, Math.floor(b.remaining / SHARE))) return Infinity;
    if (b.spacingMs > 0 && now < b.lastSentAt + b.spacingMs) return b.lastSentAt + b.spacingMs - now;
    return 0;
  };

  const pump = (b: Bucket): void => {
    if (b.timer) {
      clearTimeout(b.timer);
      b.timer = undefined;
    }
    while (b.queue.length > 0) {
      const wait = mayStart(b);
      if (wait === Infinity) return; // an answer in flight will pump again
      if (wait > 0) {
        b.timer = setTimeout(() => pump(b), wait);
        return;
      }
      const next = b.queue.shift()!;
      if (b.remaining === undefined && !b.known) b.probing = true;
      b.inFlight++;
      b.lastSentAt = Date.now();
      if (b.sample) b.sample.sent++;
      if (b.remaining !== undefined) b.remaining = Math.max(0, b.remaining - 1);
      next.go();
    }
  };

  const turn = (b: Bucket, priority: number, waitMs: number, signal: PipelineRequest['abortSignal']): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let timeout: NodeJS.Timeout | undefined;
      const leave = () => {
        const i = b.queue.indexOf(waiter);
        if (i >= 0) b.queue.splice(i, 1);
        if (timeout) clearTimeout(timeout);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        leave();
        reject((signal as { reason?: unknown } | undefined)?.reason ?? new Error('The operation was aborted.'));
      };
      const waiter: Waiter = {
        priority,
        seq: seq++,
        go: () => {
          if (timeout) clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      // Ordered by priority, then by arrival.
      let at = b.queue.length;
      while (at > 0 && b.queue[at - 1]!.priority > priority) at--;
      b.queue.splice(at, 0, waiter);
      timeout = setTimeout(() => {
        leave();
        reject(
          new TransientAzureError(
            'ArmThrottled',
            `ARM's ${b.key.split('|')[1]} limit for ${b.key.split('|')[0]} left no turn within ${Math.round(waitMs / 1000)} s; the event will be redelivered`,
          ),
        );
        pump(b);
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      pump(b);
    });

  const learn = (b: Bucket, response: PipelineResponse | undefined): void => {
    b.inFlight = Math.max(0, b.inFlight - 1);
    b.probing = false;
    if (!response) return;
    b.known = true;
    const kind = b.key.split('|')[1];
    const counts = [
      `x-ms-ratelimit-remaining-subscription-${kind}`,
      `x-ms-ratelimit-remaining-tenant-${kind}`,
      `x-ms-ratelimit-remaining-subscription-global-${kind}`,
    ]
      .map((h) => response.headers.get(h))
      .filter((v): v is string => v !== undefined && v.trim() !== '' && Number.isFinite(Number(v)))
      .map(Number);
    const now = Date.now();
    if (response.status === 429) {
      // Refused while the count said plenty was left: not this bucket running dry (a resource
      // provider's own limit, or another throttle), so only the refused request waits, through the SDK's retry.
      if (b.remaining !== undefined && b.remaining >= reserveOf(b)) return;
      const waitMs = retryAfterMs(response) ?? 1000;
      b.blockedUntil = Math.max(b.blockedUntil, now + waitMs);
      b.remaining = 0;
      b.spacingMs = Math.min(MAX_SPACING_MS, Math.max(shareOf(b), b.spacingMs * 2));
      return;
    }
    if (counts.length === 0) return;
    const left = Math.min(...counts);
    b.remaining = left;
    b.full = Math.max(b.full, left);
    // What came back beside what was spent, over at least a second (the count is whole tokens), while
    // the bucket was below its top (a full bucket refills nothing): this process's share of the refill.
    if (!b.sample || left >= b.full) b.sample = { at: now, left, sent: 0 };
    else if (now - b.sample.at >= 1000) {
      const measured = (left - b.sample.left + b.sample.sent) / (now - b.sample.at);
      if (measured > 0) b.refillPerMs = b.refillPerMs === undefined ? measured : 0.7 * b.refillPerMs + 0.3 * measured;
      b.sample = { at: now, left, sent: 0 };
    }
    const reserve = reserveOf(b);
    const widen = (factor: number) => Math.min(MAX_SPACING_MS, Math.max(MIN_SPACING_MS, b.spacingMs * factor));
    // Empty: widen fast. Under the reserve: one token's worth of refill. Twice the reserve: narrow; at its top: narrow fast.
    // Every instance reads the same count, so together they settle on the refill.
    // Once this process has measured its share of the refill, no wider than 1.5 times it: wider only
    // lets the bucket fill up unused (a small bucket would otherwise spiral to the widest spacing).
    const share = shareOf(b);
    const cap = b.refillPerMs ? 1.5 * share : 8 * share;
    if (left === 0) b.spacingMs = Math.min(cap, Math.max(share, widen(2)));
    else if (left < reserve)
      b.spacingMs = Math.min(cap, Math.max(share, b.spacingMs * 0.9)); // back toward one token's worth
    else if (left >= b.full)
      b.spacingMs = b.spacingMs / 2 < MIN_SPACING_MS ? 0 : b.spacingMs / 2; // at its top: refill going to waste
    else if (left >= 2 * reserve) b.spacingMs = b.spacingMs * 0.75 < MIN_SPACING_MS ? 0 : b.spacingMs * 0.75;
  };

  /** Below this many left the bucket is spaced: ten, or a quarter of a smaller bucket. */
  const reserveOf = (b: Bucket): number => Math.max(1, Math.min(RESERVE, Math.floor(b.full / 4)));

  /** One token's worth of this process's refill (ms): measured, or ARM's documented rate until then. */
  // A measured share is trusted down to one token a second (ARM refills 10 or 25): a low measure must not stall the bucket.
  const shareOf = (b: Bucket): number =>
    Math.min(1000, b.refillPerMs ? 1 / b.refillPerMs : (DOCUMENTED_SPACING_MS[b.key.split('|')[1] as ArmRequestKind] ?? 100));

  const policy: PipelinePolicy = {
    name: 'armPacingPolicy',
    async sendRequest(request: PipelineRequest, next) {
      const key = bucketKeyOf(request);
      if (!key) return next(request);
      const b = bucketFor(key);
      const context = turns.getStore();
      const waitMs = Math.max(0, Math.min(maxWaitMs, context?.deadline !== undefined ? context.deadline - Date.now() : maxWaitMs));
      await turn(b, context?.priority ?? Date.now(), waitMs, request.abortSignal);
      let response: PipelineResponse | undefined;
      try {
        response = await next(request);
        return response;
      } catch (error) {
        // A RestError still carries the response (and its headers) when there was one.
        response = (error as { response?: PipelineResponse }).response;
        throw error;
      } finally {
        learn(b, response);
        pump(b);
      }
    },
  };

  return {
    policy,
    isPacing(url, method) {
      const key = bucketKeyOf({ url, method });
      const b = key ? buckets.get(key) : undefined;
      return b !== undefined && (b.queue.length > 0 || b.spacingMs > 0 || b.blockedUntil > Date.now());
    },
    buckets: () =>
      [...buckets.values()].map((b) => ({
        key: b.key,
        ...(b.remaining !== undefined ? { remaining: b.remaining } : {}),
        spacingMs: b.spacingMs,
        blockedForMs: Math.max(0, b.blockedUntil - Date.now()),
        inFlight: b.inFlight,
        waiting: b.queue.length,
      })),
  };
}

/** `<subscription or "tenant">|<kind>`; undefined for what ARM's buckets do not count here (Resource Graph has its own quota). */
export function bucketKeyOf(request: { readonly url: string; readonly method: string }): string | undefined {
  let path: string;
  try {
    path = new URL(request.url).pathname;
  } catch {
    return undefined;
  }
  if (/\/providers\/microsoft\.resourcegraph\//i.test(path)) return undefined;
  const subscription = /^\/+subscriptions\/([^/]+)/i.exec(path)?.[1]?.toLowerCase() ?? 'tenant';
  const method = request.method.toUpperCase();
  const kind: ArmRequestKind = method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
  return `${subscription}|${kind}`;
}

/** `Retry-After` in seconds or as an HTTP date, or `retry-after-ms` / `x-ms-retry-after-ms`. */
function retryAfterMs(response: PipelineResponse): number | undefined {
  for (const h of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = Number(response.headers.get(h));
    if (response.headers.get(h) !== undefined && Number.isFinite(v) && v >= 0) return v;
  }
  const raw = response.headers.get('retry-after');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}
