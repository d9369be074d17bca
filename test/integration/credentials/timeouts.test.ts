/**
 * Issue 14, point 3 ("Stale runs"), one adapter at a time: every Key Vault, Graph and Entra call a
 * leased run makes carries the SDK's `abortSignal` (AbortSignal.timeout of
 * CREDENTIALS_CALL_TIMEOUT_SECONDS). A call the emulator holds longer (its injected latency,
 * PUT /admin/faults) is given up as OperationTimedOut, the lease is released, and nothing that
 * works is lost; the next run carries on.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TransientAzureError } from '../../../src/errors.js';
import { enrolRegistry, rotateIfDue, rotateNow } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld({ CREDENTIALS_CALL_TIMEOUT_SECONDS: '1' });
});
afterEach(async () => {
  await world.emulator.admin('PUT', '/faults', { latencyMs: { keyVault: 0, graph: 0, login: 0 } });
});
afterAll(async () => world?.stop());

async function enrolled() {
  const r = await world.newRegistry();
  const result = await enrolRegistry(world.deps(), { registryId: r.registryId, vaultName: r.vaultName });
  return { ...r, appId: result.enrolment.appId! };
}

describe('a call that stalls past CREDENTIALS_CALL_TIMEOUT_SECONDS', () => {
  it.each(['keyVault', 'graph'] as const)(
    'in %s is given up, the lease released, and the registry keeps a working password',
    async (api) => {
      const r = await enrolled();
      const before = await world.servedPassword(r.registryName, r.vaultName, r.appId);
      const passwords = await world.passwordsOnApp(r.appId);
      await world.emulator.admin('PUT', '/faults', { latencyMs: { [api]: 5_000 } });
      const started = Date.now();
      const error = await rotateNow(world.deps(), r.registryId).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(error).toBeInstanceOf(TransientAzureError);
      expect(error).toMatchObject({ code: 'OperationTimedOut', message: expect.stringMatching(/did not answer within the call timeout/) });
      await world.emulator.admin('PUT', '/faults', { latencyMs: { [api]: 0 } });

      const row = (await world.deps().store.get(r.registryId))!;
      expect(row.leaseUntil).toBeUndefined();
      expect(row.lastErrorCode).toBe('OperationTimedOut');
      expect(await world.servedPassword(r.registryName, r.vaultName, r.appId)).toMatchObject({ works: true, keyId: before.keyId });
      expect(await world.passwordsOnApp(r.appId)).toEqual(passwords);
      expect((await rotateNow(world.deps(), r.registryId)).outcome).toBe('rotated');
    },
  );

  it('in the Entra sign-in that proves a new password is given up; the password stays stored and is proven by the next run', async () => {
    const r = await enrolled();
    const before = await world.servedPassword(r.registryName, r.vaultName, r.appId);
    await world.emulator.admin('PUT', '/faults', { latencyMs: { login: 5_000 } });
    const started = Date.now();
    // The app's own managed-identity token is cached; only the proof's client-credentials request stalls.
    const error = await rotateNow(world.deps(), r.registryId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(error).toMatchObject({ code: 'OperationTimedOut' });
    await world.emulator.admin('PUT', '/faults', { latencyMs: { login: 0 } });
    expect((await world.deps().store.get(r.registryId))!).toMatchObject({ phase: 'stored' });
    // Key Vault serves the new password already; the old one is still on the application.
    expect((await world.passwordsOnApp(r.appId)).map((p) => p.keyId)).toContain(before.keyId);

    expect((await rotateIfDue(world.deps(), r.registryId)).outcome).toBe('rotated');
    const after = await world.servedPassword(r.registryName, r.vaultName, r.appId);
    expect(after.works).toBe(true);
    expect(after.keyId).not.toBe(before.keyId);
  });
});
