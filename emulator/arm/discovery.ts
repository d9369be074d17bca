/**
 * What a client asks ARM before it acts, and how it finds resources (issue 21, items 8, 9 and 12):
 * - `GET /subscriptions` (Subscriptions_List, resources/.../2021-04-01/examples/GetSubscriptions.json);
 * - `GET /subscriptions/{id}/providers[/{namespace}]` (Providers_List / Providers_Get, examples/GetProvider.json),
 *   the resource types with the api-versions of `apiVersions.ts`;
 * - `GET /subscriptions/{id}/tagNames` (Tags_List: `TagDetails` with `count` and `values`, resources.json);
 * - `HEAD /subscriptions/{id}/resourcegroups/{rg}` (ResourceGroups_CheckExistence, examples/CheckExistenceResourceGroups.json: 204 or 404);
 * - `GET /metadata/endpoints?api-version=…` (the cloud's endpoints, read by `az cloud register --endpoint-resource-manager`);
 * - `GET /subscriptions/{id}[/resourceGroups/{rg}]/resources` with `$filter`, `$top`, `$expand` and `nextLink`
 *   (Resources_List / Resources_ListByResourceGroup, examples/ListResources.json; the `$filter` grammar is the
 *   parameter's description in resources.json);
 * - template deployments (`PUT|GET …/providers/Microsoft.Resources/deployments/{name}`, `POST …/validate`,
 *   `POST …/whatIf`): a documented "not supported by the emulator" 400 instead of a 404.
 */
import type { EmuRequest, EmuResponse, EmulatorContext } from '../core/contract.js';
import { API_VERSION_TABLE, SUPPORTED_LOCATIONS } from './apiVersions.js';
import type { createAuthorizer } from './authorization.js';
import { armError, armErrors } from './errors.js';
import { isScopeAtOrAbove, keyOf, parseResourceId } from './ids.js';
import { parseResourceFilter, type ResourceFilter } from './resourceFilter.js';
import { isObject, type ArmState, type Caller, type StoredResource } from './state.js';

export interface DiscoveryDeps {
  readonly ctx: EmulatorContext;
  readonly state: ArmState;
  readonly authorizer: ReturnType<typeof createAuthorizer>;
}

const LOCATION_NAMES: Readonly<Record<string, string>> = {
  eastus: 'East US',
  eastus2: 'East US 2',
  westus2: 'West US 2',
  westeurope: 'West Europe',
  northeurope: 'North Europe',
  uksouth: 'UK South',
  swedencentral: 'Sweden Central',
  southeastasia: 'Southeast Asia',
  australiaeast: 'Australia East',
};

/** The error a template deployment gets: the emulator writes resources one PUT at a time. */
export const DEPLOYMENTS_NOT_SUPPORTED = 'DeploymentNotSupportedByEmulator';

