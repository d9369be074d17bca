/**
 * Where registry settlements stopped at their Resource Graph budget: one row per registry in the
 * status table (`<TABLE_PREFIX>status`, partition `unfinished`), written by the run that stopped and
 * deleted — conditionally on the ETag read — by the run that finishes it (src/access/registryContinuations.ts).
 */
import type { TableEntity } from '@azure/data-tables';
import type { LazyTable } from '../azure/tables.js';
import { resourceIdKey } from '../policy/resourceId.js';

/** A registry settlement that stopped at its Resource Graph budget. */
export interface UnfinishedRegistry {
  readonly registryId: string;
  /** Where Resource Graph's paging stopped: the next run asks for the page after. */
  readonly skipToken: string;
  /** The event id or sweep id of the run that began the settlement. */
  readonly startedBy: string;
  readonly startedAt: string;
  /** Runs of this settlement so far, and the consumer rows they read. */
  readonly runs: number;
  readonly rowsRead: number;
  /** The row's ETag when read: a conditional delete of exactly this record. */
  readonly etag?: string;
}

export interface RegistryContinuations {
  /** Records (or replaces) where a registry's settlement stopped. */
  save(entry: UnfinishedRegistry): Promise<void>;
  /** Every unfinished settlement. */
  list(): Promise<UnfinishedRegistry[]>;
  /** Deletes the record read (same ETag); false when a newer one replaced it meanwhile, which stays. */
  finish(entry: UnfinishedRegistry): Promise<boolean>;
}

const PARTITION = 'unfinished';

type Entity = TableEntity<{ registryId: string; skipToken: string; startedBy: string; startedAt: string; runs: number; rowsRead: number }>;

/** '/' is not allowed in a row key: the normalised id with '|' instead. */
function rowKeyOf(registryId: string): string {
  return resourceIdKey(registryId).replace(/\//g, '|');
}

/** Registry continuations over the status table; one per app, built in deps.ts. */
export function createTableRegistryContinuations(table: LazyTable): RegistryContinuations {
  return {
    async save(entry) {
      const client = await table.client();
      const { etag: _etag, ...fields } = entry;
      await client.upsertEntity<Entity>({ partitionKey: PARTITION, rowKey: rowKeyOf(entry.registryId), ...fields }, 'Replace');
    },
    async list() {
      const client = await table.client();
      const out: UnfinishedRegistry[] = [];
      for await (const row of client.listEntities<Entity>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } })) {
        if (typeof row.registryId !== 'string' || typeof row.skipToken !== 'string' || row.skipToken === '') continue;
        out.push({
          registryId: row.registryId,
          skipToken: row.skipToken,
          startedBy: String(row.startedBy ?? ''),
          startedAt: String(row.startedAt ?? ''),
          runs: Number(row.runs) || 1,
          rowsRead: Number(row.rowsRead) || 0,
          ...(row.etag ? { etag: row.etag } : {}),
        });
      }
      return out;
    },
    async finish(entry) {
      const client = await table.client();
      try {
        await client.deleteEntity(PARTITION, rowKeyOf(entry.registryId), { etag: entry.etag ?? '*' });
        return true;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 412 || status === 404) return false;
        throw error;
      }
    },
  };
}
