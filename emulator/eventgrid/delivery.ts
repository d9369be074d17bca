/**
 * Event Grid delivery to webhooks: validation handshake first, then one event per POST with
 * `aeg-event-type: Notification`, retries with exponential backoff while the subscriber answers
 * non-2xx or is unreachable, then dead-letter. Duplicates and reordering can be injected.
 * Handshake and headers: https://learn.microsoft.com/azure/event-grid/webhook-event-delivery
 * Retry and dead-letter: https://learn.microsoft.com/azure/event-grid/delivery-and-retry
 * (400 and 413 are not retried).
 */
import { randomUUID } from 'node:crypto';
import type { EventDeliveryFaults, GridEvent } from '../core/contract.js';
import { matchesFilter, toCloudEvent, type EventFilter } from './filters.js';

export const EVENT_SCHEMAS = ['EventGridSchema', 'CloudEventSchemaV1_0'] as const;
export type EventSchema = (typeof EVENT_SCHEMAS)[number];

export interface EventSubscription extends EventFilter {
  readonly name: string;
  readonly endpoint: string;
  readonly schema: EventSchema;
  readonly createdAt: string;
}

export interface DeliveryOptions {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** 0..1: chance a delivered event is delivered again. */
  duplicateRate: number;
  /** 0..1: chance an event is held back so later events overtake it. */
  reorderRate: number;
  reorderDelayMs: number;
  /** Each ResourceWriteSuccess is published twice (as an ARM template deployment does). */
  duplicateWriteEvents: boolean;
  requestTimeoutMs: number;
  /** Seed for the duplicate/reorder dice, so a failing run can be replayed. */
  randomSeed: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = {
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 2000,
  duplicateRate: 0,
  reorderRate: 0,
  reorderDelayMs: 100,
  duplicateWriteEvents: false,
  requestTimeoutMs: 5000,
  randomSeed: 1,
};

export interface DeliveryRecord {
  readonly eventId: string;
  readonly eventType: string;
  readonly subject: string;
  readonly subscription: string;
  readonly attempt: number;
  readonly status: number | 'unreachable';
  readonly outcome: 'delivered' | 'retrying' | 'deadLettered';
  readonly duplicate: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly error?: string;
}

export interface DeadLetter {
  readonly event: GridEvent;
  readonly subscription: string;
  readonly reason: 'MaxDeliveryAttemptsExceeded' | 'NonRetriableStatus';
  readonly attempts: number;
  readonly lastStatus: number | 'unreachable';
  readonly deadLetteredAt: string;
}

export class SubscriptionValidationError extends Error {
  override readonly name = 'SubscriptionValidationError';
}

/** mulberry32: small seeded PRNG for the fault dice. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class EventGridBroker {
  readonly subscriptions = new Map<string, EventSubscription>();
  readonly published: GridEvent[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  readonly deadLetters: DeadLetter[] = [];
  options: DeliveryOptions = { ...DEFAULT_DELIVERY_OPTIONS };
  private pending = 0;
  private waiters: (() => void)[] = [];
  private dice = rng(this.options.randomSeed);
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly now: () => Date = () => new Date(),
    /** The core's `/admin/faults` events section; the larger of it and this module's own rates applies. */
    private readonly faults: () => EventDeliveryFaults | undefined = () => undefined,
  ) {}

  private rate(key: 'duplicateRate' | 'reorderRate'): number {
    return Math.max(this.options[key], this.faults()?.[key] ?? 0);
  }

  setOptions(patch: Partial<DeliveryOptions>): void {
    Object.assign(this.options, patch);
    if (patch.randomSeed !== undefined) this.dice = rng(patch.randomSeed);
  }

  /** Creates or replaces a subscription after the endpoint passes the validation handshake. */
  async upsertSubscription(sub: Omit<EventSubscription, 'createdAt'>, validate = true): Promise<EventSubscription> {
    if (validate) await this.validate(sub);
    const full = { ...sub, createdAt: this.now().toISOString() };
    this.subscriptions.set(sub.name, full);
    return full;
  }

  private async validate(sub: Omit<EventSubscription, 'createdAt'>): Promise<void> {
    const signal = AbortSignal.timeout(this.options.requestTimeoutMs);
    if (sub.schema === 'CloudEventSchemaV1_0') {
      // CloudEvents abuse protection: https://github.com/cloudevents/spec/blob/v1.0/http-webhook.md#4-abuse-protection
      const res = await fetch(sub.endpoint, {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
        signal,
      }).catch((e: Error) => {
        throw new SubscriptionValidationError(`Webhook validation handshake failed for ${sub.endpoint}: ${e.message}`);
      });
      const allowed = res.headers.get('webhook-allowed-origin');
      if (!res.ok || (allowed !== '*' && allowed?.toLowerCase() !== 'eventgrid.azure.net'))
        throw new SubscriptionValidationError(
          `Webhook validation handshake failed for ${sub.endpoint}. Http OPTIONS request returned ${res.status} without WebHook-Allowed-Origin.`,
        );
      return;
    }
    const code = randomUUID();
    const event = [
      {
        id: randomUUID(),
        topic: '/subscriptions/emulator',
        subject: '',
        data: { validationCode: code, validationUrl: `${sub.endpoint}#validation-url-not-supported` },
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: this.now().toISOString(),
        metadataVersion: '1',
        dataVersion: '2',
      },
    ];
    const res = await fetch(sub.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'aeg-event-type': 'SubscriptionValidation',
        'aeg-subscription-name': sub.name.toUpperCase(),
      },
      body: JSON.stringify(event),
      signal,
    }).catch((e: Error) => {
      throw new SubscriptionValidationError(`Webhook validation handshake failed for ${sub.endpoint}: ${e.message}`);
    });
    const text = await res.text();
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (!res.ok || (answer as { validationResponse?: unknown } | undefined)?.validationResponse !== code)
      throw new SubscriptionValidationError(
        `Webhook validation handshake failed for ${sub.endpoint}. Http POST request returned ${res.status} with response body ${text.slice(0, 200)}; expected {"validationResponse":"${code}"}.`,
      );
  }

  /** Fans the event out to every matching subscription. */
  publish(event: GridEvent): void {
    const copies = [event];
    if (this.options.duplicateWriteEvents && event.eventType === 'Microsoft.Resources.ResourceWriteSuccess')
      copies.push({ ...event, id: randomUUID() });
    for (const e of copies) {
      this.published.push(e);
      for (const sub of this.subscriptions.values()) {
        if (!matchesFilter(sub, e)) continue;
        if ((this.faults()?.dropRate ?? 0) > 0 && this.dice() < this.faults()!.dropRate) {
          this.deadLetters.push({
            event: e,
            subscription: sub.name,
            reason: 'MaxDeliveryAttemptsExceeded',
            attempts: 0,
            lastStatus: 'unreachable',
            deadLetteredAt: this.now().toISOString(),
          });
          continue;
        }
        const hold = (this.dice() < this.rate('reorderRate') ? this.options.reorderDelayMs : 0) + (this.faults()?.delayMs ?? 0);
        this.schedule(hold, () => this.attempt(sub, e, 1, false));
      }
    }
  }

  private schedule(ms: number, fn: () => Promise<void>): void {
    this.pending++;
    const run = () => fn().finally(() => this.done());
    if (ms <= 0) {
      queueMicrotask(() => void run());
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      void run();
    }, ms);
    this.timers.add(t);
  }

  private done(): void {
    this.pending--;
    if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
  }

  private async attempt(sub: EventSubscription, event: GridEvent, attempt: number, duplicate: boolean): Promise<void> {
    if (!this.subscriptions.has(sub.name)) return;
    const startedAt = this.now().toISOString();
    const cloud = sub.schema === 'CloudEventSchemaV1_0';
    let status: number | 'unreachable' = 'unreachable';
    let error: string | undefined;
    try {
      const res = await fetch(sub.endpoint, {
        method: 'POST',
        headers: {
          'content-type': cloud ? 'application/cloudevents+json; charset=utf-8' : 'application/json',
          'aeg-event-type': 'Notification',
          'aeg-subscription-name': sub.name.toUpperCase(),
          'aeg-delivery-count': String(attempt - 1),
          'aeg-data-version': event.dataVersion,
          'aeg-metadata-version': event.metadataVersion,
        },
        body: JSON.stringify(cloud ? toCloudEvent(event) : [event]),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      error = (e as Error).message;
    }
    const ok = typeof status === 'number' && status >= 200 && status < 300;
    const nonRetriable = status === 400 || status === 413;
    const exhausted = attempt >= this.options.maxAttempts;
    const outcome = ok ? 'delivered' : nonRetriable || exhausted ? 'deadLettered' : 'retrying';
    this.deliveries.push({
      eventId: event.id,
      eventType: event.eventType,
      subject: event.subject,
      subscription: sub.name,
      attempt,
      status,
      outcome,
      duplicate,
      startedAt,
      finishedAt: this.now().toISOString(),
      ...(error ? { error } : {}),
    });
    if (ok) {
      if (!duplicate && this.dice() < this.rate('duplicateRate')) this.schedule(0, () => this.attempt(sub, event, 1, true));
      return;
    }
    if (outcome === 'deadLettered') {
      this.deadLetters.push({
        event,
        subscription: sub.name,
        reason: nonRetriable ? 'NonRetriableStatus' : 'MaxDeliveryAttemptsExceeded',
        attempts: attempt,
        lastStatus: status,
        deadLetteredAt: this.now().toISOString(),
      });
      return;
    }
    const backoff = Math.min(this.options.initialBackoffMs * 2 ** (attempt - 1), this.options.maxBackoffMs);
    this.schedule(backoff, () => this.attempt(sub, event, attempt + 1, duplicate));
  }

  /** Resolves true when nothing is pending (no delivery in flight or waiting to retry), false on timeout. */
  whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      const waiter = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.waiters.push(waiter);
    });
  }

  get pendingCount(): number {
    return this.pending;
  }

  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.subscriptions.clear();
    this.published.length = 0;
    this.deliveries.length = 0;
    this.deadLetters.length = 0;
    this.options = { ...DEFAULT_DELIVERY_OPTIONS };
    this.dice = rng(this.options.randomSeed);
    this.pending = 0;
    for (const w of this.waiters.splice(0)) w();
  }
}
