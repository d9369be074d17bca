/**
 * Resource Graph `POST /providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`.
 * Request and response: azure-rest-api-specs specification/resourcegraph/resource-manager/
 * Microsoft.ResourceGraph/stable/2022-10-01/examples/ResourcesBasicQuery.json and
 * ResourcesFirstPageQuery.json / ResourcesNextPageQuery.json (`$skipToken`): `totalRecords`,
 * `count`, `data` (objectArray), `facets`, `resultTruncated` as the string "false".
 */
import type { EmuRequest, EmuResponse } from '../core/contract.js';
import { toRoleAssignmentJson, type createAuthorizer } from './authorization.js';
import { armError } from './errors.js';
import { parseResourceId } from './ids.js';
import { KqlError, parseQuery, runQuery, type Row } from './kql.js';
import { isObject, type ArmState, type Caller, type RoleAssignment, type StoredResource } from './state.js';

/** A resource as a row of the `resources` table: type lower-cased, as Resource Graph gives it. */
export function toRow(r: StoredResource, tenantId: string): Row {
  const p = parseResourceId(r.id);
  const b = r.body;
  return {
    id: r.id,
    name: b.name,
    type: String(b.type).toLowerCase(),
    tenantId,
    kind: b.kind ?? '',
    location: b.location ?? '',
    resourceGroup: (p?.resourceGroup ?? '').toLowerCase(),
    subscriptionId: p?.subscriptionId ?? '',
    managedBy: b.managedBy ?? '',
    sku: b.sku ?? null,
    tags: b.tags ?? null,
    identity: b.identity ?? null,
    properties: b.properties ?? {},
  };
}

/**
 * A role assignment as a row of the `authorizationresources` table: type lower-cased, `properties`
 * as ARM answers the assignment (principalId, roleDefinitionId, scope, …), subscriptionId and
 * resourceGroup from its scope (empty at a management group). Shape as in "Announcing
 * AuthorizationResources in Azure Resource Graph" and the samples-by-table page
 * (https://learn.microsoft.com/azure/governance/resource-graph/samples/samples-by-table#authorizationresources).
 */
export function toAuthorizationRow(a: RoleAssignment, tenantId: string): Row {
  const p = parseResourceId(a.scope);
  return {
    id: a.id,
    name: a.name,
    type: 'microsoft.authorization/roleassignments',
    tenantId,
    kind: '',
    location: '',
    resourceGroup: (p?.resourceGroup ?? '').toLowerCase(),
    subscriptionId: p?.subscriptionId ?? '',
    managedBy: '',
    sku: null,
    tags: null,
    identity: null,
    properties: toRoleAssignmentJson(a).properties as Record<string, unknown>,
  };
}

const SCOPE_FILTERS = ['atscopeandbelow', 'atscopeandabove', 'atscopeexact', 'atscopeaboveandbelow'];

/**
 * The role assignments a query over `subs` sees under `authorizationScopeFilter` (default
 * AtScopeAndBelow): below = in one of the subscriptions; above = at a scope above one of them, which
 * here is the tenant root `/` or a management group (the emulator keeps no management-group tree:
 * every subscription sits under every management group). Without subscriptions: all of them.
 */
function authorizationRows(
  state: ArmState,
  tenantId: string,
  subs: readonly string[] | undefined,
  filter: string,
  readable: (scope: string) => boolean,
): Row[] {
  const above = filter === 'atscopeandabove' || filter === 'atscopeaboveandbelow';
  const below = filter === 'atscopeandbelow' || filter === 'atscopeaboveandbelow';
  const out: Row[] = [];
  for (const a of state.roleAssignments.values()) {
    const sub = parseResourceId(a.scope)?.subscriptionId?.toLowerCase();
    let visible: boolean;
    if (sub !== undefined) {
      const inSubs = !subs || subs.includes(sub);
      const atSubscription = parseResourceId(a.scope)?.resourceGroup === undefined;
      visible = inSubs && (below || (atSubscription && (above || filter === 'atscopeexact')));
      if (visible && !readable(a.scope)) visible = false;
    } else {
      // Tenant root or a management group: above every subscription, seen by whoever may read one of them.
      visible = above && (subs ?? [...state.subscriptions.keys()]).some((s) => readable(`/subscriptions/${s}`));
    }
    if (visible) out.push(toAuthorizationRow(a, tenantId));
  }
  return out;
}

export function resourceGraphHandler(state: ArmState, tenantId: string, authorizer: ReturnType<typeof createAuthorizer>) {
  return (req: EmuRequest, caller: Caller): EmuResponse => {
    const body = isObject(req.body) ? req.body : {};
    if (typeof body.query !== 'string') return armError(400, 'BadRequest', 'Please provide a query.');
    let parsed;
    try {
      parsed = parseQuery(body.query);
    } catch (e) {
      if (e instanceof KqlError)
        return armError(
          400,
          'BadRequest',
          'Please provide below info when asking for support: the query is not supported by the emulator.',
          { details: [{ code: 'InvalidQuery', message: e.message }] },
        );
      throw e;
    }
    const options = isObject(body.options) ? body.options : {};
    if (options.resultFormat && String(options.resultFormat).toLowerCase() !== 'objectarray')
      return armError(400, 'BadRequest', "The emulator supports only resultFormat 'objectArray'.");
    const subs = Array.isArray(body.subscriptions) ? body.subscriptions.map((s) => String(s).toLowerCase()) : undefined;
    const scopeFilter = String(options.authorizationScopeFilter ?? 'AtScopeAndBelow').toLowerCase();
    if (!SCOPE_FILTERS.includes(scopeFilter))
      return armError(400, 'BadRequest', `Invalid authorizationScopeFilter '${String(options.authorizationScopeFilter)}'.`);
    const rows =
      parsed.table === 'authorizationresources'
        ? authorizationRows(state, tenantId, subs, scopeFilter, (scope) =>
            authorizer.isAuthorized(caller.objectId, 'Microsoft.Authorization/roleAssignments/read', scope),
          )
        : [...state.resources.values()]
            .filter((r) => !subs || subs.includes((parseResourceId(r.id)?.subscriptionId ?? '').toLowerCase()))
            .filter((r) => authorizer.isAuthorized(caller.objectId, `${String(r.body.type)}/read`, r.id))
            .map((r) => toRow(r, tenantId));
    const result = runQuery(parsed, rows);
    const top = Math.min(Number(options.$top ?? options.top ?? 100) || 100, 1000);
    const skip = Number(options.$skipToken ?? options.skipToken ?? options.$skip ?? options.skip ?? 0) || 0;
    const data = result.slice(skip, skip + top);
    const out: Record<string, unknown> = { totalRecords: result.length, count: data.length, data, facets: [], resultTruncated: 'false' };
    if (skip + top < result.length) out.$skipToken = String(skip + top);
    return { status: 200, body: out, rows: data.length };
  };
}
