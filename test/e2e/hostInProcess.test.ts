/** `startHost()` inside the test process: the same host, for tests that want no child process. */
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { startHost, type HostLogLine, type RunningHost } from '../../devhost/host.js';
import { REPO_ROOT } from '../support/hostProcess.js';

const FIXTURE_APP = fileURLToPath(new URL('../support/hostFixtureApp.cjs', import.meta.url));
let host: RunningHost | undefined;
afterAll(async () => {
  await host?.stop();
});

it('serves the app in-process on a free port with the keys it was given, and reports generated ones', async () => {
  const lines: HostLogLine[] = [];
  host = await startHost({
    appRoot: REPO_ROOT,
    appEntry: FIXTURE_APP,
    port: 0,
    keys: { masterKey: 'given-master-key' },
    settings: { FIXTURE_TIMER_SCHEDULE: '0 0 0 1 1 *' },
    runTimers: false,
    onLog: (line) => lines.push(line),
  });
  expect(host.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(host.keys.masterKey).toBe('given-master-key');
  expect([...host.generatedKeys].sort()).toEqual(['eventGridKey', 'functionKey']);

  const item = await fetch(`${host.url}/api/items/7`);
  expect(await item.json()).toEqual({ functionName: 'fixtureItem', params: { id: '7' } });

  const fired = await fetch(`${host.url}/admin/functions/fixtureOnStartup`, {
    method: 'POST',
    headers: { 'x-functions-key': 'given-master-key' },
    body: '{}',
  });
  expect(fired.status).toBe(202);
  await expect.poll(() => lines.find((l) => l.functionName === 'fixtureOnStartup')?.message).toBe('{"fixture":"startup"}');
});
