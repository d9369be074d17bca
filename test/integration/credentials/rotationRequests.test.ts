/**
 * A rotation asked for while another run holds the registry's lease (docs/reliability.md, the kill -9
 * finding: "rotate now" answered 202 in-progress and silently never happened) is recorded in the
 * enrolment and carried out by the next run that holds the lease: the holder when it finishes, or —
 * when the holder died — the first run after its lease lapses (here the timer). Done once, not twice,
 * and never by cutting into the previous password's grace period. Real emulator + Azurite.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CredentialsDeps } from '../../../src/credentials/deps.js';
import { ROTATION_STEPS } from '../../../src/credentials/enrolment.js';
import type { RotationResult } from '../../../src/credentials/rotation.js';
import { enrolRegistry, rotateIfDue, rotateNow } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

const CHILD = fileURLToPath(new URL('./rotationChild.ts', import.meta.url));

let world: World;
beforeAll(async () => {
  // Grace 0 unless a test says otherwise: each rotation also retires the previous password (the riskier path).
  world = await startWorld({ ROTATION_GRACE_HOURS: '0' });
});
afterAll(async () => world?.stop());

type Registry = { registryId: string; registryName: string; vaultName: string; appId: string };

async function enrolled(deps: CredentialsDeps = world.deps()): Promise<Registry> {
  const registry = await world.newRegistry();
  const result = await enrolRegistry(deps, { registryId: registry.registryId, vaultName: registry.vaultName });
  return { ...registry, appId: result.enrolment.appId! };
}

/** Every password Key Vault serves signs in; the application holds at most `max` passwords. */
async function expectServedWorks(r: Registry, max = 2) {
  const served = await world.servedPassword(r.registryName, r.vaultName, r.appId);
  expect(served.works, 'Key Vault serves a password that signs in').toBe(true);
  const passwords = await world.passwordsOnApp(r.appId);
  expect(passwords.map((p) => p.keyId)).toContain(served.keyId);
  expect(passwords.length).toBeLessThanOrEqual(max);
  return served;
}

async function rotatedRows(r: Registry): Promise<number> {
  const audit = await world.audit.query({ registry: r.registryId });
  return audit.items.filter((row) => row.outcome === 'rotated').length;
}

/** What a run that died leaves in Table Storage: its lease on the row, until `seconds` from now. */
async function leaseHeldByADeadRun(deps: CredentialsDeps, registryId: string, seconds: number): Promise<void> {
  const row = (await deps.store.get(registryId))!;
  await deps.store.replace({ ...row, leaseOwner: 'a-run-that-died', leaseUntil: new Date(Date.now() + seconds * 1000).toISOString() });
}

const untilLapsed = async (leaseUntil: string | undefined) => {
  const wait = Date.parse(leaseUntil ?? '') - Date.now() + 100;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
};

