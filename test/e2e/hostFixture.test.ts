/**
 * The local host with a small fixture app (test/support/hostFixtureApp.cjs): timers on their
 * schedule with `%SETTING%` resolved from app settings, in UTC, runOnStartup, the timer payload,
 * route templates and methods, cookies, chunked bodies, and an app that fails to load — each
 * behaving as on Azure (issue 21, "Like Azure, not like our host").
 */
import { request as httpRequest } from 'node:http';
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

    await host.waitForLog(
      (l) => l.functionName === 'fixtureScheduled' && host.logs().filter((m) => m.functionName === 'fixtureScheduled').length >= 2,
      6_000,
    );
    const ticks = host.logs().filter((l) => l.functionName === 'fixtureScheduled');
    const ids = new Set(ticks.map((t) => t.invocationId));
    expect(ids.size).toBe(ticks.length); // one invocation per tick
    const next = JSON.parse(ticks[0]!.message) as { isPastDue: boolean; next: string };
    expect(next.isPastDue).toBe(false);
    expect(new Date(next.next).getUTCMilliseconds()).toBe(0); // whole seconds, as '*/1 * * * * *' says
    expect(host.logs().filter((l) => l.functionName === 'fixtureOnStartup')).toHaveLength(1);
  });

  // Issue 21 item 2: Azure resolves %SETTING% from app settings only and puts the function in error
  // ("'%NAME%' does not resolve to a value", Azure/azure-functions-host#2165); the rest still runs.
  it('puts a timer whose %SETTING% is not an app setting in error, never runs it, and serves the rest', async () => {
    const host = await startHostProcess({ appEntry: FIXTURE_APP, env: { FIXTURE_TIMER_SCHEDULE: undefined } });
    started.push(host);
    const error = "'%FIXTURE_TIMER_SCHEDULE%' does not resolve to a value.";
    expect(host.functions.find((f) => f.name === 'fixtureScheduled')).toEqual({
      name: 'fixtureScheduled',
      trigger: 'timer',
      schedule: '%FIXTURE_TIMER_SCHEDULE%',
      error,
    });
    expect(host.logs().find((l) => l.level === 'error' && l.category === 'host')?.message).toBe(
      `The following 1 functions are in error:\nfixtureScheduled: ${error}`,
    );
    const fired = await fetch(`${host.url}/admin/functions/fixtureScheduled`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey },
      body: '{}',
    });
    expect(fired.status).toBe(404);
    expect(await fired.text()).toContain(error);
    expect((await fetch(`${host.url}/api/items/7`)).status).toBe(200);
    await host.waitForLog((l) => l.functionName === 'fixtureOnStartup', 5_000);
    expect(host.logs().filter((l) => l.functionName === 'fixtureScheduled')).toEqual([]);
  });

  /** The `next` occurrence in the payload of the admin-fired fixtureScheduled timer. */
  async function nextOccurrence(host: HostProcess): Promise<Date> {
    const fired = await fetch(`${host.url}/admin/functions/fixtureScheduled`, {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey },
      body: '{}',
    });
    expect(fired.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'fixtureScheduled');
    return new Date((JSON.parse(line.message) as { next: string }).next);
  }

  // Issue 21 item 1: "The default time zone used with the CRON expressions is Coordinated Universal
  // Time (UTC)" (MicrosoftDocs/azure-docs includes/functions-timezone.md). The machine here runs at
  // UTC+14 (TZ), where 03:00 local is 13:00 UTC.
  it('reads a schedule in UTC, not in the machine’s time zone', async () => {
    const host = await startHostProcess({
      appEntry: FIXTURE_APP,
      env: { TZ: 'Pacific/Kiritimati', WEBSITE_TIME_ZONE: undefined, FIXTURE_TIMER_SCHEDULE: '0 0 3 * * *' },
    });
    started.push(host);
    const next = await nextOccurrence(host);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([3, 0, 0]);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);
  });

  it('reads a schedule in the zone WEBSITE_TIME_ZONE names', async () => {
    const host = await startHostProcess({
      appEntry: FIXTURE_APP,
      env: { TZ: 'Pacific/Kiritimati', WEBSITE_TIME_ZONE: 'America/New_York', FIXTURE_TIMER_SCHEDULE: '0 0 3 * * *' },
    });
    started.push(host);
    const next = await nextOccurrence(host);
    const newYork = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    }).format(next);
    expect(newYork).toBe('03:00');
  });

  it('puts the timers in error when WEBSITE_TIME_ZONE is not a tz database name', async () => {
    const host = await startHostProcess({
      appEntry: FIXTURE_APP,
      env: { WEBSITE_TIME_ZONE: 'Eastern Standard Time', FIXTURE_TIMER_SCHEDULE: '0 0 3 * * *' },
    });
    started.push(host);
    expect(host.functions.find((f) => f.name === 'fixtureScheduled')?.error).toContain(
      'WEBSITE_TIME_ZONE: expected a tz database time zone, got "Eastern Standard Time"',
    );
  });
});

