/**
 * The api-versions each resource type the emulator serves accepts, and ARM's 400 for any other
 * (issue 21, item 10). ARM routes a request to the resource provider registered for the type and
 * api-version; when none is, it answers before the provider sees the call:
 * - a provider's type: 400 `NoRegisteredProviderFound` ("No registered resource provider found for
 *   location '…' and API version '…' for type '…'. The supported api-versions are '…'.");
 * - ARM's own types (subscriptions, resource groups, tags, deployments, providers): 400
 *   `InvalidApiVersionParameter` ("The api-version '…' is invalid. The supported versions are '…'.").
 * https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-register-resource-provider
 * https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-invalid-api-version
 *
 * The versions are the folders azure-rest-api-specs publishes for each type
 * (specification/<rp>/resource-manager/<namespace>/[<service>/](stable|preview)/<version>/), oldest
 * first. Every version the app (src/azure/arm.ts, resourceGraph.ts), the SDK packages it uses
 * (@azure/arm-authorization 9: 2022-04-01 for role assignments and definitions; @azure/arm-msi 2:
 * 2024-11-30) and the tests send is in the table: test/unit/emulator-arm/apiVersions.test.ts holds
 * that in step. `GET /subscriptions/{id}/providers/{namespace}` answers from the same table.
 */
import type { EmuResponse } from '../core/contract.js';
import { armError } from './errors.js';
import {
  RESOURCES,
  COMPUTE,
  MANAGED_CLUSTERS,
  REGISTRIES,
  TASKS,
  MANAGED_IDENTITY,
  FEDERATED_CREDENTIALS,
  CONTAINER_APPS,
  WEB_SITES,
  CONTAINER_GROUPS,
  KEY_VAULTS,
  ROLE_ASSIGNMENTS,
  ROLE_DEFINITIONS,
  RESOURCE_GRAPH,
} from './specVersions.js';

/** Accepted api-versions by lower-case namespace, then lower-case type path (`registries/tasks`). */
export const API_VERSION_TABLE: Readonly<
  Record<
    string,
    {
      readonly namespace: string;
      readonly types: Readonly<Record<string, { readonly type: string; readonly versions: readonly string[] }>>;
    }
  >
> = {
  'microsoft.resources': {
    namespace: 'Microsoft.Resources',
    types: Object.fromEntries(
      ['subscriptions', 'resourceGroups', 'resources', 'tagNames', 'tags', 'deployments', 'providers', 'subscriptions/resourceGroups'].map(
        (t) => [t.toLowerCase(), { type: t, versions: RESOURCES }],
      ),
    ),
  },
  'microsoft.compute': {
    namespace: 'Microsoft.Compute',
    types: {
      virtualmachines: { type: 'virtualMachines', versions: COMPUTE },
      virtualmachinescalesets: { type: 'virtualMachineScaleSets', versions: COMPUTE },
    },
  },
  'microsoft.containerservice': {
    namespace: 'Microsoft.ContainerService',
    types: { managedclusters: { type: 'managedClusters', versions: MANAGED_CLUSTERS } },
  },
  'microsoft.containerregistry': {
    namespace: 'Microsoft.ContainerRegistry',
    types: { registries: { type: 'registries', versions: REGISTRIES }, 'registries/tasks': { type: 'registries/tasks', versions: TASKS } },
  },
  'microsoft.managedidentity': {
    namespace: 'Microsoft.ManagedIdentity',
    types: {
      userassignedidentities: { type: 'userAssignedIdentities', versions: MANAGED_IDENTITY },
      'userassignedidentities/federatedidentitycredentials': {
        type: 'userAssignedIdentities/federatedIdentityCredentials',
        versions: FEDERATED_CREDENTIALS,
      },
    },
  },
  'microsoft.app': { namespace: 'Microsoft.App', types: { containerapps: { type: 'containerApps', versions: CONTAINER_APPS } } },
  // Site configuration (sites/config/web) is in the same WebApps.json as the site itself.
  'microsoft.web': {
    namespace: 'Microsoft.Web',
    types: { sites: { type: 'sites', versions: WEB_SITES }, 'sites/config': { type: 'sites/config', versions: WEB_SITES } },
  },
  'microsoft.containerinstance': {
    namespace: 'Microsoft.ContainerInstance',
    types: { containergroups: { type: 'containerGroups', versions: CONTAINER_GROUPS } },
  },
  'microsoft.keyvault': { namespace: 'Microsoft.KeyVault', types: { vaults: { type: 'vaults', versions: KEY_VAULTS } } },
  'microsoft.authorization': {
    namespace: 'Microsoft.Authorization',
    types: {
      roleassignments: { type: 'roleAssignments', versions: ROLE_ASSIGNMENTS },
      roledefinitions: { type: 'roleDefinitions', versions: ROLE_DEFINITIONS },
    },
  },
  'microsoft.resourcegraph': {
    namespace: 'Microsoft.ResourceGraph',
    types: { resources: { type: 'resources', versions: RESOURCE_GRAPH } },
  },
};

