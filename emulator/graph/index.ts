import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext, RegisterModule, TokenClaims } from '../core/contract.js';
import { apiError } from '../core/errors.js';
import { AUDIENCES } from '../core/wellKnown.js';
import { parseGraphFilter } from './filter.js';

/**
 * Microsoft Graph v1.0: applications, their passwords, service principals.
 * https://learn.microsoft.com/graph/api/resources/application
 */

interface Password {
  readonly keyId: string;
  readonly displayName: string | null;
  readonly hint: string;
  readonly startDateTime: string;
  readonly endDateTime: string;
  readonly secretHash: Buffer;
}

interface Application {
  readonly id: string;
  readonly appId: string;
  displayName: string;
  readonly createdDateTime: string;
  readonly owners: Set<string>;
  passwords: Password[];
  extra: Record<string, unknown>;
}

interface ServicePrincipal {
  readonly id: string;
  readonly appId: string;
  readonly displayName: string;
  readonly createdDateTime: string;
}

/** Graph application permissions this module understands. */
const READ_WRITE_ALL = new Set(['Application.ReadWrite.All', 'Directory.ReadWrite.All']);
const READ_ALL = new Set(['Application.Read.All', 'Directory.Read.All']);
const OWNED_BY = 'Application.ReadWrite.OwnedBy';

export interface GraphSeed {
  applications?: Array<{
    id?: string;
    appId?: string;
    displayName: string;
    owners?: string[];
    passwords?: Array<{ secretText: string; endDateTime?: string; displayName?: string; keyId?: string }>;
    servicePrincipal?: { id?: string } | boolean;
  }>;
  /** Graph app roles (application permissions) per principal object id. */
  permissions?: Record<string, string[]>;
}

const hash = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();
const GRAPH = 'https://graph.microsoft.com/v1.0';

