/**
 * Issue 21: `npm run conformance` (scripts/conformance.ts) drives the emulator with the Azure CLI, a
 * client stack nobody here wrote. `.ci/run` installs Debian's azure-cli, so in CI every check runs
 * here too; on a machine without `az` the script must say how to get it and exit 2, never pass.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const hasAzureCli = spawnSync('az', ['version', '-o', 'tsv'], { encoding: 'utf8' }).status === 0;

describe('npm run conformance', () => {
  it(hasAzureCli
    ? 'passes every Azure CLI check against the emulator'
    : 'says the Azure CLI is missing and how to install it, and fails', () => {
    const run = spawnSync('npx', ['tsx', 'scripts/conformance.ts'], { encoding: 'utf8', timeout: 120_000 });
    const output = `${run.stdout}${run.stderr}`;
    if (hasAzureCli) {
      const summary = /^(\d+) passed, (\d+) failed$/m.exec(run.stdout);
      expect(summary, output).not.toBeNull();
      expect(Number(summary![2]), output).toBe(0);
      expect(Number(summary![1])).toBeGreaterThanOrEqual(20);
      expect(run.status, output).toBe(0);
    } else {
      expect(run.status, output).toBe(2);
      expect(run.stderr).toContain('apt-get install azure-cli');
    }
  }, 150_000);
});
