/**
 * The ARM module: resources, tags, Microsoft.Authorization and Resource Graph. Registers its
 * routes against the emulator contract and provides the `authorizer` service.
 *
 * Routes are split by API (for counters, latency and faults) on the last `/providers/{ns}`
 * segment of the path: Microsoft.Authorization → authorization, Microsoft.ResourceGraph →
 * resourceGraph, everything else → arm. Microsoft.ManagedIdentity resources (user-assigned
 * identities, federated credentials) are ARM resources like any other: they share ARM's write
 * throttle and error shape, so they count as `arm`, not as `managedIdentity` (the token endpoint).
 */
import { createHash } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext, EmulatorModule, RegisterModule } from '../core/contract.js';
import { authorizationHandlers, createAuthorizer } from './authorization.js';
import { discoveryHandlers } from './discovery.js';
import { canonicalPath, collapseEmptySegments } from './paths.js';
import { armError } from './errors.js';
import { keyOf } from './ids.js';
import { resourceGraphHandler } from './resourceGraph.js';
import { resourceHandlers } from './resources.js';
import { BUILT_IN_ROLE_IDS, toCustomRole, type CustomRoleSeed } from './roles.js';
import { ArmState, DEFAULT_OPTIONS, armEntry, isObject, type DenyPolicy } from './state.js';

export { BUILT_IN_ROLE_IDS } from './roles.js';

/** Scenario keys this module reads (from `scenario.arm` or the top level). */
export interface ArmSeed {
  /** Made Owner on the default subscription. */
  operatorObjectId?: string;
  /** The product's identity: Reader + RBAC Administrator + Managed Identity Contributor + Key Vault Secrets Officer on the default subscription (the default scenario narrows Secrets Officer to the demo vault through `roleAssignments`). */
  appObjectId?: string;
  subscriptions?: { subscriptionId: string; displayName?: string }[];
  resourceGroups?: { subscriptionId?: string; name: string; location: string; tags?: Record<string, string> }[];
  /** Custom role definitions (`{ name?, roleName, actions, notActions?, dataActions?, assignableScopes? }`); seeded before `roleAssignments`, which may name them by GUID or role name. */
  roleDefinitions?: CustomRoleSeed[];
  roleAssignments?: {
    scope: string;
    principalId: string;
    roleDefinitionId: string;
    principalType?: string;
    name?: string;
    description?: string;
  }[];
  /** Resources created as a PUT of the same body would (server-filled properties, no events); the resource group must exist. */
  resources?: {
    id: string;
    location?: string;
    tags?: Record<string, string>;
    properties?: Record<string, unknown>;
    identity?: Record<string, unknown>;
    sku?: Record<string, unknown>;
    kind?: string;
  }[];
  denyPolicies?: DenyPolicy[];
  options?: Partial<typeof DEFAULT_OPTIONS>;
}

const LAST_PROVIDER = (ns: string) =>
  new RegExp(`^(?<scope>(?:/.*)?)/providers/${ns.replace('.', '\\.')}/(?<rest>(?:(?!/providers/).)+)$`, 'i');
// Resource paths whose last provider namespace is not one handled elsewhere.
const GENERIC_RESOURCE =
  /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/(?!Microsoft\.(?:Authorization|ManagedIdentity|Resources)\/)(?!.*\/providers\/).+$/i;
const IDENTITY_RESOURCE = /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/(?!.*\/providers\/).+$/i;
const LIST_BY_SUBSCRIPTION = /^\/subscriptions\/[^/]+\/providers\/(?!Microsoft\.(?:Authorization|Resources)\/)[^/]+\/[^/]+\/?$/i;

