/**
 * `npm run bench [-- --size small]`: builds the bundle (npm script), runs every scenario through
 * the real path on its own stack, prints one table — each figure beside its goal — and writes
 * bench/results.json. Not part of `npm test`. See docs/performance.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from './harness.js';
import { formatTable, summarise } from './report.js';
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
console.log(`bench: size ${settings.size}, scenarios ${settings.scenarios.join(', ')}`);
const results = await runBench({
  settings,
  repoRoot,
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
});
const file = resolve(repoRoot, out);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
console.log('');
console.log(formatTable(results.figures));
console.log('');
console.log(summarise(results));
console.log(`results: ${file}`);
process.exit(results.errors.length > 0 ? 1 : 0);
