// Bundles the Functions app into one CommonJS file: on Azure every file the app loads at cold
// start is a network round trip to the content share, so one file loads fastest.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.cjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  // Provided by the Functions host's Node worker at run time (and by our local host).
  external: ['@azure/functions-core'],
  logLevel: 'warning',
});