export const registerArm: RegisterModule = (ctx: EmulatorContext): EmulatorModule => {
  const state = new ArmState();
  const authorizer = createAuthorizer(state);
  ctx.services.provide('authorizer', authorizer);
  const res = resourceHandlers({ ctx, state, authorizer });
  const auth = authorizationHandlers({ ctx, state, authorizer });
  const graph = resourceGraphHandler(state, ctx.tenantId, authorizer);
  const r = ctx.router;
  const e = (h: Parameters<typeof armEntry>[1]) => armEntry(ctx, h);

  const initial = () => {
    state.subscriptions.set(ctx.defaultSubscriptionId.toLowerCase(), {
      subscriptionId: ctx.defaultSubscriptionId,
      displayName: 'Emulated subscription',
    });
  };
  initial();

  // Subscriptions and resource groups.
  r.add('arm', 'GET', /^\/subscriptions\/(?<subscriptionId>[^/]+)\/?$/i, e(res.getSubscription));
  r.add('arm', 'GET', /^\/subscriptions\/(?<subscriptionId>[^/]+)\/resourcegroups\/?$/i, e(res.listResourceGroups));
  const RG = /^\/subscriptions\/(?<subscriptionId>[^/]+)\/resourcegroups\/(?<resourceGroup>[^/]+)\/?$/i;
  r.add(
    'arm',
    'PUT',
    RG,
    e((q, c) => res.putResourceGroup(q, c, false)),
  );
  r.add(
    'arm',
    'PATCH',
    RG,
    e((q, c) => res.putResourceGroup(q, c, true)),
  );
  r.add('arm', 'GET', RG, e(res.getResourceGroup));
  r.add('arm', 'DELETE', RG, e(res.removeResourceGroup));

  // Resources, Microsoft.ManagedIdentity included (see the header comment).
  for (const pattern of [GENERIC_RESOURCE, IDENTITY_RESOURCE]) {
    const api = 'arm';
    r.add(
      api,
      'PUT',
      pattern,
      e((q, c) => res.writeResource(q, c, false)),
    );
    r.add(
      api,
      'PATCH',
      pattern,
      e((q, c) => res.writeResource(q, c, true)),
    );
    r.add(api, 'GET', pattern, e(res.getResource));
    r.add(api, 'DELETE', pattern, e(res.deleteResource));
    // Resources_CheckExistence (resources/.../2021-04-01/examples/CheckExistenceResources.json): 204 or 404, no body.
    r.add(
      api,
      'HEAD',
      pattern,
      e(async (q, c) => {
        const got = await res.getResource(q, c);
        return { status: got.status === 200 ? 204 : got.status, headers: got.headers };
      }),
    );
  }
  r.add('arm', 'GET', LIST_BY_SUBSCRIPTION, e(res.listBySubscription));

  // Tags.
  const TAGS = /^(?<scope>\/subscriptions\/.+?)\/providers\/Microsoft\.Resources\/tags\/default\/?$/i;
  for (const m of ['GET', 'PUT', 'PATCH', 'DELETE']) r.add('arm', m, TAGS, e(res.tags));

  // Microsoft.Authorization.
  const AUTH = LAST_PROVIDER('Microsoft.Authorization');
  const authRoute = (method: string, handler: (q: EmuRequest, c: Parameters<Parameters<typeof armEntry>[1]>[1]) => EmuResponse) =>
    r.add(
      'authorization',
      method,
      AUTH,
      e((q, c) => {
        const rest = q.params.rest ?? '';
        const m = /^(roleAssignments|roleDefinitions)(?:\/([^/]+))?\/?$/i.exec(rest);
        if (!m)
          return armError(
            404,
            'InvalidResourceType',
            `The resource type '${rest}' could not be found in the namespace 'Microsoft.Authorization'.`,
          );
        // ARM collapses repeated slashes: `getById('/subscriptions/…')` sends `//subscriptions/…`.
        const params = {
          ...q.params,
          scope: (q.params.scope ?? '').replace(/\/{2,}/g, '/').replace(/\/$/, ''),
          name: m[2] ?? '',
          id: m[2] ?? '',
        };
        return handler({ ...q, params }, c);
      }),
    );
  authRoute('GET', (q, c) => {
    const isDef = /^roleDefinitions/i.test(q.params.rest ?? '');
    if (isDef) return q.params.id ? auth.getRoleDefinition(q) : auth.listRoleDefinitions(q);
    return q.params.name ? auth.getRoleAssignment(q, c) : auth.listRoleAssignments(q, c);
  });
  authRoute('PUT', (q, c) =>
    /^roleAssignments\/./i.test(q.params.rest ?? '')
      ? auth.putRoleAssignment(q, c)
      : armError(405, 'MethodNotAllowed', 'Custom role definitions are not supported by the emulator.'),
  );
  authRoute('DELETE', (q, c) =>
    /^roleAssignments\/./i.test(q.params.rest ?? '')
      ? auth.deleteRoleAssignment(q, c)
      : armError(405, 'MethodNotAllowed', 'Custom role definitions are not supported by the emulator.'),
  );

  // What clients ask before they act, resource listing, template deployments (discovery.ts).
  const disc = discoveryHandlers({ ctx, state, authorizer });
  // ARM ignores empty path segments and answers ids with its own casing of fixed segments (paths.ts).
  r.rewritePath?.((path) =>
    /^\/(?:subscriptions|providers)(?:\/|$)/i.test(path) ? canonicalPath(collapseEmptySegments(path)) : undefined,
  );
  r.add('arm', 'GET', /^\/subscriptions\/?$/i, e(disc.listSubscriptions));
  r.add('arm', 'HEAD', RG, e(disc.checkResourceGroup));
  r.add('arm', 'GET', /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers\/?$/i, e(disc.listProviders));
  r.add('arm', 'GET', /^\/subscriptions\/(?<subscriptionId>[^/]+)\/providers\/(?<namespace>[^/]+)\/?$/i, e(disc.getProvider));
  r.add('arm', 'GET', /^\/subscriptions\/(?<subscriptionId>[^/]+)\/tagNames\/?$/i, e(disc.listTagNames));
  r.add(
    'arm',
    'GET',
    /^\/subscriptions\/(?<subscriptionId>[^/]+)(?:\/resourcegroups\/(?<resourceGroup>[^/]+))?\/resources\/?$/i,
    e(disc.listResources),
  );
  // Anonymous, as in Azure: a client reads it before it has a token.
  r.add('arm', 'GET', /^\/metadata\/endpoints\/?$/i, disc.metadataEndpoints);
  const DEPLOYMENTS = String.raw`^/subscriptions/(?<subscriptionId>[^/]+)(?:/resourcegroups/(?<resourceGroup>[^/]+))?/providers/Microsoft\.Resources/deployments`;
  const DEPLOYMENT = new RegExp(`${DEPLOYMENTS}/(?<name>[^/]+)/?$`, 'i');
  r.add('arm', 'GET', new RegExp(`${DEPLOYMENTS}/?$`, 'i'), e(disc.listDeployments));
  r.add('arm', 'PUT', DEPLOYMENT, e(disc.deploymentNotSupported));
  r.add('arm', 'GET', DEPLOYMENT, e(disc.deploymentNotFound));
  r.add(
    'arm',
    'HEAD',
    DEPLOYMENT,
    e(() => ({ status: 404 })),
  );
  r.add(
    'arm',
    'DELETE',
    DEPLOYMENT,
    e(() => ({ status: 204 })),
  );
  r.add('arm', 'POST', new RegExp(`${DEPLOYMENTS}/(?<name>[^/]+)/(?:validate|whatIf)/?$`, 'i'), e(disc.deploymentNotSupported));

  // Resource Graph.
  r.add('resourceGraph', 'POST', /^\/providers\/Microsoft\.ResourceGraph\/resources\/?$/i, e(graph));

  // Admin: options and deny policies.
  r.add('admin', 'GET', /^\/admin\/arm\/options$/, () => ({ status: 200, body: state.options }));
  r.add('admin', 'PUT', /^\/admin\/arm\/options$/, (q) => {
    if (isObject(q.body)) Object.assign(state.options, q.body);
    return { status: 200, body: state.options };
  });
  r.add('admin', 'PUT', /^\/admin\/arm\/policies\/(?<name>[^/]+)$/, (q) => {
    const p: DenyPolicy = { ...(isObject(q.body) ? (q.body as Partial<DenyPolicy>) : {}), name: q.params.name ?? '' };
    state.denyPolicies.set(p.name, p);
    return { status: 200, body: p };
  });
  r.add('admin', 'DELETE', /^\/admin\/arm\/policies\/(?<name>[^/]+)$/, (q) => {
    state.denyPolicies.delete(q.params.name ?? '');
    return { status: 204 };
  });

  const addAssignment = (a: NonNullable<ArmSeed['roleAssignments']>[number]) => {
    const role = state.findRole(a.roleDefinitionId);
    if (!role) throw new Error(`arm seed: unknown role '${a.roleDefinitionId}' (use a built-in or seeded custom role id or name)`);
    const name = a.name ?? deterministicGuid(`${a.scope}|${a.principalId}|${role.name}`);
    const id = `${a.scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    const now = ctx.clock.now().toISOString();
    state.roleAssignments.set(keyOf(id), {
      id,
      name,
      scope: a.scope,
      roleDefinitionId: role.name,
      principalId: a.principalId,
      principalType: a.principalType ?? ctx.directory.get(a.principalId)?.principalType ?? 'ServicePrincipal',
      description: a.description ?? null,
      condition: null,
      conditionVersion: null,
      createdOn: now,
      updatedOn: now,
      createdBy: null,
      updatedBy: null,
    });
  };

  return {
    name: 'arm',
    snapshot: () => ({
      subscriptions: [...state.subscriptions.values()],
      resourceGroups: [...state.resourceGroups.values()].map((x) => x.body),
      resources: [...state.resources.values()].map((x) => ({ ...x.body, ...(Object.keys(x.hidden).length ? { written: x.hidden } : {}) })),
      roleAssignments: [...state.roleAssignments.values()],
      denyPolicies: [...state.denyPolicies.values()],
      roleDefinitions: [...state.customRoles.values()],
      options: state.options,
    }),
    seed: async (scenario) => {
      const s = (isObject(scenario.arm) ? scenario.arm : scenario) as ArmSeed;
      const sub = `/subscriptions/${ctx.defaultSubscriptionId}`;
      for (const x of s.subscriptions ?? [])
        state.subscriptions.set(x.subscriptionId.toLowerCase(), {
          subscriptionId: x.subscriptionId,
          displayName: x.displayName ?? x.subscriptionId,
        });
      if (s.options) Object.assign(state.options, s.options);
      for (const p of s.denyPolicies ?? []) state.denyPolicies.set(p.name, p);
      for (const d of s.roleDefinitions ?? []) {
        if (!d || typeof d.roleName !== 'string' || !Array.isArray(d.actions))
          throw new Error('arm seed: roleDefinitions entries need roleName and actions');
        const role = toCustomRole(d, d.name ?? deterministicGuid(`customRole|${d.roleName}`), sub);
        state.customRoles.set(role.name, role);
      }
      if (s.operatorObjectId) addAssignment({ scope: sub, principalId: s.operatorObjectId, roleDefinitionId: BUILT_IN_ROLE_IDS.Owner });
      if (s.appObjectId) {
        for (const role of [
          BUILT_IN_ROLE_IDS.Reader,
          BUILT_IN_ROLE_IDS.RoleBasedAccessControlAdministrator,
          BUILT_IN_ROLE_IDS.ManagedIdentityContributor,
          BUILT_IN_ROLE_IDS.KeyVaultSecretsOfficer,
        ])
          addAssignment({ scope: sub, principalId: s.appObjectId, roleDefinitionId: role });
      }
      for (const rg of s.resourceGroups ?? []) {
        const id = `/subscriptions/${rg.subscriptionId ?? ctx.defaultSubscriptionId}/resourceGroups/${rg.name}`;
        state.resourceGroups.set(keyOf(id), {
          id,
          hidden: {},
          body: {
            id,
            name: rg.name,
            type: 'Microsoft.Resources/resourceGroups',
            location: rg.location,
            tags: rg.tags ?? {},
            properties: { provisioningState: 'Succeeded' },
          },
        });
      }
      for (const x of s.resources ?? []) {
        const { id, ...body } = x;
        await res.seedResource(id, body);
      }
      for (const a of s.roleAssignments ?? []) addAssignment(a);
    },
    reset: () => {
      state.subscriptions.clear();
      state.resourceGroups.clear();
      state.resources.clear();
      state.roleAssignments.clear();
      state.denyPolicies.clear();
      state.customRoles.clear();
      state.ficInFlight.clear();
      state.options = { ...DEFAULT_OPTIONS };
      initial();
    },
  };
};

/** A name-based GUID (SHA-1, version 5 layout) for seeded assignment names. */
function deterministicGuid(input: string): string {
  const h = createHash('sha1').update(input.toLowerCase()).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}