describe('local host: route templates and responses', () => {
  let host: HostProcess;
  const get = (path: string, init?: RequestInit) => fetch(`${host.url}${path}`, init);
  const functionAt = async (path: string) => (await (await get(path)).json()) as { functionName: string; params: Record<string, string> };

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
    const fired = await get('/admin/functions/fixtureScheduled', {
      method: 'POST',
      headers: { 'x-functions-key': host.keys.masterKey, 'content-type': 'application/json' },
      body: JSON.stringify({ input: '' }),
    });
    expect(fired.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'fixtureScheduled');
    expect(line.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    const payload = JSON.parse(line.message) as { isPastDue: boolean; next: string; schedule: unknown };
    expect(payload).toMatchObject({ fixture: 'scheduled', isPastDue: false, schedule: { adjustForDST: true } });
    const next = new Date(payload.next); // '0 0 0 1 1 *': the next 1 January at midnight
    expect([next.getUTCMonth(), next.getUTCDate(), next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([
      0, 1, 0, 0, 0,
    ]);
    expect(next.getTime()).toBeGreaterThan(Date.now());
  });

  it('requires the master key for an admin-level route', async () => {
    expect((await get('/api/operator', { method: 'POST', headers: { 'x-functions-key': host.keys.functionKey } })).status).toBe(401);
    const ok = await get('/api/operator', { method: 'POST', headers: { 'x-functions-key': host.keys.masterKey } });
    expect(ok.status).toBe(200);
  });

  it('passes a body sent with Content-Length', async () => {
    const response = await get('/api/echo', { method: 'POST', body: 'hello' });
    expect(await response.json()).toEqual({ body: 'hello', transferEncoding: null });
  });

  // Issue 21 item 3: Azure's host hands a body sent without Content-Length to the worker empty
  // (Azure/azure-functions-host#4926, Azure/azure-functions-nodejs-library#171).
  it('passes a chunked body (no Content-Length) on empty, as Azure does', async () => {
    const answer = await new Promise<string>((done, fail) => {
      const req = httpRequest(`${host.url}/api/echo`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (chunk: string) => (text += chunk))
          .on('end', () => done(text));
      });
      req.on('error', fail);
      req.write('hel');
      req.end('lo');
    });
    expect(JSON.parse(answer)).toEqual({ body: '', transferEncoding: 'chunked' });
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
  // Issue 21 item 4: the Node worker logs a throwing entry point as a warning and reports the
  // functions registered so far (Azure/azure-functions-nodejs-worker src/startApp.ts): the host
  // runs, with nothing to run. `npm run build` catches it instead (hostBundle.test.ts).
  it('starts with no functions when the app throws while loading, with the error as a warning', async () => {
    const host = await startHostProcess({
      appEntry: FIXTURE_APP,
      env: {
        FIXTURE_TIMER_SCHEDULE: '*/1 * * * * *',
        HOST_FIXTURE_FAIL_AT_LOAD: 'AZURE_TENANT_ID: expected a GUID, got "contoso" (example: 72f988bf-86f1-41af-91ab-2d7cd011db47)',
      },
    });
    started.push(host);
    expect(host.functions).toEqual([]);
    const warning = host.logs().find((l) => l.level === 'warning' && l.category === 'worker');
    expect(warning?.message).toBe(
      `Worker was unable to load entry point "${FIXTURE_APP}": AZURE_TENANT_ID: expected a GUID, got "contoso" (example: 72f988bf-86f1-41af-91ab-2d7cd011db47)`,
    );
    expect(host.logs().some((l) => l.level === 'warning' && l.message.startsWith('No job functions found.'))).toBe(true);
    expect((await fetch(`${host.url}/api/items/7`)).status).toBe(404);
    const listed = await fetch(`${host.url}/admin/functions`, { headers: { 'x-functions-key': host.keys.masterKey } });
    expect(await listed.json()).toEqual([]);
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
