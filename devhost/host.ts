/**
 * The local Functions host: loads the app bundle, captures what it registers through
 * `@azure/functions-core`, and serves it the way the Azure Functions host does —
 * HTTP routes under `/api` (httpTriggers.ts), the Event Grid webhook (eventGridWebhook.ts),
 * timers, and the admin API (adminApi.ts). This file starts it and checks each request's key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { adminHandler } from './adminApi.js';
import { eventGridWebhookHandler } from './eventGridWebhook.js';
import type { LogCategory, LogLevel, RegisteredFunction } from './functionsCore.js';
import { describe, headerValue, readBody, send, type HostKeys, type HostRequest, type HostRuntime } from './hostRequest.js';
import { httpTriggerHandler } from './httpTriggers.js';
import { indexApp } from './indexApp.js';
import { invokeRegisteredFunction, type InvocationInput } from './invoke.js';
import { parseSchedule, resolveSettingReferences, startSchedule, timerTimeZone, type Schedule } from './timers.js';

export type { HostKeys } from './hostRequest.js';

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

/** Loads the app, starts serving it, and resolves once every function is registered and listening. */
export async function startHost(options: HostOptions = {}): Promise<RunningHost> {
  const appRoot = resolve(options.appRoot ?? process.cwd());
  const settings = options.settings ?? process.env;
  const onLog = options.onLog ?? ((line: HostLogLine) => process.stdout.write(`${JSON.stringify(line)}\n`));
  const hostLog = (level: LogLevel | string, message: string, category = 'host') =>
    onLog({ time: new Date().toISOString(), level, category, message });

  const hostJson = readJson(resolve(appRoot, 'host.json')) as
    | { extensions?: { http?: { routePrefix?: string } }; extensionBundle?: unknown }
    | undefined;
  const routePrefix = (hostJson?.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');

  // As the Node worker indexes: an app that throws while loading leaves the host running with the
  // functions registered before the throw (none, usually) and a warning; Azure does the same.
  const { registry } = await indexApp({
    appRoot,
    appEntry: options.appEntry,
    log: (level, category, message) => hostLog(level, message, category === 'system' ? 'worker' : category),
  });
  if (registry.functions.length === 0)
    hostLog('warning', 'No job functions found. The app registered no functions: check the warning above.');

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

  const functions: FunctionSummary[] = registry.functions.map((fn) => {
    const error = functionErrors.get(fn.name);
    return { ...summarise(fn, routePrefix), ...(error ? { error } : {}) };
  });
  const logInvocation = (line: { level: LogLevel; category: LogCategory; functionName: string; invocationId: string; message: string }) =>
    onLog({
      time: new Date().toISOString(),
      level: line.level,
      functionName: line.functionName,
      invocationId: line.invocationId,
      ...(line.category === 'user' ? {} : { category: line.category }),
      message: line.message,
    });
  const invoke = (fn: RegisteredFunction, input: InvocationInput) => invokeRegisteredFunction(registry, fn, input, logInvocation);

  const runtime: HostRuntime = { registry, keys, invoke, hostLog };
  const serveHttpTrigger = httpTriggerHandler(runtime, routePrefix);
  const serveEventGrid = eventGridWebhookHandler(runtime);
  const serveAdmin = adminHandler(runtime, { extensionBundle: hostJson?.extensionBundle, functionErrors, schedules });

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      hostLog('error', `Request ${req.method} ${req.url?.split('?')[0]} failed in the host: ${describe(error)}`);
      if (!res.headersSent) send(res, 500);
      else res.end();
    });
  });

  /** Reads the request, checks the key its path needs (admin: master; webhook: Event Grid or master), and hands it on. */
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await readBody(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const given = headerValue(req, 'x-functions-key') || url.searchParams.get('code') || '';
    const request: HostRequest = { req, res, url, method, body, givenKey: given };
    const path = url.pathname;

    if (/^\/admin(\/|$)/i.test(path)) {
      if (given !== keys.masterKey) return send(res, 401);
      return serveAdmin(request);
    }
    if (/^\/runtime\/webhooks\/eventgrid\/?$/i.test(path)) {
      if (given !== keys.eventGridKey && given !== keys.masterKey) return send(res, 401);
      return serveEventGrid(request);
    }
    return serveHttpTrigger(request);
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
