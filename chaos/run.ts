/**
 * `npm run chaos [-- --size small]`: builds the bundle (npm script), tries to break the product
 * through the real path on its own stack (3 instances), prints one table — each figure beside its
 * goal — and writes chaos/results.json. Not part of `npm test` (test/e2e/chaos.test.ts runs it tiny).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatTable, summarise } from '../bench/report.js';
import { runChaos } from './harness.js';
import { parseArgs } from './settings.js';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
const { settings, out } = parsed;
console.log(
  `chaos: size ${settings.size}, ${settings.instances} instances, ${settings.deliveries} deliveries, ${settings.requests} requests, seed ${settings.seed}`,
);
const results = await runChaos({
  settings,
  repoRoot,
  appEntry: resolve(repoRoot, 'dist/index.cjs'),
  command: ['npm run chaos', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
});
const file = resolve(repoRoot, out);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log('');
console.log(formatTable(results.figures));
console.log('');
console.log(summarise(results));
console.log(`results: ${file}`);
process.exit(results.errors.length > 0 || results.figures.some((f) => f.met === false) ? 1 : 0);
