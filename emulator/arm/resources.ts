/**
 * ARM resources: the generic contract every resource type follows, with what a type does beyond it
 * in its own handler (types/*.ts). PUT creates (201) or replaces (200), PATCH merges (tags and
 * identity replace, properties merge), DELETE answers 200, or 204 when absent. Bodies follow the
 * azure-rest-api-specs examples cited beside each type. Subscriptions and resource groups are in
 * resourceGroups.ts, the tags API in tagsApi.ts.
 */
import type { EmuRequest, EmuResponse } from '../core/contract.js';
import { armError, armErrors } from './errors.js';
import { keyOf, parseResourceId } from './ids.js';
import { resourceGroupHandlers } from './resourceGroups.js';
import { createResourceKit, mergeProperties, parsePath, type ResourceDeps, type ResourcePath, type ResourceType } from './resourceKit.js';
import { tagsHandler } from './tagsApi.js';
import { resourceTypes } from './types/index.js';
import { isObject, paged, type Caller, type StoredResource } from './state.js';

export type { ResourceDeps } from './resourceKit.js';

export function resourceHandlers(deps: ResourceDeps) {
  const kit = createResourceKit(deps);
  const { state, check, publish, subscriptionExists, resolveIdentity, removeSystemPrincipal } = kit;
  const RESOURCE_TYPES = resourceTypes(kit);

  type Found = { p: ResourcePath; typeKey: string; spec: ResourceType; rg: StoredResource; apiVersion: string | null; error?: undefined };
  const lookup = (path: string, apiVersion: string | null): Found | { error: EmuResponse } => {
    const p = parsePath(path);
    if (!p) return { error: armErrors.noRoute(path) };
    const typeKey = `${p.namespace}/${p.types.join('/')}`.toLowerCase();
    const spec = RESOURCE_TYPES[typeKey];
    if (!spec)
      return {
        error: armError(
          400,
          'InvalidResourceType',
          `The resource type '${p.types.join('/')}' could not be found in the namespace '${p.namespace}' for api version '${apiVersion}'.`,
        ),
      };
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
    if (!isObject(req.body))
      return armError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    return upsert(l, id, req.body, patch, caller);
  };

  /** Creates a resource from a scenario, as a PUT would, without authorization or events. */
  const seedResource = async (id: string, input: Record<string, unknown>): Promise<void> => {
    const l = lookup(id, 'seed');
    if (l.error) throw new Error(`arm seed: resource '${id}': ${(l.error.body as { error: { message: string } }).error.message}`);
    const res = await upsert(l, id.replace(/\/$/, ''), input, false, undefined);
    if (res.status >= 300) throw new Error(`arm seed: resource '${id}': ${JSON.stringify(res.body)}`);
  };

  const upsert = async (
    l: Found,
    id: string,
    input: Record<string, unknown>,
    patch: boolean,
    caller: Caller | undefined,
  ): Promise<EmuResponse> => {
    const { p, spec, rg } = l;
    const action = `${spec.type}/write`;
    if (p.names.length > 1) {
      const parentId = id.replace(/\/[^/]+\/[^/]+$/, '');
      if (!state.getResource(parentId)) return armErrors.parentNotFound(parentId.split('/').slice(-1)[0]!);
    }
    const existing = state.getResource(id);
    if (patch && !existing) return armErrors.resourceNotFound(spec.type, p.names.join('/'), p.resourceGroup);

    const guard = spec.guard ? await spec.guard(id, existing, 'write') : undefined;
    if (guard && 'refused' in guard) return guard.refused;
    try {
      let body: Record<string, unknown>;
      const hidden: Record<string, unknown> = { ...(existing?.hidden ?? {}) };
      const name = p.names[p.names.length - 1]!;
      const base = { id: existing?.id ?? id, name, type: spec.type };
      if (patch && existing) {
        body = { ...existing.body };
        if ('tags' in input) body.tags = input.tags ?? {};
        if ('sku' in input) body.sku = input.sku;
        (spec.patch ?? mergeProperties)(body, input, hidden);
      } else {
        body = { ...input };
        delete body.id;
        body.location ??= p.names.length > 1 ? undefined : (rg.body.location as string);
        body.tags ??= spec.untagged ? undefined : {};
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
      const err = await fill(spec, {
        p,
        id,
        name,
        location: String(body.location ?? 'eastus'),
        body,
        props: (isObject(body.properties) ? body.properties : {}) as Record<string, unknown>,
        prev: existing && isObject(existing.body.properties) ? existing.body.properties : {},
        existing,
        hidden,
        caller,
        apiVersion: l.apiVersion,
      });
      if (err) return err;
      if (body.tags === undefined) delete body.tags;
      if (body.location === undefined) delete body.location;
      const stored: StoredResource = { id: existing?.id ?? id, body: { id: existing?.id ?? id, ...body }, hidden };
      state.resources.set(keyOf(id), stored);
      publish('write', caller, id, action);
      return { status: existing ? 200 : 201, body: stored.body };
    } finally {
      if (guard && 'release' in guard) guard.release();
    }
  };

  /** The type's server fills, then `provisioningState: Succeeded` unless the type keeps its properties as they are. */
  const fill = async (spec: ResourceType, w: Parameters<NonNullable<ResourceType['fill']>>[0]): Promise<EmuResponse | undefined> => {
    const err = await spec.fill?.(w);
    if (err) return err;
    if (spec.ownsProperties) return undefined;
    w.props.provisioningState = 'Succeeded';
    w.body.properties = w.props;
    return undefined;
  };

  const deleteTree = (caller: Caller, id: string, req?: EmuRequest) => {
    const key = keyOf(id);
    const victims = [...state.resources.entries()]
      .filter(([k]) => k === key || k.startsWith(key + '/'))
      .sort(([a], [b]) => b.length - a.length);
    for (const [k, r] of victims) {
      state.resources.delete(k);
      removeSystemPrincipal(r);
      const parsed = parseResourceId(r.id);
      const tk = parsed?.namespace ? `${parsed.namespace}/${parsed.typePath}`.toLowerCase() : '';
      RESOURCE_TYPES[tk]?.onDelete?.(r, caller, { deleteResourceGroup });
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

  const listResources = (req: EmuRequest, caller: Caller, typeKey: string, spec: ResourceType): EmuResponse => {
    const scope = req.url.pathname.replace(/\/providers\/.*$/i, '');
    const denied = check(caller, `${spec.type}/read`, scope);
    if (denied) return denied;
    const parentKey = keyOf(req.url.pathname.replace(/\/[^/]+$/, ''));
    const items = [...state.resources.values()].filter((r) => {
      const pr = parseResourceId(r.id);
      if (!pr?.namespace || `${pr.namespace}/${pr.typePath}`.toLowerCase() !== typeKey) return false;
      return keyOf(r.id).startsWith(parentKey.includes('/providers/') ? parentKey + '/' : keyOf(scope) + '/');
    });
    return {
      status: 200,
      body: paged(
        req,
        items.map((r) => r.body),
        state.options.pageSize,
      ),
    };
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
    return {
      status: 200,
      body: paged(
        req,
        items.map((r) => r.body),
        state.options.pageSize,
      ),
    };
  };

  const deleteResource = async (req: EmuRequest, caller: Caller): Promise<EmuResponse> => {
    const l = lookup(req.url.pathname, req.url.searchParams.get('api-version'));
    if (l.error) return l.error;
    const denied = check(caller, `${l.spec.type}/delete`, req.url.pathname);
    if (denied) return denied;
    const id = req.url.pathname.replace(/\/$/, '');
    const guard = l.spec.guard ? await l.spec.guard(id, state.getResource(id), 'delete') : undefined;
    if (guard && 'refused' in guard) return guard.refused;
    try {
      if (!state.getResource(id)) return { status: 204 };
      deleteTree(caller, id, req);
      return { status: 200 };
    } finally {
      if (guard && 'release' in guard) guard.release();
    }
  };

  return {
    writeResource,
    seedResource,
    getResource,
    deleteResource,
    listBySubscription,
    ...resourceGroupHandlers(kit, deleteResourceGroup),
    tags: tagsHandler(kit),
  };
}
