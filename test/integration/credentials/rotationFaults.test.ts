/**
 * Issue #5 "Done when": stop the rotation after each step — a thrown fault at each boundary —
 * then run it again: Key Vault always serves a password that works, and afterwards the
 * application holds at most the current and the previous password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATION_STEPS, type RotationStep } from '../../../src/credentials/enrolment.js';
import { enrolRegistry, rotateDueCredentials, rotateIfDue, rotateNow } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

class InjectedFault extends Error {
  readonly code = 'InjectedFault';
}
const faultAt = (wanted: RotationStep) => (step: RotationStep) => {
  if (step === wanted) throw new InjectedFault(`fault after ${step}`);
};
const STEPS = Object.values(ROTATION_STEPS);

let world: World;
beforeAll(async () => {
  // Grace 0: the previous password is removed in the same run, so every boundary is reached.
  world = await startWorld({ ROTATION_GRACE_HOURS: '0' });
});
afterAll(async () => world?.stop());

async function enrolled() {
  const registry = await world.newRegistry();
  const result = await enrolRegistry(world.deps(), { registryId: registry.registryId, vaultName: registry.vaultName });
  return { ...registry, appId: result.enrolment.appId! };
}

async function expectInvariant(r: { registryId: string; registryName: string; vaultName: string; appId: string }) {
  const served = await world.servedPassword(r.registryName, r.vaultName, r.appId);
  expect(served.works, 'Key Vault serves a working password').toBe(true);
  const passwords = await world.passwordsOnApp(r.appId);
  expect(passwords.map((p) => p.keyId)).toContain(served.keyId);
  return { served, passwords };
}

describe('rotation stopped by a fault at each step boundary', () => {
  it.each(STEPS)('recovers from a fault after %s', async (step) => {
    const r = await enrolled();
    await expectInvariant(r);
    await expect(rotateNow(world.deps(), r.registryId, { afterStep: faultAt(step) })).rejects.toBeInstanceOf(InjectedFault);
    // Right after the fault: Key Vault still serves a password that works.
    await expectInvariant(r);

    // The next timer run finishes or undoes what was left.
    await rotateIfDue(world.deps(), r.registryId);
    const { served, passwords } = await expectInvariant(r);
    expect(passwords.length).toBeLessThanOrEqual(2);
    const view = (await world.deps().store.get(r.registryId))!;
    expect(view.phase).toBe('idle');
    expect(view.leaseUntil).toBeUndefined();
    expect(view.currentKeyId).toBe(served.keyId);

    // And rotation goes on working afterwards.
    expect((await rotateNow(world.deps(), r.registryId)).outcome).toBe('rotated');
    const after = await expectInvariant(r);
    expect(after.passwords.length).toBeLessThanOrEqual(2);
    expect(after.served.keyId).not.toBe(served.keyId);
  });

  it.each(STEPS.filter((s) => s !== ROTATION_STEPS.previousRemoved))(
    'recovers from a fault after %s during the first enrolment',
    async (step) => {
      const registry = await world.newRegistry();
      const request = { registryId: registry.registryId, vaultName: registry.vaultName };
      await expect(enrolRegistry(world.deps(), request, { afterStep: faultAt(step) })).rejects.toBeInstanceOf(InjectedFault);
      const result = await enrolRegistry(world.deps(), request);
      expect(['enrolled', 'already-enrolled']).toContain(result.outcome);
      const { passwords } = await expectInvariant({ ...registry, appId: result.enrolment.appId! });
      expect(passwords.length).toBeLessThanOrEqual(2);
    },
  );

  it('removes a password created but never stored, and never the one Key Vault serves', async () => {
    const r = await enrolled();
    const before = await expectInvariant(r);
    await expect(rotateNow(world.deps(), r.registryId, { afterStep: faultAt(ROTATION_STEPS.passwordAdded) })).rejects.toBeInstanceOf(
      InjectedFault,
    );
    expect(await world.passwordsOnApp(r.appId)).toHaveLength(2);
    await rotateIfDue(world.deps(), r.registryId);
    const after = await expectInvariant(r);
    // The orphan is gone; a fresh rotation replaced the password that was served.
    expect(after.passwords).toHaveLength(1);
    expect(after.served.keyId).not.toBe(before.served.keyId);
    const audit = await world.audit.query({ registry: r.registryId });
    expect(audit.items.some((row) => /created but never stored/.test(row.reason))).toBe(true);
  });
});

describe('concurrent rotations', () => {
  it('two rotate-now requests at once create one new password', async () => {
    const r = await enrolled();
    const deps = world.deps({ config: { ...world.config, rotationGraceHours: 24 } });
    const results = await Promise.all([rotateNow(deps, r.registryId), rotateNow(deps, r.registryId)]);
    // The loser's request is recorded; it reached the row before the winner stored its new password, so that rotation honours it.
    expect(results.map((x) => x.outcome).sort()).toEqual(['recorded', 'rotated']);
    const { passwords } = await expectInvariant(r);
    expect(passwords).toHaveLength(2); // current + previous (in its grace period)
  });

  it('the timer and a rotate-now request at once create one new password', async () => {
    const r = await enrolled();
    const deps = world.deps({ config: { ...world.config, rotationGraceHours: 24 } });
    // Make the password due: created 61 days ago.
    const row = (await deps.store.get(r.registryId))!;
    await deps.store.replace({ ...row, currentCreatedAt: new Date(Date.now() - 61 * 86_400_000).toISOString() });
    const [sweep, now] = await Promise.all([rotateDueCredentials(deps), rotateNow(deps, r.registryId)]);
    const mine = sweep.results.find((x) => x.registryId === r.registryId);
    // Whichever loses: the timer leaves what is due to the holder (in-progress); a request is recorded.
    expect([
      ['in-progress', 'rotated'],
      ['recorded', 'rotated'],
    ]).toContainEqual([mine?.outcome, now.outcome].sort());
    const { passwords } = await expectInvariant(r);
    expect(passwords).toHaveLength(2);
  });
});
