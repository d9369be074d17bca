/**
 * The repo's one formatter and linter (issue 17): Biome, configured in biome.jsonc. `npm test`
 * runs this test, so unformatted code or a lint error is a failure in its "N passed, N failed"
 * line. Fix with `npm run format` (formatting) or by hand (lint); `npm run lint` shows the same report.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// Biome's own launcher picks the platform binary installed as an optional dependency.
const BIOME = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');

describe('format and lint', () => {
  it('finds every source file formatted and free of lint errors (npm run lint)', () => {
    const run = spawnSync(process.execPath, [BIOME, 'ci', '--colors=off', '--max-diagnostics=50', '.'], { encoding: 'utf8' });
    const report = `${run.stdout}\n${run.stderr}`.trim();
    expect(run.error, 'could not start Biome').toBeUndefined();
    expect(run.status, `npm run lint reports:\n${report}\nRun \`npm run format\` for formatting; fix lint errors by hand.`).toBe(0);
    // An empty selection would pass vacuously: the run must have read the repo's sources.
    expect(report).toMatch(/Checked [1-9]\d* files/);
  });
});
