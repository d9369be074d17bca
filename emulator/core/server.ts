import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CallLog } from './calls.js';
import { EmulatorClock } from './clock.js';
import type { ApiName, EmuRequest, EmuResponse, EmulatorContext, EmulatorModule, EventBus, GridEvent, RegisterModule } from './contract.js';
import { EmulatorDirectory } from './directory.js';
import { parseLenientJson } from './jsonc.js';
import { apiError, badRequestBody, injectedInternalError, injectedServerError, injectedThrottle, notFoundRoute } from './errors.js';
import { FaultSettings, pickInjectedStatus, WriteThrottle } from './faults.js';
import { apiForPath, RouteTable } from './router.js';
import { EmulatorServices } from './services.js';
import type { EmulatorTls } from './tls.js';
import { EmulatorTokens } from './tokens.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const WRITE_METHODS = new Set(['PUT', 'PATCH', 'DELETE', 'POST']);
const THROTTLED_APIS = new Set<ApiName>(['arm', 'authorization']);

export interface CoreOptions {
  readonly tls: EmulatorTls;
  readonly host?: string;
  readonly port?: number;
  readonly tenantId: string;
  readonly defaultSubscriptionId: string;
}

type Dispatch = (
  method: string,
  path: string,
) =>
  | { api: ApiName; template: string; handler: (req: EmuRequest) => Promise<EmuResponse> | EmuResponse; params: Record<string, string> }
  | { api: ApiName; notFound: EmuResponse };

/**
 * The emulator's core: one HTTPS listener (plus one per vault), the route table, and the
 * request pipeline every API shares — latency, injected 429/500/503, ARM write throttling, body parsing,
 * error shapes and call counters.
 */
export class EmulatorCore {
  readonly router = new RouteTable();
  readonly clock = new EmulatorClock();
  readonly faults = new FaultSettings();
  readonly directory = new EmulatorDirectory(this.clock, () => this.faults.current().replicationDelayMs);
  readonly services = new EmulatorServices();
  readonly calls = new CallLog();
  readonly throttle = new WriteThrottle(() => this.faults.current().throttle);
  readonly modules: EmulatorModule[] = [];
  /** Every event any module published, newest last (bounded), for GET /admin/state. */
  readonly publishedEvents: GridEvent[] = [];
  readonly tokens: EmulatorTokens;
  readonly baseUrl: string;
  private readonly servers: Server[] = [];
  readonly events: EventBus = {
    publish: (event) => {
      this.publishedEvents.push(event);
      if (this.publishedEvents.length > 1000) this.publishedEvents.shift();
      if (this.services.has('events')) this.services.get('events').publish(event);
    },
  };

  private constructor(
    readonly options: CoreOptions,
    main: Server,
    port: number,
  ) {
    this.servers.push(main);
    this.baseUrl = `https://127.0.0.1:${port}`;
    this.tokens = new EmulatorTokens(this.clock, this.baseUrl);
  }

  static async start(options: CoreOptions): Promise<EmulatorCore> {
    let core: EmulatorCore | undefined;
    const server = createServer({ key: options.tls.key, cert: options.tls.cert }, (req, res) => {
      void core?.handle(req, res, core.mainDispatch);
    });
    const port = await listenOn(server, options.host ?? '127.0.0.1', options.port ?? 0);
    core = new EmulatorCore(options, server, port);
    return core;
  }

  context(): EmulatorContext {
    return {
      router: this.router,
      clock: this.clock,
      directory: this.directory,
      tokens: this.tokens,
      events: this.events,
      services: this.services,
      tenantId: this.options.tenantId,
      defaultSubscriptionId: this.options.defaultSubscriptionId,
      baseUrl: this.baseUrl,
      faults: this.faults,
      listen: (api, handler) => this.listen(api, handler),
    };
  }

  async register(register: RegisterModule): Promise<EmulatorModule> {
    const module = await register(this.context());
    this.modules.push(module);
    return module;
  }