export const registerGraph: RegisterModule = (ctx: EmulatorContext) => {
  const apps = new Map<string, Application>();
  const sps = new Map<string, ServicePrincipal>();
  const permissions = new Map<string, Set<string>>();

  const now = () => ctx.clock.now();
  const err = (status: number, code: string, message: string) => apiError('graph', status, code, message);
  const notFound = (id: string) => err(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
  const denied = () => err(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
  const odata = (context: string, body: Record<string, unknown>) => ({ '@odata.context': `${GRAPH}/$metadata#${context}`, ...body });

  const rolesOf = (oid: string) => permissions.get(oid.toLowerCase()) ?? new Set<string>();
  const can = (caller: TokenClaims, op: 'create' | 'read' | 'write', app?: Application): boolean => {
    const roles = rolesOf(caller.oid);
    if ([...roles].some((r) => READ_WRITE_ALL.has(r))) return true;
    if (op === 'read' && [...roles].some((r) => READ_ALL.has(r))) return true;
    if (!roles.has(OWNED_BY)) return false;
    return op === 'create' || !!app?.owners.has(caller.oid.toLowerCase());
  };

  const findApp = (params: Record<string, string>): Application | undefined => {
    if (params.appId) return [...apps.values()].find((a) => a.appId.toLowerCase() === params.appId!.toLowerCase());
    return params.id ? apps.get(params.id.toLowerCase()) : undefined;
  };

  const toPasswordJson = (p: Password, secretText: string | null = null) => ({
    customKeyIdentifier: null,
    displayName: p.displayName,
    endDateTime: p.endDateTime,
    hint: p.hint,
    keyId: p.keyId,
    secretText,
    startDateTime: p.startDateTime,
  });
  const toAppJson = (a: Application) => ({
    id: a.id,
    deletedDateTime: null,
    appId: a.appId,
    createdDateTime: a.createdDateTime,
    displayName: a.displayName,
    signInAudience: 'AzureADMyOrg',
    tags: [],
    keyCredentials: [],
    passwordCredentials: a.passwords.map((p) => toPasswordJson(p)),
    ...a.extra,
  });
  const toSpJson = (s: ServicePrincipal) => ({
    id: s.id,
    deletedDateTime: null,
    accountEnabled: true,
    appId: s.appId,
    appDisplayName: s.displayName,
    appOwnerOrganizationId: ctx.tenantId,
    displayName: s.displayName,
    servicePrincipalNames: [s.appId],
    servicePrincipalType: 'Application',
    passwordCredentials: [],
    keyCredentials: [],
  });

  /**
   * A managed identity's service principal, from the directory (ARM creates them): Graph lists them with
   * `servicePrincipalType: ManagedIdentity` and the identity's resource id among `servicePrincipalNames`
   * and `alternativeNames` (https://learn.microsoft.com/graph/api/resources/serviceprincipal).
   */
  const managedIdentities = () => ctx.directory.list().filter((p) => p.servicePrincipalType === 'ManagedIdentity' && p.appId);
  const toManagedIdentityJson = (p: ReturnType<typeof managedIdentities>[number]) => ({
    id: p.objectId,
    deletedDateTime: null,
    accountEnabled: true,
    alternativeNames: p.resourceId ? ['isExplicit=False', p.resourceId] : [],
    appId: p.appId!,
    appDisplayName: null,
    appOwnerOrganizationId: null,
    displayName: p.displayName,
    servicePrincipalNames: [p.appId!, ...(p.resourceId ? [p.resourceId] : [])],
    servicePrincipalType: 'ManagedIdentity',
    passwordCredentials: [],
    keyCredentials: [],
  });
  /** Reading principals the caller does not own needs a tenant-wide read permission. */
  const canReadDirectory = (caller: TokenClaims) => [...rolesOf(caller.oid)].some((r) => READ_WRITE_ALL.has(r) || READ_ALL.has(r));

  function createApp(displayName: string, owner: string | undefined, ids: { id?: string; appId?: string } = {}, extra: Record<string, unknown> = {}): Application {
    const app: Application = {
      id: (ids.id ?? randomUUID()).toLowerCase(),
      appId: (ids.appId ?? randomUUID()).toLowerCase(),
      displayName,
      createdDateTime: now().toISOString().replace(/\.\d+Z$/, 'Z'),
      owners: new Set(owner ? [owner.toLowerCase()] : []),
      passwords: [],
      extra,
    };
    apps.set(app.id, app);
    return app;
  }

  function addPassword(app: Application, input: { displayName?: unknown; endDateTime?: unknown; startDateTime?: unknown }, secretText?: string, keyId?: string) {
    const secret = secretText ?? randomBytes(30).toString('base64url').replace(/[-_]/g, '~').slice(0, 40);
    const start = typeof input.startDateTime === 'string' ? new Date(input.startDateTime) : now();
    // Graph's default lifetime for a password without endDateTime is two years.
    const end = typeof input.endDateTime === 'string' ? new Date(input.endDateTime) : new Date(start.getTime() + 2 * 365 * 86_400_000);
    const password: Password = {
      keyId: (keyId ?? randomUUID()).toLowerCase(),
      displayName: typeof input.displayName === 'string' ? input.displayName : null,
      hint: secret.slice(0, 3),
      startDateTime: start.toISOString(),
      endDateTime: end.toISOString(),
      secretHash: hash(secret),
    };
    app.passwords.push(password);
    return { password, secret };
  }

  function createSp(app: Application, id?: string): ServicePrincipal {
    const sp: ServicePrincipal = { id: (id ?? randomUUID()).toLowerCase(), appId: app.appId, displayName: app.displayName, createdDateTime: now().toISOString() };
    sps.set(sp.id, sp);
    ctx.directory.add({ objectId: sp.id, appId: sp.appId, displayName: sp.displayName, principalType: 'ServicePrincipal', servicePrincipalType: 'Application', createdAt: now() });
    return sp;
  }

  ctx.services.provide('appCredentials', {
    checkClientSecret(appId, secret) {
      const app = [...apps.values()].find((a) => a.appId.toLowerCase() === appId.toLowerCase());
      if (!app) return 'unknownClient';
      const h = hash(secret);
      const match = app.passwords.find((p) => timingSafeEqual(p.secretHash, h));
      if (!match) return 'invalidSecret';
      const t = now().getTime();
      if (t >= Date.parse(match.endDateTime)) return 'expiredSecret';
      if (t < Date.parse(match.startDateTime) - 5 * 60_000) return 'invalidSecret';
      return 'valid';
    },
  });

  /** Wraps a handler with the bearer check Graph applies. */
  const authed = (handler: (req: EmuRequest, caller: TokenClaims) => EmuResponse) => (req: EmuRequest): EmuResponse => {
    if (!req.headers.authorization) return err(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    const caller = ctx.tokens.verify(req.headers.authorization, [...AUDIENCES.graph, ctx.baseUrl, `${ctx.baseUrl}/`]);
    if (!caller) return err(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience, signature or expiry.');
    return handler(req, caller);
  };
  const bodyObject = (req: EmuRequest): Record<string, unknown> | undefined =>
    req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : undefined;

  const r = ctx.router;
  const APP_REF = String.raw`(?:/(?<id>[0-9a-fA-F-]{36})|\(appId='(?<appId>[^']+)'\))`;

  r.add('graph', 'POST', /^\/v1\.0\/applications\/?$/i, authed((req, caller) => {
    const body = bodyObject(req);
    if (!body || typeof body.displayName !== 'string' || !body.displayName) return err(400, 'Request_BadRequest', "Property 'displayName' is required.");
    if (!can(caller, 'create')) return denied();
    const { displayName, passwordCredentials: _ignored, ...extra } = body;
    const app = createApp(displayName, caller.oid, {}, Object.fromEntries(Object.entries(extra).filter(([k]) => !['id', 'appId', 'createdDateTime'].includes(k))));
    return { status: 201, headers: { Location: `${GRAPH}/applications/${app.id}` }, body: odata('applications/$entity', toAppJson(app)) };
  }));

  r.add('graph', 'GET', /^\/v1\.0\/applications\/?$/i, authed((req, caller) => {
    const filter = parseGraphFilter(req.url.searchParams.get('$filter'), 'applications');
    if (filter === 'unsupported') return err(400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
    const value = [...apps.values()]
      .filter((a) => can(caller, 'read', a))
      .filter((a) => !filter || filter(a))
      .map(toAppJson);
    return { status: 200, body: odata('applications', { value }) };
  }));

  r.add('graph', 'GET', new RegExp(`^/v1\\.0/applications${APP_REF}/?$`, 'i'), authed((req, caller) => {
    const app = findApp(req.params);
    if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
    if (!can(caller, 'read', app)) return denied();
    return { status: 200, body: odata('applications/$entity', toAppJson(app)) };
  }));

  r.add('graph', 'DELETE', new RegExp(`^/v1\\.0/applications${APP_REF}/?$`, 'i'), authed((req, caller) => {
    const app = findApp(req.params);
    if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
    if (!can(caller, 'write', app)) return denied();
    apps.delete(app.id);
    for (const sp of [...sps.values()]) if (sp.appId === app.appId) {
      sps.delete(sp.id);
      ctx.directory.remove(sp.id);
    }
    return { status: 204 };
  }));

  // https://learn.microsoft.com/graph/api/application-addpassword — secretText is returned only here.
  r.add('graph', 'POST', new RegExp(`^/v1\\.0/applications${APP_REF}/addPassword$`, 'i'), authed((req, caller) => {
    const app = findApp(req.params);
    if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
    if (!can(caller, 'write', app)) return denied();
    const body = bodyObject(req);
    const input = (body?.passwordCredential && typeof body.passwordCredential === 'object' ? body.passwordCredential : {}) as Record<string, unknown>;
    if (input.endDateTime !== undefined && (typeof input.endDateTime !== 'string' || Number.isNaN(Date.parse(input.endDateTime)))) {
      return err(400, 'Request_BadRequest', "Invalid value specified for property 'endDateTime' of resource 'PasswordCredential'.");
    }
    const { password, secret } = addPassword(app, input);
    return { status: 200, body: odata('microsoft.graph.passwordCredential', toPasswordJson(password, secret)) };
  }));

  // https://learn.microsoft.com/graph/api/application-removepassword — 204 No Content.
  r.add('graph', 'POST', new RegExp(`^/v1\\.0/applications${APP_REF}/removePassword$`, 'i'), authed((req, caller) => {
    const app = findApp(req.params);
    if (!app) return notFound(req.params.id ?? req.params.appId ?? '');
    if (!can(caller, 'write', app)) return denied();
    const keyId = bodyObject(req)?.keyId;
    if (typeof keyId !== 'string') return err(400, 'Request_BadRequest', "Property 'keyId' is required.");
    const before = app.passwords.length;
    app.passwords = app.passwords.filter((p) => p.keyId !== keyId.toLowerCase());
    if (app.passwords.length === before) return err(400, 'Request_BadRequest', `No password credential found with keyId '${keyId}'.`);
    return { status: 204 };
  }));

  r.add('graph', 'POST', /^\/v1\.0\/servicePrincipals\/?$/i, authed((req, caller) => {
    const appId = bodyObject(req)?.appId;
    if (typeof appId !== 'string') return err(400, 'Request_BadRequest', "Property 'appId' is required.");
    const app = findApp({ appId });
    if (!app) return err(400, 'Request_BadRequest', `The appId '${appId}' of the service principal does not reference a valid application object.`);
    if (!can(caller, 'write', app)) return denied();
    if ([...sps.values()].some((s) => s.appId === app.appId)) {
      return err(409, 'Request_MultipleObjectsWithSameKeyValue', 'The service principal cannot be created, updated, or restored because the service principal name is already in use.');
    }
    const sp = createSp(app);
    return { status: 201, headers: { Location: `${GRAPH}/servicePrincipals/${sp.id}` }, body: odata('servicePrincipals/$entity', toSpJson(sp)) };
  }));

  const spReadable = (caller: TokenClaims, sp: ServicePrincipal) => can(caller, 'read', findApp({ appId: sp.appId }));
  r.add('graph', 'GET', /^\/v1\.0\/servicePrincipals\/?$/i, authed((req, caller) => {
    const filter = parseGraphFilter(req.url.searchParams.get('$filter'), 'servicePrincipals');
    if (filter === 'unsupported') return err(400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
    const value = [
      ...[...sps.values()].filter((s) => spReadable(caller, s)).map(toSpJson),
      ...(canReadDirectory(caller) ? managedIdentities().map(toManagedIdentityJson) : []),
    ].filter((s) => !filter || filter(s));
    return { status: 200, body: odata('servicePrincipals', { value }) };
  }));
  r.add('graph', 'GET', /^\/v1\.0\/servicePrincipals(?:\/(?<id>[0-9a-fA-F-]{36})|\(appId='(?<appId>[^']+)'\))\/?$/i, authed((req, caller) => {
    const sp = req.params.id
      ? sps.get(req.params.id.toLowerCase())
      : [...sps.values()].find((s) => s.appId.toLowerCase() === req.params.appId!.toLowerCase());
    if (!sp) {
      const mi = managedIdentities().find((p) => (req.params.id ? p.objectId.toLowerCase() === req.params.id.toLowerCase() : p.appId!.toLowerCase() === req.params.appId!.toLowerCase()));
      if (!mi) return notFound(req.params.id ?? req.params.appId ?? '');
      if (!canReadDirectory(caller)) return denied();
      return { status: 200, body: odata('servicePrincipals/$entity', toManagedIdentityJson(mi)) };
    }
    if (!spReadable(caller, sp)) return denied();
    return { status: 200, body: odata('servicePrincipals/$entity', toSpJson(sp)) };
  }));

  // https://learn.microsoft.com/graph/api/directoryobject-getbyids: the objects among `ids` of the
  // requested `types`, in full where the caller may read them, else with only `@odata.type` and `id`
  // ("Limited information returned for inaccessible member objects"); unknown ids are left out.
  r.add('graph', 'POST', /^\/v1\.0\/directoryObjects\/getByIds\/?$/i, authed((req, caller) => {
    const body = bodyObject(req);
    const ids = body?.ids;
    if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string')) return err(400, 'Request_BadRequest', "Property 'ids' is required: a collection of object ids.");
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
        value.push(can(caller, 'read', app) ? { '@odata.type': '#microsoft.graph.application', ...toAppJson(app) } : limited('application', app.id));
        continue;
      }
      const sp = sps.get(id);
      if (sp && wanted('servicePrincipal')) {
        value.push(spReadable(caller, sp) ? { '@odata.type': '#microsoft.graph.servicePrincipal', ...toSpJson(sp) } : limited('servicePrincipal', sp.id));
        continue;
      }
      const mi = managedIdentities().find((p) => p.objectId.toLowerCase() === id);
      if (mi && wanted('servicePrincipal')) {
        value.push(canReadDirectory(caller) ? { '@odata.type': '#microsoft.graph.servicePrincipal', ...toManagedIdentityJson(mi) } : limited('servicePrincipal', mi.objectId));
      }
    }
    return { status: 200, body: odata('directoryObjects', { value }) };
  }));

  return {
    name: 'graph',
    snapshot: () => ({
      applications: [...apps.values()].map((a) => ({ ...toAppJson(a), owners: [...a.owners] })),
      servicePrincipals: [...sps.values()].map(toSpJson),
      permissions: Object.fromEntries([...permissions].map(([k, v]) => [k, [...v]])),
    }),
    seed(scenario) {
      const seed = scenario.graph as GraphSeed | undefined;
      if (!seed) return;
      for (const [oid, roles] of Object.entries(seed.permissions ?? {})) permissions.set(oid.toLowerCase(), new Set(roles));
      for (const a of seed.applications ?? []) {
        const app = findApp({ id: a.id?.toLowerCase() ?? '', appId: a.appId ?? '' }) ?? createApp(a.displayName, undefined, { id: a.id, appId: a.appId });
        for (const o of a.owners ?? []) app.owners.add(o.toLowerCase());
        for (const p of a.passwords ?? []) addPassword(app, p, p.secretText, p.keyId);
        if (a.servicePrincipal && ![...sps.values()].some((s) => s.appId === app.appId)) {
          createSp(app, typeof a.servicePrincipal === 'object' ? a.servicePrincipal.id : undefined);
        }
      }
    },
    reset() {
      apps.clear();
      sps.clear();
      permissions.clear();
    },
  };
};
