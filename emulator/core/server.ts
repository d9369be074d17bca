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
import { RateLimits } from './rateLimits.js';
import { apiForPath, RouteTable } from './router.js';
import { EmulatorServices } from './services.js';
import type { EmulatorTls } from './tls.js';
import { EmulatorTokens } from './tokens.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

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
  private readonly limits: RateLimits;
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
    this.limits = new RateLimits(this.faults, this.throttle, this.tokens);
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
        const throttled = this.limits.answer(d.api, req, url.pathname);
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
    const throttled = this.limits.answer(api, req, url.pathname);
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
