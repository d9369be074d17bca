/**
 * Issue #5 "Done when": a process killed mid-rotation (SIGKILL, at each step boundary and at
 * arbitrary moments inside steps), then a new run: Key Vault always serves a password that
 * works, and afterwards the application holds at most the current and the previous password.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATION_STEPS } from '../../../src/credentials/enrolment.js';
import { enrolRegistry, rotateIfDue } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

const CHILD = fileURLToPath(new URL('./rotationChild.ts', import.meta.url));
const LEASE_SECONDS = 1;

let world: World;
beforeAll(async () => {
  world = await startWorld({ ROTATION_GRACE_HOURS: '0' });
});
afterAll(async () => world?.stop());

/** Runs the child until `until` says so (a line it printed, or a delay), then SIGKILLs it. */
function runChildAndKill(registryId: string, options: { stopAt?: string; killAfterMs?: number }): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    // Vault hosts are *.vault.localhost: the emulator's preload resolves them to loopback.
    const child = spawn(process.execPath, ['--import', world.emulator.endpoints.loopbackDnsPreload, '--import', 'tsx', CHILD], {
      env: {
        ...process.env,
        ...world.childEnv,
        REGISTRY_ID: registryId,
        LEASE_SECONDS: String(LEASE_SECONDS),
        ...(options.stopAt ? { STOP_AT: options.stopAt } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(line);
        if (line === 'PARKED') child.kill('SIGKILL');
        if (line === 'START' && options.killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
      }
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve(lines);
      else reject(new Error(`child exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

async function check(r: { registryName: string; vaultName: string; appId: string }) {
  const served = await world.servedPassword(r.registryName, r.vaultName, r.appId);
  expect(served.works, 'Key Vault serves a working password').toBe(true);
  return { served, passwords: await world.passwordsOnApp(r.appId) };
}

describe('rotation in a process killed mid-rotation', () => {
  const cases = [
    ...Object.values(ROTATION_STEPS).map((step) => ({ name: `at ${step}`, stopAt: step as string })),
    ...[150, 300, 450].map((ms) => ({ name: `${ms} ms into the run`, killAfterMs: ms })),
  ];
  it.each(cases)('recovers when killed $name', async (c) => {
    const registry = await world.newRegistry();
    const enrolled = await enrolRegistry(world.deps(), { registryId: registry.registryId, vaultName: registry.vaultName });
    const r = { ...registry, appId: enrolled.enrolment.appId! };
    await check(r);

    const lines = await runChildAndKill(r.registryId, c);
    if ('stopAt' in c) expect(lines).toContain(`STEP ${c.stopAt}`);
    await check(r);

    // The dead run's lease lapses; the next run finishes or undoes its work.
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 100));
    await rotateIfDue(world.deps(), r.registryId);
    const { served, passwords } = await check(r);
    expect(passwords.length).toBeLessThanOrEqual(2);
    const row = (await world.deps().store.get(r.registryId))!;
    expect(row.phase).toBe('idle');
    expect(row.currentKeyId).toBe(served.keyId);
  });
});
