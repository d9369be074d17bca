/**
 * The deployment package (issue 21 item 6): `.funcignore` keeps everything but `host.json`,
 * `package.json` and `dist/` out, as read by both tools that package this app:
 * - azd, which reads `.funcignore` with standard gitignore syntax
 *   (https://learn.microsoft.com/azure/developer/azure-developer-cli/service-packaging-ignore-files);
 *   here git itself applies it;
 * - Azure Functions Core Tools (`func azure functionapp publish`), whose `GitIgnoreParser` is a port
 *   of codemix/gitignore-parser that matches each file's relative path by prefix
 *   (Azure/azure-functions-core-tools src/Azure.Functions.Cli/Common/GitIgnoreParser.cs); the
 *   same algorithm is restated below.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const funcignore = readFileSync('.funcignore', 'utf8');
// Every tracked file, and what a build and a local run leave beside them.
const candidates = [
  ...execFileSync('git', ['ls-files'], { encoding: 'utf8' }).split('\n').filter(Boolean),
  'dist/index.cjs',
  'dist/index.cjs.map',
  'node_modules/@azure/functions/package.json',
  'node_modules/.bin/tsx',
  'local.settings.json',
  '.local/endpoints.json',
  'coverage/index.html',
];
const PACKAGE = ['dist/index.cjs', 'dist/index.cjs.map', 'host.json', 'package.json'];

/** Core Tools' GitIgnoreParser.Accepts, restated: negated patterns win; matching is anchored at the start only. */
function coreToolsAccepts(content: string): (path: string) => boolean {
  const lines = content
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const positive: string[] = [];
  const negative: string[] = [];
  for (let line of lines) {
    const isNegative = line.startsWith('!');
    if (isNegative) line = line.slice(1);
    if (line.startsWith('/')) line = line.slice(1);
    (isNegative ? negative : positive).push(line);
  }
  const prepare = (p: string) =>
    p
      .replace(/[-[\]/{}()+?.\\^$|]/g, '\\$&')
      .replace(/\*\*/g, '(.+)')
      .replace(/\*/g, '([^\\/]+)');
  const regex = (list: string[]) => (list.length > 0 ? new RegExp(`^((${list.sort().map(prepare).join(')|(')}))`) : /$^/);
  const [pos, neg] = [regex(positive), regex(negative)];
  return (path) => neg.test(path) || !pos.test(path);
}

const scratch = mkdtempSync(join(tmpdir(), 'funcignore-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('.funcignore', () => {
  it('packages only host.json, package.json and dist/ under gitignore syntax (azd)', () => {
    execFileSync('git', ['init', '-q', scratch]);
    for (const file of candidates) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      writeFileSync(join(scratch, file), '');
    }
    // The repository's own .gitignore is among the candidates: the rules go where git reads them too.
    writeFileSync(join(scratch, '.git', 'info', 'exclude'), funcignore);
    const kept = execFileSync('git', ['ls-files', '--others', '--exclude-standard'], { cwd: scratch, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    expect(kept.sort()).toEqual(PACKAGE);
  });

  it('packages only host.json, package.json and dist/ as Core Tools reads it', () => {
    const accepts = coreToolsAccepts(funcignore);
    expect(candidates.filter(accepts).sort()).toEqual(PACKAGE);
  });
});
