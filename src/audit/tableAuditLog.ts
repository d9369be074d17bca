import { createHash, randomUUID } from 'node:crypto';
import type { TableClient, TableEntity } from '@azure/data-tables';
import type { AuditEntry, AuditLog, AuditPage, AuditQuery, AuditRecord, AuditOutcome } from './auditLog.js';
import type { LazyTable } from '../azure/tables.js';
import { InvalidInputError } from '../errors.js';

/**
 * The audit trail in Table Storage. Each record is written under up to three partitions so the
 * trail can be read by time, by resource and by registry without scanning the table:
 *   `t:<yyyy-mm-dd>`      every record, by UTC day
 *   `r:<sha256(resource)>` records about one resource
 *   `g:<sha256(registry)>` records about one registry
 * RowKeys start with an inverted timestamp, so a partition query returns the newest first.
 */
export function createTableAuditLog(table: LazyTable, clock: () => Date = () => new Date()): AuditLog {
  return {
    async record(entry) {
      const client = await table.client();
      const time = clock();
      const record: AuditRecord = { ...entry, id: randomUUID(), time: time.toISOString() };
      const rowKey = `${invertedTicks(time.getTime())}-${record.id}`;
      const partitions = [dayPartition(time)];
      if (entry.resourceId) partitions.push(resourcePartition(entry.resourceId));
      if (entry.registry) partitions.push(registryPartition(entry.registry));
      await Promise.all(partitions.map((partitionKey) => client.createEntity(toEntity(record, partitionKey, rowKey))));
      return record;
    },
    async query(query) {
      const client = await table.client();
      return queryAudit(client, query, clock());
    },
  };
}

const MAX_TICKS = 9_999_999_999_999;
const DAY_MS = 86_400_000;
const DEFAULT_TOP = 50;
const MAX_TOP = 1000;
/** How far back a time-only query walks day partitions when no `since` is given. */
const DEFAULT_LOOKBACK_DAYS = 30;
/**
 * Day partitions one call reads at most: a wide window (`since=2020-01-01`) is paged through
 * with continuation tokens instead of one request walking years of days.
 */
const MAX_DAYS_PER_PAGE = 31;

function invertedTicks(ms: number): string {
  return String(MAX_TICKS - ms).padStart(13, '0');
}

function dayPartition(time: Date): string {
  return `t:${time.toISOString().slice(0, 10)}`;
}

function hashKey(value: string): string {
  return createHash('sha256').update(value.toLowerCase()).digest('hex').slice(0, 40);
}

function resourcePartition(resourceId: string): string {
  return `r:${hashKey(resourceId)}`;
}

function registryPartition(registry: string): string {
  return `g:${hashKey(registry)}`;
}

type AuditEntity = TableEntity<Record<string, string | number | boolean>>;

/**
 * Characters kept per text property. Table Storage refuses a string property over 64 KiB (UTF-16)
 * and an entity over 1 MiB (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model);
 * an event id, resource id or reason comes from whoever wrote the event or request, so a huge one
 * would make the row — and with it the function — fail on every redelivery. Cut, and say so.
 */
export const AUDIT_TEXT_LIMIT = 8_000;

function bounded(value: string, limit = AUDIT_TEXT_LIMIT): string {
  if (value.length <= limit) return value;
  const marker = ` …[cut: ${value.length} characters]`;
  let kept = value.slice(0, limit - marker.length);
  // Never leave half of a surrogate pair behind.
  if (/[\uD800-\uDBFF]$/.test(kept)) kept = kept.slice(0, -1);
  return `${kept}${marker}`;
}

function toEntity(record: AuditRecord, partitionKey: string, rowKey: string): AuditEntity {
  const entity: AuditEntity = {
    partitionKey,
    rowKey,
    id: record.id,
    time: record.time,
    action: bounded(record.action),
    outcome: record.outcome,
    reason: bounded(record.reason),
  };
  for (const key of ['resourceId', 'principalId', 'registry', 'role', 'eventId', 'correlationId', 'caller', 'errorCode'] as const) {
    const value = record[key];
    if (value !== undefined) entity[key] = bounded(value);
  }
  if (record.durationMs !== undefined) entity['durationMs'] = record.durationMs;
  if (record.details) {
    const details = JSON.stringify(record.details);
    // Cut JSON is not JSON: a details object too large to keep is replaced by a note that says so.
    entity['details'] =
      details.length <= 2 * AUDIT_TEXT_LIMIT
        ? details
        : JSON.stringify({ cut: `details of ${details.length} characters were too large to keep` });
  }
  return entity;
}

