/**
 * A small in-test EmulatorContext for driving the ARM and Event Grid modules' handlers without
 * the HTTPS server: routes are matched in registration order, tokens are plain JSON.
 */
import { apiVersionsFor } from '../../../emulator/arm/apiVersions.js';
import type {
  DirectoryPrincipal,
  EmuRequest,
  EmuResponse,
  EmulatorContext,
  GridEvent,
  RouteHandler,
  Services,
  TokenClaims,
} from '../../../emulator/core/contract.js';

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const SUB = '00000000-0000-0000-0000-0000000000aa';
export const OPERATOR = '11111111-1111-1111-1111-111111111111';
export const APP = '22222222-2222-2222-2222-222222222222';
export const NOBODY = '33333333-3333-3333-3333-333333333333';

export function createHarness(opts: { replicationDelayMs?: number } = {}) {
  const routes: { method: string; pattern: RegExp; handler: RouteHandler }[] = [];
  const principals = new Map<string, DirectoryPrincipal>();
  let now = new Date('2026-01-01T00:00:00Z');
  const published: GridEvent[] = [];
  const services: Partial<Services> = {};
  const ctx: EmulatorContext = {
    router: { add: (_api, method, pattern, handler) => routes.push({ method, pattern, handler }) },
    clock: { now: () => new Date(now), advance: (ms) => (now = new Date(now.getTime() + ms)), onAdvance: () => undefined },
    directory: {
      add: (p) => principals.set(p.objectId, p),
      remove: (id) => principals.delete(id),
      get: (id) => principals.get(id),
      getByAppId: (id) => [...principals.values()].find((p) => p.appId === id),
      list: () => [...principals.values()],
      isReplicated: (id) => {
        const p = principals.get(id);
        return !!p && now.getTime() - p.createdAt.getTime() >= (opts.replicationDelayMs ?? 0);
      },
    },
    tokens: {
      issue: (c) => ({ token: `fake.${Buffer.from(JSON.stringify({ ...c, iat: 1, exp: 9e9 })).toString('base64url')}`, expiresOn: 9e9 }),
      verify: (h, audiences) => {
        const m = /^Bearer fake\.(.+)$/.exec(h ?? '');
        if (!m) return undefined;
        const claims = JSON.parse(Buffer.from(m[1]!, 'base64url').toString()) as TokenClaims;
        return audiences.includes(claims.aud) ? claims : undefined;
      },
    },
    events: { publish: (e) => (services.events ? services.events.publish(e) : published.push(e)) },
    services: {
      provide: (k, impl) => void ((services as Record<string, unknown>)[k] = impl),
      get: (k) => {
        const s = services[k];
        if (!s) throw new Error(`no ${k}`);
        return s;
      },
    },
    tenantId: TENANT,
    defaultSubscriptionId: SUB,
    baseUrl: 'https://127.0.0.1:9999',
    listen: async () => 'https://127.0.0.1:9998',
    faults: {
      current: () => ({
        latencyMs: {},
        errorRate: {},
        throttle: { enabled: false, burst: 200, refillPerSecond: 10 },
        replicationDelayMs: opts.replicationDelayMs ?? 0,
        events: { duplicateRate: 0, reorderRate: 0, dropRate: 0, delayMs: 0 },
      }),
    },
  };
  const tokenFor = (oid: string, aud = 'https://management.azure.com') =>
    `Bearer ${ctx.tokens.issue({ oid, tid: TENANT, aud, appid: oid === APP ? 'app-client-id' : undefined }).token}`;

  /** Sends a request through the registered routes, as the core's server would. */
  async function call(
    method: string,
    pathAndQuery: string,
    init: { body?: unknown; as?: string | null; apiVersion?: string | null } = {},
  ): Promise<EmuResponse & { body: any }> {
    const url = new URL(pathAndQuery, ctx.baseUrl);
    const apiVersion = init.apiVersion === undefined ? defaultApiVersion(url.pathname) : init.apiVersion;
    if (apiVersion && !url.searchParams.has('api-version')) url.searchParams.set('api-version', apiVersion);
    const as = init.as === undefined ? OPERATOR : init.as;
    for (const r of routes) {
      if (r.method !== method) continue;
      const m = r.pattern.exec(url.pathname);
      if (!m) continue;
      const req: EmuRequest = {
        method,
        url,
        headers: as ? { authorization: tokenFor(as) } : {},
        body: init.body,
        rawBody: Buffer.from(JSON.stringify(init.body ?? '')),
        params: Object.fromEntries(
          Object.entries(m.groups ?? {})
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, decodeURIComponent(v!)]),
        ),
      };
      return (await r.handler(req)) as EmuResponse & { body: any };
    }
    return { status: 404, body: { error: { code: 'NoRoute', message: `${method} ${url.pathname}` } } };
  }

  return { ctx, call, published, principals, advance: (ms: number) => ctx.clock.advance(ms), tokenFor };
}

/**
 * The api-version a call sends when the test names none: 2022-04-01 (role assignments) where the
 * type publishes it, else the version the app itself uses for that type (src/azure/arm.ts), so
 * every request is one ARM would accept (emulator/arm/apiVersions.ts).
 */
const APP_VERSIONS: Readonly<Record<string, string>> = {
  'Microsoft.Resources': '2021-04-01',
  'Microsoft.Compute': '2024-07-01',
  'Microsoft.ContainerRegistry/registries': '2025-11-01',
  'Microsoft.ContainerRegistry/registries/tasks': '2019-06-01-preview',
  'Microsoft.ManagedIdentity': '2023-01-31',
  'Microsoft.App': '2024-03-01',
  'Microsoft.Web': '2024-04-01',
  'Microsoft.KeyVault': '2023-07-01',
  'Microsoft.ResourceGraph': '2022-10-01',
};
function defaultApiVersion(path: string): string {
  const found = apiVersionsFor(path);
  if (!found || found.versions.includes('2022-04-01')) return '2022-04-01';
  return APP_VERSIONS[`${found.namespace}/${found.type}`] ?? APP_VERSIONS[found.namespace] ?? found.versions[found.versions.length - 1]!;
}
