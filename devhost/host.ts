/**
 * The local Functions host: loads the app bundle, captures what it registers through
 * `@azure/functions-core`, and serves it the way the Azure Functions host does —
 * HTTP routes under `/api`, the Event Grid webhook, timers, and the admin API.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseEventGridDelivery } from './eventGrid.js';
import type { LogCategory, LogLevel, RegisteredFunction, RpcHttpCookie, RpcHttpData, RpcTypedData } from './functionsCore.js';
import { indexApp } from './indexApp.js';
import { invokeRegisteredFunction, type InvocationInput } from './invoke.js';
import { compileRoute, type CompiledRoute } from './routes.js';
import { parseSchedule, resolveSettingReferences, startSchedule, timerTimeZone, type Schedule, type TimerPayload } from './timers.js';

/** Keys the host checks, as Azure's: a function (default host) key, the master key, the Event Grid system key. */
export interface HostKeys {
  readonly functionKey: string;
  readonly masterKey: string;
  /** The `eventgrid_extension` system key, required as `code` on the Event Grid webhook. */
  readonly eventGridKey: string;
}

/** One line the host writes: a function's log or the host's own. */
export interface HostLogLine {
  time: string;
  level: string;
  functionName?: string;
  invocationId?: string;
  category?: string;
  message: string;
}

export interface FunctionSummary {
  readonly name: string;
  readonly trigger: string;
  readonly route?: string;
  readonly methods?: readonly string[];
  readonly authLevel?: string;
  readonly schedule?: string;
  /** Why the function is in error (it then never runs), as the Functions host reports it. */
  readonly error?: string;
}

export interface HostOptions {
  /** The app entry to `require()`; default: package.json `main` of `appRoot`. */
  readonly appEntry?: string;
  /** Directory holding package.json and host.json; default: the current directory. */
  readonly appRoot?: string;
  /** Port to listen on; 0 picks a free one. Default 7071. */
  readonly port?: number;
  readonly hostname?: string;
  /** Keys to enforce; any not given is generated (see `RunningHost.generatedKeys`). */
  readonly keys?: Partial<HostKeys>;
  /** App settings: `%NAME%` in timer schedules and `WEBSITE_TIME_ZONE` are read from these only; default process.env. */
  readonly settings?: Readonly<Record<string, string | undefined>>;
  /** Where log lines go; default one JSON object per line on stdout. */
  readonly onLog?: (line: HostLogLine) => void;
  /** Whether timers run on their schedule (the admin API fires them either way). Default true. */
  readonly runTimers?: boolean;
}

export interface RunningHost {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly functions: readonly FunctionSummary[];
  readonly keys: HostKeys;
  /** The names of keys the host generated because they were not given. */
  readonly generatedKeys: readonly (keyof HostKeys)[];
  stop(): Promise<void>;
}

interface HttpRoute {
  readonly fn: RegisteredFunction;
  readonly route: CompiledRoute;
  readonly methods: readonly string[];
  readonly authLevel: string;
}

const HOST_VERSION = '4.0.0-local';
const startedAt = Date.now();

