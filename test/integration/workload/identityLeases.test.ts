/**
 * The per-identity lease of workload identity (issue 14 point 7) against Azurite: two lease objects
 * stand for two instances of the app (no memory shared), one table between them. Conditional writes
 * (ETags) decide who holds an identity; a run that cannot get it in time gets NotReadyError
 * (`IdentityBusy`, so Event Grid redelivers); a dead holder's lease lapses; a live one renews.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableClient, type LazyTable } from '../../../src/azure/tables.js';
import { loadConfig } from '../../../src/config.js';
import { NotReadyError } from '../../../src/errors.js';
import {
  createTableIdentityLeases,
  IDENTITY_BUSY_CODE,
  IDENTITY_LEASE_TABLE_SUFFIX,
  identityLeaseKeys,
  type IdentityLeaseOptions,
} from '../../../src/workload/identityLeases.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const identity = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-lease/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let table: LazyTable;
/** A fresh "instance": its own lease object, over the shared table. */
const instance = (options: IdentityLeaseOptions = {}) =>
  createTableIdentityLeases(table, { leaseMs: 5_000, renewEveryMs: 1_000, waitMs: 5_000, ...options });

beforeAll(() => {
  const config = loadConfig({
    AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    WATCHED_SUBSCRIPTIONS: SUB,
    TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
    TABLE_PREFIX: `lease${randomBytes(4).toString('hex')}`,
  });
  // A connection string needs no token: the credential is never asked.
  table = createTableClient(config, { getToken: async () => null }, IDENTITY_LEASE_TABLE_SUFFIX);
});
afterAll(async () => {
  await (await table.client()).deleteTable();
});

/** Work that records when it ran. */
function timed(log: Array<{ who: string; start: number; end: number }>, who: string, ms: number) {
  return async () => {
    const start = Date.now();
    await sleep(ms);
    log.push({ who, start, end: Date.now() });
    return who;
  };
}

describe('createTableIdentityLeases', () => {
  it('runs one instance at a time on an identity, whatever the id casing, and both finish', async () => {
    const log: Array<{ who: string; start: number; end: number }> = [];
    const [a, b] = [instance(), instance()];
    const results = await Promise.all([
      a.run(identity('id-one'), timed(log, 'a', 300)),
      b.run(identity('ID-One').replace('resourceGroups', 'resourcegroups'), timed(log, 'b', 300)),
    ]);
    expect(results).toEqual(['a', 'b']);
    const [first, second] = [...log].sort((x, y) => x.start - y.start);
    expect(second!.start).toBeGreaterThanOrEqual(first!.end);
  });

  it('runs different identities side by side', async () => {
    const a = instance();
    const b = instance({ waitMs: 100 });
    let release!: () => void;
    const held = a.run(identity('id-side-a'), () => new Promise<void>((r) => (release = r)));
    await sleep(100);
    await expect(b.run(identity('id-side-b'), async () => 'ran')).resolves.toBe('ran');
    release();
    await held;
  });

  it('gives up after its bounded wait with NotReadyError IdentityBusy, so the event is redelivered', async () => {
    const a = instance();
    const b = instance({ waitMs: 200 });
    let release!: () => void;
    let ranB = false;
    const held = a.run(identity('id-busy'), () => new Promise<void>((r) => (release = r)));
    await sleep(100);
    const error = await b.run(identity('id-busy'), async () => void (ranB = true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(error).toMatchObject({ code: IDENTITY_BUSY_CODE });
    expect((error as Error).message).toMatch(/retried on redelivery/);
    expect(ranB).toBe(false);
    release();
    await held;
  });

  it('takes over the lease of an instance that died holding it, once the lease lapses', async () => {
    // What a crashed holder leaves behind: its row, with a lease running out shortly.
    const until = Date.now() + 600;
    const client = await table.client();
    await client.createEntity({
      ...identityLeaseKeys(identity('id-crashed')),
      owner: 'crashed-instance',
      leaseUntil: new Date(until).toISOString(),
    });
    let startedAt = 0;
    await instance({ waitMs: 5_000 }).run(identity('id-crashed'), async () => void (startedAt = Date.now()));
    expect(startedAt).toBeGreaterThanOrEqual(until);
  });

  it('keeps the lease past its duration while the work runs, by renewing it', async () => {
    const a = instance({ leaseMs: 400, renewEveryMs: 100 });
    const b = instance({ waitMs: 900 });
    const held = a.run(identity('id-long'), () => sleep(1_500));
    await sleep(100);
    // Without renewal the lease would lapse at 400 ms and b would get it well within its 900 ms.
    await expect(b.run(identity('id-long'), async () => 'stolen')).rejects.toMatchObject({ code: IDENTITY_BUSY_CODE });
    await held;
  });

  it('releases the lease when the work ends, failed or not: the next run does not wait for it to lapse', async () => {
    const a = instance({ leaseMs: 60_000 });
    await a.run(identity('id-release'), async () => undefined);
    await expect(a.run(identity('id-release'), async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(instance({ waitMs: 150 }).run(identity('id-release'), async () => 'next')).resolves.toBe('next');
  });
});
