/**
 * Smoke functions, one per trigger kind, that prove the hosting path end to end: routing,
 * payload shapes, the Event Grid handshake, failure status and timers. Real functions replace
 * them; until then tests drive these through the local host.
 */
import { app, type EventGridEvent, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';

/** Echoes what the host handed the function: route parameters, query, method and body. */
export async function smokeHttp(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await request.text();
  context.log(`smokeHttp ${request.method} ${new URL(request.url).pathname}`);
  return {
    status: 200,
    jsonBody: {
      functionName: context.functionName,
      invocationId: context.invocationId,
      method: request.method,
      params: request.params,
      query: Object.fromEntries([...request.query].filter(([name]) => name !== 'code')), // never echo the key
      body,
    },
    headers: { 'x-smoke': 'ok' },
  };
}

/** A route anyone may call: proves `anonymous` needs no key. */
export function smokeHttpAnonymous(_request: HttpRequest, context: InvocationContext): HttpResponseInit {
  return { status: 200, jsonBody: { functionName: context.functionName } };
}

/** Logs what it received (one JSON line) and throws when `data.fail === true`, so the sender retries. */
export function smokeEventGrid(event: EventGridEvent | SmokeCloudEvent, context: InvocationContext): void {
  const data = (event as { data?: unknown }).data as { fail?: unknown } | undefined;
  context.log(
    JSON.stringify({
      smoke: 'eventGrid',
      id: event.id,
      type: 'eventType' in event ? event.eventType : event.type,
      subject: event.subject,
      data,
    }),
  );
  if (data?.fail === true) throw new Error(`smokeEventGrid was asked to fail on event ${event.id}`);
}

/** The CloudEvents 1.0 fields the smoke handler reads. */
export interface SmokeCloudEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string;
  readonly data?: unknown;
}

/** Logs the timer payload it received. */
export function smokeTimer(timer: Timer, context: InvocationContext): void {
  context.log(JSON.stringify({ smoke: 'timer', isPastDue: timer.isPastDue, scheduleStatus: timer.scheduleStatus, schedule: timer.schedule }));
}

app.http('smokeHttp', { route: 'smoke/{name?}', methods: ['GET', 'POST'], authLevel: 'function', handler: smokeHttp });
app.http('smokeHttpAnonymous', { route: 'smoke-anonymous', methods: ['GET'], authLevel: 'anonymous', handler: smokeHttpAnonymous });
app.eventGrid('smokeEventGrid', { handler: smokeEventGrid as (event: EventGridEvent, context: InvocationContext) => void });
// Daily at midnight: fire it at once with POST /admin/functions/smokeTimer.
app.timer('smokeTimer', { schedule: '0 0 0 * * *', runOnStartup: false, handler: smokeTimer });