export function discoveryHandlers({ ctx, state, authorizer }: DiscoveryDeps) {
  const can = (caller: Caller, action: string, scope: string) => authorizer.isAuthorized(caller.objectId, action, scope);

  const subscriptionJson = (s: { subscriptionId: string; displayName: string }) => ({
    id: `/subscriptions/${s.subscriptionId}`,
    subscriptionId: s.subscriptionId,
    tenantId: ctx.tenantId,
    displayName: s.displayName,
    state: 'Enabled',
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
    managedByTenants: [],
    tags: {},
  });

  /** Subscriptions_List: the subscriptions in which the caller holds any role assignment (ARM lists those it can see). */
  const listSubscriptions = (_req: EmuRequest, caller: Caller): EmuResponse => {
    const mine = [...state.roleAssignments.values()].filter((a) => a.principalId.toLowerCase() === caller.objectId.toLowerCase());
    const value = [...state.subscriptions.values()]
      .filter((s) =>
        mine.some(
          (a) =>
            isScopeAtOrAbove(a.scope, `/subscriptions/${s.subscriptionId}`) ||
            isScopeAtOrAbove(`/subscriptions/${s.subscriptionId}`, a.scope),
        ),
      )
      .map(subscriptionJson);
    return { status: 200, body: { value, count: { type: 'Total', value: value.length } } };
  };

  const subscriptionOr404 = (id: string): EmuResponse | undefined =>
    state.subscriptions.has(id.toLowerCase()) ? undefined : armErrors.subscriptionNotFound(id);

  const providerJson = (subscriptionId: string, nsKey: string) => {
    const ns = API_VERSION_TABLE[nsKey]!;
    return {
      id: `/subscriptions/${subscriptionId}/providers/${ns.namespace}`,
      namespace: ns.namespace,
      registrationState: 'Registered',
      registrationPolicy: 'RegistrationRequired',
      resourceTypes: Object.values(ns.types).map((t) => ({
        resourceType: t.type,
        locations: SUPPORTED_LOCATIONS.map((l) => LOCATION_NAMES[l] ?? l),
        // Newest first, as ARM lists them.
        apiVersions: [...t.versions].reverse(),
        defaultApiVersion: [...t.versions].reverse().find((v) => !v.endsWith('-preview')),
        capabilities: 'SupportsTags, SupportsLocation',
      })),
    };
  };

  /** Providers_Get: the namespace's resource types and their api-versions. */
  const getProvider = (req: EmuRequest): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    const missing = subscriptionOr404(sub);
    if (missing) return missing;
    const nsKey = (req.params.namespace ?? '').toLowerCase();
    if (!API_VERSION_TABLE[nsKey])
      return armError(404, 'InvalidResourceNamespace', `The resource namespace '${req.params.namespace ?? ''}' is invalid.`);
    return { status: 200, body: providerJson(sub, nsKey) };
  };

  /** Providers_List. */
  const listProviders = (req: EmuRequest): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    const missing = subscriptionOr404(sub);
    if (missing) return missing;
    return { status: 200, body: { value: Object.keys(API_VERSION_TABLE).map((k) => providerJson(sub, k)) } };
  };

  /** Tags_List: every tag name and value on the subscription's resource groups and resources, with counts. */
  const listTagNames = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    const missing = subscriptionOr404(sub);
    if (missing) return missing;
    const scope = `/subscriptions/${sub}`;
    if (!can(caller, 'Microsoft.Resources/subscriptions/tagNames/read', scope))
      return armErrors.authorizationFailed(caller.objectId, 'Microsoft.Resources/subscriptions/tagNames/read', scope);
    const names = new Map<string, { tagName: string; count: number; values: Map<string, number> }>();
    const prefix = keyOf(scope) + '/';
    for (const r of [...state.resourceGroups.values(), ...state.resources.values()]) {
      if (!keyOf(r.id).startsWith(prefix) || !isObject(r.body.tags)) continue;
      for (const [k, v] of Object.entries(r.body.tags)) {
        // Tag names are case-insensitive; the first casing seen is the one listed.
        const entry = names.get(k.toLowerCase()) ?? { tagName: k, count: 0, values: new Map<string, number>() };
        entry.count += 1;
        entry.values.set(String(v), (entry.values.get(String(v)) ?? 0) + 1);
        names.set(k.toLowerCase(), entry);
      }
    }
    const value = [...names.values()].map((n) => ({
      id: `${scope}/tagNames/${n.tagName}`,
      tagName: n.tagName,
      count: { type: 'Total', value: n.count },
      values: [...n.values].map(([v, c]) => ({
        id: `${scope}/tagNames/${n.tagName}/tagValues/${v}`,
        tagValue: v,
        count: { type: 'Total', value: c },
      })),
    }));
    return { status: 200, body: { value } };
  };

  /** ResourceGroups_CheckExistence: 204 when it exists, 404 when not, no body either way. */
  const checkResourceGroup = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!state.subscriptions.has(sub.toLowerCase())) return { status: 404 };
    const id = req.url.pathname.replace(/\/$/, '');
    if (!can(caller, 'Microsoft.Resources/subscriptions/resourceGroups/read', id))
      return {
        ...armErrors.authorizationFailed(caller.objectId, 'Microsoft.Resources/subscriptions/resourceGroups/read', id),
        body: undefined,
      };
    return { status: state.resourceGroups.has(keyOf(id)) ? 204 : 404 };
  };

  /**
   * The cloud's endpoints. `api-version` 2019-05-01 and later answer the array of clouds
   * (https://management.azure.com/metadata/endpoints?api-version=2022-09-01); older ones (1.0, 2015-01-01,
   * what `az cloud register --endpoint-resource-manager` asks for) the single object with
   * `galleryEndpoint`, `graphEndpoint`, `portalEndpoint` and `authentication`
   * (https://learn.microsoft.com/azure-stack/user/azure-stack-version-profiles-azurecli2).
   */
  const metadataEndpoints = (req: EmuRequest): EmuResponse => {
    const base = ctx.baseUrl;
    const audiences = ['https://management.core.windows.net/', 'https://management.azure.com/'];
    const apiVersion = req.url.searchParams.get('api-version') ?? '';
    if (!/^\d{4}-\d{2}-\d{2}/.test(apiVersion) || apiVersion < '2019-05-01') {
      return {
        status: 200,
        body: {
          galleryEndpoint: `${base}/`,
          graphEndpoint: `${base}/`,
          portalEndpoint: `${base}/`,
          authentication: { loginEndpoint: `${base}/`, audiences },
        },
      };
    }
    return {
      status: 200,
      body: [
        {
          name: 'AzureEmulator',
          portal: `${base}/`,
          resourceManager: `${base}/`,
          authentication: { loginEndpoint: `${base}/`, audiences, tenant: 'common', identityProvider: 'AAD' },
          graph: `${base}/`,
          graphAudience: `${base}/`,
          microsoftGraphResourceId: 'https://graph.microsoft.com/',
          gallery: `${base}/`,
          media: `${base}/`,
          batch: `${base}/`,
          activeDirectoryDataLake: `${base}/`,
          sqlManagement: `${base}/`,
          vmImageAliasDoc: `${base}/`,
          suffixes: {
            keyVaultDns: 'vault.localhost',
            acrLoginServer: 'azurecr.io',
            storage: 'core.windows.net',
            sqlServerHostname: 'database.windows.net',
          },
        },
      ],
    };
  };

  // ---------- Resources_List ----------

  const toListItem = (r: StoredResource, filter: ResourceFilter | undefined, expand: Set<string>) => {
    const b = r.body;
    const out: Record<string, unknown> = { id: r.id, name: b.name, type: b.type };
    for (const k of ['kind', 'sku', 'location', 'identity', 'managedBy', 'plan'] as const) if (b[k] !== undefined) out[k] = b[k];
    // "when resources are filtered by tag name and value, the original tags for each resource will not be returned".
    if (!filter?.hidesTags && b.tags !== undefined) out.tags = b.tags;
    const props = isObject(b.properties) ? b.properties : {};
    if (expand.has('provisioningstate')) out.provisioningState = props.provisioningState ?? 'Succeeded';
    if (expand.has('createdtime')) out.createdTime = props.creationDate ?? null;
    if (expand.has('changedtime')) out.changedTime = null;
    return out;
  };

  const listResources = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    const missing = subscriptionOr404(sub);
    if (missing) return missing;
    const rgName = req.params.resourceGroup;
    const scope = rgName ? `/subscriptions/${sub}/resourceGroups/${rgName}` : `/subscriptions/${sub}`;
    if (rgName && !state.getResourceGroup(sub, rgName)) return armErrors.resourceGroupNotFound(rgName);
    const filterText = req.url.searchParams.get('$filter');
    let filter: ResourceFilter | undefined;
    if (filterText !== null && filterText.trim() !== '') {
      const parsed = parseResourceFilter(filterText);
      if (!parsed.ok)
        return armError(
          400,
          'InvalidFilterInQueryString',
          `Invalid $filter '${filterText}' specified in the query string. ${parsed.error}`,
        );
      filter = parsed.filter;
    }
    const topText = req.url.searchParams.get('$top');
    const top = topText === null ? undefined : Number(topText);
    if (top !== undefined && (!Number.isInteger(top) || top < 1 || top > 1000))
      return armError(400, 'InvalidTopInQueryString', `The value '${topText}' of $top is invalid: expected an integer from 1 to 1000.`);
    const expand = new Set(
      (req.url.searchParams.get('$expand') ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
    const prefix = keyOf(scope) + '/';
    const items = [...state.resources.values()]
      .filter((r) => keyOf(r.id).startsWith(prefix))
      // Child resources (a registry's tasks, an identity's federated credentials) are not listed, as in Azure.
      .filter((r) => (parseResourceId(r.id)?.typePath ?? '').split('/').length === 1)
      // ARM lists only what the caller may read.
      .filter((r) => can(caller, `${String(r.body.type)}/read`, r.id))
      .filter((r) => !filter || filter.matches(toFilterView(r)))
      .sort((a, b) => keyOf(a.id).localeCompare(keyOf(b.id)));
    const pageSize = top ?? state.options.pageSize;
    const skip = Number(req.url.searchParams.get('$skipToken') ?? '0') || 0;
    const value = items.slice(skip, skip + pageSize).map((r) => toListItem(r, filter, expand));
    const body: { value: unknown[]; nextLink?: string } = { value };
    if (skip + pageSize < items.length) {
      const next = new URL(req.url.toString());
      next.searchParams.set('$skipToken', String(skip + pageSize));
      body.nextLink = next.toString();
    }
    return { status: 200, body };
  };

  // ---------- template deployments ----------

  const deploymentNotSupported = (): EmuResponse =>
    armError(
      400,
      DEPLOYMENTS_NOT_SUPPORTED,
      'Template deployments (PUT deployments, POST validate and whatIf) are not supported by the emulator: create each resource with its own PUT. See emulator/README.md, "Differences from Azure".',
    );
  const deploymentNotFound = (req: EmuRequest): EmuResponse =>
    armError(404, 'DeploymentNotFound', `Deployment '${req.params.name ?? ''}' could not be found.`);
  const listDeployments = (): EmuResponse => ({ status: 200, body: { value: [] } });

  return {
    listSubscriptions,
    getProvider,
    listProviders,
    listTagNames,
    checkResourceGroup,
    metadataEndpoints,
    listResources,
    deploymentNotSupported,
    deploymentNotFound,
    listDeployments,
  };
}

/** The fields `$filter` reads, from a stored resource. */
function toFilterView(r: StoredResource) {
  const p = parseResourceId(r.id);
  const identity = isObject(r.body.identity) ? r.body.identity : undefined;
  return {
    name: String(r.body.name ?? ''),
    resourceType: String(r.body.type ?? ''),
    resourceGroup: p?.resourceGroup ?? '',
    location: String(r.body.location ?? ''),
    tags: isObject(r.body.tags) ? Object.fromEntries(Object.entries(r.body.tags).map(([k, v]) => [k, String(v)])) : {},
    identityPrincipalId: identity && typeof identity.principalId === 'string' ? identity.principalId : undefined,
  };
}
