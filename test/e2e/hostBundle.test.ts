/**
 * The build's last step, `tsx scripts/checkBundle.ts` (issue 21 item 4): it loads the bundle the
 * way the Azure Functions Node.js worker does and fails the build when the bundle registers no
 * functions — on Azure such a bundle deploys "successfully" and the host runs nothing
 * (Azure/azure-functions-nodejs-worker src/startApp.ts logs the throw as a warning only).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { spawnGroup } from '../../devhost/childProcess.js';
import { REPO_ROOT } from '../support/hostProcess.js';

const FIXTURE_APP = fileURLToPath(new URL('../support/hostFixtureApp.cjs', import.meta.url));

/** Runs the check to completion: its exit code and output. */
async function checkBundle(args: string[], env: Record<string, string> = {}) {
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'scripts/checkBundle.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  const code = await Promise.race([child.exited, new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 30_000))]);
  await child.stop();
  return { code, output: child.output };
}

describe('the bundle check in npm run build', () => {
  it('is the last step of npm run build (and so of azd’s prepackage hook)', async () => {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['build']).toMatch(/node scripts\/bundle\.mjs && tsx scripts\/checkBundle\.ts$/);
  });

  it('counts the 13 functions the bundle registers, each with one trigger, HTTP ones returning through $return', async () => {
    const { code, output } = await checkBundle([inject('appEntry'), '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(output.join('\n')) as {
      functions: { name: string; bindings: { name: string; type: string; direction: string }[] }[];
      warnings: string[];
    };
    expect(report.functions.map((f) => f.name).sort()).toEqual([
      'accessGrantsApi',
      'accessPreviewApi',
      'auditApi',
      'credentialsApi',
      'credentialsRegistryApi',
      'credentialsRotateApi',
      'healthApi',
      'keyVaultSecretEvents',
      'openapi',
      'reconcileSweep',
      'resourceEvents',
      'rotateCredentials',
      'statusPage',
    ]);
    for (const fn of report.functions) {
      expect(
        fn.bindings.filter((b) => b.direction === 'in' && b.type.endsWith('Trigger')),
        fn.name,
      ).toHaveLength(1);
      if (fn.bindings[0]!.type === 'httpTrigger')
        expect(fn.bindings[1], fn.name).toEqual({ type: 'http', direction: 'out', name: '$return' });
    }
    expect(report.warnings).toEqual([]);
  });

  it('fails loudly when the bundle throws before registering anything', async () => {
    const { code, output } = await checkBundle([FIXTURE_APP], {
      HOST_FIXTURE_FAIL_AT_LOAD: 'AZURE_TENANT_ID: expected a GUID, got "contoso"',
    });
    expect(code).toBe(1);
    expect(output.join('\n')).toBe(
      '✗ test/support/hostFixtureApp.cjs registers 0 functions: it threw while loading: ConfigError: AZURE_TENANT_ID: expected a GUID, got "contoso". On Azure the host would start and run no functions, with this error only in its log. Fix it before deploying.',
    );
  });
});
