/**
 * ARM resources: subscriptions, resource groups, the resource types the product reads and
 * writes, and the tags API. PUT creates (201) or replaces (200), PATCH merges (tags and
 * identity replace, properties merge), DELETE answers 200 or 204 when absent.
 * Bodies follow the azure-rest-api-specs examples cited beside each type below.
 */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext } from '../core/contract.js';
import { toArmEvent } from './armEvents.js';
import type { createAuthorizer } from './authorization.js';
import { armError, armErrors } from './errors.js';
import { keyOf, parseResourceId } from './ids.js';
import { deepMerge, isObject, paged, type ArmState, type Caller, type StoredResource } from './state.js';

export interface TypeSpec {
  /** Canonical casing, for `type` in responses. */
  readonly type: string;
}

/** The resource types the emulator serves, keyed by lower-case `namespace/type[/child]`. */
export const RESOURCE_TYPES: Readonly<Record<string, TypeSpec>> = Object.fromEntries(
  [
    'Microsoft.Compute/virtualMachines', // compute/.../examples/virtualMachineExamples/VirtualMachine_Create_WithSystemAssignedIdentity.json
    'Microsoft.Compute/virtualMachineScaleSets',
    'Microsoft.ContainerService/managedClusters', // containerservice/.../examples/ManagedClustersCreate_*.json (identityProfile, oidcIssuerProfile)
    'Microsoft.ContainerRegistry/registries', // containerregistry/.../examples/RegistryCreate.json
    'Microsoft.ContainerRegistry/registries/tasks', // containerregistry/.../examples/TasksCreate_WithUserIdentities.json
    'Microsoft.ManagedIdentity/userAssignedIdentities', // msi/.../examples/IdentityCreate.json
    'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials', // msi/.../2023-01-31/examples/FederatedIdentityCredentialCreate.json
    // app/.../Microsoft.App/ContainerApps/stable/2025-01-01/examples/ContainerApps_CreateOrUpdate.json;
    // properties.configuration.registries[] is RegistryCredentials { server, identity | username + passwordSecretRef }.
    'Microsoft.App/containerApps',
    'Microsoft.Web/sites', // web/resource-manager/Microsoft.Web/stable/2024-04-01/examples/CreateOrUpdateWebApp.json
    // A site's configuration, `config/web` (SiteConfigResource): linuxFxVersion `DOCKER|<image>`, acrUseManagedIdentityCreds,
    // acrUserManagedIdentityID (a user-assigned identity's client id) — web/resource-manager/Microsoft.Web/stable/2024-04-01/
    // examples/UpdateSiteConfig.json; https://learn.microsoft.com/azure/app-service/configure-custom-container#use-managed-identity-to-pull-image-from-azure-container-registry
    'Microsoft.Web/sites/config',
    // containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json; imageRegistryCredentials[]
    // is ImageRegistryCredential { server, username, password (never echoed), identity, identityUrl }.
    'Microsoft.ContainerInstance/containerGroups',
    'Microsoft.KeyVault/vaults', // keyvault/.../examples/createVault.json (properties.vaultUri)
  ].map((t) => [t.toLowerCase(), { type: t }]),
);

interface ResourcePath {
  subscriptionId: string;
  resourceGroup: string;
  namespace: string;
  types: string[];
  names: string[];
}

function parsePath(path: string): ResourcePath | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/([^/]+)\/(.+?)\/?$/i.exec(path);
  if (!m) return undefined;
  const parts = m[4]!.split('/');
  const types: string[] = [];
  const names: string[] = [];
  parts.forEach((p, i) => (i % 2 === 0 ? types : names).push(decodeURIComponent(p)));
  return { subscriptionId: m[1]!, resourceGroup: decodeURIComponent(m[2]!), namespace: m[3]!, types, names };
}

const FIC_TYPE = 'microsoft.managedidentity/userassignedidentities/federatedidentitycredentials';
const UAMI_TYPE = 'microsoft.managedidentity/userassignedidentities';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The user-assigned identity a federated identity credential id belongs to. */
const identityOfFic = (ficId: string) => ficId.replace(/\/federatedIdentityCredentials\/[^/]+$/i, '');

/**
 * Entra rejects a federated-credential write while another write on the same user-assigned identity
 * is in flight: "Creating multiple federated identity credentials under the same user-assigned managed
 * identity concurrently triggers concurrency detection logic, which causes requests to fail with
 * 409-conflict HTTP status code" (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations,
 * "Concurrent updates aren't supported").
 */
