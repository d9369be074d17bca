/**
 * The one table of ARM resource types the app reads, watches or names — pure data. Everything that
 * lists types is derived from it: the types the resource-event handler accepts (WATCHED_RESOURCE_TYPES),
 * the consumer kinds (CONSUMER_TYPES), the Event Grid `data.operationName` filter the infra and the
 * local stack subscribe with (src/access/eventSubscription.ts, infra/generated/resourceEventSubscription.json),
 * the api-version of each generic ARM read (src/azure/arm.ts) and the Resource Graph queries.
 * test/unit/vocabulary.test.ts fails when a type string is written anywhere else in src/.
 *
 * `type` is ARM's own casing (as in operation names and the REST specs); comparisons use the
 * lower-cased form, which is what `ParsedResourceId.type` gives.
 */

/** What a type is to the product. */
export const RESOURCE_ROLES = {
  /** A container registry: the scope of every grant. */
  registry: 'registry',
  /** A resource whose identities ask for registry access through its acr-pull / acr-push tags. */
  consumer: 'consumer',
  /** A Key Vault: its acr-workload-allow tag consents to workload-identity grants (docs/workload-identity.md). */
  vault: 'vault',
  /** Read or written as part of another resource (a site's `config/web`), never watched on its own. */
  part: 'part',
  /** A role assignment, as Resource Graph lists it (`authorizationresources`). */
  roleAssignment: 'roleAssignment',
} as const;
export type ResourceRole = (typeof RESOURCE_ROLES)[keyof typeof RESOURCE_ROLES];

export interface ResourceTypeInfo {
  /** ARM's type, in ARM's casing: `Microsoft.Compute/virtualMachines`. */
  readonly type: string;
  readonly role: ResourceRole;
  /** The api-version the generic ARM adapter reads (and patches) it with; absent when an SDK client reads it. */
  readonly apiVersion?: string;
  /** Whether the Event Grid subscription delivers its writes and deletes (`<type>/write`, `<type>/delete`). */
  readonly watched: boolean;
  /**
   * Whether the reconciliation sweep lists it as a consumer to settle (tagged, or named by one of our
   * assignments). Container groups were added to the event filter (issue 19.3) but never to the sweep.
   */
  readonly swept?: boolean;
}

/**
 * Every type, by the name the code uses for it. Api-versions: registries use 2025-11-01, the first
 * version that carries `properties.roleAssignmentMode` (ABAC repository permissions).
 */
export const RESOURCE_TYPES = {
  registry: { type: 'Microsoft.ContainerRegistry/registries', role: RESOURCE_ROLES.registry, apiVersion: '2025-11-01', watched: true },
  acrTask: {
    type: 'Microsoft.ContainerRegistry/registries/tasks',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2019-06-01-preview',
    watched: true,
    swept: true,
  },
  virtualMachine: {
    type: 'Microsoft.Compute/virtualMachines',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2024-07-01',
    watched: true,
    swept: true,
  },
  virtualMachineScaleSet: {
    type: 'Microsoft.Compute/virtualMachineScaleSets',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2024-07-01',
    watched: true,
    swept: true,
  },
  managedCluster: {
    type: 'Microsoft.ContainerService/managedClusters',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2025-05-01',
    watched: true,
    swept: true,
  },
  userAssignedIdentity: {
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2023-01-31',
    watched: true,
    swept: true,
  },
  containerApp: {
    type: 'Microsoft.App/containerApps',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2024-03-01',
    watched: true,
    swept: true,
  },
  site: { type: 'Microsoft.Web/sites', role: RESOURCE_ROLES.consumer, apiVersion: '2024-04-01', watched: true, swept: true },
  /** Container Instances: a container group pulls its images once, at creation (issue 19.3). */
  containerGroup: {
    type: 'Microsoft.ContainerInstance/containerGroups',
    role: RESOURCE_ROLES.consumer,
    apiVersion: '2023-05-01',
    watched: true,
    swept: false,
  },
  /**
   * Not a consumer: a Key Vault's `acr-workload-allow` tag is its consent to workload-identity grants
   * (docs/workload-identity.md), so withdrawing it must revoke without waiting for the identity's next
   * event. Read from ARM because Resource Graph may lag a withdrawal.
   */
  keyVault: { type: 'Microsoft.KeyVault/vaults', role: RESOURCE_ROLES.vault, apiVersion: '2023-07-01', watched: true },
  /** A site's `config/web`: whether it pulls its container image with a managed identity (src/azure/siteConfig.ts). */
  siteConfig: { type: 'Microsoft.Web/sites/config', role: RESOURCE_ROLES.part, apiVersion: '2024-04-01', watched: false },
  /** Listed through Resource Graph; read and written with @azure/arm-authorization, which pins its own version. */
  roleAssignment: { type: 'Microsoft.Authorization/roleAssignments', role: RESOURCE_ROLES.roleAssignment, watched: false },
} as const satisfies Readonly<Record<string, ResourceTypeInfo>>;
export type ResourceTypeName = keyof typeof RESOURCE_TYPES;

