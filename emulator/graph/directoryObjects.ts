/** Graph's `directoryObjects/getByIds`, over applications, service principals and managed identities. */
import type { GraphStore } from './state.js';

export function directoryObjectRoutes(store: GraphStore): void {
  const {
    ctx,
    apps,
    sps,
    err,
    denied,
    odata,
    rolesOf,
    can,
    toAppJson,
    toSpJson,
    managedIdentities,
    toManagedIdentityJson,
    canReadDirectory,
    authed,
    bodyObject,
    spReadable,
  } = store;
  const r = ctx.router;
  // https://learn.microsoft.com/graph/api/directoryobject-getbyids: the objects among `ids` of the
  // requested `types`, in full where the caller may read them, else with only `@odata.type` and `id`
  // ("Limited information returned for inaccessible member objects"); unknown ids are left out.
  r.add(
    'graph',
    'POST',
    /^\/v1\.0\/directoryObjects\/getByIds\/?$/i,
    authed((req, caller) => {
      const body = bodyObject(req);
      const ids = body?.ids;
      if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string'))
        return err(400, 'Request_BadRequest', "Property 'ids' is required: a collection of object ids.");
      if (ids.length > 1000) return err(400, 'Request_BadRequest', "Property 'ids' takes at most 1000 ids.");
      const types = Array.isArray(body?.types) ? new Set((body!.types as unknown[]).map((t) => String(t).toLowerCase())) : undefined;
      if (rolesOf(caller.oid).size === 0) return denied();
      const wanted = (t: string) => !types || types.has(t.toLowerCase());
      const limited = (type: string, id: string) => ({ '@odata.type': `#microsoft.graph.${type}`, id, displayName: null });
      const value: unknown[] = [];
      for (const raw of ids as string[]) {
        const id = raw.toLowerCase();
        const app = apps.get(id);
        if (app && wanted('application')) {
          value.push(
            can(caller, 'read', app)
              ? { '@odata.type': '#microsoft.graph.application', ...toAppJson(app) }
              : limited('application', app.id),
          );
          continue;
        }
        const sp = sps.get(id);
        if (sp && wanted('servicePrincipal')) {
          value.push(
            spReadable(caller, sp)
              ? { '@odata.type': '#microsoft.graph.servicePrincipal', ...toSpJson(sp) }
              : limited('servicePrincipal', sp.id),
          );
          continue;
        }
        const mi = managedIdentities().find((p) => p.objectId.toLowerCase() === id);
        if (mi && wanted('servicePrincipal')) {
          value.push(
            canReadDirectory(caller)
              ? { '@odata.type': '#microsoft.graph.servicePrincipal', ...toManagedIdentityJson(mi) }
              : limited('servicePrincipal', mi.objectId),
          );
        }
      }
      return { status: 200, body: odata('directoryObjects', { value }) };
    }),
  );
}
