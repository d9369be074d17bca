/**
 * What every ARM resource handler shares: the authorization check, ARM's events, managed
 * identities as ARM fills them on compute resources, and the contract a resource type implements
 * (types/*.ts, one file per type or family, as Azurite keeps one handler per API).
 */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext } from '../core/contract.js';
import { toArmEvent } from './armEvents.js';
import type { createAuthorizer } from './authorization.js';
import { armError, armErrors } from './errors.js';
import { keyOf } from './ids.js';
import { deepMerge, isObject, type ArmState, type Caller, type StoredResource } from './state.js';

export interface ResourceDeps {
  readonly ctx: EmulatorContext;
  readonly state: ArmState;
  readonly authorizer: ReturnType<typeof createAuthorizer>;
}

/** A resource path split into its segments: `…/providers/{namespace}/{type}/{name}[/{type}/{name}]`. */
export interface ResourcePath {
  subscriptionId: string;
  resourceGroup: string;
  namespace: string;
  types: string[];
  names: string[];
}

export function parsePath(path: string): ResourcePath | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/([^/]+)\/(.+?)\/?$/i.exec(path);
  if (!m) return undefined;
  const parts = m[4]!.split('/');
  const types: string[] = [];
  const names: string[] = [];
  parts.forEach((p, i) => (i % 2 === 0 ? types : names).push(decodeURIComponent(p)));
  return { subscriptionId: m[1]!, resourceGroup: decodeURIComponent(m[2]!), namespace: m[3]!, types, names };
}

/** One PUT or PATCH of a resource, as a type's `fill` sees it; `props` is the properties to store, filled in place. */
export interface TypeWrite {
  readonly p: ResourcePath;
  readonly id: string;
  /** The resource's own name (the last segment). */
  readonly name: string;
  readonly location: string;
  readonly body: Record<string, unknown>;
  readonly props: Record<string, unknown>;
  /** The stored properties before this write (empty on create). */
  readonly prev: Record<string, unknown>;
  readonly existing: StoredResource | undefined;
  /** What was written but Azure does not echo; kept for the admin snapshot. */
  readonly hidden: Record<string, unknown>;
  readonly caller: Caller | undefined;
  readonly apiVersion: string | null;
}

/** Operations a type may need from the resource store beyond its own resource. */
export interface ResourceOps {
  deleteResourceGroup(caller: Caller, id: string): boolean;
}

/** A resource type the emulator serves, with what Azure does for it beyond the generic ARM contract. */
export interface ResourceType {
  /** Canonical casing, for `type` in responses. */
  readonly type: string;
  /** Server-filled properties, as Azure fills them on PUT and PATCH; a response refuses the write. */
  readonly fill?: (w: TypeWrite) => EmuResponse | undefined | Promise<EmuResponse | undefined>;
  /** Its `fill` sets the stored properties itself: no `provisioningState` is added. */
  readonly ownsProperties?: boolean;
  /** PATCH: merges the request's properties into the stored body (default: `mergeProperties`). */
  readonly patch?: (body: Record<string, unknown>, input: Record<string, unknown>, hidden: Record<string, unknown>) => void;
  /** The type has no `tags` of its own (it is not a tracked resource). */
  readonly untagged?: boolean;
  /** Guards a write or delete of one resource of this type (Entra's per-identity concurrency rule): a response refuses it. */
  readonly guard?: (
    id: string,
    existing: StoredResource | undefined,
    op: 'write' | 'delete',
  ) => Promise<{ refused: EmuResponse } | { release: () => void }>;
  /** What else goes when a resource of this type is deleted (its principal, its data plane, its node resource group). */
  readonly onDelete?: (r: StoredResource, caller: Caller, ops: ResourceOps) => void;
}

/** PATCH of properties as ARM does it for most types: the request's properties deep-merged into the stored ones. */
export function mergeProperties(body: Record<string, unknown>, input: Record<string, unknown>): void {
  if (isObject(input.properties)) body.properties = deepMerge(isObject(body.properties) ? body.properties : {}, input.properties);
}