/** Loads the app, starts serving it, and resolves once every function is registered and listening. */
export async function startHost(options: HostOptions = {}): Promise<RunningHost> {
  const appRoot = resolve(options.appRoot ?? process.cwd());
  const settings = options.settings ?? process.env;
  const onLog = options.onLog ?? ((line: HostLogLine) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const hostLog = (level: LogLevel | string, message: string, category = 'host') => onLog({ time: new Date().toISOString(), level, category, message });

  const hostJson = readJson(resolve(appRoot, 'host.json')) as { extensions?: { http?: { routePrefix?: string } }; extensionBundle?: unknown } | undefined;
  const routePrefix = (hostJson?.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');

  // As the Node worker indexes: an app that throws while loading leaves the host running with the
  // functions registered before the throw (none, usually) and a warning; Azure does the same.
  const { registry } = await indexApp({ appRoot, appEntry: options.appEntry, log: (level, category, message) => hostLog(level, message, category === 'system' ? 'worker' : category) });
  if (registry.functions.length === 0) hostLog('warning', 'No job functions found. The app registered no functions: check the warning above.');

  // Functions whose bindings do not resolve are in error, as in Azure: they are listed but never run.
  const functionErrors = new Map<string, string>();
  const schedules = new Map<string, Schedule>();
  for (const fn of registry.functions.filter((f) => f.trigger.type.toLowerCase() === 'timertrigger')) {
    try {
      schedules.set(fn.name, parseSchedule(resolveSettingReferences(String(fn.trigger['schedule']), settings), timerTimeZone(settings)));
    } catch (error) {
      functionErrors.set(fn.name, error instanceof Error ? error.message : String(error));
    }
  }
  if (functionErrors.size > 0) {
    const lines = [...functionErrors].map(([name, message]) => `${name}: ${message}`);
    hostLog('error', `The following ${functionErrors.size} functions are in error:\n${lines.join('\n')}`);
  }

  const generatedKeys: (keyof HostKeys)[] = [];
  const key = (name: keyof HostKeys) => {
    const given = options.keys?.[name];
    if (given) return given;
    generatedKeys.push(name);
    return randomBytes(30).toString('base64url');
  };
  const keys: HostKeys = { functionKey: key('functionKey'), masterKey: key('masterKey'), eventGridKey: key('eventGridKey') };

  const httpRoutes: HttpRoute[] = registry.functions
    .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
    .map((fn) => ({
      fn,
      route: compileRoute(String(fn.trigger['route'] ?? fn.name)),
      methods: ((fn.trigger['methods'] as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: String(fn.trigger['authLevel'] ?? 'function').toLowerCase(),
    }))
    .sort((a, b) => a.route.precedence - b.route.precedence);

  const functions: FunctionSummary[] = registry.functions.map((fn) => {
    const error = functionErrors.get(fn.name);
    return { ...summarise(fn, routePrefix), ...(error ? { error } : {}) };
  });
  const logInvocation = (line: { level: LogLevel; category: LogCategory; functionName: string; invocationId: string; message: string }) =>
    onLog({ time: new Date().toISOString(), level: line.level, functionName: line.functionName, invocationId: line.invocationId, ...(line.category === 'user' ? {} : { category: line.category }), message: line.message });
  const invoke = (fn: RegisteredFunction, input: InvocationInput) => invokeRegisteredFunction(registry, fn, input, logInvocation);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      hostLog('error', `Request ${req.method} ${req.url?.split('?')[0]} failed in the host: ${describe(error)}`);
      if (!res.headersSent) send(res, 500);
      else res.end();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const given = headerValue(req, 'x-functions-key') || url.searchParams.get('code') || '';
    const path = url.pathname;

    if (/^\/admin(\/|$)/i.test(path)) {
      if (given !== keys.masterKey) return send(res, 401);
      return handleAdmin(method, path, body, res);
    }
    if (/^\/runtime\/webhooks\/eventgrid\/?$/i.test(path)) {
      if (given !== keys.eventGridKey && given !== keys.masterKey) return send(res, 401);
      return handleEventGrid(req, method, url, body, res);
    }
    const prefix = routePrefix ? `/${routePrefix}` : '';
    if (prefix && !(path.toLowerCase() === prefix.toLowerCase() || path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`))) return send(res, 404);
    const routePath = path.slice(prefix.length) || '/';
    const matches = httpRoutes.map((r) => ({ r, params: r.route.match(routePath) })).filter((m) => m.params !== undefined);
    if (matches.length === 0) return send(res, 404);
    const match = matches.find((m) => m.r.methods.includes(method));
    if (!match) {
      const allow = [...new Set(matches.flatMap((m) => m.r.methods))].join(', ');
      return send(res, 405, undefined, { allow });
    }
    const { r, params } = match;
    if (r.authLevel === 'function' && given !== keys.functionKey && given !== keys.masterKey) return send(res, 401);
    if (r.authLevel === 'admin' && given !== keys.masterKey) return send(res, 401);

    const http: RpcHttpData = {
      method,
      url: `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`,
      headers: flattenHeaders(req),
      query: Object.fromEntries(url.searchParams),
      params: params ?? {},
      // A body sent without Content-Length (Transfer-Encoding: chunked) reaches the function empty,
      // as it does on Azure: Azure/azure-functions-host#4926, Azure/azure-functions-nodejs-library#171.
      body: body.length > 0 && req.headers['content-length'] !== undefined ? { bytes: body } : undefined,
    };
    let response;
    try {
      response = await invoke(r.fn, { triggerData: { http }, triggerMetadata: {} });
    } catch (error) {
      hostLog('error', `Function ${r.fn.name} failed: ${describe(error)}`);
      return send(res, 500);
    }
    return sendHttpResult(res, response.returnValue?.http ?? undefined);
  };

  const handleEventGrid = async (req: IncomingMessage, method: string, url: URL, body: Buffer, res: ServerResponse) => {
    const name = url.searchParams.get('functionName') ?? '';
    const fn = registry.functions.find((f) => f.name.toLowerCase() === name.toLowerCase() && f.trigger.type.toLowerCase() === 'eventgridtrigger');
    if (!fn) return send(res, 404, `No Event Grid function named "${name}".`);
    if (method === 'OPTIONS') {
      // CloudEvents 1.0 abuse protection: grant the requesting origin.
      const origin = headerValue(req, 'webhook-request-origin');
      if (!origin) return send(res, 400, 'WebHook-Request-Origin is required.');
      return send(res, 200, undefined, { 'webhook-allowed-origin': origin, 'webhook-allowed-rate': '*', allow: 'POST, OPTIONS' });
    }
    if (method !== 'POST') return send(res, 405, undefined, { allow: 'POST, OPTIONS' });
    const delivery = parseEventGridDelivery(req.headers, body.toString('utf8'));
    switch (delivery.kind) {
      case 'invalid':
        return send(res, 400, delivery.message);
      case 'validation':
        return sendJson(res, 200, { validationResponse: delivery.validationCode });
      case 'subscriptionDeletion':
        return send(res, 202);
      case 'events': {
        let failures = 0;
        for (const event of delivery.events) {
          try {
            await invoke(fn, { triggerData: { string: JSON.stringify(event) }, triggerMetadata: {} });
          } catch (error) {
            failures += 1;
            hostLog('error', `Function ${fn.name} failed on event ${String(event['id'])}: ${describe(error)}`);
          }
        }
        // Any failure answers 500 so Event Grid redelivers the batch.
        return send(res, failures > 0 ? 500 : 202);
      }
    }
  };

  const handleAdmin = async (method: string, path: string, body: Buffer, res: ServerResponse) => {
    if (/^\/admin\/host\/status\/?$/i.test(path)) {
      if (method !== 'GET') return send(res, 405, undefined, { allow: 'GET' });
      return sendJson(res, 200, {
        id: 'local',
        state: 'Running',
        version: HOST_VERSION,
        versionDetails: 'acr-pull-automation local host',
        processUptime: Date.now() - startedAt,
        extensionBundle: hostJson?.extensionBundle,
      });
    }
    if (/^\/admin\/functions\/?$/i.test(path)) {
      if (method !== 'GET') return send(res, 405, undefined, { allow: 'GET' });
      // Each binding under the name the host indexes it by: the worker sends `{ ...binding, name: key }`
      // (Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts), so an HTTP function's
      // output is `$return`, not the generated name inside the binding.
      return sendJson(res, 200, registry.functions.map((fn) => ({ name: fn.name, config: { bindings: Object.entries(fn.metadata.bindings).map(([n, b]) => ({ ...b, name: n })) }, isDisabled: false })));
    }
    const fire = /^\/admin\/functions\/([^/]+)\/?$/i.exec(path);
    if (fire) {
      const name = decodeURIComponent(fire[1]!);
      const fn = registry.functions.find((f) => f.name.toLowerCase() === name.toLowerCase());
      if (!fn) return send(res, 404, `No function named "${name}".`);
      if (method !== 'POST') return send(res, 405, undefined, { allow: 'POST' });
      const inError = functionErrors.get(fn.name);
      if (inError) return send(res, 404, `The function ${fn.name} is in error: ${inError}`);
      if (fn.trigger.type.toLowerCase() === 'httptrigger') return send(res, 400, `${fn.name} is an HTTP function: call its route instead.`);
      let input: unknown;
      try {
        input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
      } catch {
        return send(res, 400, 'The body must be JSON: {"input": "..."}.');
      }
      // Azure answers 202 and runs the function in the background.
      send(res, 202);
      const triggerData: RpcTypedData =
        fn.trigger.type.toLowerCase() === 'timertrigger'
          ? { json: JSON.stringify(timerPayload(schedules.get(fn.name), false)) }
          : { string: typeof input === 'string' ? input : JSON.stringify(input ?? null) };
      invoke(fn, { triggerData }).catch((error: unknown) => hostLog('error', `Function ${fn.name} failed: ${describe(error)}`));
      return;
    }
    return send(res, 404);
  };

  const timers: { stop(): void }[] = [];
  if (options.runTimers ?? true) {
    for (const fn of registry.functions.filter((f) => schedules.has(f.name))) {
      const schedule = schedules.get(fn.name)!;
      timers.push(
        startSchedule(
          schedule,
          (payload) =>
            invoke(fn, { triggerData: { json: JSON.stringify(payload) } }).then(
              () => undefined,
              (error: unknown) => hostLog('error', `Function ${fn.name} failed: ${describe(error)}`),
            ),
          fn.trigger['runOnStartup'] === true,
        ),
      );
    }
  }

  const port = await listen(server, options.port ?? 7071, options.hostname ?? '127.0.0.1').catch((error: unknown) => {
    for (const t of timers) t.stop();
    throw error;
  });
  const url = `http://${options.hostname ?? '127.0.0.1'}:${port}`;
  return {
    url,
    port,
    functions,
    keys,
    generatedKeys,
    async stop() {
      for (const t of timers) t.stop();
      await new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}

function timerPayload(schedule: Schedule | undefined, isPastDue: boolean): TimerPayload {
  const now = new Date();
  const next = schedule?.next(now) ?? now;
  return { Schedule: { AdjustForDST: true }, ScheduleStatus: { Last: now.toISOString(), Next: next.toISOString(), LastUpdated: now.toISOString() }, IsPastDue: isPastDue };
}

function summarise(fn: RegisteredFunction, routePrefix: string): FunctionSummary {
  const t = fn.trigger;
  const type = t.type.toLowerCase();
  if (type === 'httptrigger') {
    const route = String(t['route'] ?? fn.name);
    return {
      name: fn.name,
      trigger: 'http',
      route: routePrefix ? `${routePrefix}/${route}` : route,
      methods: ((t['methods'] as string[] | undefined) ?? ['GET', 'POST']).map((m) => m.toUpperCase()),
      authLevel: String(t['authLevel'] ?? 'function'),
    };
  }
  if (type === 'timertrigger') return { name: fn.name, trigger: 'timer', schedule: String(t['schedule']) };
  if (type === 'eventgridtrigger') return { name: fn.name, trigger: 'eventGrid' };
  return { name: fn.name, trigger: t.type.replace(/Trigger$/i, '') };
}

function sendHttpResult(res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) return send(res, 204);
  const headers: Record<string, string | string[]> = { ...(http.headers ?? {}) };
  const cookies = (http.cookies ?? []).map(toSetCookie);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = bodyBytes(http.body);
  res.writeHead(Number(http.statusCode ?? 200), headers);
  res.end(body);
}

function bodyBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  return Buffer.alloc(0);
}

function toSetCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (cookie.expires?.value?.seconds) parts.push(`Expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None', none: undefined }[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

function send(res: ServerResponse, status: number, text?: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, text ? { 'content-type': 'text/plain; charset=utf-8', ...headers } : headers);
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server, port: number, hostname: string): Promise<number> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, hostname, () => {
      server.off('error', fail);
      done((server.address() as AddressInfo).port);
    });
  });
}

function readJson(path: string): unknown {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