  /** Another HTTPS listener on 127.0.0.1 (port 0), through the same pipeline, for one API. */
  async listen(api: ApiName, handler: (req: EmuRequest) => Promise<EmuResponse> | EmuResponse): Promise<string> {
    const server = createServer({ key: this.options.tls.key, cert: this.options.tls.cert }, (req, res) => {
      void this.handle(req, res, () => ({ api, template: '', handler, params: {} }));
    });
    const port = await listenOn(server, '127.0.0.1', 0);
    this.servers.push(server);
    return `https://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  private readonly mainDispatch: Dispatch = (method, path) => this.dispatchMain(method, path);

  private dispatchMain(method: string, path: string): ReturnType<Dispatch> {
    const m = this.router.match(method, path);
    if (m.route) return { api: m.route.api, template: m.route.template, handler: m.route.handler, params: m.params };
    if (m.pathMatched) {
      const api = m.pathMatched.api;
      const base = notFoundRoute(api, method, path);
      return {
        api,
        notFound: {
          ...apiError(
            api,
            405,
            api === 'login' ? 'invalid_request' : 'MethodNotAllowed',
            `The ${method} method is not allowed on ${path}.`,
          ),
          headers: { ...base.headers },
        },
      };
    }
    const api = apiForPath(path);
    return { api, notFound: notFoundRoute(api, method, path) };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, dispatch: Dispatch): Promise<void> {
    const started = Date.now();
    let api: ApiName = 'arm';
    let route = '(unmatched)';
    let response: EmuResponse;
    try {
      const rawBody = await readBody(req);
      let url: URL;
      try {
        // The request target is a path even when it starts with '//' (the SDKs send '//subscriptions/…'
        // for a scope with a leading slash, and ARM accepts it); new URL() would read it as a host.
        const target = (req.url ?? '/').replace(/^\/{2,}/, '/');
        url = new URL(`https://${req.headers.host ?? '127.0.0.1'}${target.startsWith('/') ? target : `/${target}`}`);
      } catch {
        url = new URL('https://127.0.0.1/');
      }
      if (dispatch === this.mainDispatch) {
        const rewritten = this.router.rewrite(url.pathname);
        if (rewritten !== url.pathname) url.pathname = rewritten;
      }
      const d = dispatch(req.method ?? 'GET', url.pathname);
      api = d.api;
      if ('notFound' in d) {
        // ARM throttles before it routes.
        const throttled = this.rateLimit(d.api, req, url.pathname);
        response = 'status' in throttled ? throttled : { ...d.notFound, headers: { ...throttled.headers, ...d.notFound.headers } };
      } else {
        route = d.template || url.pathname;
        response = await this.run(d.api, req, url, rawBody, d.params, d.handler);
      }
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        response = apiError(api, 413, 'RequestEntityTooLarge', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
      else {
        // Never echo request data: it can hold secrets.
        console.error(`[emulator] ${api} handler failed:`, error instanceof Error ? error.message : error);
        response = apiError(
          api,
          500,
          api === 'login' ? 'server_error' : 'InternalServerError',
          'The emulator failed to handle the request.',
        );
      }
    }
    if (response.route) route = response.route;
    this.calls.record({
      at: Date.now(),
      api,
      method: req.method ?? 'GET',
      route,
      status: response.status,
      durationMs: Date.now() - started,
      ...(response.rows !== undefined ? { rows: response.rows } : {}),
    });
    send(res, response);
  }

  /**
   * ARM's token buckets (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
   * "Regional throttling and token bucket algorithm"): per principal, per subscription (or the tenant,
   * for requests without a subscription id) and per operation kind — reads 250 burst then 25/s, writes
   * and deletes 200 then 10/s each — plus a subscription-wide bucket 15 times as large for all
   * principals together. Every response carries what is left ("Remaining requests"):
   * `x-ms-ratelimit-remaining-{subscription|tenant}-{reads|writes|deletes}`,
   * `x-ms-ratelimit-remaining-subscription-global-{kind}` (the subscription-wide bucket: ARM answers
   * 3749 global reads after one read, 250 × 15 − 1), and on requests a resource provider
   * serves `x-ms-ratelimit-remaining-subscription-resource-requests` (collection reads:
   * `-resource-entities-read`), which mirror the subscription bucket: the emulated providers set no
   * limits of their own. A write or delete over the limit is a 429; a read only when `throttle.reads.enforce`.
   */
  private rateLimit(api: ApiName, req: IncomingMessage, path: string): EmuResponse | { headers: Record<string, string> } {
    const cfg = this.faults.current().throttle;
    if (api === 'resourceGraph') return { headers: this.resourceGraphQuota(req) };
    if (!THROTTLED_APIS.has(api)) return { headers: {} };
    const method = (req.method ?? 'GET').toUpperCase();
    const kind = !WRITE_METHODS.has(method) ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
    const subscription = /^\/+subscriptions\/([^/?]+)/i.exec(path)?.[1]?.toLowerCase();
    const scope = subscription ? 'subscription' : 'tenant';
    const limits =
      kind === 'reads'
        ? { burst: cfg.reads?.burst ?? 250, refillPerSecond: cfg.reads?.refillPerSecond ?? 25 }
        : { burst: cfg.burst, refillPerSecond: cfg.refillPerSecond };
    const enforced = cfg.enabled && (kind !== 'reads' || cfg.reads?.enforce === true);
    const principal = this.tokens.peek(req.headers.authorization)?.oid ?? 'anonymous';
    // With throttling off nothing is counted: every bucket stays full.
    const own = cfg.enabled
      ? this.throttle.take(`${principal}|${subscription ?? 'tenant'}|${kind}`, limits)
      : { ok: true as const, remaining: limits.burst };
    // "Requests are throttled if the global, service principal, or tenant specific limits are exceeded."
    // A request refused by its own bucket takes nothing from the global one; one served anyway (an unenforced read) does.
    const global =
      cfg.enabled && subscription && (own.ok || !enforced)
        ? this.throttle.take(`*|${subscription}|${kind}`, { burst: limits.burst * 15, refillPerSecond: limits.refillPerSecond * 15 })
        : undefined;
    const taken = own.ok && global && !global.ok ? global : own;
    const remaining = own.ok ? own.remaining : 0;
    const header = `x-ms-ratelimit-remaining-${scope}-${kind}`;
    if (!taken.ok && enforced) {
      // https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling#error-code
      const operation = kind === 'reads' ? 'Read' : kind === 'deletes' ? 'Delete' : 'Write';
      return apiError(
        api,
        429,
        'TooManyRequests',
        `The request is being throttled as the limit has been reached for operation type - ${operation}.`,
        {
          'Retry-After': String(taken.retryAfterSeconds),
          [header]: '0',
        },
      );
    }
    const headers: Record<string, string> = { [header]: String(remaining) };
    if (subscription)
      headers[`x-ms-ratelimit-remaining-subscription-global-${kind}`] = String(
        !cfg.enabled ? limits.burst * 15 : global?.ok ? global.remaining : 0,
      );
    const provider = /\/providers\/(?!Microsoft\.Resources\/)[^/]+\/(.+)$/i.exec(path);
    if (subscription && provider) {
      const segments = provider[1]!.split('/').filter(Boolean);
      const isCollection = kind === 'reads' && segments.length % 2 === 1;
      headers[
        isCollection
          ? 'x-ms-ratelimit-remaining-subscription-resource-entities-read'
          : 'x-ms-ratelimit-remaining-subscription-resource-requests'
      ] = String(remaining);
    }
    return { headers };
  }

  /** Resource Graph's window per user: 15 queries per 5 seconds. */
  private readonly graphWindows = new Map<string, { start: number; used: number }>();

  /**
   * What Resource Graph adds to every query response
   * (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests):
   * `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss) for the caller's window
   * of 15 queries per 5 seconds. Reported only: queries over the quota are not refused (inject 429s with
   * `errors: { resourceGraph: { "429": rate } }`).
   */
  private resourceGraphQuota(req: IncomingMessage): Record<string, string> {
    const principal = this.tokens.peek(req.headers.authorization)?.oid ?? 'anonymous';
    const now = Date.now();
    const w = this.graphWindows.get(principal);
    const window = w && now - w.start < 5000 ? w : { start: now, used: 0 };
    window.used += 1;
    this.graphWindows.set(principal, window);
    const resetsIn = Math.max(0, Math.ceil((window.start + 5000 - now) / 1000));
    return {
      'x-ms-user-quota-remaining': String(Math.max(0, 15 - window.used)),
      'x-ms-user-quota-resets-after': `00:00:${String(resetsIn).padStart(2, '0')}`,
    };
  }

  private async run(
    api: ApiName,
    req: IncomingMessage,
    url: URL,
    rawBody: Buffer,
    params: Record<string, string>,
    handler: (req: EmuRequest) => Promise<EmuResponse> | EmuResponse,
  ): Promise<EmuResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    if (api === 'admin') {
      const remote = req.socket.remoteAddress ?? '';
      if (!/^(127\.|::1$|::ffff:127\.)/.test(remote))
        return apiError(api, 403, 'Forbidden', 'The admin API answers loopback callers only.');
    } else {
      const faults = this.faults.current();
      const latency = faults.latencyMs[api] ?? 0;
      if (latency > 0) await new Promise((r) => setTimeout(r, latency));
      const injected = pickInjectedStatus(faults, api);
      const retryAfterSeconds = faults.retryAfterSeconds ?? 1;
      if (injected === '429') return injectedThrottle(api, method, retryAfterSeconds);
      if (injected === '500') return injectedInternalError(api);
      if (injected === '503') return injectedServerError(api, retryAfterSeconds);
    }
    const throttled = this.rateLimit(api, req, url.pathname);
    if ('status' in throttled) return throttled;
    const extraHeaders = throttled.headers;
    const parsed = parseBody(req.headers['content-type'], rawBody, api === 'arm' || api === 'authorization');
    if (!parsed.ok) return badRequestBody(api, parsed.error);
    const response = await handler({ method, url, headers: req.headers, body: parsed.body, rawBody, params });
    return Object.keys(extraHeaders).length ? { ...response, headers: { ...extraHeaders, ...response.headers } } : response;
  }
}

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLargeError());
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(
  contentType: string | undefined,
  raw: Buffer,
  lenient = false,
): { ok: true; body: unknown } | { ok: false; error: string } {
  if (raw.length === 0) return { ok: true, body: undefined };
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) {
    return { ok: true, body: Object.fromEntries(new URLSearchParams(raw.toString('utf8'))) };
  }
  if (type.includes('json') || type === '') {
    try {
      return { ok: true, body: JSON.parse(raw.toString('utf8')) };
    } catch (error) {
      if (lenient) {
        // ARM's reader takes JSONC (unquoted names, comments): see jsonc.ts.
        try {
          return { ok: true, body: parseLenientJson(raw.toString('utf8')) };
        } catch {
          // Fall through to the strict parser's message.
        }
      }
      if (type === '') return { ok: true, body: undefined };
      return { ok: false, error: error instanceof Error ? error.message : 'invalid JSON' };
    }
  }
  return { ok: true, body: undefined };
}

function send(res: ServerResponse, response: EmuResponse): void {
  const headers: Record<string, string> = { 'x-ms-request-id': randomUUID(), ...response.headers };
  let payload: Buffer | undefined;
  if (response.body !== undefined && response.status !== 204) {
    if (Buffer.isBuffer(response.body)) payload = response.body;
    else if (typeof response.body === 'string') payload = Buffer.from(response.body);
    else {
      payload = Buffer.from(JSON.stringify(response.body));
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
  }
  if (payload) headers['content-length'] = String(payload.length);
  else headers['content-length'] = '0';
  res.writeHead(response.status, headers);
  res.end(payload);
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
