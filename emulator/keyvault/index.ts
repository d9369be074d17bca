import { randomBytes, randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext, RegisterModule } from '../core/contract.js';
import { registerDeletedSecretRoutes } from './deletedSecrets.js';
import {
  NEAR_EXPIRY_SECONDS,
  SECRET_NAME,
  SECRET_ACTIONS,
  kvError,
  secretNotFound,
  toAttributes,
  toBundle,
  toItem,
  latest,
  type Attributes,
  type SecretVersion,
  type Secret,
  type Vault,
  type KeyVaultSeed,
  object,
  validAttrs,
  type Handler,
  type RouteFn,
} from './model.js';
import { AUDIENCES, VAULT_DOMAIN } from '../core/wellKnown.js';

/**
 * Key Vault secrets (REST 7.x / 2025-07-01), one HTTPS listener per vault at
 * https://<vault>.vault.localhost:<port>/ — see emulator/README.md for why the host is a name.
 * https://learn.microsoft.com/rest/api/keyvault/secrets
 */

export const registerKeyVault: RegisterModule = (ctx: EmulatorContext) => {
  const vaults = new Map<string, Vault>();
  const byPort = new Map<string, Vault>();
  const listeners = new Map<string, string>();
  const nowSec = () => Math.floor(ctx.clock.now().getTime() / 1000);

  function publish(vault: Vault, eventType: string, s: Secret, v: SecretVersion): void {
    // https://learn.microsoft.com/azure/event-grid/event-schema-key-vault — PascalCase data, subject = secret name.
    ctx.events.publish({
      id: randomUUID(),
      topic: vault.resourceId,
      subject: s.name,
      eventType,
      eventTime: ctx.clock.now().toISOString(),
      data: {
        Id: `${vault.uri}secrets/${s.name}/${v.version}`,
        VaultName: vault.name,
        ObjectType: 'Secret',
        ObjectName: s.name,
        Version: v.version,
        NBF: v.attributes.nbf ?? null,
        EXP: v.attributes.exp ?? null,
      },
      dataVersion: '1',
      metadataVersion: '1',
    });
  }

  function checkNearExpiry(): void {
    const now = nowSec();
    for (const vault of vaults.values()) {
      for (const s of vault.secrets.values()) {
        const v = latest(s);
        const exp = v.attributes.exp;
        if (exp === undefined || !v.attributes.enabled) continue;
        if (exp - now <= NEAR_EXPIRY_SECONDS && !vault.nearExpiryPublished.has(v.version)) {
          vault.nearExpiryPublished.add(v.version);
          publish(vault, 'Microsoft.KeyVault.SecretNearExpiry', s, v);
        }
      }
    }
  }
  ctx.clock.onAdvance(checkNearExpiry);

  function setSecret(vault: Vault, name: string, body: Record<string, unknown>): { secret: Secret; version: SecretVersion } {
    const now = nowSec();
    const attrs = (body.attributes ?? {}) as Partial<Attributes>;
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value: String(body.value),
      contentType: typeof body.contentType === 'string' ? body.contentType : undefined,
      tags: body.tags && typeof body.tags === 'object' ? (body.tags as Record<string, string>) : undefined,
      attributes: { enabled: attrs.enabled ?? true, nbf: attrs.nbf, exp: attrs.exp, created: now, updated: now },
    };
    const secret = vault.secrets.get(name.toLowerCase()) ?? { name, versions: [] };
    secret.versions.push(version);
    vault.secrets.set(name.toLowerCase(), secret);
    publish(vault, 'Microsoft.KeyVault.SecretNewVersionCreated', secret, version);
    return { secret, version };
  }

  // Routes: [method, pattern, action, handler]
  const routes: Array<[string, RegExp, string, string, Handler]> = [];
  const route: RouteFn = (method, pattern, template, action, handler) => routes.push([method, pattern, template, action, handler]);

  route('PUT', /^\/secrets\/(?<name>[^/]+)\/?$/i, '/secrets/{name}', SECRET_ACTIONS.set, (vault, req) => {
    const name = req.params.name!;
    if (!SECRET_NAME.test(name)) return kvError(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
    const body = object(req.body);
    if (!body || typeof body.value !== 'string') return kvError(400, 'BadParameter', "Property 'value' is required and must be a string.");
    const bad = validAttrs(body.attributes);
    if (bad) return kvError(400, 'BadParameter', bad);
    if (vault.deleted.has(name.toLowerCase())) {
      return kvError(
        409,
        'Conflict',
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
      );
    }
    const { secret, version } = setSecret(vault, name, body);
    return { status: 200, body: toBundle(vault, secret, version, true) };
  });

  route('GET', /^\/secrets\/?$/i, '/secrets', SECRET_ACTIONS.readMetadata, (vault) => ({
    status: 200,
    body: { value: [...vault.secrets.values()].map((s) => toItem(vault, s, latest(s), false)), nextLink: null },
  }));

  route('GET', /^\/secrets\/(?<name>[^/]+)\/versions\/?$/i, '/secrets/{name}/versions', SECRET_ACTIONS.readMetadata, (vault, req) => {
    const s = vault.secrets.get(req.params.name!.toLowerCase());
    if (!s) return secretNotFound(vault, req.params.name!);
    return { status: 200, body: { value: s.versions.map((v) => toItem(vault, s, v, true)), nextLink: null } };
  });

  route('GET', /^\/secrets\/(?<name>[^/]+)(?:\/(?<version>[^/]*))?\/?$/i, '/secrets/{name}/{version}', SECRET_ACTIONS.get, (vault, req) => {
    const s = vault.secrets.get(req.params.name!.toLowerCase());
    const versionId = req.params.version;
    if (!s) return secretNotFound(vault, req.params.name!, versionId || undefined);
    const v = versionId ? s.versions.find((x) => x.version === versionId.toLowerCase()) : latest(s);
    if (!v) return secretNotFound(vault, req.params.name!, versionId);
    if (!v.attributes.enabled)
      return kvError(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', { innererror: { code: 'SecretDisabled' } });
    return { status: 200, body: toBundle(vault, s, v, true) };
  });

  route(
    'PATCH',
    /^\/secrets\/(?<name>[^/]+)(?:\/(?<version>[^/]*))?\/?$/i,
    '/secrets/{name}/{version}',
    SECRET_ACTIONS.update,
    (vault, req) => {
      const s = vault.secrets.get(req.params.name!.toLowerCase());
      if (!s) return secretNotFound(vault, req.params.name!);
      const v = req.params.version ? s.versions.find((x) => x.version === req.params.version!.toLowerCase()) : latest(s);
      if (!v) return secretNotFound(vault, req.params.name!, req.params.version);
      const body = object(req.body) ?? {};
      const bad = validAttrs(body.attributes);
      if (bad) return kvError(400, 'BadParameter', bad);
      const attrs = (body.attributes ?? {}) as Record<string, unknown>;
      if ('enabled' in attrs && typeof attrs.enabled === 'boolean') v.attributes.enabled = attrs.enabled;
      if ('exp' in attrs) v.attributes.exp = (attrs.exp as number | null) ?? undefined;
      if ('nbf' in attrs) v.attributes.nbf = (attrs.nbf as number | null) ?? undefined;
      if (typeof body.contentType === 'string') v.contentType = body.contentType;
      if (object(body.tags)) v.tags = body.tags as Record<string, string>;
      v.attributes.updated = nowSec();
      return { status: 200, body: toBundle(vault, s, v, false) };
    },
  );

  registerDeletedSecretRoutes(route, nowSec);

  function challengeHeader(vault: Vault): Record<string, string> {
    // As Azure: Bearer authorization="https://login.windows.net/<tenant>", resource="https://vault.azure.net".
    // Here the authority is the emulator's login endpoint and the resource is the local vaults' parent domain.
    void vault;
    return { 'WWW-Authenticate': `Bearer authorization="${ctx.baseUrl}/${ctx.tenantId}", resource="${AUDIENCES.keyVault[0]}"` };
  }

  function handle(req: EmuRequest): EmuResponse {
    const port = req.url.port;
    const vault = byPort.get(port);
    if (!vault) return kvError(404, 'VaultNotFound', 'No vault is served on this port any more.');
    const path = req.url.pathname;
    let matched: [string, RegExp, string, string, Handler] | undefined;
    let params: Record<string, string> = {};
    let pathExists = false;
    for (const r of routes) {
      const m = r[1].exec(path);
      if (!m) continue;
      pathExists = true;
      if (r[0] !== req.method) continue;
      matched = r;
      params = Object.fromEntries(
        Object.entries(m.groups ?? {})
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, decodeURIComponent(v!)]),
      );
      break;
    }
    if (!matched) {
      const res = pathExists
        ? kvError(405, 'MethodNotAllowed', `The ${req.method} method is not allowed on ${path}.`)
        : kvError(404, 'NotFound', `The requested resource ${path} was not found.`);
      return { ...res, route: '(unmatched)' };
    }
    const [, , template, action, handler] = matched;
    if (!req.url.searchParams.get('api-version'))
      return { ...kvError(400, 'BadParameter', 'The api-version query parameter is required.'), route: template };
    const auth = req.headers.authorization;
    if (!auth) {
      return {
        ...kvError(401, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.', {}, challengeHeader(vault)),
        route: template,
      };
    }
    const caller = ctx.tokens.verify(auth, AUDIENCES.keyVault);
    if (!caller) {
      return {
        ...kvError(401, 'Unauthorized', 'AKV10022: Invalid audience, signature or expired token.', {}, challengeHeader(vault)),
        route: template,
      };
    }
    if (!ctx.services.get('authorizer').isAuthorized(caller.oid, action, vault.resourceId)) {
      return {
        ...kvError(
          403,
          'Forbidden',
          `Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid=${caller.appid ?? ''};oid=${caller.oid};iss=${ctx.baseUrl}/${ctx.tenantId}/v2.0\r\nAction: '${action}'\r\nResource: '${vault.resourceId.toLowerCase()}'\r\nAssignment: (not found)\r\nVault: ${vault.name};location=westeurope\r\n`,
          { innererror: { code: 'ForbiddenByRbac' } },
        ),
        route: template,
      };
    }
    return { ...handler(vault, { ...req, params }, caller), route: template };
  }

  async function ensureVault(name: string, resourceId: string): Promise<string> {
    const key = name.toLowerCase();
    const existing = vaults.get(key);
    if (existing) return existing.uri;
    let base = listeners.get(key);
    if (!base) {
      base = await ctx.listen('keyVault', handle);
      listeners.set(key, base);
    }
    const port = new URL(base).port;
    const vault: Vault = {
      name: key,
      resourceId,
      uri: `https://${key}.${VAULT_DOMAIN}:${port}/`,
      secrets: new Map(),
      deleted: new Map(),
      nearExpiryPublished: new Set(),
    };
    vaults.set(key, vault);
    byPort.set(port, vault);
    return vault.uri;
  }

  ctx.services.provide('vaults', {
    ensureVault,
    removeVault(name) {
      const v = vaults.get(name.toLowerCase());
      if (!v) return;
      vaults.delete(v.name);
      byPort.delete(new URL(v.uri).port);
    },
  });

  return {
    name: 'keyVault',
    snapshot: () =>
      Object.fromEntries(
        [...vaults.values()].map((v) => [
          v.name,
          {
            uri: v.uri,
            resourceId: v.resourceId,
            // Metadata only: values stay out of the admin API.
            secrets: [...v.secrets.values()].map((s) => ({
              name: s.name,
              versions: s.versions.map((x) => ({
                version: x.version,
                contentType: x.contentType,
                tags: x.tags,
                attributes: toAttributes(x.attributes),
              })),
            })),
            deleted: [...v.deleted.keys()],
          },
        ]),
      ),
    async seed(scenario) {
      const seed = scenario.keyVault as KeyVaultSeed | undefined;
      for (const v of seed?.vaults ?? []) {
        await ensureVault(v.name, v.resourceId);
        const vault = vaults.get(v.name.toLowerCase())!;
        for (const s of v.secrets ?? []) {
          const attributes: Record<string, number> = {};
          if (s.exp) attributes.exp = Math.floor(Date.parse(s.exp) / 1000);
          if (s.nbf) attributes.nbf = Math.floor(Date.parse(s.nbf) / 1000);
          setSecret(vault, s.name, { value: s.value, contentType: s.contentType, tags: s.tags, attributes });
        }
      }
    },
    reset() {
      // Listeners stay open (ports are reused when the same vault is seeded again).
      vaults.clear();
      byPort.clear();
    },
  };
};