function fromEntity(entity: Record<string, unknown>): AuditRecord {
  const text = (key: string): string | undefined => (typeof entity[key] === 'string' ? (entity[key] as string) : undefined);
  const details = text('details');
  const record: AuditRecord = {
    id: text('id') ?? '',
    time: text('time') ?? '',
    action: text('action') ?? '',
    outcome: (text('outcome') ?? 'failed') as AuditOutcome,
    reason: text('reason') ?? '',
    resourceId: text('resourceId'),
    principalId: text('principalId'),
    registry: text('registry'),
    role: text('role'),
    eventId: text('eventId'),
    correlationId: text('correlationId'),
    caller: text('caller'),
    errorCode: text('errorCode'),
    durationMs: typeof entity['durationMs'] === 'number' ? entity['durationMs'] : undefined,
    details: details ? (JSON.parse(details) as Record<string, string | number | boolean>) : undefined,
  };
  // Drop absent optional fields so a record reads as it was written.
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as unknown as AuditRecord;
}

/** Our continuation token: which partition we are in and the SDK's token within it. */
interface Cursor {
  p: string;
  t?: string;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(token: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    if (typeof parsed.p !== 'string' || !/^[tgr]:[0-9a-f-]+$/.test(parsed.p)) throw new Error('bad partition');
    if (parsed.t !== undefined && typeof parsed.t !== 'string') throw new Error('bad token');
    return parsed;
  } catch (error) {
    throw new InvalidInputError('InvalidContinuationToken', 'continuationToken is not one this API returned', { cause: error });
  }
}

function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

async function queryAudit(client: TableClient, query: AuditQuery, now: Date): Promise<AuditPage> {
  const top = Math.min(Math.max(query.top ?? DEFAULT_TOP, 1), MAX_TOP);
  const until = query.until ?? now;
  const since = query.since ?? new Date(until.getTime() - DEFAULT_LOOKBACK_DAYS * DAY_MS);
  if (since.getTime() > until.getTime()) throw new InvalidInputError('InvalidTimeRange', 'since must not be later than until');

  // RowKeys sort newest first: the range [until, since] is [inverted(until), inverted(since)].
  const rowRange = `RowKey ge ${quote(invertedTicks(until.getTime()))} and RowKey le ${quote(`${invertedTicks(since.getTime())}~`)}`;
  const partitions: string[] = [];
  if (query.resourceId) partitions.push(resourcePartition(query.resourceId));
  else if (query.registry) partitions.push(registryPartition(query.registry));
  else {
    // Nothing is written after now: a window ending in the future starts walking at today.
    const newest = new Date(Math.min(until.getTime(), now.getTime()));
    for (
      let day = Date.UTC(newest.getUTCFullYear(), newest.getUTCMonth(), newest.getUTCDate());
      day >= since.getTime() - DAY_MS;
      day -= DAY_MS
    ) {
      partitions.push(dayPartition(new Date(day)));
    }
  }
  // Both filters at once: the resource partition, then the registry as a property filter.
  const extra = query.resourceId && query.registry ? ` and registry eq ${quote(query.registry)}` : '';

  let cursor = query.continuationToken ? decodeCursor(query.continuationToken) : undefined;
  let index = cursor ? partitions.indexOf(cursor.p) : 0;
  if (cursor && index < 0) throw new InvalidInputError('InvalidContinuationToken', 'continuationToken does not belong to this query');

  const items: AuditRecord[] = [];
  let read = 0;
  while (index < partitions.length && items.length < top) {
    if (read === MAX_DAYS_PER_PAGE) return { items, continuationToken: encodeCursor({ p: partitions[index]! }) };
    read += 1;
    const partitionKey = partitions[index]!;
    const pages = client
      .listEntities({ queryOptions: { filter: `PartitionKey eq ${quote(partitionKey)} and ${rowRange}${extra}` } })
      .byPage({ maxPageSize: top - items.length, continuationToken: cursor?.p === partitionKey ? cursor.t : undefined });
    const page = await pages.next();
    cursor = undefined;
    if (!page.done) {
      for (const entity of page.value) items.push(fromEntity(entity));
      if (page.value.continuationToken) {
        return { items, continuationToken: encodeCursor({ p: partitionKey, t: page.value.continuationToken }) };
      }
    }
    index += 1;
    if (items.length >= top && index < partitions.length) {
      return { items, continuationToken: encodeCursor({ p: partitions[index]! }) };
    }
  }
  return { items };
}

export type { AuditEntry };