describe('a rotation requested while another run holds the lease', () => {
  it('is recorded, answered with the latest time it runs, and carried out by the holder when it finishes', async () => {
    const r = await enrolled();
    const before = await rotatedRows(r);
    let answer: RotationResult | undefined;
    let keyOfTheHoldersRotation: string | undefined;
    // The second request arrives after the holder stored its new password: that password was served
    // when it was asked for, so the request needs a rotation of its own.
    await rotateNow(world.deps(), r.registryId, {
      afterStep: async (step, state) => {
        if (step !== ROTATION_STEPS.secretStored || answer) return;
        keyOfTheHoldersRotation = state.pendingKeyId;
        answer = await rotateNow(world.deps(), r.registryId, { trigger: { caller: 'on-call' }, reason: 'requested by on-call' });
      },
    });
    expect(answer?.outcome).toBe('recorded');
    expect(answer?.requestedAt).toBeDefined();
    expect(Date.parse(answer!.runsBy!)).toBeGreaterThanOrEqual(Date.parse(answer!.leaseUntil!));
    expect(answer?.reason).toMatch(/recorded/);

    const row = (await world.deps().store.get(r.registryId))!;
    expect(row.rotationRequestedAt).toBeUndefined();
    expect(row.phase).toBe('idle');
    expect(row.currentKeyId).not.toBe(keyOfTheHoldersRotation);
    expect(await rotatedRows(r)).toBe(before + 2);
    const served = await expectServedWorks(r);
    expect(served.keyId).toBe(row.currentKeyId);
  });

  it('that fails in the holder leaves the holder’s own answer alone and stays recorded for the next run', async () => {
    const r = await enrolled();
    let answer: RotationResult | undefined;
    let starts = 0;
    const own = await rotateNow(world.deps(), r.registryId, {
      afterStep: async (step) => {
        if (step === ROTATION_STEPS.started && ++starts === 2)
          throw Object.assign(new Error('fault in the follow-up rotation'), { code: 'InjectedFault' });
        if (step === ROTATION_STEPS.secretStored && !answer) answer = await rotateNow(world.deps(), r.registryId);
      },
    });
    expect(own.outcome).toBe('rotated');
    expect(answer?.outcome).toBe('recorded');
    const row = (await world.deps().store.get(r.registryId))!;
    expect(row.rotationRequestedAt).toBe(answer?.requestedAt);
    expect(row.leaseOwner).toBeUndefined();
    await expectServedWorks(r, 3);

    expect((await rotateIfDue(world.deps(), r.registryId)).outcome).toBe('rotated');
    expect((await world.deps().store.get(r.registryId))?.rotationRequestedAt).toBeUndefined();
    await expectServedWorks(r);
  });

  it('whose run was killed (SIGKILL) is carried out by the next run once the lease lapses — the timer', async () => {
    const r = await enrolled();
    const lines = await runChildAndKill(r.registryId, ROTATION_STEPS.markedCurrent, 4);
    expect(lines).toContain(`STEP ${ROTATION_STEPS.markedCurrent}`);
    const dead = (await world.deps().store.get(r.registryId))!;
    await expectServedWorks(r);

    const answer = await rotateNow(world.deps(), r.registryId, { reason: 'requested after a leak' });
    expect(answer.outcome).toBe('recorded');
    expect(answer.leaseUntil).toBe(dead.leaseUntil);
    expect((await world.deps().store.get(r.registryId))?.rotationRequestedAt).toBe(answer.requestedAt);

    await untilLapsed(answer.leaseUntil);
    const timer = await rotateIfDue(world.deps(), r.registryId);
    expect(timer.outcome).toBe('rotated');
    const row = (await world.deps().store.get(r.registryId))!;
    expect(row.rotationRequestedAt).toBeUndefined();
    expect(row.currentKeyId).not.toBe(dead.currentKeyId);
    expect(Date.parse(row.lastRotatedAt!)).toBeGreaterThan(Date.parse(answer.requestedAt!));
    await expectServedWorks(r);
  });

  it('is carried out once, not twice, when two instances race for it', async () => {
    const r = await enrolled();
    await leaseHeldByADeadRun(world.deps(), r.registryId, 2);
    const answer = await rotateNow(world.deps(), r.registryId);
    expect(answer.outcome).toBe('recorded');
    await untilLapsed(answer.leaseUntil);
    const before = await rotatedRows(r);

    // Two instances (each its own deps, as two hosts build them) run the timer at once, then once more.
    const race = await Promise.all([rotateIfDue(world.deps(), r.registryId), rotateIfDue(world.deps(), r.registryId)]);
    expect(race.filter((x) => x.outcome === 'rotated')).toHaveLength(1);
    expect((await rotateIfDue(world.deps(), r.registryId)).outcome).toBe('not-due');
    expect(await rotatedRows(r)).toBe(before + 1);
    expect((await world.deps().store.get(r.registryId))?.rotationRequestedAt).toBeUndefined();
    await expectServedWorks(r, 1);
  });

  it('still waits for the previous password’s grace period, and every password Key Vault served signs in', async () => {
    const deps = (now?: () => Date) => world.deps({ config: { ...world.config, rotationGraceHours: 24 }, ...(now ? { now } : {}) });
    const r = await enrolled(deps());
    expect((await rotateNow(deps(), r.registryId)).outcome).toBe('rotated');
    const previous = (await deps().store.get(r.registryId))!.previousKeyId;
    await expectServedWorks(r);

    await leaseHeldByADeadRun(deps(), r.registryId, 2);
    const answer = await rotateNow(deps(), r.registryId);
    expect(answer.outcome).toBe('recorded');
    expect(answer.deferredUntil).toBeDefined();
    expect(Date.parse(answer.runsBy!)).toBeGreaterThanOrEqual(Date.parse(answer.deferredUntil!));
    await untilLapsed(answer.leaseUntil);

    // Within the grace period: deferred, the previous password kept, the request still recorded.
    const deferred = await rotateIfDue(deps(), r.registryId);
    expect(deferred.outcome).toBe('deferred');
    expect((await world.passwordsOnApp(r.appId)).map((p) => p.keyId)).toContain(previous);
    expect((await deps().store.get(r.registryId))?.rotationRequestedAt).toBe(answer.requestedAt);
    await expectServedWorks(r);
    // Later runs inside the grace period neither rotate nor record the deferral again.
    expect((await rotateIfDue(deps(), r.registryId)).outcome).toBe('not-due');

    // After it: the first run rotates, and the request is done.
    const later = () => new Date(Date.now() + 25 * 3_600_000);
    expect((await rotateIfDue(deps(later), r.registryId)).outcome).toBe('rotated');
    const row = (await deps().store.get(r.registryId))!;
    expect(row.rotationRequestedAt).toBeUndefined();
    expect((await world.passwordsOnApp(r.appId)).map((p) => p.keyId)).not.toContain(previous);
    await expectServedWorks(r);
  });
});

/** Runs the kill test's child (rotate now, parking after `stopAt`) with a lease of `leaseSeconds`, and SIGKILLs it there. */
function runChildAndKill(registryId: string, stopAt: string, leaseSeconds: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    const child = spawn(process.execPath, ['--import', world.emulator.endpoints.loopbackDnsPreload, '--import', 'tsx', CHILD], {
      env: { ...process.env, ...world.childEnv, REGISTRY_ID: registryId, LEASE_SECONDS: String(leaseSeconds), STOP_AT: stopAt },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        lines.push(line);
        if (line === 'PARKED') child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) =>
      signal === 'SIGKILL' || code === 0 ? resolve(lines) : reject(new Error(`child exited ${code}: ${stderr.slice(-2000)}`)),
    );
  });
}
