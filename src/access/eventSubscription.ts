/**
 * The one list of resource events the access feature handles. The infra's Event Grid
 * subscription, the local stack's subscription and the handler's own filter are all
 * built from these constants, so what Azure delivers and what the code accepts cannot drift.
 *
 * Operation names are ARM's `data.operationName` values
 * (https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions). Event Grid's
 * `StringIn` advanced filter compares case-insensitively and takes at most 25 values.
 */

/** The function's name, as registered with `app.eventGrid` and named in the webhook URL. */
export const RESOURCE_EVENTS_FUNCTION = 'resourceEvents';

/** Event types delivered to the function (Event Grid schema and CloudEvents use the same names). */
export const RESOURCE_EVENT_TYPES = {
  write: 'Microsoft.Resources.ResourceWriteSuccess',
  delete: 'Microsoft.Resources.ResourceDeleteSuccess',
} as const;
export type ResourceEventType = (typeof RESOURCE_EVENT_TYPES)[keyof typeof RESOURCE_EVENT_TYPES];

/** ARM resource types whose writes and deletes the feature reconciles (lower case, as compared). */
export const WATCHED_RESOURCE_TYPES = {
  registry: 'microsoft.containerregistry/registries',
  acrTask: 'microsoft.containerregistry/registries/tasks',
  virtualMachine: 'microsoft.compute/virtualmachines',
  virtualMachineScaleSet: 'microsoft.compute/virtualmachinescalesets',
  managedCluster: 'microsoft.containerservice/managedclusters',
  userAssignedIdentity: 'microsoft.managedidentity/userassignedidentities',
  containerApp: 'microsoft.app/containerapps',
  site: 'microsoft.web/sites',
  /** Container Instances: a container group pulls its images once, at creation (issue 19.3). */
  containerGroup: 'microsoft.containerinstance/containergroups',
  /**
   * Not a consumer: a Key Vault's `acr-workload-allow` tag is its consent to workload-identity grants
   * (docs/workload-identity.md), so withdrawing it must revoke without waiting for the identity's next event.
   */
  keyVault: 'microsoft.keyvault/vaults',
} as const;
export type WatchedResourceKind = keyof typeof WATCHED_RESOURCE_TYPES;
/** The watched types the access use case settles as consumers when asked directly: all but registries. */
export const CONSUMER_TYPES: ReadonlySet<string> = new Set(Object.values(WATCHED_RESOURCE_TYPES).filter((t) => t !== WATCHED_RESOURCE_TYPES.registry));
export type WatchedResourceType = (typeof WATCHED_RESOURCE_TYPES)[WatchedResourceKind];

/** The tag write on any resource: `PUT/PATCH {scope}/providers/Microsoft.Resources/tags/default`. */
export const TAGS_WRITE_OPERATION = 'Microsoft.Resources/tags/write';

/** Provider-cased type names, for operation names and filters (ARM's own casing). */
const PROVIDER_TYPES: readonly string[] = [
  'Microsoft.ContainerRegistry/registries',
  'Microsoft.ContainerRegistry/registries/tasks',
  'Microsoft.Compute/virtualMachines',
  'Microsoft.Compute/virtualMachineScaleSets',
  'Microsoft.ContainerService/managedClusters',
  'Microsoft.ManagedIdentity/userAssignedIdentities',
  'Microsoft.App/containerApps',
  'Microsoft.Web/sites',
  'Microsoft.ContainerInstance/containerGroups',
  'Microsoft.KeyVault/vaults',
];

/** Every `data.operationName` the function handles: write and delete per watched type, plus tag writes. */
export const RESOURCE_OPERATION_NAMES: readonly string[] = [
  ...PROVIDER_TYPES.flatMap((type) => [`${type}/write`, `${type}/delete`]),
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
