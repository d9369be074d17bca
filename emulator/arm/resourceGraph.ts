/**
 * Resource Graph `POST /providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01`.
 * Request and response: azure-rest-api-specs specification/resourcegraph/resource-manager/
 * Microsoft.ResourceGraph/stable/2022-10-01/examples/ResourcesBasicQuery.json and
 * ResourcesFirstPageQuery.json / ResourcesNextPageQuery.json (`$skipToken`): `totalRecords`,
 * `count`, `data` (objectArray), `facets`, `resultTruncated` as the string "false".
 */
import type { EmuRequest, EmuResponse } from '../core/contract.js';
import type { createAuthorizer } from './authorization.js';
import { armError } from './errors.js';
import { parseResourceId } from './ids.js';
import { KqlError, parseQuery, runQuery, type Row } from './kql.js';
import { isObject, type ArmState, type Caller, type StoredResource } from './state.js';

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

export function resourceGraphHandler(state: ArmState, tenantId: string, authorizer: ReturnType<typeof createAuthorizer>) {
  return (req: EmuRequest, caller: Caller): EmuResponse => {
    const body = isObject(req.body) ? req.body : {};
    if (typeof body.query !== 'string') return armError(400, 'BadRequest', 'Please provide a query.');
    let parsed;
    try {
      parsed = parseQuery(body.query);
    } catch (e) {
      if (e instanceof KqlError) return armError(400, 'BadRequest', 'Please provide below info when asking for support: the query is not supported by the emulator.', { details: [{ code: 'InvalidQuery', message: e.message }] });
      throw e;
    }
    const options = isObject(body.options) ? body.options : {};
    if (options.resultFormat && String(options.resultFormat).toLowerCase() !== 'objectarray')
      return armError(400, 'BadRequest', "The emulator supports only resultFormat 'objectArray'.");
    const subs = Array.isArray(body.subscriptions) ? body.subscriptions.map((s) => String(s).toLowerCase()) : undefined;
    const rows = [...state.resources.values()]
      .filter((r) => !subs || subs.includes((parseResourceId(r.id)?.subscriptionId ?? '').toLowerCase()))
      .filter((r) => authorizer.isAuthorized(caller.objectId, `${String(r.body.type)}/read`, r.id))
      .map((r) => toRow(r, tenantId));
    const result = runQuery(parsed, rows);
    const top = Math.min(Number(options.$top ?? options.top ?? 100) || 100, 1000);
    const skip = Number(options.$skipToken ?? options.skipToken ?? options.$skip ?? options.skip ?? 0) || 0;
    const data = result.slice(skip, skip + top);
    const out: Record<string, unknown> = { totalRecords: result.length, count: data.length, data, facets: [], resultTruncated: 'false' };
    if (skip + top < result.length) out.$skipToken = String(skip + top);
    return { status: 200, body: out };
  };
}
