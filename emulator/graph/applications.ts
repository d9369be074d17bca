/**
 * Graph's applications: create, list (with `$filter`), read, delete, addPassword, removePassword.
 * https://learn.microsoft.com/graph/api/resources/application
 */
import { parseGraphFilter } from './filter.js';
import { GRAPH, type GraphStore } from './state.js';

export function applicationRoutes(store: GraphStore): void {
  const {
    ctx,
    apps,
    sps,
    err,
    notFound,
    denied,
    odata,
    can,
    findApp,
    toPasswordJson,
    toAppJson,
    createApp,
    addPassword,
    authed,
    bodyObject,
  } = store;
  const r = ctx.router;
  const APP_REF = String.raw`(?:/(?<id>[0-9a-fA-F-]{36})|\(appId='(?<appId>[^']+)'\))`;

  r.add(
    'graph',
    'POST',
    /^\/v1\.0\/applications\/?$/i,
    authed((req, caller) => {
      const body = bodyObject(req);
      if (!body || typeof body.displayName !== 'string' || !body.displayName)
        return err(400, 'Request_BadRequest', "Property 'displayName' is required.");
      if (!can(caller, 'create')) return denied();
      const { displayName, passwordCredentials: _ignored, ...extra } = body;
      const app = createApp(
        displayName,
        caller.oid,
        {},
        Object.fromEntries(Object.entries(extra).filter(([k]) => !['id', 'appId', 'createdDateTime'].includes(k))),
      );
      return { status: 201, headers: { Location: `${GRAPH}/applications/${app.id}` }, body: odata('applications/$entity', toAppJson(app)) };
    }),
  );

  r.add(
    'graph',
    'GET',
    /^\/v1\.0\/applications\/?$/i,
    authed((req, caller) => {
      const filter = parseGraphFilter(req.url.searchParams.get('$filter'), 'applications');
      if (filter === 'unsupported') return err(400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
      const value = [...apps.values()]
        .filter((a) => can(caller, 'read', a))
        .filter((a) => !filter || filter(a))
        .map(toAppJson);
      return { status: 200, body: odata('applications', { value }) };
    }),
  );

  r.add(
    'graph',
    'GET',
    new RegExp(`^/v1\\.0/applications${APP_REF}/?$`, 'i'),
    authed((req, caller) => {
      const app = findApp(req.params);
      if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
      if (!can(caller, 'read', app)) return denied();
      return { status: 200, body: odata('applications/$entity', toAppJson(app)) };
    }),
  );

  r.add(
    'graph',
    'DELETE',
    new RegExp(`^/v1\\.0/applications${APP_REF}/?$`, 'i'),
    authed((req, caller) => {
      const app = findApp(req.params);
      if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
      if (!can(caller, 'write', app)) return denied();
      apps.delete(app.id);
      for (const sp of [...sps.values()])
        if (sp.appId === app.appId) {
          sps.delete(sp.id);
          ctx.directory.remove(sp.id);
        }
      return { status: 204 };
    }),
  );

  // https://learn.microsoft.com/graph/api/application-addpassword — secretText is returned only here.
  r.add(
    'graph',
    'POST',
    new RegExp(`^/v1\\.0/applications${APP_REF}/addPassword$`, 'i'),
    authed((req, caller) => {
      const app = findApp(req.params);
      if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
      if (!can(caller, 'write', app)) return denied();
      const body = bodyObject(req);
      const input = (body?.passwordCredential && typeof body.passwordCredential === 'object' ? body.passwordCredential : {}) as Record<
        string,
        unknown
      >;
      if (input.endDateTime !== undefined && (typeof input.endDateTime !== 'string' || Number.isNaN(Date.parse(input.endDateTime)))) {
        return err(400, 'Request_BadRequest', "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.");
      }
      const { password, secret } = addPassword(app, input);
      return { status: 200, body: odata('microsoft.graph.passwordCredential', toPasswordJson(password, secret)) };
    }),
  );

  // https://learn.microsoft.com/graph/api/application-removepassword — 204 No Content.
  r.add(
    'graph',
    'POST',
    new RegExp(`^/v1\\.0/applications${APP_REF}/removePassword$`, 'i'),
    authed((req, caller) => {
      const app = findApp(req.params);
      if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
      if (!can(caller, 'write', app)) return denied();
      const keyId = bodyObject(req)?.keyId;
      if (typeof keyId !== 'string') return err(400, 'Request_BadRequest', "Property 'keyId' is required.");
      const before = app.passwords.length;
      app.passwords = app.passwords.filter((p) => p.keyId !== keyId.toLowerCase());
      if (app.passwords.length === before) return err(400, 'Request_BadRequest', `No password credential found with keyId '${keyId}'.`);
      return { status: 204 };
    }),
  );
}
