/**
 * Deserializes one delivered Event Grid event (Event Grid schema or CloudEvents 1.0) with the
 * SDK's validating deserializer, so only src/azure/ imports `@azure/eventgrid`. The envelope is
 * all this answers: what the event says is for the caller to judge.
 */
import { EventGridDeserializer } from '@azure/eventgrid';

/** The envelope fields the resource-event parser reads, whichever schema delivered them. */
export interface EventEnvelope {
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  readonly time?: string;
}

const deserializer = new EventGridDeserializer();

/** Validates and reads one event; undefined when the batch is empty, a throw (with the SDK's words) when it is not valid for its schema. */
export async function deserializeEvent(
  input: Record<string, unknown>,
  schema: 'CloudEventSchemaV1_0' | 'EventGridSchema',
): Promise<EventEnvelope | undefined> {
  if (schema === 'CloudEventSchemaV1_0') {
    const [event] = await deserializer.deserializeCloudEvents(withStringTimes(input, 'time'));
    if (!event) return undefined;
    const time = event.time?.toISOString();
    return { id: event.id, type: event.type, data: event.data, ...(time ? { time } : {}) };
  }
  const [event] = await deserializer.deserializeEventGridEvents(withStringTimes(input, 'eventTime'));
  if (!event) return undefined;
  return { id: event.id, type: event.eventType, data: event.data, time: event.eventTime.toISOString() };
}

/** The Functions host may hand over times as Date objects; the deserializer validates strings. */
function withStringTimes(event: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = event[key];
  return value instanceof Date ? { ...event, [key]: value.toISOString() } : event;
}
