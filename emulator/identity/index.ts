import { randomBytes } from 'node:crypto';
import type { DirectoryPrincipal, EmuRequest, EmuResponse, EmulatorContext, EmulatorModule } from '../core/contract.js';
import { apiError } from '../core/errors.js';

/**
 * Managed identity (App Service protocol) and Entra ID sign-in (client credentials).
 * The managed-identity endpoint issues tokens for one principal, set by seed or PUT /admin/principal.
 */

export interface IdentitySeed {
  /** Principals to put in the directory (managed identities, users, groups). */
  principals?: Array<Omit<DirectoryPrincipal, 'createdAt'> & { createdAt?: string }>;
  /** Object id of the principal the managed-identity endpoint issues tokens for. */
  managedIdentity?: string;
}

export interface IdentityModuleOptions {
  /** The secret clients send in `X-IDENTITY-HEADER` (IDENTITY_HEADER); random when omitted. */
  readonly identityHeader?: string;
}

export const MANAGED_IDENTITY_PATH = '/msi/token';

export function registerIdentity(options: IdentityModuleOptions = {}) {
  const identityHeader = options.identityHeader ?? randomBytes(16).toString('hex');
  return (ctx: EmulatorContext): EmulatorModule & { identityHeader: string } => {
    let managedIdentity: string | undefined;
    const seeded: string[] = [];
    const r = ctx.router;
    const login = (status: number, code: string, message: string) => apiError('login', status, code, message);
    const mi = (status: number, code: string, message: string) => apiError('managedIdentity', status, code, message);

    // App Service managed identity: GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]
    // https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
    r.add('managedIdentity', 'GET', /^\/msi\/token\/?$/i, (req) => {
      if (req.headers['x-identity-header'] !== identityHeader)
        return mi(401, 'unauthorized', 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.');
      const q = req.url.searchParams;
      if (q.get('api-version') !== '2019-08-01')
        return mi(400, 'invalid_request', `api-version must be 2019-08-01, got '${q.get('api-version') ?? ''}'.`);
      const resource = q.get('resource');
      if (!resource) return mi(400, 'invalid_request', "The 'resource' query parameter is required.");
      const clientId = q.get('client_id');
      const objectId = q.get('object_id') ?? q.get('principal_id');
      const resourceId = q.get('mi_res_id') ?? q.get('msi_res_id');
      let principal: DirectoryPrincipal | undefined;
      if (clientId) principal = ctx.directory.getByAppId(clientId);
      else if (objectId) principal = ctx.directory.get(objectId);
      else if (resourceId) principal = ctx.directory.list().find((p) => p.resourceId?.toLowerCase() === resourceId.toLowerCase());
      else principal = managedIdentity ? ctx.directory.get(managedIdentity) : undefined;
      if (!principal || principal.servicePrincipalType !== 'ManagedIdentity') {
        return mi(400, 'invalid_request', 'Identity not found: no managed identity is assigned to this app with the given id.');
      }
      const { token, expiresOn } = ctx.tokens.issue({
        oid: principal.objectId,
        appid: principal.appId,
        tid: ctx.tenantId,
        aud: resource,
        lifetimeSeconds: 86_400,
      });
      // expires_on is a string of epoch seconds on the wire.
      return {
        status: 200,
        body: { access_token: token, expires_on: String(expiresOn), resource, token_type: 'Bearer', client_id: principal.appId ?? '' },
      };
    });

    r.add('admin', 'PUT', /^\/admin\/principal\/?$/, (req) => {
      const body = (req.body ?? {}) as { objectId?: unknown; clientId?: unknown };
      const p =
        typeof body.objectId === 'string'
          ? ctx.directory.get(body.objectId)
          : typeof body.clientId === 'string'
            ? ctx.directory.getByAppId(body.clientId)
            : undefined;
      if (!p)
        return apiError(
          'admin',
          400,
          'PrincipalNotFound',
          'Expected { "objectId": … } or { "clientId": … } of a principal in the directory.',
        );
      if (p.servicePrincipalType !== 'ManagedIdentity')
        return apiError('admin', 400, 'NotAManagedIdentity', `Principal ${p.objectId} is not a managed identity.`);
      managedIdentity = p.objectId;
      return { status: 200, body: { objectId: p.objectId, clientId: p.appId } };
    });

    // Entra ID v2.0 metadata: https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri
    const openIdConfiguration = (req: EmuRequest): EmuResponse => {
      const tenant = req.params.tenant ?? '';
      if (!isThisTenant(tenant)) return login(400, 'invalid_tenant', `AADSTS90002: Tenant '${tenant}' not found.`);
      const base = `${ctx.baseUrl}/${ctx.tenantId}`;
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${base}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          issuer: `${base}/v2.0`,
          request_uri_parameter_supported: false,
          userinfo_endpoint: `${ctx.baseUrl}/oidc/userinfo`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          http_logout_supported: true,
          frontchannel_logout_supported: true,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'oid', 'tid'],
          kerberos_endpoint: `${base}/kerberos`,
          tenant_region_scope: null,
          cloud_instance_name: 'emulator.localhost',
          cloud_graph_host_name: 'graph.windows.net',
          msgraph_host: 'graph.microsoft.com',
          rbac_url: 'https://pas.windows.net',
        },
      };
    };
    // `adfs` names the emulated tenant too: the authority of an Azure Stack Hub style cloud registered with
    // `az cloud register --endpoint-active-directory https://<emulator>/adfs`. Clients (MSAL, so the Azure CLI)
    // skip their instance discovery against login.microsoftonline.com for an AD FS authority only, and the
    // emulator has no network to offer them (see docs/emulator.md).
    const isThisTenant = (t: string) => t.toLowerCase() === ctx.tenantId.toLowerCase() || t.toLowerCase() === 'adfs';
    r.add('login', 'GET', /^\/(?<tenant>[^/]+)\/v2\.0\/\.well-known\/openid-configuration$/i, openIdConfiguration);
    r.add('login', 'GET', /^\/(?<tenant>[^/]+)\/\.well-known\/openid-configuration$/i, openIdConfiguration);
    r.add('login', 'GET', /^\/(?<tenant>[^/]+)\/discovery\/v2\.0\/keys$/i, () => ({ status: 200, body: { keys: [] } }));

    // Client credentials: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
    r.add('login', 'POST', /^\/(?<tenant>[^/]+)\/oauth2\/v2\.0\/token$/i, (req) => {
      const tenant = req.params.tenant ?? '';
      if (!isThisTenant(tenant))
        return login(
          400,
          'invalid_request',
          `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        );
      const form = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string | undefined>;
      if (!String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
        return login(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'grant_type'.");
      }
      if (form.grant_type !== 'client_credentials') {
        return login(400, 'unsupported_grant_type', `AADSTS70003: The app requested an unsupported grant type '${form.grant_type ?? ''}'.`);
      }
      const clientId = form.client_id;
      if (!clientId)
        return login(400, 'invalid_request', "AADSTS900144: The request body must contain the following parameter: 'client_id'.");
      const scope = form.scope?.split(' ').find((s) => s.endsWith('/.default'));
      if (!scope)
        return login(
          400,
          'invalid_scope',
          `AADSTS1002012: The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
        );
      if (!form.client_secret) {
        return login(
          401,
          'invalid_client',
          "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }
      const check = ctx.services.get('appCredentials').checkClientSecret(clientId, form.client_secret);
      switch (check) {
        case 'unknownClient':
          return login(
            400,
            'unauthorized_client',
            `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${ctx.tenantId}'.`,
          );
        case 'invalidSecret':
          return login(
            401,
            'invalid_client',
            `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
          );
        case 'expiredSecret':
          return login(
            401,
            'invalid_client',
            `AADSTS7000222: The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app.`,
          );
        case 'valid':
          break;
      }
      const sp = ctx.directory.getByAppId(clientId);
      if (!sp)
        return login(
          401,
          'invalid_client',
          `AADSTS7000229: The client application ${clientId} is missing service principal in the tenant ${ctx.tenantId}.`,
        );
      const aud = scope.slice(0, -'/.default'.length);
      const { token } = ctx.tokens.issue({ oid: sp.objectId, appid: clientId, tid: ctx.tenantId, aud, lifetimeSeconds: 3600 });
      return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token } };
    });

    return {
      name: 'identity',
      identityHeader,
      snapshot: () => ({ managedIdentity, identityEndpoint: `${ctx.baseUrl}${MANAGED_IDENTITY_PATH}` }),
      seed(scenario) {
        const seed = scenario.identity as IdentitySeed | undefined;
        if (!seed) return;
        for (const p of seed.principals ?? []) {
          ctx.directory.add({ ...p, createdAt: p.createdAt ? new Date(p.createdAt) : ctx.clock.now() });
          seeded.push(p.objectId);
        }
        if (seed.managedIdentity) managedIdentity = seed.managedIdentity;
      },
      reset() {
        managedIdentity = undefined;
      },
    };
  };
}
