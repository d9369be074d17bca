// Bundles the Functions app into one CommonJS file: on Azure every file the app loads at cold
// start is a network round trip to the content share, so one file loads fastest.
// `node scripts/bundle.mjs` writes dist/index.cjs; tests import `bundle()` to build elsewhere.
import { build } from 'esbuild';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** Bundles src/index.ts into `outfile` (default dist/index.cjs); resolves with its absolute path. */
export async function bundle({ outfile = 'dist/index.cjs' } = {}) {
  const target = resolve(repoRoot, outfile);
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
    logLevel: 'warning',
  });
  return target;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await bundle();
}
