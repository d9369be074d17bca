/**
 * One writer at a time per user-assigned identity, across every instance of the app.
 *
 * Entra rejects concurrent federated-credential writes to one identity (409
 * `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`,
 * https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations), and the
 * cap of 20 must be checked against what is there when we write. On Azure the app scales out, so an
 * in-process lock is not enough: each identity has a lease row in Table Storage
 * (`<TABLE_PREFIX>workloadleases`), taken and renewed with conditional writes (insert fails when the
 * row exists, replace carries the ETag read: https://learn.microsoft.com/rest/api/storageservices/update-entity2),
 * as the credentials' rotation lease does.
 *
 *   - A run waits a bounded time for the lease (backing off); if it cannot be had, NotReadyError: the
 *     event is redelivered by Event Grid, never dropped.
 *   - The lease lasts `leaseMs` (minutes, well above any one ARM call with the SDK's retries) and is
 *     renewed while the work runs, so a long run keeps it and a crashed instance loses it when it lapses.
 *   - Release is best effort: a release that finds the row changed (the lease lapsed and another run
 *     took it) leaves it alone.
 */
import { randomUUID } from 'node:crypto';
import type { TableEntity } from '@azure/data-tables';
import type { LazyTable } from '../azure/tables.js';
import { NotReadyError } from '../errors.js';
import type { Logger } from '../log.js';
import { parseResourceId } from '../policy/resourceId.js';

export const IDENTITY_LEASE_TABLE_SUFFIX = 'workloadleases';

/** The error code of a run that could not get an identity's lease in time (the event is redelivered). */
export const IDENTITY_BUSY_CODE = 'IdentityBusy';

export interface IdentityLeases {
  /** Runs `work` holding the identity's lease, then releases it; NotReadyError when the lease cannot be had in time. */
  run<T>(identityId: string, work: () => Promise<T>, options?: { log?: Logger }): Promise<T>;
}

export interface IdentityLeaseOptions {
  /** How long a lease lasts without renewal: a crashed holder blocks the identity this long at most. */
  readonly leaseMs?: number;
  /** How often a holder renews while its work runs. */
  readonly renewEveryMs?: number;
  /** How long a run waits for another holder before giving up (NotReadyError). */
  readonly waitMs?: number;
}

export const DEFAULT_IDENTITY_LEASE: Required<IdentityLeaseOptions> = { leaseMs: 120_000, renewEveryMs: 30_000, waitMs: 60_000 };

type Entity = TableEntity<{ owner: string; leaseUntil: string }>;

/** The lease table's keys for an identity: subscription, then `<resource group>|<name>` ('/' is not allowed in keys). */
export function identityLeaseKeys(identityId: string): { partitionKey: string; rowKey: string } {
  const parsed = parseResourceId(identityId);
  if (!parsed.ok || !parsed.value.resourceGroup) throw new Error(`not a user-assigned identity id: ${identityId}`);
  return {
    partitionKey: parsed.value.subscriptionId,
    rowKey: `${parsed.value.resourceGroup.toLowerCase()}|${parsed.value.name.toLowerCase()}`,
  };
}

/** Identity leases over one table of the app's storage account; one per app, built in deps.ts. */
export function createTableIdentityLeases(table: LazyTable, options: IdentityLeaseOptions = {}): IdentityLeases {
  const { leaseMs, renewEveryMs, waitMs } = { ...DEFAULT_IDENTITY_LEASE, ...options };

  /** Takes the lease if it is free or lapsed; the ETag of our row, or undefined when someone else holds it. */
  async function tryAcquire(keys: { partitionKey: string; rowKey: string }, owner: string): Promise<string | undefined> {
    const client = await table.client();
    const entity: Entity = { ...keys, owner, leaseUntil: new Date(Date.now() + leaseMs).toISOString() };
    let current: (Entity & { etag?: string }) | undefined;
    try {
      current = await client.getEntity<Entity>(keys.partitionKey, keys.rowKey);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    try {
      if (!current) return (await client.createEntity(entity)).etag;
      if (Date.parse(current.leaseUntil) > Date.now()) return undefined;
      return (await client.updateEntity(entity, 'Replace', { etag: current.etag ?? '*' })).etag;
    } catch (error) {
      // 409: another run created the row first; 412/404: another run changed or removed it since our read.
      if ([409, 412, 404].includes(statusOf(error) ?? 0)) return undefined;
      throw error;
    }
  }

  return {
    async run(identityId, work, runOptions = {}) {
      const keys = identityLeaseKeys(identityId);
      const owner = randomUUID();
      const deadline = Date.now() + waitMs;
      let etag = await tryAcquire(keys, owner);
      for (let delay = 50; etag === undefined; delay = Math.min(delay * 2, 1000)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new NotReadyError(
            IDENTITY_BUSY_CODE,
            `another run (on this or another instance) is writing the workload identity of ${keys.rowKey.split('|')[1]}; it was not free within ${Math.round(waitMs / 1000)} s, so this is retried on redelivery`,
          );
        }
        await sleep(Math.min(left, delay / 2 + Math.random() * delay));
        etag = await tryAcquire(keys, owner);
      }

      // Renew while the work runs: each renewal is conditional on our last ETag, so a lease that
      // lapsed and was taken by another run is never written back.
      let renewing: Promise<void> = Promise.resolve();
      let lost = false;
      const timer = setInterval(() => {
        renewing = renewing.then(async () => {
          if (lost) return;
          try {
            const client = await table.client();
            const entity: Entity = { ...keys, owner, leaseUntil: new Date(Date.now() + leaseMs).toISOString() };
            etag = (await client.updateEntity(entity, 'Replace', { etag: etag ?? '*' })).etag;
          } catch (error) {
            if ([412, 404].includes(statusOf(error) ?? 0)) lost = true;
            runOptions.log?.warn(`could not renew the workload-identity lease of ${identityId}`, {
              identityId,
              lost,
              status: statusOf(error),
            });
          }
        });
      }, renewEveryMs);
      try {
        return await work();
      } finally {
        clearInterval(timer);
        await renewing;
        if (!lost) {
          try {
            const client = await table.client();
            // Lapsed at once: the next run need not wait for it.
            await client.updateEntity<Entity>({ ...keys, owner: '', leaseUntil: new Date(0).toISOString() }, 'Replace', {
              etag: etag ?? '*',
            });
          } catch (error) {
            runOptions.log?.warn(`could not release the workload-identity lease of ${identityId}; it lapses on its own`, {
              identityId,
              status: statusOf(error),
            });
          }
        }
      }
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function statusOf(error: unknown): number | undefined {
  return error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
}
