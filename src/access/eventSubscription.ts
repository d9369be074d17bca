/**
 * The one list of resource events the access feature handles. The infra's Event Grid
 * subscription, the local stack's subscription and the handler's own filter are all
 * built from these constants, so what Azure delivers and what the code accepts cannot drift.
 *
 * Operation names are ARM's `data.operationName` values
 * (https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions). Event Grid's
 * `StringIn` advanced filter compares case-insensitively and takes at most 25 values. The watched
 * types come from the one table, src/policy/resourceTypes.ts.
 */
import { WATCHED_PROVIDER_TYPES } from '../policy/resourceTypes.js';

/** The function's name, as registered with `app.eventGrid` and named in the webhook URL. */
export const RESOURCE_EVENTS_FUNCTION = 'resourceEvents';

/** Event types delivered to the function (Event Grid schema and CloudEvents use the same names). */
export const RESOURCE_EVENT_TYPES = {
  write: 'Microsoft.Resources.ResourceWriteSuccess',
  delete: 'Microsoft.Resources.ResourceDeleteSuccess',
} as const;
export type ResourceEventType = (typeof RESOURCE_EVENT_TYPES)[keyof typeof RESOURCE_EVENT_TYPES];

export { WATCHED_RESOURCE_TYPES, type WatchedResourceKind, type WatchedResourceType } from '../policy/resourceTypes.js';

/** The tag write on any resource: `PUT/PATCH {scope}/providers/Microsoft.Resources/tags/default`. */
export const TAGS_WRITE_OPERATION = 'Microsoft.Resources/tags/write';

/** Every `data.operationName` the function handles: write and delete per watched type, plus tag writes. */
export const RESOURCE_OPERATION_NAMES: readonly string[] = [
  ...WATCHED_PROVIDER_TYPES.flatMap((type) => [`${type}/write`, `${type}/delete`]),
  TAGS_WRITE_OPERATION,
];

/** An Event Grid advanced filter, in the ARM / Bicep shape. */
export interface AdvancedFilter {
  readonly operatorType: 'StringIn';
  readonly key: string;
  readonly values: readonly string[];
}

/** What an Event Grid subscription for this function filters on, for infra and the local stack. */
export interface ResourceEventSubscription {
  readonly functionName: string;
  readonly includedEventTypes: readonly string[];
  readonly advancedFilters: readonly AdvancedFilter[];
}

/** The subscription the infra creates in Azure and the local stack creates for itself. */
export const RESOURCE_EVENT_SUBSCRIPTION: ResourceEventSubscription = {
  functionName: RESOURCE_EVENTS_FUNCTION,
  includedEventTypes: Object.values(RESOURCE_EVENT_TYPES),
  advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: RESOURCE_OPERATION_NAMES }],
};

const OPERATIONS = new Set(RESOURCE_OPERATION_NAMES.map((name) => name.toLowerCase()));
const EVENT_TYPES = new Set<string>(Object.values(RESOURCE_EVENT_TYPES).map((name) => name.toLowerCase()));

/** Whether an event with this type and operation name is one the function handles (case-insensitive, like Event Grid). */
export function isHandledOperation(eventType: string, operationName: string): boolean {
  return EVENT_TYPES.has(eventType.toLowerCase()) && OPERATIONS.has(operationName.toLowerCase());
}
