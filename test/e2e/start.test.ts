/**
 * `npm start` (scripts/start.ts) as a user runs it: one line per component, `.local/endpoints.json`
 * once everything answers, and a clean shutdown on Ctrl-C that leaves no process and no file behind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { spawnGroup, type ChildHandle } from '../../devhost/childProcess.js';
import { REPO_ROOT } from '../support/hostProcess.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startScript(env: Record<string, string>, args: readonly string[] = []): { child: ChildHandle; localDir: string } {
  const localDir = mkdtempSync(join(tmpdir(), 'acr-pull-local-'));
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOCAL_DIR: localDir, FUNCTIONS_HTTP_PORT: '0', APP_ENTRY: inject('appEntry'), ...env },
  });
  cleanups.push(() => rmSync(localDir, { recursive: true, force: true }));
  cleanups.push(() => child.stop());
  return { child, localDir };
}

/** Pids of the live processes whose parent is `pid` (Linux /proc). */
function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('brings up the emulator, Azurite and the functions host, writes endpoints.json, and stops everything on SIGINT', async () => {
    const { child, localDir } = startScript({});
    const endpointsFile = join(localDir, 'endpoints.json');
    await child.waitForLine((line) => line.startsWith('Endpoints and keys:'), 60_000);

    expect(child.output.find((l) => l.startsWith('✓ emulator'))).toMatch(
      /^✓ emulator +https:\/\/127\.0\.0\.1:\d+ +\(ARM, Entra, Graph, Key Vault, Event Grid\)$/,
    );
    expect(child.output.find((l) => l.startsWith('✓ azurite'))).toMatch(/^✓ azurite +http:\/\/127\.0\.0\.1:\d+/);
    const functionsLine = child.output.find((l) => l.startsWith('✓ functions'));
    expect(functionsLine).toMatch(/^✓ functions +http:\/\/127\.0\.0\.1:\d+ +\((\w+, )*\w+\)$/);
    // The app's own functions, as it registers them; never the old smoke scaffolding.
    for (const name of ['resourceEvents', 'rotateCredentials', 'keyVaultSecretEvents', 'healthApi', 'auditApi', 'openapi'])
      expect(functionsLine).toMatch(new RegExp(`[(, ]${name}[,)]`));
    expect(functionsLine).not.toContain('smoke');

    const endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as Record<string, string> & {
      operator: { clientId: string; clientSecret: string };
    };
    // The keys issue #2 lists, plus the host's keys and the app identity the emulator plays.
    expect(Object.keys(endpoints).sort()).toEqual(
      [
        'admin',
        'app',
        'arm',
        'caCert',
        'eventGridKey',
        'functionKey',
        'functions',
        'graph',
        'identityEndpoint',
        'identityHeader',
        'keyVault',
        'keyVaultName',
        'login',
        'masterKey',
        'operator',
        'subscriptionId',
        'tables',
        'tablesConnectionString',
        'tenantId',
      ].sort(),
    );
    expect(Object.keys(endpoints.operator).sort()).toEqual(['clientId', 'clientSecret', 'objectId']);
    expect(existsSync(endpoints['caCert']!)).toBe(true);
    expect(statSync(endpointsFile).mode & 0o077).toBe(0); // it holds keys: owner only
    expect(endpoints['tablesConnectionString']).toContain(`TableEndpoint=${endpoints['tables']};`);

    const status = await fetch(`${endpoints['functions']}/admin/host/status`, { headers: { 'x-functions-key': endpoints['masterKey']! } });
    expect(await status.json()).toMatchObject({ state: 'Running' });
    const audit = await fetch(`${endpoints['functions']}/api/audit?top=1&code=${encodeURIComponent(endpoints['functionKey']!)}`);
    expect(audit.status).toBe(200); // a real route, with the key endpoints.json gives, over the stack's Table Storage
    const tables = await fetch(`${endpoints['tables']}/Tables`);
    expect(tables.status).toBeLessThan(500); // Azurite answers (without a signature it refuses)
    // Issue 18: the status page is linked, and answers with the key the line's command fills in.
    const statusLine = child.output.find((l) => l.startsWith('Status page:'));
    expect(statusLine).toBe(
      `Status page: ${endpoints['functions']}/api/status?code=<functionKey from ${endpointsFile}>   (open it in a browser)`,
    );
    const page = await fetch(`${endpoints['functions']}/api/status?code=${encodeURIComponent(endpoints['functionKey']!)}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const output = child.output.join('\n');
    for (const key of ['functionKey', 'masterKey', 'eventGridKey']) expect(output).not.toContain(endpoints[key]);
    expect(output).not.toContain(endpoints.operator.clientSecret);

    const children = childPids(child.pid);
    const stackChildren = children.filter((pid) => /azurite|devhost\/main\.ts/.test(commandLine(pid)));
    expect(
      stackChildren
        .map(commandLine)
        .map((cmd) => (cmd.includes('azurite') ? 'azurite' : 'host'))
        .sort(),
    ).toEqual(['azurite', 'host']);
    process.kill(child.pid, 'SIGINT');
    expect(await child.exited).toBe(0);
    expect(existsSync(endpointsFile)).toBe(false);
    for (const pid of stackChildren) expect(isAlive(pid), `child ${pid} (${commandLine(pid)}) still runs`).toBe(false);
  });

  it('fails with a clear message when FUNCTIONS_HTTP_PORT is taken, and writes no endpoints.json', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => blocker.close(() => done())));
    const port = (blocker.address() as { port: number }).port;

    const { child, localDir } = startScript({ FUNCTIONS_HTTP_PORT: String(port) });
    expect(await child.exited).toBe(1);
    expect(child.output.join('\n')).toContain(`Port ${port} is in use`);
    expect(existsSync(join(localDir, 'endpoints.json'))).toBe(false);
    expect(childPids(child.pid)).toEqual([]);
  });

  it('runs three instances of the app behind one address with --instances 3, plays the demo through them, and stops them all', async () => {
    const { child, localDir } = startScript({}, ['--instances', '3']);
    await child.waitForLine((line) => line.startsWith('Endpoints and keys:'), 90_000);
    expect(child.output.find((l) => l.startsWith('✓ functions'))).toMatch(/; 3 instances behind one address\)$/);
    // The demo's grant went through Event Grid, the front and one of the instances.
    expect(child.output.join('\n')).toMatch(/→ AcrPull granted on contosoacr/);
    expect(child.output.some((l) => l.startsWith('✗'))).toBe(false);

    const endpoints = JSON.parse(readFileSync(join(localDir, 'endpoints.json'), 'utf8')) as Record<string, string>;
    for (let i = 0; i < 3; i++) {
      const status = await fetch(`${endpoints['functions']}/admin/host/status`, {
        headers: { 'x-functions-key': endpoints['masterKey']! },
      });
      expect(await status.json()).toMatchObject({ state: 'Running' });
    }
    const hosts = childPids(child.pid).filter((pid) => commandLine(pid).includes('devhost/main.ts'));
    expect(hosts).toHaveLength(3);
    process.kill(child.pid, 'SIGINT');
    expect(await child.exited).toBe(0);
    for (const pid of hosts) expect(isAlive(pid)).toBe(false);
  });

  it.each([['0'], ['three'], ['']])('refuses --instances %j with the usage, and starts nothing', async (value) => {
    const { child } = startScript({}, [`--instances=${value}`]);
    expect(await child.exited).toBe(1);
    expect(child.output.join('\n')).toContain('--instances: expected a whole number from 1 to 16');
    expect(childPids(child.pid)).toEqual([]);
  });
});
