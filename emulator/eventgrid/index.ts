/**
 * The Event Grid module: provides the `events` service (every module publishes through it) and
 * delivers to webhook subscriptions managed through the admin API:
 *
 *   PUT    /admin/eventgrid/subscriptions/{name}  { endpoint, includedEventTypes?, subjectBeginsWith?,
 *          subjectEndsWith?, advancedFilters?: [{ operatorType, key, values }], schema?, validate? }
 *   GET    /admin/eventgrid/subscriptions          DELETE /admin/eventgrid/subscriptions/{name}
 *   GET    /admin/eventgrid/deliveries             GET /admin/eventgrid/deadletters
 *   GET    /admin/eventgrid/events                 (everything published)
 *   GET|PUT /admin/eventgrid/options               (retries, duplicate/reorder rates, duplicateWriteEvents)
 *   POST   /admin/eventgrid/idle?timeoutMs=10000   200 when nothing is pending, 503 on timeout
 */
import type { EmulatorContext, EmulatorModule, RegisterModule } from '../core/contract.js';
import { EVENT_SCHEMAS, EventGridBroker, SubscriptionValidationError, type DeliveryOptions, type EventSchema } from './delivery.js';

export { EventGridBroker } from './delivery.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const registerEventGrid: RegisterModule = (ctx: EmulatorContext): EmulatorModule => {
  const broker = new EventGridBroker(
    () => ctx.clock.now(),
    () => ctx.faults?.current().events,
  );
  ctx.services.provide('events', { publish: (e) => broker.publish(e) });
  const r = ctx.router;
  const bad = (message: string) => ({ status: 400, body: { error: { code: 'InvalidRequest', message } } });

  const upsert = async (name: string, body: unknown) => {
    if (!isObject(body) || typeof body.endpoint !== 'string') return bad('endpoint (the webhook URL) is required.');
    const schema = (body.schema ?? 'EventGridSchema') as EventSchema;
    if (!EVENT_SCHEMAS.includes(schema)) return bad(`schema must be one of ${EVENT_SCHEMAS.join(', ')}.`);
    try {
      const sub = await broker.upsertSubscription(
        {
          name,
          endpoint: body.endpoint,
          schema,
          includedEventTypes: Array.isArray(body.includedEventTypes) ? body.includedEventTypes.map(String) : undefined,
          subjectBeginsWith: typeof body.subjectBeginsWith === 'string' ? body.subjectBeginsWith : undefined,
          subjectEndsWith: typeof body.subjectEndsWith === 'string' ? body.subjectEndsWith : undefined,
          advancedFilters: Array.isArray(body.advancedFilters) ? (body.advancedFilters as never[]) : undefined,
        },
        body.validate !== false,
      );
      return { status: 200, body: sub };
    } catch (e) {
      if (e instanceof SubscriptionValidationError) return { status: 400, body: { error: { code: 'Url validation', message: e.message } } };
      throw e;
    }
  };

  r.add('admin', 'PUT', /^\/admin\/eventgrid\/subscriptions\/(?<name>[^/]+)$/, (q) => upsert(q.params.name ?? '', q.body));
  r.add('admin', 'GET', /^\/admin\/eventgrid\/subscriptions$/, () => ({
    status: 200,
    body: { value: [...broker.subscriptions.values()] },
  }));
  r.add('admin', 'DELETE', /^\/admin\/eventgrid\/subscriptions\/(?<name>[^/]+)$/, (q) => {
    broker.subscriptions.delete(q.params.name ?? '');
    return { status: 204 };
  });
  r.add('admin', 'GET', /^\/admin\/eventgrid\/deliveries$/, () => ({ status: 200, body: { value: broker.deliveries } }));
  r.add('admin', 'GET', /^\/admin\/eventgrid\/deadletters$/, () => ({ status: 200, body: { value: broker.deadLetters } }));
  r.add('admin', 'GET', /^\/admin\/eventgrid\/events$/, () => ({ status: 200, body: { value: broker.published } }));
  r.add('admin', 'GET', /^\/admin\/eventgrid\/options$/, () => ({ status: 200, body: broker.options }));
  r.add('admin', 'PUT', /^\/admin\/eventgrid\/options$/, (q) => {
    if (isObject(q.body)) broker.setOptions(q.body as Partial<DeliveryOptions>);
    return { status: 200, body: broker.options };
  });
  r.add('admin', 'POST', /^\/admin\/eventgrid\/idle$/, async (q) => {
    const idle = await broker.whenIdle(Number(q.url.searchParams.get('timeoutMs') ?? '10000'));
    return { status: idle ? 200 : 503, body: { idle, pending: broker.pendingCount } };
  });

  return {
    name: 'eventgrid',
    snapshot: () => ({
      subscriptions: [...broker.subscriptions.values()],
      published: broker.published,
      deliveries: broker.deliveries,
      deadLetters: broker.deadLetters,
      options: broker.options,
      pending: broker.pendingCount,
    }),
    seed: async (scenario) => {
      const s = isObject(scenario.eventgrid) ? scenario.eventgrid : scenario;
      if (isObject(s.options)) broker.setOptions(s.options as Partial<DeliveryOptions>);
      for (const sub of Array.isArray(s.subscriptions) ? s.subscriptions : []) if (isObject(sub)) await upsert(String(sub.name), sub);
    },
    reset: () => broker.reset(),
  };
};
