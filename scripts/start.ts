/**
 * `npm start`: brings up the local stack, prints one line per component as it becomes ready,
 * writes `.local/endpoints.json` once every component answers, and runs until Ctrl-C.
 *
 * Settings: FUNCTIONS_HTTP_PORT (default 7071; 0 picks a free port), AZURITE_TABLE_PORT
 * (default a free port), APP_ENTRY (default package.json `main`), LOCAL_DIR (default `.local`),
 * DEMO (default `on`; `off` skips the demo scenes).
 * Options: `--instances N` (default 1) runs N instances of the app behind one load-balanced
 * address (FUNCTIONS_HTTP_PORT), as a scaled-out Function App runs: `npm start -- --instances 3`.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPortFree } from '../test/support/ports.js';
import { runDemo } from './demo.js';
import { checkStackAnswers, startStack, type RunningStack, type StackComponent } from './stack.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const env = process.env;

function portSetting(name: string, fallback: number | undefined): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535)
    fail(`${name}: expected a port number from 0 to 65535, got ${JSON.stringify(raw)} (example: 7071)`);
  return port;
}

function fail(message: string): never {
  console.error(`✗ ${message}`);
  process.exit(1);
}

/** `--instances N` / `--instances=N`; anything else on the command line is refused with the usage. */
function parseInstances(args: readonly string[]): number {
  let instances = 1;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const match = /^--instances(?:=(.*))?$/.exec(arg);
    if (!match) fail(`unknown option ${JSON.stringify(arg)}. Usage: npm start -- [--instances N]`);
    const raw = match[1] ?? args[++i];
    if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 16)
      fail(`--instances: expected a whole number from 1 to 16, got ${JSON.stringify(raw ?? '')} (example: --instances 3)`);
    instances = Number(raw);
  }
  return instances;
}

const instances = parseInstances(process.argv.slice(2));
const functionsPort = portSetting('FUNCTIONS_HTTP_PORT', 7071)!;
const azuritePort = portSetting('AZURITE_TABLE_PORT', undefined) || undefined; // 0 also means a free port
const localDir = resolve(repoRoot, env['LOCAL_DIR']?.trim() || '.local');
const endpointsFile = join(localDir, 'endpoints.json');

if (functionsPort !== 0 && !(await isPortFree(functionsPort))) {
  fail(
    `Port ${functionsPort} is in use, so the functions host cannot listen there. Stop what uses it, or set FUNCTIONS_HTTP_PORT to another port (0 picks a free one).`,
  );
}
if (azuritePort !== undefined && azuritePort !== 0 && !(await isPortFree(azuritePort))) {
  fail(
    `Port ${azuritePort} is in use, so Azurite cannot listen there. Stop what uses it, or unset AZURITE_TABLE_PORT to pick a free port.`,
  );
}

const label = (component: StackComponent) => component.padEnd(10);
let stack: RunningStack | undefined;
let starting = true;
let stopRequested = false;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (starting) {
    // Children are still being started: stop them once startStack hands them over.
    stopRequested = true;
    return new Promise<never>(() => undefined);
  }
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  rmSync(endpointsFile, { force: true });
  await stack?.stop();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  stack = await startStack({
    functionsPort,
    azuritePort,
    instances,
    appEntry: env['APP_ENTRY']?.trim() || undefined,
    onReady: (component, url, detail) => console.log(`✓ ${label(component)} ${detail ? `${url.padEnd(24)} (${detail})` : url}`),
    onHostLine: printHostLine,
  });
  await checkStackAnswers(stack.endpoints);
} catch (error) {
  starting = false;
  console.error(`✗ the local stack did not start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
starting = false;
if (stopRequested) await shutdown(0);

mkdirSync(localDir, { recursive: true });
// The file holds the local keys: readable by this user only.
writeFileSync(endpointsFile, `${JSON.stringify(stack!.endpoints, null, 2)}\n`, { mode: 0o600 });
const shownFile = relative(process.cwd(), endpointsFile);
if ((env['DEMO']?.trim().toLowerCase() ?? 'on') !== 'off' && stack!.emulator) {
  await runDemo({ endpoints: stack!.endpoints, caPem: stack!.emulator.caPem, print: (line) => console.log(line) }).catch(
    (error: unknown) => {
      console.error(`✗ demo: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
}
// The key stays out of the output: it is in the endpoints file.
console.log(
  `Status page: ${stack!.endpoints.functions}/api/status?code=<functionKey from ${shownFile.startsWith('..') ? endpointsFile : shownFile}>   (open it in a browser)`,
);
console.log(`Endpoints and keys: ${shownFile.startsWith('..') ? endpointsFile : shownFile}   (Ctrl-C to stop)`);

stack!.hosts.forEach((host, index) => {
  void host.child.exited.then((code) => {
    if (stopping) return;
    console.error(
      `✗ the functions host${instances > 1 ? ` (instance ${index + 1} of ${instances})` : ''} exited (code ${code}); stopping the stack`,
    );
    void shutdown(1);
  });
});

/** Function warnings and errors in a short form (every line with VERBOSE=1); host errors as they come. */
function printHostLine(line: string): void {
  let parsed: { level?: string; functionName?: string; message?: string; event?: string };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    console.log(`  host: ${line}`);
    return;
  }
  if (parsed.event === 'ready') return;
  const quiet = parsed.level !== 'error' && parsed.level !== 'warning' && env['VERBOSE'] !== '1';
  if (parsed.functionName && !quiet) console.log(`  [${parsed.functionName}] ${parsed.message ?? ''}`);
  else if (parsed.level === 'error' || parsed.level === 'warning') console.log(`  host ${parsed.level}: ${parsed.message ?? ''}`);
}