/** What one retention run did. */
export interface AuditPurgeResult {
  /** Rows are kept from this UTC day on; day partitions before it expire. */
  readonly keepFrom: string;
  /** Audit records deleted (each with its resource and registry copies). */
  readonly deleted: number;
  /** True when the run stopped at its budget with expired rows left: the next run carries on. */
  readonly more: boolean;
}

export interface AuditRetention {
  /** Deletes records from UTC days older than `retentionDays` days, at most `maxRecords` per call. */
  purge(options: { retentionDays: number; maxRecords?: number }): Promise<AuditPurgeResult>;
}

/** Records one retention run deletes at most by default: a day's rows at several thousand consumers, a few minutes of deletes. */
export const DEFAULT_PURGE_BUDGET = 20_000;
/** Entity group transactions hold at most 100 operations, all in one partition. */
const MAX_BATCH = 100;
const SIBLING_CONCURRENCY = 8;

/**
 * Audit retention by day partition. Table Storage has no "drop partition", so expiry walks the
 * expired `t:<day>` partitions (a PartitionKey range: only old rows are read, never the whole table),
 * and for each record deletes its `r:` and `g:` copies — same RowKey, partition known from the row's
 * `resourceId` / `registry` — before the day row itself, which goes in batches of 100. A run that
 * stops half-way (crash, budget) leaves the day row, so the next run finds and finishes it; a copy
 * already deleted (another instance, a retry) counts as done. Nothing newer than the cutoff is read.
 */
export function createTableAuditRetention(table: LazyTable, clock: () => Date = () => new Date()): AuditRetention {
  return {
    async purge({ retentionDays, maxRecords = DEFAULT_PURGE_BUDGET }) {
      if (!Number.isInteger(retentionDays) || retentionDays < 1)
        throw new InvalidInputError('InvalidRetention', 'retentionDays must be a whole number of at least 1');
      const client = await table.client();
      const now = clock();
      const keepFromDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - retentionDays * DAY_MS;
      const keepFrom = dayPartition(new Date(keepFromDay));
      const filter = `PartitionKey ge 't:' and PartitionKey lt ${quote(keepFrom)}`;
      let deleted = 0;
      const pages = client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'resourceId', 'registry'] } })
        .byPage({ maxPageSize: MAX_BATCH });
      for await (const page of pages) {
        if (deleted >= maxRecords) return { keepFrom: keepFrom.slice(2), deleted, more: true };
        const rows = page.slice(0, maxRecords - deleted);
        await deleteCopies(client, rows);
        await deleteDayRows(client, rows);
        deleted += rows.length;
        if (rows.length < page.length) return { keepFrom: keepFrom.slice(2), deleted, more: true };
      }
      return { keepFrom: keepFrom.slice(2), deleted, more: false };
    },
  };
}

type ListedRow = { partitionKey?: string; rowKey?: string; resourceId?: unknown; registry?: unknown };

async function deleteCopies(client: TableClient, rows: readonly ListedRow[]): Promise<void> {
  const copies: { partitionKey: string; rowKey: string }[] = [];
  for (const row of rows) {
    if (!row.rowKey) continue;
    if (typeof row.resourceId === 'string') copies.push({ partitionKey: resourcePartition(row.resourceId), rowKey: row.rowKey });
    if (typeof row.registry === 'string') copies.push({ partitionKey: registryPartition(row.registry), rowKey: row.rowKey });
  }
  let next = 0;
  const worker = async () => {
    while (next < copies.length) {
      const copy = copies[next++]!;
      await deleteIfPresent(client, copy.partitionKey, copy.rowKey);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SIBLING_CONCURRENCY, copies.length) }, worker));
}

/** Day rows of one page, one transaction per partition; if another run deleted one already, row by row. */
async function deleteDayRows(client: TableClient, rows: readonly ListedRow[]): Promise<void> {
  const byPartition = new Map<string, string[]>();
  for (const row of rows) {
    if (!row.partitionKey || !row.rowKey) continue;
    byPartition.set(row.partitionKey, [...(byPartition.get(row.partitionKey) ?? []), row.rowKey]);
  }
  for (const [partitionKey, rowKeys] of byPartition) {
    try {
      await client.submitTransaction(rowKeys.map((rowKey) => ['delete', { partitionKey, rowKey }]));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      for (const rowKey of rowKeys) await deleteIfPresent(client, partitionKey, rowKey);
    }
  }
}

async function deleteIfPresent(client: TableClient, partitionKey: string, rowKey: string): Promise<void> {
  try {
    await client.deleteEntity(partitionKey, rowKey);
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { statusCode?: unknown }).statusCode === 'number'
    ? (error as { statusCode: number }).statusCode
    : undefined;
}
