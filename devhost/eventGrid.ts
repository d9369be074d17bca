/**
 * The Event Grid webhook the Functions Event Grid extension serves at
 * `/runtime/webhooks/eventgrid?functionName=<name>`: Event Grid schema deliveries (a JSON array,
 * `aeg-event-type: Notification`), the subscription-validation handshake, and CloudEvents 1.0
 * (structured single `application/cloudevents+json` or batch `application/cloudevents-batch+json`).
 * https://learn.microsoft.com/azure/event-grid/webhook-event-delivery
 * https://learn.microsoft.com/azure/event-grid/end-point-validation-cloud-events-schema
 */
export const SUBSCRIPTION_VALIDATION_EVENT = 'Microsoft.EventGrid.SubscriptionValidationEvent';

export type EventGridDelivery =
  | { readonly kind: 'validation'; readonly validationCode: string }
  | {
      readonly kind: 'events';
      readonly schema: 'EventGridSchema' | 'CloudEventSchemaV1_0';
      readonly events: readonly Record<string, unknown>[];
    }
  | { readonly kind: 'subscriptionDeletion' }
  | { readonly kind: 'invalid'; readonly message: string };

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const header = (headers: Headers, name: string): string => {
  const value = headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads one webhook POST; malformed input comes back as `{ kind: 'invalid' }`, never a throw. */
export function parseEventGridDelivery(headers: Headers, body: string): EventGridDelivery {
  const contentType = header(headers, 'content-type').toLowerCase();
  const eventType = header(headers, 'aeg-event-type');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'invalid', message: 'The request body is not JSON.' };
  }

  if (contentType.startsWith('application/cloudevents-batch+json')) {
    if (!Array.isArray(parsed)) return { kind: 'invalid', message: 'A CloudEvents batch must be a JSON array.' };
    return cloudEvents(parsed);
  }
  if (contentType.startsWith('application/cloudevents+json')) return cloudEvents([parsed]);
  if (isObject(parsed) && 'specversion' in parsed) return cloudEvents([parsed]);

  if (!Array.isArray(parsed)) return { kind: 'invalid', message: 'An Event Grid delivery must be a JSON array of events.' };
  if (eventType === 'SubscriptionDeletion') return { kind: 'subscriptionDeletion' };
  if (eventType === 'SubscriptionValidation') {
    const first = parsed[0];
    const code = isObject(first) && isObject(first['data']) ? first['data']['validationCode'] : undefined;
    if (parsed.length !== 1 || !isObject(first) || first['eventType'] !== SUBSCRIPTION_VALIDATION_EVENT || typeof code !== 'string') {
      return { kind: 'invalid', message: `A validation request is one ${SUBSCRIPTION_VALIDATION_EVENT} with data.validationCode.` };
    }
    return { kind: 'validation', validationCode: code };
  }
  if (eventType !== 'Notification') return { kind: 'invalid', message: `Unknown aeg-event-type "${eventType}".` };
  for (const [i, event] of parsed.entries()) {
    if (!isObject(event)) return { kind: 'invalid', message: `Event ${i} is not an object.` };
    for (const field of ['id', 'eventType', 'subject', 'eventTime', 'dataVersion'] as const) {
      if (typeof event[field] !== 'string') return { kind: 'invalid', message: `Event ${i} has no string "${field}".` };
    }
  }
  return { kind: 'events', schema: 'EventGridSchema', events: parsed as Record<string, unknown>[] };
}

function cloudEvents(events: unknown[]): EventGridDelivery {
  for (const [i, event] of events.entries()) {
    if (!isObject(event)) return { kind: 'invalid', message: `CloudEvent ${i} is not an object.` };
    if (event['specversion'] !== '1.0')
      return { kind: 'invalid', message: `CloudEvent ${i} has specversion ${JSON.stringify(event['specversion'])}, expected "1.0".` };
    for (const field of ['id', 'source', 'type'] as const) {
      if (typeof event[field] !== 'string') return { kind: 'invalid', message: `CloudEvent ${i} has no string "${field}".` };
    }
  }
  return { kind: 'events', schema: 'CloudEventSchemaV1_0', events: events as Record<string, unknown>[] };
}
