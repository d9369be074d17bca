/**
 * The local Functions host (`devhost/main.ts`) as a child process: started with app settings in
 * its environment, ready once it prints its ready line; its log lines are kept for assertions.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawnGroup, type ChildHandle } from '../../devhost/childProcess.js';
import type { FunctionSummary, HostKeys, HostLogLine } from '../../devhost/host.js';
import type { HostReadyLine } from '../../devhost/main.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface HostProcessOptions {
  /** App settings and host settings (FUNCTIONS_HTTP_PORT …); merged over process.env. Default port 0. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The app to load; default package.json `main`. */
  readonly appEntry?: string;
  /** Keys to enforce; any not given is generated here (so they never appear in the host's output). */
  readonly keys?: Partial<HostKeys>;
  readonly timeoutMs?: number;
  /** Called with each raw output line. */
  readonly onLine?: (line: string) => void;
}

export interface HostProcess {
  readonly url: string;
  readonly pid: number;
  readonly keys: HostKeys;
  readonly functions: readonly FunctionSummary[];
  readonly child: ChildHandle;
  /** Every JSON log line the host has printed so far. */
  logs(): HostLogLine[];
  /** Resolves with the first log line matching `predicate`, waiting up to `timeoutMs`. */
  waitForLog(predicate: (line: HostLogLine) => boolean, timeoutMs?: number): Promise<HostLogLine>;
  stop(): Promise<void>;
}

/** Generates a key the way Azure's are shaped: URL-safe random text. */
export const newHostKey = (): string => randomBytes(30).toString('base64url');

/** Starts `devhost/main.ts` and resolves once it is listening with every function registered. */
export async function startHostProcess(options: HostProcessOptions = {}): Promise<HostProcess> {
  const keys: HostKeys = {
    functionKey: options.keys?.functionKey ?? newHostKey(),
    masterKey: options.keys?.masterKey ?? newHostKey(),
    eventGridKey: options.keys?.eventGridKey ?? newHostKey(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // No defaults stand in for app settings: a %SETTING% a binding names must be in `env`, as on Azure.
    FUNCTIONS_HTTP_PORT: '0',
    ...options.env,
    FUNCTIONS_FUNCTION_KEY: keys.functionKey,
    FUNCTIONS_MASTER_KEY: keys.masterKey,
    FUNCTIONS_EVENTGRID_KEY: keys.eventGridKey,
    ...(options.appEntry ? { APP_ENTRY: options.appEntry } : {}),
  };
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'devhost/main.ts'], {
    name: 'the functions host (devhost/main.ts)',
    cwd: REPO_ROOT,
    env,
    onLine: options.onLine ? (line) => options.onLine?.(line) : undefined,
  });
  const readyText = await child
    .waitForLine((line) => parseLine(line)?.['event'] === 'ready', options.timeoutMs ?? 30_000)
    .catch(async (error: unknown) => {
      await child.stop();
      throw error;
    });
  const ready = parseLine(readyText) as unknown as HostReadyLine;
  const logs = () => child.output.map(parseLine).filter((l): l is Record<string, unknown> => l !== undefined) as unknown as HostLogLine[];
  return {
    url: ready.url,
    pid: ready.pid,
    keys,
    functions: ready.functions,
    child,
    logs,
    async waitForLog(predicate, timeoutMs = 10_000) {
      const line = await child.waitForLine((text) => {
        const parsed = parseLine(text);
        return parsed !== undefined && predicate(parsed as unknown as HostLogLine);
      }, timeoutMs);
      return parseLine(line) as unknown as HostLogLine;
    },
    stop: () => child.stop(),
  };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