const concurrentFicWrites = (ficId: string): EmuResponse =>
  armError(409, 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity', `Too many Federated Identity Credentials are written concurrently for the managed identity '${identityOfFic(ficId)}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported.`);

/** Whether a Key Vault created without `enableRbacAuthorization` uses Azure RBAC: from api-version 2026-02-01 on. */
export function isRbacDefault(apiVersion: string | null): boolean {
  return apiVersion !== null && /^\d{4}-\d{2}-\d{2}/.test(apiVersion) && apiVersion.slice(0, 10) >= '2026-02-01';
}

export interface ResourceDeps {
  readonly ctx: EmulatorContext;
  readonly state: ArmState;
  readonly authorizer: ReturnType<typeof createAuthorizer>;
}

export function resourceHandlers({ ctx, state, authorizer }: ResourceDeps) {
  const check = (caller: Caller, action: string, scope: string): EmuResponse | undefined =>
    authorizer.isAuthorized(caller.objectId, action, scope) ? undefined : armErrors.authorizationFailed(caller.objectId, action, scope);

  /** Publishes ARM's event for a write or delete; seeded resources (no caller) publish nothing. */
  const publish = (kind: 'write' | 'delete', caller: Caller | undefined, resourceId: string, operationName: string, req?: EmuRequest) =>
    caller &&
    ctx.events.publish(
      toArmEvent({ kind, resourceId, operationName, claims: caller.claims, tenantId: ctx.tenantId, correlationId: caller.correlationId, evidence: authorizer.explain(caller.objectId, operationName, resourceId), request: req, now: ctx.clock.now() }),
    );

  const subscriptionExists = (id: string) => state.subscriptions.has(id.toLowerCase());

  // ---------- identities (how ARM fills `identity` on compute resources) ----------

  const addManagedIdentityPrincipal = (displayName: string, resourceId: string) => {
    // A principal the directory already holds for this resource (a scenario's `identity.principals`,
    // such as the Function App's own identity) is the identity's service principal: reuse it.
    const known = ctx.directory.list().find((x) => x.servicePrincipalType === 'ManagedIdentity' && x.resourceId !== undefined && keyOf(x.resourceId) === keyOf(resourceId));
    if (known) return { objectId: known.objectId, appId: known.appId ?? randomUUID() };
    const objectId = randomUUID();
    const appId = randomUUID();
    ctx.directory.add({ objectId, appId, displayName, principalType: 'ServicePrincipal', servicePrincipalType: 'ManagedIdentity', resourceId, createdAt: ctx.clock.now() });
    return { objectId, appId };
  };

  /** Resolves `identity` as ARM does: system-assigned gets a principal; user-assigned ids must exist. */
  const resolveIdentity = (input: unknown, existing: StoredResource | undefined, id: string, name: string): { identity?: Record<string, unknown>; error?: EmuResponse } => {
    if (!isObject(input)) return {};
    const type = String(input.type ?? 'None');
    const kinds = type.split(',').map((s) => s.trim().toLowerCase());
    const identity: Record<string, unknown> = { type };
    const prev = existing && isObject(existing.body.identity) ? existing.body.identity : undefined;
    if (kinds.includes('systemassigned')) {
      if (prev && typeof prev.principalId === 'string' && ctx.directory.get(prev.principalId)) {
        identity.principalId = prev.principalId;
      } else {
        identity.principalId = addManagedIdentityPrincipal(name, id).objectId;
      }
      identity.tenantId = ctx.tenantId;
    } else if (prev && typeof prev.principalId === 'string') {
      ctx.directory.remove(prev.principalId);
    }
    if (kinds.includes('userassigned')) {
      const uais: Record<string, unknown> = {};
      for (const uaiId of Object.keys(isObject(input.userAssignedIdentities) ? input.userAssignedIdentities : {})) {
        const uai = state.getResource(uaiId);
        const props = uai && isObject(uai.body.properties) ? uai.body.properties : undefined;
        if (!props) return { error: armError(400, 'FailedIdentityOperation', `Identity operation for resource '${id}' failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. Response: '{"error":{"code":"NotFound","message":"Resource '${uaiId}' not found."}}'.'.`) };
        uais[uaiId] = { principalId: props.principalId, clientId: props.clientId };
      }
      identity.userAssignedIdentities = uais;
    }
    return { identity };
  };

  const removeSystemPrincipal = (r: StoredResource) => {
    const identity = isObject(r.body.identity) ? r.body.identity : undefined;
    if (identity && typeof identity.principalId === 'string') ctx.directory.remove(identity.principalId);
  };

  // ---------- type-specific server fills ----------

  const ensureResourceGroup = (caller: Caller | undefined, subscriptionId: string, name: string, location: string, managedBy?: string) => {
    const id = `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
    if (state.resourceGroups.has(keyOf(id))) return;
    state.resourceGroups.set(keyOf(id), { id, hidden: {}, body: { id, name, type: 'Microsoft.Resources/resourceGroups', location, managedBy, tags: {}, properties: { provisioningState: 'Succeeded' } } });
    publish('write', caller, id, 'Microsoft.Resources/subscriptions/resourceGroups/write');
  };

  const createUserAssignedIdentity = (id: string, name: string, location: string, tags: unknown): StoredResource => {
    const { objectId, appId } = addManagedIdentityPrincipal(name, id);
    return { id, hidden: {}, body: { id, name, type: 'Microsoft.ManagedIdentity/userAssignedIdentities', location, tags: isObject(tags) ? tags : {}, properties: { tenantId: ctx.tenantId, principalId: objectId, clientId: appId, isolationScope: 'None' } } };
  };

  const fillServerProperties = async (typeKey: string, p: ResourcePath, id: string, body: Record<string, unknown>, existing: StoredResource | undefined, hidden: Record<string, unknown>, caller: Caller | undefined, apiVersion: string | null): Promise<EmuResponse | undefined> => {
    const props = (isObject(body.properties) ? body.properties : {}) as Record<string, unknown>;
    const prev = existing && isObject(existing.body.properties) ? existing.body.properties : {};
    const name = p.names[p.names.length - 1]!;
    const location = String(body.location ?? 'eastus');
    switch (typeKey) {
      case 'microsoft.containerregistry/registries':
        props.loginServer = `${name.toLowerCase()}.azurecr.io`;
        props.roleAssignmentMode ??= 'LegacyRegistryPermissions';
        props.adminUserEnabled ??= false;
        props.creationDate = prev.creationDate ?? ctx.clock.now().toISOString();
        body.sku ??= { name: 'Basic', tier: 'Basic' };
        break;
      case 'microsoft.containerregistry/registries/tasks': {
        // Azure echoes credentials.customRegistries by login server only, every value null (its
        // identity or user name and password are never echoed): containerregistry/.../
        // 2019-06-01-preview/examples/TasksGet.json and TasksUpdate_WithMSICustomCredentials.json.
        // Keep what was written for the admin snapshot; an entry written as null is removed.
        const creds = isObject(props.credentials) ? props.credentials : undefined;
        if (creds && 'customRegistries' in creds) {
          const entries = isObject(creds.customRegistries) ? Object.entries(creds.customRegistries).filter(([, v]) => v !== null && v !== undefined) : [];
          hidden.customRegistries = Object.fromEntries(entries);
        }
        const written = isObject(hidden.customRegistries) ? Object.keys(hidden.customRegistries) : [];
        const { customRegistries: _omit, ...rest } = creds ?? {};
        if (written.length > 0) props.credentials = { ...rest, customRegistries: Object.fromEntries(written.map((loginServer) => [loginServer, null])) };
        else if (creds) props.credentials = Object.keys(rest).length ? rest : null;
        props.creationDate = prev.creationDate ?? ctx.clock.now().toISOString();
        props.status ??= 'Enabled';
        break;
      }
      case UAMI_TYPE: {
        const principalId = typeof prev.principalId === 'string' ? prev.principalId : undefined;
        if (principalId && ctx.directory.get(principalId)) Object.assign(props, { tenantId: prev.tenantId, principalId, clientId: prev.clientId });
        else {
          const { objectId, appId } = addManagedIdentityPrincipal(name, id);
          Object.assign(props, { tenantId: ctx.tenantId, principalId: objectId, clientId: appId });
        }
        props.isolationScope ??= 'None';
        break;
      }
      case FIC_TYPE: {
        if (typeof props.issuer !== 'string' || typeof props.subject !== 'string' || !Array.isArray(props.audiences))
          return armError(400, 'BadRequest', 'The federated identity credential requires properties.issuer, properties.subject and properties.audiences.');
        break;
      }
      case 'microsoft.containerservice/managedclusters': {
        const rg = String(prev.nodeResourceGroup ?? `MC_${p.resourceGroup}_${name}_${location}`);
        props.nodeResourceGroup = rg;
        ensureResourceGroup(caller, p.subscriptionId, rg, location, id);
        const prevKubelet = isObject(prev.identityProfile) && isObject(prev.identityProfile.kubeletidentity) ? prev.identityProfile.kubeletidentity : undefined;
        // A kubelet identity brought by the caller (`az aks create --assign-kubelet-identity`): ManagedClusterProperties.identityProfile,
        // "The only accepted key is kubeletidentity, with value of resourceId" (containerservice/.../aks/stable/2025-05-01/managedClusters.json);
        // ARM fills its clientId and objectId. One identity may serve several clusters.
        const given = isObject(props.identityProfile) && isObject(props.identityProfile.kubeletidentity) ? props.identityProfile.kubeletidentity : undefined;
        let kubelet = prevKubelet;
        if (given && typeof given.resourceId === 'string' && (!prevKubelet || keyOf(String(prevKubelet.resourceId)) !== keyOf(given.resourceId))) {
          const uai = state.getResource(given.resourceId);
          const up = uai && isObject(uai.body.properties) ? uai.body.properties : undefined;
          if (!up) return armError(400, 'BadRequest', `The kubelet identity '${given.resourceId}' was not found.`);
          kubelet = { resourceId: given.resourceId, clientId: up.clientId, objectId: up.principalId };
        }
        if (!kubelet) {
          const uaiId = `/subscriptions/${p.subscriptionId}/resourcegroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`;
          const uai = createUserAssignedIdentity(uaiId, `${name}-agentpool`, location, {});
          state.resources.set(keyOf(uaiId), uai);
          publish('write', caller, uaiId, 'Microsoft.ManagedIdentity/userAssignedIdentities/write');
          const up = uai.body.properties as Record<string, unknown>;
          kubelet = { resourceId: uaiId, clientId: up.clientId, objectId: up.principalId };
        }
        props.identityProfile = { ...(isObject(props.identityProfile) ? props.identityProfile : {}), kubeletidentity: kubelet };
        const oidc = isObject(props.oidcIssuerProfile) ? props.oidcIssuerProfile : undefined;
        if (oidc?.enabled) {
          const prevUrl = isObject(prev.oidcIssuerProfile) ? prev.oidcIssuerProfile.issuerURL : undefined;
          oidc.issuerURL = prevUrl ?? `https://${location}.oic.prod-aks.azure.com/${ctx.tenantId}/${randomUUID()}/`;
        }
        props.fqdn ??= `${name.toLowerCase()}-dns-${randomUUID().slice(0, 8)}.hcp.${location}.azmk8s.io`;
        break;
      }
      case 'microsoft.keyvault/vaults': {
        let vaultUri = `https://${name.toLowerCase()}.vault.azure.net/`;
        try {
          vaultUri = await ctx.services.get('vaults').ensureVault(name, id);
        } catch {
          // No Key Vault data plane registered: keep the Azure-shaped URI.
        }
        props.vaultUri = vaultUri;
        props.tenantId ??= ctx.tenantId;
        props.sku ??= { family: 'A', name: 'standard' };
        // The permission model (`properties.enableRbacAuthorization`). Absent on create, the default
        // depends on the api-version: `"default": false` up to 2025-05-01
        // (keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2025-05-01/openapi.json,
        // VaultProperties), `"default": true` from 2026-02-01 (…/stable/2026-02-01/openapi.json).
        // Absent on a PUT over an existing vault, it keeps its value, as VaultPatchProperties says
        // ("If null or not specified, the value of this property will not change").
        if (typeof props.enableRbacAuthorization !== 'boolean') {
          props.enableRbacAuthorization = typeof prev.enableRbacAuthorization === 'boolean' ? prev.enableRbacAuthorization : isRbacDefault(apiVersion);
        }
        break;
      }
      case 'microsoft.web/sites': {
        props.defaultHostName = `${name.toLowerCase()}.azurewebsites.net`;
        props.state ??= 'Running';
        // Every site has its configuration resource, `config/web`; the site's PUT body may carry it as
        // `properties.siteConfig`. It is what `az webapp config show` reads and a PATCH of config/web writes.
        const configId = `${id}/config/web`;
        const given = isObject(props.siteConfig) ? props.siteConfig : {};
        const stored = state.getResource(configId);
        const base = stored && isObject(stored.body.properties) ? stored.body.properties : siteConfigDefaults();
        state.resources.set(keyOf(configId), { id: configId, hidden: {}, body: { id: configId, name: 'web', type: 'Microsoft.Web/sites/config', location, properties: { ...base, ...given } } });
        break;
      }
      case 'microsoft.web/sites/config':
        // Only the `web` configuration is served (appsettings and the others are list/POST actions).
        if (name.toLowerCase() !== 'web') return armError(400, 'BadRequest', `The configuration '${name}' is not supported by the emulator; only 'web' is.`);
        Object.assign(props, { ...siteConfigDefaults(), ...prev, ...props });
        body.name = 'web';
        delete props.provisioningState;
        body.properties = props;
        return undefined;
      case 'microsoft.containerinstance/containergroups': {
        // A container group's registry passwords are write-only: the response gives `password: null`
        // (az container show); the emulator pulls nothing, so it keeps none.
        if (Array.isArray(props.imageRegistryCredentials)) {
          props.imageRegistryCredentials = props.imageRegistryCredentials.map((c) => (isObject(c) ? { ...c, ...('password' in c ? { password: null } : {}) } : c));
        }
        props.osType ??= 'Linux';
        props.instanceView = { events: [], state: 'Running' };
        break;
      }
      case 'microsoft.app/containerapps': {
        // A revision is a snapshot of `properties.template`; `properties.configuration` (registries,
        // secrets, ingress) is "Non versioned Container App configuration properties that define the
        // mutable settings of a Container app" (ContainerApps.json, Configuration) and applies to every
        // revision without creating one (https://learn.microsoft.com/azure/container-apps/revisions,
        // "Change types"). So only a template change names a new latestRevisionName.
        const templateChanged = !existing || JSON.stringify(prev.template ?? null) !== JSON.stringify(props.template ?? null);
        const revision = templateChanged || typeof prev.latestRevisionName !== 'string' ? `${name}--${randomUUID().slice(0, 7)}` : prev.latestRevisionName;
        props.latestRevisionName = revision;
        props.latestReadyRevisionName = revision;
        props.runningStatus ??= 'Running';
        break;
      }
      default:
        break;
    }
    props.provisioningState = 'Succeeded';
    body.properties = props;
    return undefined;
  };

  // ---------- resources ----------

  type Found = { p: ResourcePath; typeKey: string; spec: TypeSpec; rg: StoredResource; apiVersion: string | null; error?: undefined };
  const lookup = (path: string, apiVersion: string | null): Found | { error: EmuResponse } => {
    const p = parsePath(path);
    if (!p) return { error: armErrors.noRoute(path) };
    const typeKey = `${p.namespace}/${p.types.join('/')}`.toLowerCase();
    const spec = RESOURCE_TYPES[typeKey];
    if (!spec) return { error: armError(400, 'InvalidResourceType', `The resource type '${p.types.join('/')}' could not be found in the namespace '${p.namespace}' for api version '${apiVersion}'.`) };
    if (!subscriptionExists(p.subscriptionId)) return { error: armErrors.subscriptionNotFound(p.subscriptionId) };
    const rg = state.getResourceGroup(p.subscriptionId, p.resourceGroup);
    if (!rg) return { error: armErrors.resourceGroupNotFound(p.resourceGroup) };
    return { p, typeKey, spec, rg, apiVersion };
  };

  const writeResource = async (req: EmuRequest, caller: Caller, patch: boolean): Promise<EmuResponse> => {
    const l = lookup(req.url.pathname, req.url.searchParams.get('api-version'));
    if (l.error) return l.error;
    const { p } = l;
    if (p.types.length !== p.names.length) return armErrors.noRoute(req.url.pathname);
    const id = req.url.pathname.replace(/\/$/, '');
    const denied = check(caller, `${l.spec.type}/write`, id);
    if (denied) return denied;
    if (!isObject(req.body)) return armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    return upsert(l, id, req.body, patch, caller);
  };

  /** Creates a resource from a scenario, as a PUT would, without authorization or events. */
  const seedResource = async (id: string, input: Record<string, unknown>): Promise<void> => {
    const l = lookup(id, 'seed');
    if (l.error) throw new Error(`arm seed: resource '${id}': ${(l.error.body as { error: { message: string } }).error.message}`);
    const res = await upsert(l, id.replace(/\/$/, ''), input, false, undefined);
    if (res.status >= 300) throw new Error(`arm seed: resource '${id}': ${JSON.stringify(res.body)}`);
  };

  const upsert = async (l: Found, id: string, input: Record<string, unknown>, patch: boolean, caller: Caller | undefined): Promise<EmuResponse> => {
    const { p, typeKey, spec, rg } = l;
    const action = `${spec.type}/write`;
    if (p.names.length > 1) {
      const parentId = id.replace(/\/[^/]+\/[^/]+$/, '');
      if (!state.getResource(parentId)) return armErrors.parentNotFound(parentId.split('/').slice(-1)[0]!);
    }
    const existing = state.getResource(id);
    if (patch && !existing) return armErrors.resourceNotFound(spec.type, p.names.join('/'), p.resourceGroup);

    let identityKey: string | undefined;
    if (typeKey === FIC_TYPE) {
      identityKey = keyOf(identityOfFic(id));
      if (state.ficInFlight.has(identityKey)) return concurrentFicWrites(id);
      const count = [...state.resources.values()].filter((r) => keyOf(r.id).startsWith(identityKey + '/federatedidentitycredentials/')).length;
      if (!existing && count >= state.options.ficLimit)
        return armError(400, 'BadRequest', `Too many Federated Identity Credentials are written to the managed identity. The maximum number of Federated Identity Credentials per managed identity is ${state.options.ficLimit}.`);
      state.ficInFlight.add(identityKey);
    }
    try {
      if (identityKey) await sleep(state.options.ficWriteDurationMs);
      let body: Record<string, unknown>;
      const hidden: Record<string, unknown> = { ...(existing?.hidden ?? {}) };
      const name = p.names[p.names.length - 1]!;
      const base = { id: existing?.id ?? id, name, type: spec.type };
      if (patch && existing) {
        body = { ...existing.body };
        if ('tags' in input) body.tags = input.tags ?? {};
        if ('sku' in input) body.sku = input.sku;
        // What a task echoes of its custom registries is not state: what was written (hidden) is.
        if (isObject(body.properties)) body.properties = withoutEchoedCustomRegistries(body.properties);
        if (isObject(input.properties)) body.properties = deepMerge(isObject(body.properties) ? body.properties : {}, input.properties);
        if (isObject(input.properties) && isObject(input.properties.credentials) && 'customRegistries' in input.properties.credentials) {
          // PATCH of a task's custom registries merges by login server, as the CLI's `credential add` does.
          const merged = { ...(isObject(hidden.customRegistries) ? hidden.customRegistries : {}), ...(isObject(input.properties.credentials.customRegistries) ? input.properties.credentials.customRegistries : {}) };
          (body.properties as Record<string, unknown>).credentials = { ...(isObject((body.properties as Record<string, unknown>).credentials) ? ((body.properties as Record<string, unknown>).credentials as object) : {}), customRegistries: merged };
        }
      } else {
        body = { ...input };
        delete body.id;
        body.location ??= p.names.length > 1 ? undefined : (rg.body.location as string);
        body.tags ??= typeKey === FIC_TYPE ? undefined : {};
        body.properties = isObject(input.properties) ? structuredClone(input.properties) : {};
      }
      Object.assign(body, base);
      const identityInput = patch ? (('identity' in input ? input.identity : existing?.body.identity) as unknown) : input.identity;
      if (identityInput !== undefined) {
        const r = resolveIdentity(identityInput, existing, id, name);
        if (r.error) return r.error;
        body.identity = r.identity;
      } else if (existing && isObject(existing.body.identity) && !patch) {
        removeSystemPrincipal(existing);
        delete body.identity;
      }
      const err = await fillServerProperties(typeKey, p, id, body, existing, hidden, caller, l.apiVersion);
      if (err) return err;
      if (body.tags === undefined) delete body.tags;
      if (body.location === undefined) delete body.location;
      const stored: StoredResource = { id: existing?.id ?? id, body: { id: existing?.id ?? id, ...body }, hidden };
      state.resources.set(keyOf(id), stored);
      publish('write', caller, id, action);
      return { status: existing ? 200 : 201, body: stored.body };
    } finally {
      if (identityKey) state.ficInFlight.delete(identityKey);
    }
  };

  const deleteTree = (caller: Caller, id: string, req?: EmuRequest) => {
    const key = keyOf(id);
    const victims = [...state.resources.entries()].filter(([k]) => k === key || k.startsWith(key + '/')).sort(([a], [b]) => b.length - a.length);
    for (const [k, r] of victims) {
      state.resources.delete(k);
      removeSystemPrincipal(r);
      const typeKey = parseResourceId(r.id);
      const tk = typeKey?.namespace ? `${typeKey.namespace}/${typeKey.typePath}`.toLowerCase() : '';
      if (tk === UAMI_TYPE) {
        const pid = isObject(r.body.properties) ? r.body.properties.principalId : undefined;
        if (typeof pid === 'string') ctx.directory.remove(pid);
      }
      if (tk === 'microsoft.keyvault/vaults') {
        try { ctx.services.get('vaults').removeVault(String(r.body.name)); } catch { /* no data plane registered */ }
      }
      if (tk === 'microsoft.containerservice/managedclusters') {
        const nodeRg = isObject(r.body.properties) ? r.body.properties.nodeResourceGroup : undefined;
        if (typeof nodeRg === 'string' && typeKey) deleteResourceGroup(caller, `/subscriptions/${typeKey.subscriptionId}/resourceGroups/${nodeRg}`);
      }
      publish('delete', caller, r.id, `${String(r.body.type)}/delete`, k === key ? req : undefined);
    }
  };

  const deleteResourceGroup = (caller: Caller, id: string, req?: EmuRequest) => {
    const rg = state.resourceGroups.get(keyOf(id));
    if (!rg) return false;
    deleteTree(caller, `${id}/providers`);
    state.resourceGroups.delete(keyOf(id));
    publish('delete', caller, rg.id, 'Microsoft.Resources/subscriptions/resourceGroups/delete', req);
    return true;
  };

  const getResource = (req: EmuRequest, caller: Caller): EmuResponse => {
    const l = lookup(req.url.pathname, req.url.searchParams.get('api-version'));
    if (l.error) return l.error;
    const { p, spec, typeKey } = l;
    if (p.types.length !== p.names.length) return listResources(req, caller, typeKey, spec);
    const denied = check(caller, `${spec.type}/read`, req.url.pathname);
    if (denied) return denied;
    const r = state.getResource(req.url.pathname);
    if (!r) return armErrors.resourceNotFound(spec.type, p.names.join('/'), p.resourceGroup);
    return { status: 200, body: r.body };
  };

  const listResources = (req: EmuRequest, caller: Caller, typeKey: string, spec: TypeSpec): EmuResponse => {
    const scope = req.url.pathname.replace(/\/providers\/.*$/i, '');
    const denied = check(caller, `${spec.type}/read`, scope);
    if (denied) return denied;
    const parentKey = keyOf(req.url.pathname.replace(/\/[^/]+$/, ''));
    const items = [...state.resources.values()].filter((r) => {
      const pr = parseResourceId(r.id);
      if (!pr?.namespace || `${pr.namespace}/${pr.typePath}`.toLowerCase() !== typeKey) return false;
      return keyOf(r.id).startsWith(parentKey.includes('/providers/') ? parentKey + '/' : keyOf(scope) + '/');
    });
    return { status: 200, body: paged(req, items.map((r) => r.body), state.options.pageSize) };
  };

  const listBySubscription = (req: EmuRequest, caller: Caller): EmuResponse => {
    const m = /^\/subscriptions\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/?$/i.exec(req.url.pathname);
    if (!m) return armErrors.noRoute(req.url.pathname);
    const typeKey = `${m[2]}/${m[3]}`.toLowerCase();
    const spec = RESOURCE_TYPES[typeKey];
    if (!spec) return armErrors.noRoute(req.url.pathname);
    if (!subscriptionExists(m[1]!)) return armErrors.subscriptionNotFound(m[1]!);
    const denied = check(caller, `${spec.type}/read`, `/subscriptions/${m[1]}`);
    if (denied) return denied;
    const items = [...state.resources.values()].filter((r) => {
      const pr = parseResourceId(r.id);
      return pr?.subscriptionId.toLowerCase() === m[1]!.toLowerCase() && `${pr.namespace}/${pr.typePath}`.toLowerCase() === typeKey;
    });
    return { status: 200, body: paged(req, items.map((r) => r.body), state.options.pageSize) };
  };

  const deleteResource = async (req: EmuRequest, caller: Caller): Promise<EmuResponse> => {
    const l = lookup(req.url.pathname, req.url.searchParams.get('api-version'));
    if (l.error) return l.error;
    const denied = check(caller, `${l.spec.type}/delete`, req.url.pathname);
    if (denied) return denied;
    const id = req.url.pathname.replace(/\/$/, '');
    if (l.typeKey === FIC_TYPE) {
      // Entra's concurrency rule covers every federated-credential write on one identity, deletes included.
      const identityKey = keyOf(identityOfFic(id));
      if (state.ficInFlight.has(identityKey)) return concurrentFicWrites(id);
      state.ficInFlight.add(identityKey);
      try {
        await sleep(state.options.ficWriteDurationMs);
        if (!state.getResource(id)) return { status: 204 };
        deleteTree(caller, id, req);
        return { status: 200 };
      } finally {
        state.ficInFlight.delete(identityKey);
      }
    }
    if (!state.getResource(req.url.pathname)) return { status: 204 };
    deleteTree(caller, id, req);
    return { status: 200 };
  };

  // ---------- subscriptions and resource groups ----------

  const getSubscription = (req: EmuRequest, caller: Caller): EmuResponse => {
    const id = req.params.subscriptionId ?? '';
    const sub = state.subscriptions.get(id.toLowerCase());
    if (!sub) return armErrors.subscriptionNotFound(id);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/read', `/subscriptions/${id}`);
    if (denied) return denied;
    return { status: 200, body: { id: `/subscriptions/${sub.subscriptionId}`, subscriptionId: sub.subscriptionId, tenantId: ctx.tenantId, displayName: sub.displayName, state: 'Enabled', subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' }, authorizationSource: 'RoleBased' } };
  };

  const putResourceGroup = (req: EmuRequest, caller: Caller, patch: boolean): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const id = req.url.pathname.replace(/\/$/, '');
    const action = 'Microsoft.Resources/subscriptions/resourceGroups/write';
    const denied = check(caller, action, id);
    if (denied) return denied;
    const input = isObject(req.body) ? req.body : {};
    const existing = state.resourceGroups.get(keyOf(id));
    if (patch && !existing) return armErrors.resourceGroupNotFound(req.params.resourceGroup ?? '');
    if (!patch && typeof input.location !== 'string') return armError(400, 'LocationRequired', 'The location property is required for this definition.');
    const body = { ...(existing?.body ?? {}), id: existing?.id ?? id, name: existing?.body.name ?? req.params.resourceGroup, type: 'Microsoft.Resources/resourceGroups', location: existing?.body.location ?? input.location, tags: 'tags' in input ? (input.tags ?? {}) : (existing?.body.tags ?? {}), properties: { provisioningState: 'Succeeded' } };
    if ('managedBy' in input) (body as Record<string, unknown>).managedBy = input.managedBy;
    state.resourceGroups.set(keyOf(id), { id: body.id as string, body, hidden: {} });
    publish('write', caller, id, action);
    return { status: existing ? 200 : 201, body };
  };

  const getResourceGroup = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/read', req.url.pathname);
    if (denied) return denied;
    const rg = state.resourceGroups.get(keyOf(req.url.pathname));
    return rg ? { status: 200, body: rg.body } : armErrors.resourceGroupNotFound(req.params.resourceGroup ?? '');
  };

  const listResourceGroups = (req: EmuRequest, caller: Caller): EmuResponse => {
    const sub = req.params.subscriptionId ?? '';
    if (!subscriptionExists(sub)) return armErrors.subscriptionNotFound(sub);
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/read', `/subscriptions/${sub}`);
    if (denied) return denied;
    const items = [...state.resourceGroups.values()].filter((r) => keyOf(r.id).startsWith(`/subscriptions/${sub.toLowerCase()}/`));
    return { status: 200, body: paged(req, items.map((r) => r.body), state.options.pageSize) };
  };

  const removeResourceGroup = (req: EmuRequest, caller: Caller): EmuResponse => {
    const denied = check(caller, 'Microsoft.Resources/subscriptions/resourceGroups/delete', req.url.pathname);
    if (denied) return denied;
    return deleteResourceGroup(caller, req.url.pathname.replace(/\/$/, ''), req) ? { status: 200 } : { status: 204 };
  };

  // ---------- tags API: {scope}/providers/Microsoft.Resources/tags/default ----------
  // resources/.../examples/PutTagsResource.json, PatchTagsResource.json, GetTagsResource.json

  const tagsJson = (scope: string, tags: unknown) => ({ id: `${scope}/providers/Microsoft.Resources/tags/default`, name: 'default', type: 'Microsoft.Resources/tags', properties: { tags: isObject(tags) ? tags : {} } });

  const tagTarget = (scope: string): StoredResource | undefined => state.getAny(scope);

  const tags = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = (req.params.scope ?? '').replace(/\/$/, '');
    const target = tagTarget(scope);
    if (!target) return armError(404, 'ResourceNotFound', `The Resource '${scope}' was not found.`);
    const action = req.method === 'GET' ? 'Microsoft.Resources/tags/read' : req.method === 'DELETE' ? 'Microsoft.Resources/tags/delete' : 'Microsoft.Resources/tags/write';
    const denied = check(caller, action, scope);
    if (denied) return denied;
    const current = isObject(target.body.tags) ? { ...target.body.tags } : {};
    if (req.method === 'GET') return { status: 200, body: tagsJson(target.id, current) };
    let next: Record<string, unknown>;
    if (req.method === 'DELETE') next = {};
    else {
      const input = isObject(req.body) ? req.body : {};
      const given = isObject(input.properties) && isObject(input.properties.tags) ? input.properties.tags : {};
      if (req.method === 'PUT') next = { ...given };
      else {
        const op = String(input.operation ?? '').toLowerCase();
        if (op === 'merge') next = { ...current, ...given };
        else if (op === 'replace') next = { ...given };
        else if (op === 'delete') {
          next = { ...current };
          for (const [k, v] of Object.entries(given)) {
            const key = Object.keys(next).find((x) => x.toLowerCase() === k.toLowerCase());
            if (key !== undefined && (v === '' || v === null || String(next[key]) === String(v))) delete next[key];
          }
        } else return armError(400, 'InvalidTagOperation', `The tag operation '${String(input.operation)}' is invalid. Supported operations are Merge, Replace and Delete.`);
      }
    }
    target.body = { ...target.body, tags: next };
    publish('write', caller, target.id, 'Microsoft.Resources/tags/write');
    return { status: 200, body: tagsJson(target.id, next) };
  };

  return { writeResource, seedResource, getResource, deleteResource, listBySubscription, getSubscription, putResourceGroup, getResourceGroup, listResourceGroups, removeResourceGroup, tags };
}

/** What `config/web` answers for a site nobody configured: UpdateSiteConfig.json's defaults for the fields the product reads. */
function siteConfigDefaults(): Record<string, unknown> {
  return { numberOfWorkers: 1, linuxFxVersion: '', windowsFxVersion: null, acrUseManagedIdentityCreds: false, acrUserManagedIdentityID: null, alwaysOn: false, http20Enabled: false };
}

/** A task's properties without the echoed `credentials.customRegistries` (login server → null). */
function withoutEchoedCustomRegistries(properties: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(properties.credentials) || !('customRegistries' in properties.credentials)) return properties;
  const { customRegistries: _echo, ...credentials } = properties.credentials;
  return { ...properties, credentials };
}