/** Lower-cased type, as `ParsedResourceId.type` gives it and comparisons use. */
export type LowerType<T extends string> = Lowercase<T>;
const lower = <T extends string>(type: T): LowerType<T> => type.toLowerCase() as LowerType<T>;
const ROWS = Object.entries(RESOURCE_TYPES) as [ResourceTypeName, ResourceTypeInfo][];
type WatchedName = { [K in ResourceTypeName]: (typeof RESOURCE_TYPES)[K]['watched'] extends true ? K : never }[ResourceTypeName];

/** The lower-cased type of every table row, by name: the form every comparison uses. */
export const TYPES = Object.fromEntries(ROWS.map(([name, row]) => [name, lower(row.type)])) as {
  readonly [K in ResourceTypeName]: LowerType<(typeof RESOURCE_TYPES)[K]['type']>;
};

/** ARM resource types whose writes and deletes the feature reconciles (lower case, as compared). */
export const WATCHED_RESOURCE_TYPES = Object.fromEntries(
  ROWS.filter(([, row]) => row.watched).map(([name, row]) => [name, lower(row.type)]),
) as {
  readonly [K in WatchedName]: LowerType<(typeof RESOURCE_TYPES)[K]['type']>;
};
export type WatchedResourceKind = keyof typeof WATCHED_RESOURCE_TYPES;
export type WatchedResourceType = (typeof WATCHED_RESOURCE_TYPES)[WatchedResourceKind];

const WATCHED: ReadonlySet<string> = new Set(Object.values(WATCHED_RESOURCE_TYPES));

/** Watched types in ARM's casing, for operation names and Event Grid filters. */
export const WATCHED_PROVIDER_TYPES: readonly string[] = ROWS.filter(([, row]) => row.watched).map(([, row]) => row.type);

/** The consumer kinds (lower case): resources whose identities ask for registry access by tag. */
export const CONSUMER_TYPES: ReadonlySet<string> = new Set(
  ROWS.filter(([, row]) => row.role === RESOURCE_ROLES.consumer).map(([, row]) => lower(row.type)),
);

/** The consumer kinds the reconciliation sweep settles (lower case). */
export const SWEPT_CONSUMER_TYPES: ReadonlySet<string> = new Set(
  ROWS.filter(([, row]) => row.role === RESOURCE_ROLES.consumer && row.swept === true).map(([, row]) => lower(row.type)),
);

/** api-version per lower-cased resource type, for the generic ARM adapter. */
export const API_VERSIONS: Readonly<Record<string, string>> = Object.fromEntries(
  ROWS.flatMap(([, row]) => (row.apiVersion === undefined ? [] : [[lower(row.type), row.apiVersion] as const])),
);

/** The lower-cased ARM type of a container registry, as `ParsedResourceId.type` gives it. */
export const REGISTRY_TYPE = TYPES.registry;

/** Whether a lower-cased type is one the Event Grid subscription delivers. */
export function isWatchedType(type: string | undefined): type is WatchedResourceType {
  return type !== undefined && WATCHED.has(type);
}

/** Whether a lower-cased type is a consumer kind. */
export function isConsumerType(type: string | undefined): boolean {
  return type !== undefined && CONSUMER_TYPES.has(type);
}
