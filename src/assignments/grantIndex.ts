/**
 * The small index of where the automation has granted access: one row per (consumer, registry).
 *
 * Why: when a consumer is deleted its principal ids are gone from ARM, and when its tag is removed
 * it no longer names the registry — yet we must find and revoke what we granted it. The index
 * says which registries to look at; the role assignments listed there (our ownership marker, and
 * our description naming the consumer) say what to revoke. The index only narrows the search: a
 * row never authorises a delete on its own.
 *
 * It also records what was written to an ACR task's `credentials.customRegistries`, which the
 * task's GET does not echo back, so an unchanged task gets no second write; and what was written to
 * a Container App's registries or a site's configuration (`wired`), so only what the automation
 * added is ever changed back or removed (issue 19).
 */
import { createHash } from 'node:crypto';
import type { LazyTable } from '../azure/tables.js';
import { resourceIdKey } from '../policy/resourceId.js';

/**
 * What the automation wrote into a consumer's own pull configuration for this registry:
 *   containerAppRegistry — the entry `{ server, identity }` added to `configuration.registries`;
 *   siteAcrIdentity — the site's `acrUseManagedIdentityCreds: true` (and `acrUserManagedIdentityID`).
 */
export type WiredConfig =
  | { readonly kind: 'containerAppRegistry'; readonly server: string; readonly identity: string }
  | { readonly kind: 'siteAcrIdentity'; readonly acrUserManagedIdentityID: string };

export interface GrantIndexEntry {
  readonly consumerId: string;
  readonly registryId: string;
  readonly loginServer?: string;
  /** For an ACR task: the identity written to `customRegistries[loginServer]` ('[system]' or a client id). */
  readonly taskIdentity?: string;
  /**
   * The principals (lower-cased) we may have granted to for this consumer on this registry, so a
   * consumer event can list the registry's assignments by principal rather than all of them.
   * Undefined on rows written before it was recorded: then the whole registry is listed.
   */
  readonly principalIds?: readonly string[];
  /** What was written to the consumer's own configuration (Container App, site), when anything was. */
  readonly wired?: WiredConfig;
}

export interface GrantIndex {
  /** Every registry the consumer may hold our assignments on. */
  listForConsumer(consumerId: string): Promise<GrantIndexEntry[]>;
  upsert(entry: GrantIndexEntry): Promise<void>;
  remove(consumerId: string, registryId: string): Promise<void>;
}

/** The index in Table Storage: PartitionKey = hash(consumer), RowKey = hash(registry). */
export function createTableGrantIndex(table: LazyTable): GrantIndex {
  return {
    async listForConsumer(consumerId) {
      const client = await table.client();
      const entries: GrantIndexEntry[] = [];
      const pk = keyOf(consumerId);
      for await (const row of client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${pk}'` } })) {
        if (typeof row['consumerId'] !== 'string' || typeof row['registryId'] !== 'string') continue;
        entries.push({
          consumerId: row['consumerId'],
          registryId: row['registryId'],
          ...(typeof row['loginServer'] === 'string' && row['loginServer'] ? { loginServer: row['loginServer'] } : {}),
          ...(typeof row['taskIdentity'] === 'string' && row['taskIdentity'] ? { taskIdentity: row['taskIdentity'] } : {}),
          ...principalIdsOf(row['principalIds']),
          ...wiredOf(row['wired']),
        });
      }
      return entries;
    },
    async upsert(entry) {
      const client = await table.client();
      await client.upsertEntity(
        {
          partitionKey: keyOf(entry.consumerId),
          rowKey: keyOf(entry.registryId),
          consumerId: entry.consumerId,
          registryId: entry.registryId,
          loginServer: entry.loginServer ?? '',
          taskIdentity: entry.taskIdentity ?? '',
          // A JSON array; '' (as on rows from before the column) means not recorded.
          principalIds: entry.principalIds ? JSON.stringify([...entry.principalIds]) : '',
          wired: entry.wired ? JSON.stringify(entry.wired) : '',
        },
        'Replace',
      );
    },
    async remove(consumerId, registryId) {
      const client = await table.client();
      try {
        await client.deleteEntity(keyOf(consumerId), keyOf(registryId));
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) throw error;
      }
    },
  };
}

/** The recorded principal ids, or nothing when the row has none (written before they were recorded) or they do not parse. */
function principalIdsOf(value: unknown): { principalIds?: string[] } {
  if (typeof value !== 'string' || !value) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return { principalIds: parsed.map((p) => p.toLowerCase()) };
  } catch {
    // Unreadable: treated as not recorded, so the whole registry is listed.
  }
  return {};
}

/** The recorded configuration write, or nothing when the column is empty or does not parse as one. */
function wiredOf(value: unknown): { wired?: WiredConfig } {
  if (typeof value !== 'string' || !value) return {};
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    if (parsed['kind'] === 'containerAppRegistry' && typeof parsed['server'] === 'string' && typeof parsed['identity'] === 'string') {
      return { wired: { kind: 'containerAppRegistry', server: parsed['server'], identity: parsed['identity'] } };
    }
    if (parsed['kind'] === 'siteAcrIdentity' && typeof parsed['acrUserManagedIdentityID'] === 'string') {
      return { wired: { kind: 'siteAcrIdentity', acrUserManagedIdentityID: parsed['acrUserManagedIdentityID'] } };
    }
  } catch {
    // Unreadable: nothing is claimed, so nothing is ever changed back on its word.
  }
  return {};
}

function keyOf(resourceId: string): string {
  const normalized = resourceIdKey(resourceId);
  return createHash('sha256').update(normalized).digest('hex').slice(0, 48);
}
