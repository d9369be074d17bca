/**
 * `tsx devhost/main.ts` — runs the local Functions host as its own process.
 *
 * Settings (environment): FUNCTIONS_HTTP_PORT (default 7071, 0 = a free port), APP_ENTRY
 * (default package.json `main`), FUNCTIONS_FUNCTION_KEY / FUNCTIONS_MASTER_KEY /
 * FUNCTIONS_EVENTGRID_KEY (generated when unset), FUNCTIONS_RUN_TIMERS (default true).
 * Every other variable is an app setting the app itself reads.
 *
 * Output: one JSON object per line. Once listening it prints the ready line
 * `{"event":"ready","url":…,"pid":…,"functions":[…]}` (with `keys` only for keys it generated).
 * As on Azure, an app that throws while loading leaves the host running with the functions it
 * registered before the throw (usually none) and a warning line; a function whose `%SETTING%`
 * does not resolve is listed with an `error` and never runs. It exits 1 only when it cannot listen.
 */
import { startHost, type HostKeys, type RunningHost } from './host.js';

export const READY_EVENT = 'ready';

/** The ready line's shape, for parents that parse it. */
export interface HostReadyLine {
  readonly event: typeof READY_EVENT;
  readonly url: string;
  readonly pid: number;
  readonly functions: RunningHost['functions'];
  readonly keys?: Partial<HostKeys>;
}

const env = process.env;
const portSetting = env['FUNCTIONS_HTTP_PORT']?.trim() || '7071';
const port = Number(portSetting);
const write = (value: object) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...value })}\n`);

if (!/^\d+$/.test(portSetting) || port > 65535) {
  write({
    level: 'error',
    category: 'host',
    message: `FUNCTIONS_HTTP_PORT: expected a port number from 0 to 65535, got ${JSON.stringify(portSetting)} (example: 7071)`,
  });
  process.exit(1);
}

let host: RunningHost;
try {
  host = await startHost({
    port,
    appEntry: env['APP_ENTRY']?.trim() || undefined,
    runTimers: env['FUNCTIONS_RUN_TIMERS']?.trim().toLowerCase() !== 'false',
    keys: {
      functionKey: env['FUNCTIONS_FUNCTION_KEY']?.trim() || undefined,
      masterKey: env['FUNCTIONS_MASTER_KEY']?.trim() || undefined,
      eventGridKey: env['FUNCTIONS_EVENTGRID_KEY']?.trim() || undefined,
    },
  });
} catch (error) {
  const code = (error as { code?: unknown }).code;
  const message =
    code === 'EADDRINUSE'
      ? `Port ${port} is in use: stop what listens there or set FUNCTIONS_HTTP_PORT to another port (0 picks a free one).`
      : error instanceof Error
        ? error.message
        : String(error);
  write({ level: 'error', category: 'host', message });
  process.exit(1);
}

const generated = Object.fromEntries(host.generatedKeys.map((name) => [name, host.keys[name]]));
const ready: HostReadyLine = {
  event: READY_EVENT,
  url: host.url,
  pid: process.pid,
  functions: host.functions,
  ...(host.generatedKeys.length > 0 ? { keys: generated } : {}),
};
write({ level: 'information', category: 'host', message: `Host listening on ${host.url}`, ...ready });

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  write({ level: 'information', category: 'host', message: `Stopping on ${signal}` });
  host.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