/** The namespace and type path an ARM request path addresses, by its last `/providers/{ns}` segment (ARM's own types otherwise). */
export function typeOfPath(path: string): { namespace: string; typePath: string } | undefined {
  const segments = path.split('/').filter(Boolean);
  const lower = segments.map((s) => s.toLowerCase());
  const at = lower.lastIndexOf('providers');
  if (at >= 0 && at + 1 < segments.length) {
    const namespace = lower[at + 1]!;
    const rest = lower.slice(at + 2);
    // `/subscriptions/{id}/providers/{ns}`: Providers_Get, an ARM type of its own.
    if (rest.length === 0) return { namespace: 'microsoft.resources', typePath: 'providers' };
    const types = rest.filter((_, i) => i % 2 === 0);
    // ARM's own types are judged by their first segment (`deployments/{name}/validate` is a deployment).
    return { namespace, typePath: namespace === 'microsoft.resources' ? types[0]! : types.join('/') };
  }
  if (lower[0] !== 'subscriptions') return undefined;
  if (lower.length <= 2) return { namespace: 'microsoft.resources', typePath: 'subscriptions' };
  const third = lower[2]!;
  if (third === 'resourcegroups')
    return { namespace: 'microsoft.resources', typePath: lower.length >= 5 && lower[4] === 'resources' ? 'resources' : 'resourcegroups' };
  if (third === 'resources' || third === 'tagnames' || third === 'providers') return { namespace: 'microsoft.resources', typePath: third };
  return undefined;
}

/** The versions ARM accepts for the type `path` addresses; undefined for a type not in the table. */
export function apiVersionsFor(path: string): { namespace: string; type: string; versions: readonly string[] } | undefined {
  const t = typeOfPath(path);
  if (!t) return undefined;
  const ns = API_VERSION_TABLE[t.namespace];
  const type = ns?.types[t.typePath];
  return ns && type ? { namespace: ns.namespace, type: type.type, versions: type.versions } : undefined;
}

/** ARM's 400 when `apiVersion` is not one the addressed type publishes; undefined when it is (or the type is not in the table). */
export function checkApiVersion(path: string, apiVersion: string, location = 'westeurope'): EmuResponse | undefined {
  const found = apiVersionsFor(path);
  if (!found || found.versions.includes(apiVersion)) return undefined;
  const listed = [...found.versions].reverse().join(', ');
  if (found.namespace === 'Microsoft.Resources') {
    return armError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${apiVersion}' is invalid. The supported versions are '${listed}'. Please see https://aka.ms/api-version for more details.`,
    );
  }
  const lastType = found.type.split('/').pop()!;
  return armError(
    400,
    'NoRegisteredProviderFound',
    `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type '${found.type === lastType ? lastType : found.type}'. The supported api-versions are '${listed}'. The supported locations are '${SUPPORTED_LOCATIONS.join(', ')}'.`,
  );
}

/** Locations the emulator's providers list (any location is accepted on write). */
export const SUPPORTED_LOCATIONS = [
  'eastus',
  'eastus2',
  'westus2',
  'westeurope',
  'northeurope',
  'uksouth',
  'swedencentral',
  'southeastasia',
  'australiaeast',
];
