/**
 * Loads an app and collects what it registers, the way the Azure Functions Node.js worker does
 * when the host asks it to index (Azure/azure-functions-nodejs-worker src/startApp.ts,
 * src/eventHandlers/FunctionsMetadataHandler.ts): `require` package.json `main`, then the
 * programming model's capabilities, then the `appStart` hooks.
 *
 * Like the worker, a throw while loading the entry point is not fatal: the worker logs
 * "Worker was unable to load entry point …" as a warning and answers the host with the functions
 * registered so far — none, when the app threw first — so the host starts and runs nothing.
 * `checkBundle.ts` turns that outcome into a failed build.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { installFunctionsCore, type CoreRegistry, type LogCategory, type LogLevel } from './functionsCore.js';
import { runHooks } from './invoke.js';

export interface IndexedApp {
  readonly registry: CoreRegistry;
  /** The entry point loaded (absolute). */
  readonly entry: string;
  /** What the entry point threw while loading, if it did; functions registered before it stay. */
  readonly loadError?: Error;
}

export interface IndexOptions {
  /** Directory holding package.json; the worker's `functionAppDirectory`. */
  readonly appRoot: string;
  /** The entry to load instead of package.json `main`. */
  readonly appEntry?: string;
  /** Where the worker's own log lines go (the load warning among them). */
  readonly log: (level: LogLevel, category: LogCategory, message: string) => void;
}

/** Loads the app once; resolves with its registrations and any load error (never rejects for one). */
export async function indexApp(options: IndexOptions): Promise<IndexedApp> {
  const appRoot = resolve(options.appRoot);
  const registry = installFunctionsCore(options.log);
  const pattern = options.appEntry ?? packageMain(appRoot);
  const entry = resolve(appRoot, pattern);
  const requireApp = createRequire(resolve(appRoot, 'package.json'));
  delete requireApp.cache[entry]; // a second host in one process loads the app afresh
  let loadError: Error | undefined;
  try {
    requireApp(entry);
  } catch (error) {
    loadError = error instanceof Error ? error : new Error(String(error));
    options.log('warning', 'system', `Worker was unable to load entry point "${pattern}": ${loadError.message}`);
  }
  if (registry.programmingModel?.getCapabilities) await registry.programmingModel.getCapabilities({});
  await runHooks(registry, 'appStart', { hookData: {}, appHookData: registry.appHookData, functionAppDirectory: dirname(entry) });
  return { registry, entry, ...(loadError ? { loadError } : {}) };
}

function packageMain(appRoot: string): string {
  let pkg: { main?: string } | undefined;
  try {
    pkg = JSON.parse(readFileSync(resolve(appRoot, 'package.json'), 'utf8')) as { main?: string };
  } catch {
    pkg = undefined;
  }
  if (!pkg?.main) throw new Error(`No app entry: ${appRoot}/package.json has no "main".`);
  return pkg.main;
}
