/** Per-identity serialisation (issue #7): Entra rejects concurrent federated-credential writes to one identity. */
import { describe, expect, it } from 'vitest';
import { createIdentityLocks } from '../../../src/workload/identityLocks.js';

const ID =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1';
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('createIdentityLocks', () => {
  it('runs work for one identity one at a time, whatever the id casing', async () => {
    const locks = createIdentityLocks();
    let active = 0;
    let most = 0;
    const order: number[] = [];
    const work = (n: number) => async () => {
      active += 1;
      most = Math.max(most, active);
      await tick();
      order.push(n);
      active -= 1;
      return n;
    };
    const results = await Promise.all([
      locks.run(ID, work(1)),
      locks.run(ID.toLowerCase(), work(2)),
      locks.run(ID.replace('resourceGroups', 'resourcegroups'), work(3)),
    ]);
    expect(results).toEqual([1, 2, 3]);
    expect(order).toEqual([1, 2, 3]);
    expect(most).toBe(1);
  });

  it('runs different identities side by side', async () => {
    const locks = createIdentityLocks();
    let active = 0;
    let most = 0;
    const work = async () => {
      active += 1;
      most = Math.max(most, active);
      await tick();
      active -= 1;
    };
    await Promise.all([locks.run(ID, work), locks.run(ID.replace('id1', 'id2'), work)]);
    expect(most).toBe(2);
  });

  it('goes on after a failed run', async () => {
    const locks = createIdentityLocks();
    const failed = locks.run(ID, async () => {
      throw new Error('boom');
    });
    const next = locks.run(ID, async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
