/**
 * Parses an ARM resource event (Event Grid schema or CloudEvents 1.0) into what the resources
 * layer needs: which resource, written or deleted, by whom. Bad input is a value, not a throw.
 *
 * The event body is never trusted for the resource's state: only its id is taken, and the layer
 * re-reads ARM. Wire shape: https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions
 * (`data.resourceUri`, `data.operationName`, `data.correlationId`, `data.claims` — a flat map of
 * strings with URI-style keys).
 */
import { deserializeEvent } from '../azure/eventGridEvents.js';
import { parseResourceId, RESOURCE_ID_KINDS } from '../policy/resourceId.js';
import { isWatchedType, type WatchedResourceType } from '../policy/resourceTypes.js';
import { RESOURCE_EVENT_TYPES, TAGS_WRITE_OPERATION, isHandledOperation } from '../access/eventSubscription.js';

/** The caller's object id claim, as ARM puts it in `data.claims`. */
export const OBJECT_ID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const APP_ID_CLAIM = 'appid';

/** A handled resource event: the facts the use case acts on. */
export interface ResourceEvent {
  readonly eventId: string;
  readonly schema: 'EventGridSchema' | 'CloudEventSchemaV1_0';
  /** `write` covers create, update and tag writes; `delete` is a resource delete. */
  readonly change: 'write' | 'delete';
  readonly operationName: string;
  /** The resource acted on, in ARM spelling (tag-API suffix stripped). */
  readonly resourceId: string;
  readonly resourceType: WatchedResourceType;
  readonly subscriptionId: string;
  readonly correlationId?: string;
  /** The caller's object id, or `app:<appid>` when only an application id is known. */
  readonly caller?: string;
  readonly eventTime?: string;
}

export type ParsedResourceEvent =
  | { readonly kind: 'handled'; readonly event: ResourceEvent }
  /** Well-formed, but not for us (another type, operation or subscription): acknowledged and audited. */
  | {
      readonly kind: 'skipped';
      readonly eventId: string;
      readonly reason: string;
      readonly resourceId?: string;
      readonly correlationId?: string;
      readonly caller?: string;
    }
  /** Malformed: acknowledged and audited as rejected input, never retried. */
  | { readonly kind: 'rejected'; readonly eventId?: string; readonly reason: string };

export interface ParseOptions {
  /** Lower-cased subscription ids the app acts on; events from others are skipped. */
  readonly watchedSubscriptions: readonly string[];
}

/** Parses and validates one delivered event; answers handled, skipped (with why) or rejected (with why). */
export async function parseResourceEvent(input: unknown, options: ParseOptions): Promise<ParsedResourceEvent> {
  if (!isRecord(input)) return { kind: 'rejected', reason: 'the event is not a JSON object' };
  const rawId = typeof input['id'] === 'string' ? input['id'] : undefined;
  const isCloudEvent = 'specversion' in input;

  let eventId: string;
  let eventType: string;
  let data: unknown;
  let eventTime: string | undefined;
  const schema = isCloudEvent ? 'CloudEventSchemaV1_0' : 'EventGridSchema';
  try {
    const event = await deserializeEvent(input, schema);
    if (!event)
      return { kind: 'rejected', eventId: rawId, reason: isCloudEvent ? 'the CloudEvent is empty' : 'the Event Grid event is empty' };
    eventId = event.id;
    eventType = event.type;
    data = event.data;
    eventTime = event.time;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return {
      kind: 'rejected',
      eventId: rawId,
      reason: `the event is not valid ${isCloudEvent ? 'CloudEvents 1.0' : 'Event Grid schema'}: ${why}`,
    };
  }

  const isResourceEvent = (Object.values(RESOURCE_EVENT_TYPES) as string[]).some((t) => t.toLowerCase() === eventType.toLowerCase());
  if (!isResourceEvent) return { kind: 'skipped', eventId, reason: `event type ${eventType} is not handled` };
  if (!isRecord(data)) return { kind: 'rejected', eventId, reason: `${eventType} event has no data object` };

  const operationName = stringField(data, 'operationName');
  const resourceUri = stringField(data, 'resourceUri');
  const correlationId = stringField(data, 'correlationId');
  const caller = callerOf(data['claims']);
  if (!operationName) return { kind: 'rejected', eventId, reason: `${eventType} event has no data.operationName` };
  if (!resourceUri) return { kind: 'rejected', eventId, reason: `${eventType} event has no data.resourceUri` };

  const parsed = parseResourceId(resourceUri);
  if (!parsed.ok) return { kind: 'rejected', eventId, reason: `data.resourceUri: ${parsed.error}` };
  const resource = parsed.value;
  const base = { eventId, resourceId: resource.id, ...(correlationId ? { correlationId } : {}), ...(caller ? { caller } : {}) };

  if (!isHandledOperation(eventType, operationName)) {
    return { kind: 'skipped', ...base, reason: `operation ${operationName} is not one the access feature handles` };
  }
  if (!options.watchedSubscriptions.includes(resource.subscriptionId)) {
    return { kind: 'skipped', ...base, reason: `subscription ${resource.subscriptionId} is not in WATCHED_SUBSCRIPTIONS` };
  }
  const isTagsWrite = operationName.toLowerCase() === TAGS_WRITE_OPERATION.toLowerCase();
  if (resource.kind !== RESOURCE_ID_KINDS.resource || !isWatchedType(resource.type)) {
    const what = resource.kind === RESOURCE_ID_KINDS.resource ? `resource type ${resource.type}` : `a ${resource.kind}`;
    return {
      kind: 'skipped',
      ...base,
      reason: `${isTagsWrite ? 'tags written on' : 'event for'} ${what}, which the access feature does not watch`,
    };
  }

  const change = eventType.toLowerCase() === RESOURCE_EVENT_TYPES.delete.toLowerCase() ? 'delete' : 'write';
  return {
    kind: 'handled',
    event: {
      eventId,
      schema,
      change,
      operationName,
      resourceId: resource.id,
      resourceType: resource.type as WatchedResourceType,
      subscriptionId: resource.subscriptionId,
      ...(correlationId ? { correlationId } : {}),
      ...(caller ? { caller } : {}),
      ...(eventTime ? { eventTime } : {}),
    },
  };
}

/** The caller named by ARM's claims: the object id, else the application id. */
export function callerOf(claims: unknown): string | undefined {
  if (!isRecord(claims)) return undefined;
  const objectId = claims[OBJECT_ID_CLAIM] ?? claims['oid'];
  if (typeof objectId === 'string' && objectId) return objectId;
  const appId = claims[APP_ID_CLAIM];
  return typeof appId === 'string' && appId ? `app:${appId}` : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(data: Record<string, unknown>, key: string): string | undefined {
  const value = data[key];
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}
