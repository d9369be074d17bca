/**
 * Microsoft Graph's objects as the emulator keeps them (applications with their passwords, service
 * principals, app-role permissions), and what every Graph route shares: the permission check, the
 * JSON shapes, Graph's errors and its bearer check. The routes are in applications.ts,
 * servicePrincipals.ts and directoryObjects.ts; index.ts registers them.
 * https://learn.microsoft.com/graph/api/resources/application
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext, TokenClaims } from '../core/contract.js';
import { apiError } from '../core/errors.js';
import { AUDIENCES } from '../core/wellKnown.js';

export interface Password {
  readonly keyId: string;
  readonly displayName: string | null;
  readonly hint: string;
  readonly startDateTime: string;
  readonly endDateTime: string;
  readonly secretHash: Buffer;
}

export interface Application {
  readonly id: string;
  readonly appId: string;
  displayName: string;
  readonly createdDateTime: string;
  readonly owners: Set<string>;
  passwords: Password[];
  extra: Record<string, unknown>;
}

export interface ServicePrincipal {
  readonly id: string;
  readonly appId: string;
  readonly displayName: string;
  readonly createdDateTime: string;
}

/** Graph application permissions this module understands. */
const READ_WRITE_ALL = new Set(['Application.ReadWrite.All', 'Directory.ReadWrite.All']);
const READ_ALL = new Set(['Application.Read.All', 'Directory.Read.All']);
const OWNED_BY = 'Application.ReadWrite.OwnedBy';

export const hash = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();
export const GRAPH = 'https://graph.microsoft.com/v1.0';

/** One Graph directory per emulator, with the helpers its route handlers share. */
export function createGraphStore(ctx: EmulatorContext) {
  const apps = new Map<string, Application>();
  const sps = new Map<string, ServicePrincipal>();
  const permissions = new Map<string, Set<string>>();

  const now = () => ctx.clock.now();
  const err = (status: number, code: string, message: string) => apiError('graph', status, code, message);
  const notFound = (id: string) =>
    err(
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    );
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

  function createApp(
    displayName: string,
    owner: string | undefined,
    ids: { id?: string; appId?: string } = {},
    extra: Record<string, unknown> = {},
  ): Application {
    const app: Application = {
      id: (ids.id ?? randomUUID()).toLowerCase(),
      appId: (ids.appId ?? randomUUID()).toLowerCase(),
      displayName,
      createdDateTime: now()
        .toISOString()
        .replace(/\.\d+Z$/, 'Z'),
      owners: new Set(owner ? [owner.toLowerCase()] : []),
      passwords: [],
      extra,
    };
    apps.set(app.id, app);
    return app;
  }

  function addPassword(
    app: Application,
    input: { displayName?: unknown; endDateTime?: unknown; startDateTime?: unknown },
    secretText?: string,
    keyId?: string,
  ) {
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
    const sp: ServicePrincipal = {
      id: (id ?? randomUUID()).toLowerCase(),
      appId: app.appId,
      displayName: app.displayName,
      createdDateTime: now().toISOString(),
    };
    sps.set(sp.id, sp);
    ctx.directory.add({
      objectId: sp.id,
      appId: sp.appId,
      displayName: sp.displayName,
      principalType: 'ServicePrincipal',
      servicePrincipalType: 'Application',
      createdAt: now(),
    });
    return sp;
  }

  /** Wraps a handler with the bearer check Graph applies. */
  const authed =
    (handler: (req: EmuRequest, caller: TokenClaims) => EmuResponse) =>
    (req: EmuRequest): EmuResponse => {
      if (!req.headers.authorization) return err(401, 'InvalidAuthenticationToken', 'Access token is empty.');
      const caller = ctx.tokens.verify(req.headers.authorization, [...AUDIENCES.graph, ctx.baseUrl, `${ctx.baseUrl}/`]);
      if (!caller) return err(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience, signature or expiry.');
      return handler(req, caller);
    };
  const bodyObject = (req: EmuRequest): Record<string, unknown> | undefined =>
    req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : undefined;
  const spReadable = (caller: TokenClaims, sp: ServicePrincipal) => can(caller, 'read', findApp({ appId: sp.appId }));

  return {
    ctx,
    apps,
    sps,
    permissions,
    now,
    err,
    notFound,
    denied,
    odata,
    rolesOf,
    can,
    findApp,
    toPasswordJson,
    toAppJson,
    toSpJson,
    managedIdentities,
    toManagedIdentityJson,
    canReadDirectory,
    createApp,
    addPassword,
    createSp,
    authed,
    bodyObject,
    spReadable,
  };
}

export type GraphStore = ReturnType<typeof createGraphStore>;
