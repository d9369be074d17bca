/**
 * Graph's service principals: create one for an application, list (with `$filter`) and read, the
 * directory's managed identities included. https://learn.microsoft.com/graph/api/resources/serviceprincipal
 */
import { parseGraphFilter } from './filter.js';
import { GRAPH, type GraphStore } from './state.js';

export function servicePrincipalRoutes(store: GraphStore): void {
  const {
    ctx,
    sps,
    err,
    notFound,
    denied,
    odata,
    can,
    findApp,
    toSpJson,
    managedIdentities,
    toManagedIdentityJson,
    canReadDirectory,
    createSp,
    authed,
    bodyObject,
    spReadable,
  } = store;
  const r = ctx.router;
  r.add(
    'graph',
    'POST',
    /^\/v1\.0\/servicePrincipals\/?$/i,
    authed((req, caller) => {
      const appId = bodyObject(req)?.appId;
      if (typeof appId !== 'string') return err(400, 'Request_BadRequest', "Property 'appId' is required.");
      const app = findApp({ appId });
      if (!app)
        return err(
          400,
          'Request_BadRequest',
          `The appId '${appId}' of the service principal does not reference a valid application object.`,
        );
      if (!can(caller, 'write', app)) return denied();
      if ([...sps.values()].some((s) => s.appId === app.appId)) {
        return err(
          409,
          'Request_MultipleObjectsWithSameKeyValue',
          'The service principal cannot be created, updated, or restored because the service principal name is already in use.',
        );
      }
      const sp = createSp(app);
      return {
        status: 201,
        headers: { Location: `${GRAPH}/servicePrincipals/${sp.id}` },
        body: odata('servicePrincipals/$entity', toSpJson(sp)),
      };
    }),
  );
  r.add(
    'graph',
    'GET',
    /^\/v1\.0\/servicePrincipals\/?$/i,
    authed((req, caller) => {
      const filter = parseGraphFilter(req.url.searchParams.get('$filter'), 'servicePrincipals');
      if (filter === 'unsupported') return err(400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
      const value = [
        ...[...sps.values()].filter((s) => spReadable(caller, s)).map(toSpJson),
        ...(canReadDirectory(caller) ? managedIdentities().map(toManagedIdentityJson) : []),
      ].filter((s) => !filter || filter(s));
      return { status: 200, body: odata('servicePrincipals', { value }) };
    }),
  );
  r.add(
    'graph',
    'GET',
    /^\/v1\.0\/servicePrincipals(?:\/(?<id>[0-9a-fA-F-]{36})|\(appId='(?<appId>[^']+)'\))\/?$/i,
    authed((req, caller) => {
      const sp = req.params.id
        ? sps.get(req.params.id.toLowerCase())
        : [...sps.values()].find((s) => s.appId.toLowerCase() === req.params.appId!.toLowerCase());
      if (!sp) {
        const mi = managedIdentities().find((p) =>
          req.params.id
            ? p.objectId.toLowerCase() === req.params.id.toLowerCase()
            : p.appId!.toLowerCase() === req.params.appId!.toLowerCase(),
        );
        if (!mi) return notFound(req.params.id ?? req.params.appId ?? '');
        if (!canReadDirectory(caller)) return denied();
        return { status: 200, body: odata('servicePrincipals/$entity', toManagedIdentityJson(mi)) };
      }
      if (!spReadable(caller, sp)) return denied();
      return { status: 200, body: odata('servicePrincipals/$entity', toSpJson(sp)) };
    }),
  );
}
