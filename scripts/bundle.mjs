// Bundles the Functions app into one CommonJS file: on Azure every file the app loads at cold
// start is a network round trip to the content share, so one file loads fastest.
// `node scripts/bundle.mjs` writes dist/index.cjs; tests import `bundle()` to build elsewhere.
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/**
 * The Azure Monitor OpenTelemetry distro is more than half of the app's code, and only Azure (with
 * APPLICATIONINSIGHTS_CONNECTION_STRING set) loads it, after start-up (src/azure/telemetry.ts): it
 * goes into a file of its own beside the bundle, so a cold start reads and parses only the app.
 */
const AZURE_MONITOR = '@azure/monitor-opentelemetry';
const AZURE_MONITOR_FILE = 'azureMonitor.cjs';
const azureMonitorApart = {
  name: 'azure-monitor-apart',
  setup(b) {
    b.onResolve({ filter: /^@azure\/monitor-opentelemetry$/ }, () => ({ path: `./${AZURE_MONITOR_FILE}`, external: true }));
  },
};

/** Bundles src/index.ts into `outfile` (default dist/index.cjs), and the distro beside it; resolves with the bundle's absolute path. */
export async function bundle({ outfile = 'dist/index.cjs' } = {}) {
  const target = resolve(repoRoot, outfile);
  await build({
    entryPoints: [AZURE_MONITOR],
    outfile: resolve(dirname(target), AZURE_MONITOR_FILE),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: false,
    logLevel: 'error',
  });
  await build({
    entryPoints: [resolve(repoRoot, 'src/index.ts')],
    outfile: target,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: true,
    // Provided by the Functions host's Node worker at run time (and by our local host).
    external: ['@azure/functions-core'],
    plugins: [azureMonitorApart],
    // Some packages' ESM builds (@azure/storage-common) read import.meta.url at load; in one CJS file
    // it is the bundle's own URL.
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: 'warning',
  });
  return target;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await bundle();
}
