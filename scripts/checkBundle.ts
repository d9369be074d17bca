/**
 * `tsx scripts/checkBundle.ts [bundle]` — the last step of `npm run build` (and so of azd's
 * prepackage hook): loads the bundle the way the Azure Functions Node.js worker does and fails
 * unless it loads cleanly and registers functions.
 *
 * Why: a bundle that throws while loading does not fail on Azure. The worker logs "Worker was
 * unable to load entry point" as a warning and reports success with the functions registered so
 * far — none — and the host then runs nothing (Azure/azure-functions-nodejs-worker src/startApp.ts).
 * Only this check stops such a build before it is deployed.
 *
 * Default bundle: package.json `main`. Silent when the bundle loads cleanly and registers at least
 * one function (exit 0); otherwise one line on stderr saying why (exit 1). `--json` also prints
 * what the worker would report to the host: each function's name and bindings by binding name.
 */
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { indexApp } from '../devhost/indexApp.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const given = args.find((a) => !a.startsWith('--'));
const warnings: string[] = [];
const { registry, entry, loadError } = await indexApp({
  appRoot: repoRoot,
  appEntry: given ? resolve(given) : undefined,
  log: (level, _category, message) => {
    if (level === 'warning' || level === 'error' || level === 'critical') warnings.push(message);
  },
});
const shown = relative(process.cwd(), entry) || entry;
const names = registry.functions.map((f) => f.name);
if (loadError || names.length === 0) {
  const why = loadError ? `it threw while loading: ${loadError.name}: ${loadError.message}` : 'it registered nothing';
  console.error(
    `✗ ${shown} registers ${names.length} functions: ${why}. On Azure the host would start and run ${names.length === 0 ? 'no functions' : `only ${names.join(', ')}`}, with this error only in its log. Fix it before deploying.`,
  );
  process.exit(1);
}
if (json) {
  // Bindings keyed by the name the host indexes them by, as the worker sends them
  // (`{ ...binding, name: key }`, Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts).
  const functions = registry.functions.map((f) => ({
    name: f.name,
    bindings: Object.entries(f.metadata.bindings).map(([name, b]) => ({ ...b, name })),
  }));
  console.log(JSON.stringify({ entry, functions, warnings }));
}
process.exit(0);
