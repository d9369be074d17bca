/**
 * The local host with a small fixture app (test/support/hostFixtureApp.cjs): timers on their
 * schedule with `%SETTING%` resolved from app settings, runOnStartup, the timer payload, route
 * templates and methods, cookies, and an app that fails to load.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnGroup } from '../../devhost/childProcess.js';
import { REPO_ROOT, startHostProcess, type HostProcess } from '../support/hostProcess.js';

const FIXTURE_APP = fileURLToPath(new URL('../support/hostFixtureApp.cjs', import.meta.url));
const started: HostProcess[] = [];
afterAll(async () => {
  await Promise.all(started.map((h) => h.stop()));
});

/** Runs the host to completion and returns its exit code and output (for hosts that must not start). */
async function runHostToExit(env: Record<string, string>) {
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'devhost/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, FUNCTIONS_HTTP_PORT: '0', APP_ENTRY: FIXTURE_APP, ...env },
  });
  const code = await Promise.race([child.exited, new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 20_000))]);
  await child.stop();
  return { code, output: child.output.join('\n') };
}

describe('local host: timers', () => {
  it('fires a timer on its NCRONTAB schedule read from an app setting, and runOnStartup at once', async () => {
    const host = await startHostProcess({ appEntry: FIXTURE_APP, env: { FIXTURE_TIMER_SCHEDULE: '*/1 * * * * *' } });
    started.push(host);
    expect(host.functions.filter((f) => f.trigger === 'timer').map((f) => [f.name, f.schedule])).toEqual([
      ['fixtureScheduled', '%FIXTURE_TIMER_SCHEDULE%'],
      ['fixtureOnStartup', '0 0 0 1 1 *'],
    ]);
    const startup = await host.waitForLog((l) => l.functionName === 'fixtureOnStartup', 5_000);
    expect(JSON.parse(startup.message)).toEqual({ fixture: 'startup' });

    await host.waitForLog((l) => l.functionName === 'fixtureScheduled' && host.logs().filter((m) => m.functionName === 'fixtureScheduled').length >= 2, 6_000);
    const ticks = host.logs().filter((l) => l.functionName === 'fixtureScheduled');
    const ids = new Set(ticks.map((t) => t.invocationId));
    expect(ids.size).toBe(ticks.length); // one invocation per tick
    const next = JSON.parse(ticks[0]!.message) as { isPastDue: boolean; next: string };
    expect(next.isPastDue).toBe(false);
    expect(new Date(next.next).getUTCMilliseconds()).toBe(0); // whole seconds, as '*/1 * * * * *' says
    expect(host.logs().filter((l) => l.functionName === 'fixtureOnStartup')).toHaveLength(1);
  });

  it('refuses to start when a schedule names an app setting that is not set', async () => {
    const { code, output } = await runHostToExit({ FIXTURE_TIMER_SCHEDULE: '' });
    expect(code).toBe(1);
    expect(output).toContain('FIXTURE_TIMER_SCHEDULE');
  });
});

describe('local host: route templates and responses', () => {
  let host: HostProcess;
  const get = (path: string, init?: RequestInit) => fetch(`${host.url}${path}`, init);
  const functionAt = async (path: string) => ((await (await get(path)).json()) as { functionName: string; params: Record<string, string> });

  it('matches catch-all, constrained and literal segments the way the Functions host does', async () => {
    host = await startHostProcess({ appEntry: FIXTURE_APP, env: { FIXTURE_TIMER_SCHEDULE: '0 0 0 1 1 *' } });
    started.push(host);
    expect(await functionAt('/api/files/a/b%20c/d.txt')).toEqual({ functionName: 'fixtureFiles', params: { path: 'a/b c/d.txt' } });
    expect(await functionAt('/api/files')).toEqual({ functionName: 'fixtureFiles', params: {} });
    expect(await functionAt('/api/items/42')).toEqual({ functionName: 'fixtureItem', params: { id: '42' } });
    expect(await functionAt('/api/items/latest')).toEqual({ functionName: 'fixtureItemLatest', params: {} });
    expect((await get('/api/items/forty-two')).status).toBe(404);
  });

  it('answers 405 with Allow for a method the function is not registered for, without invoking it', async () => {
    const response = await get('/api/items/7', { method: 'DELETE' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(host.logs().filter((l) => l.functionName === 'fixtureItem')).toEqual([]);
  });

  it('fires a timer through the admin API with the timer payload of its schedule', async () => {
    const fired = await get('/admin/functions/fixtureScheduled', { method: 'POST', headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' }, body: JSON.stringify({ input: '' }) });
    expect(fired.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'fixtureScheduled');
    expect(line.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    const payload = JSON.parse(line.message) as { isPastDue: boolean; next: string; schedule: unknown };
    expect(payload).toMatchObject({ fixture: 'scheduled', isPastDue: false, schedule: { adjustForDST: true } });
    const next = new Date(payload.next); // '0 0 0 1 1 *': the next 1 January at midnight
    expect([next.getUTCMonth(), next.getUTCDate(), next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([0, 1, 0, 0, 0]);
    expect(next.getTime()).toBeGreaterThan(Date.now());
  });

  it('requires the master key for an admin-level route', async () => {
    expect((await get('/api/operator', { method: 'POST', headers: { 'x-functions-key': host.keys.functionKey } })).status).toBe(401);
    const ok = await get('/api/operator', { method: 'POST', headers: { 'x-functions-key': host.keys.masterKey } });
    expect(ok.status).toBe(200);
  });

  it('returns the handler’s status, headers, cookies and body', async () => {
    const response = await get('/api/created', { method: 'PUT' });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/api/items/7');
    expect(response.headers.getSetCookie()).toEqual(['session=abc; Path=/; HttpOnly; SameSite=Strict']);
    expect(await response.text()).toBe('made');
  });
});

describe('local host: start-up failures', () => {
  it('prints the error the app throws while loading and exits non-zero', async () => {
    const { code, output } = await runHostToExit({ FIXTURE_TIMER_SCHEDULE: '*/1 * * * * *', HOST_FIXTURE_FAIL_AT_LOAD: 'AZURE_TENANT_ID: expected a GUID, got "contoso" (example: 72f988bf-86f1-41af-91ab-2d7cd011db47)' });
    expect(code).toBe(1);
    expect(output).toContain('AZURE_TENANT_ID: expected a GUID, got \\"contoso\\"');
    expect(output).not.toContain('"event":"ready"');
  });

  it('says which port is taken when FUNCTIONS_HTTP_PORT is busy', async () => {
    const first = await startHostProcess({ appEntry: FIXTURE_APP, env: { FIXTURE_TIMER_SCHEDULE: '0 0 0 1 1 *' } });
    started.push(first);
    const port = new URL(first.url).port;
    const { code, output } = await runHostToExit({ FIXTURE_TIMER_SCHEDULE: '0 0 0 1 1 *', FUNCTIONS_HTTP_PORT: port });
    expect(code).toBe(1);
    expect(output).toContain(`Port ${port} is in use`);
  });
});