/** The shared helpers, built once per ARM module from its context, state and authorizer. */
export function createResourceKit({ ctx, state, authorizer }: ResourceDeps) {
  const check = (caller: Caller, action: string, scope: string): EmuResponse | undefined =>
    authorizer.isAuthorized(caller.objectId, action, scope) ? undefined : armErrors.authorizationFailed(caller.objectId, action, scope);

  /** Publishes ARM's event for a write or delete; seeded resources (no caller) publish nothing. */
  const publish = (kind: 'write' | 'delete', caller: Caller | undefined, resourceId: string, operationName: string, req?: EmuRequest) =>
    caller &&
    ctx.events.publish(
      toArmEvent({
        kind,
        resourceId,
        operationName,
        claims: caller.claims,
        tenantId: ctx.tenantId,
        correlationId: caller.correlationId,
        evidence: authorizer.explain(caller.objectId, operationName, resourceId),
        request: req,
        now: ctx.clock.now(),
      }),
    );

  const subscriptionExists = (id: string) => state.subscriptions.has(id.toLowerCase());

  const addManagedIdentityPrincipal = (displayName: string, resourceId: string) => {
    // A principal the directory already holds for this resource (a scenario's `identity.principals`,
    // such as the Function App's own identity) is the identity's service principal: reuse it.
    const known = ctx.directory
      .list()
      .find((x) => x.servicePrincipalType === 'ManagedIdentity' && x.resourceId !== undefined && keyOf(x.resourceId) === keyOf(resourceId));
    if (known) return { objectId: known.objectId, appId: known.appId ?? randomUUID() };
    const objectId = randomUUID();
    const appId = randomUUID();
    ctx.directory.add({
      objectId,
      appId,
      displayName,
      principalType: 'ServicePrincipal',
      servicePrincipalType: 'ManagedIdentity',
      resourceId,
      createdAt: ctx.clock.now(),
    });
    return { objectId, appId };
  };

  /** Resolves `identity` as ARM does: system-assigned gets a principal; user-assigned ids must exist. */
  const resolveIdentity = (
    input: unknown,
    existing: StoredResource | undefined,
    id: string,
    name: string,
  ): { identity?: Record<string, unknown>; error?: EmuResponse } => {
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
        if (!props)
          return {
            error: armError(
              400,
              'FailedIdentityOperation',
              `Identity operation for resource '${id}' failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. Response: '{"error":{"code":"NotFound","message":"Resource '${uaiId}' not found."}}'.'.`,
            ),
          };
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

  /** Creates a resource group ARM makes on its own (an AKS node resource group), with its event. */
  const ensureResourceGroup = (caller: Caller | undefined, subscriptionId: string, name: string, location: string, managedBy?: string) => {
    const id = `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
    if (state.resourceGroups.has(keyOf(id))) return;
    state.resourceGroups.set(keyOf(id), {
      id,
      hidden: {},
      body: {
        id,
        name,
        type: 'Microsoft.Resources/resourceGroups',
        location,
        managedBy,
        tags: {},
        properties: { provisioningState: 'Succeeded' },
      },
    });
    publish('write', caller, id, 'Microsoft.Resources/subscriptions/resourceGroups/write');
  };

  const createUserAssignedIdentity = (id: string, name: string, location: string, tags: unknown): StoredResource => {
    const { objectId, appId } = addManagedIdentityPrincipal(name, id);
    return {
      id,
      hidden: {},
      body: {
        id,
        name,
        type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
        location,
        tags: isObject(tags) ? tags : {},
        properties: { tenantId: ctx.tenantId, principalId: objectId, clientId: appId, isolationScope: 'None' },
      },
    };
  };

  return {
    ctx,
    state,
    check,
    publish,
    subscriptionExists,
    addManagedIdentityPrincipal,
    resolveIdentity,
    removeSystemPrincipal,
    ensureResourceGroup,
    createUserAssignedIdentity,
  };
}

export type ResourceKit = ReturnType<typeof createResourceKit>;
