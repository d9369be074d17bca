import { describe, expect, it, inject } from 'vitest';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../../src/config.js';
import { createTableClient } from '../../../src/azure/tables.js';
import { createTableAuditLog, createTableAuditRetention } from '../../../src/audit/tableAuditLog.js';
import { AUDIT_OUTCOMES } from '../../../src/audit/auditLog.js';
import { expireAuditRows } from '../../../src/audit/retention.js';
import type { Logger } from '../../../src/log.js';

// Real Table Storage (Azurite, started by the global setup); one fresh table per test.
function freshTable() {
  const config = loadConfig({
    AZURE_TENANT_ID: '00000000-0000-0000-0000-0000000000aa',
    WATCHED_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
    TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
    TABLE_PREFIX: `t${randomUUID().replace(/-/g, '').slice(0, 12)}`,
  });
  return { config, table: createTableClient(config, { getToken: async () => null }, 'audit') };
}

const vm = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1';
const registry =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr';

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {}, child: () => silent } as unknown as Logger;

async function allRows(table: ReturnType<typeof freshTable>['table']): Promise<{ partitionKey: string; reason: string }[]> {
  const client = await table.client();
  const rows: { partitionKey: string; reason: string }[] = [];
  for await (const e of client.listEntities<{ reason: string }>()) rows.push({ partitionKey: e.partitionKey!, reason: e.reason });
  return rows;
}

describe('audit retention', () => {
  it('deletes every copy of records from days older than the retention, and nothing newer', async () => {
    const { table } = freshTable();
    let now = new Date('2026-05-01T12:00:00Z');
    const audit = createTableAuditLog(table, () => now);
    await audit.record({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.granted,
      reason: 'old, with resource and registry',
      resourceId: vm,
      registry,
    });
    now = new Date('2026-08-21T23:59:59Z');
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'last second of the last expired day', resourceId: vm });
    now = new Date('2026-08-22T00:00:00Z');
    await audit.record({
      action: 'revoke',
      outcome: AUDIT_OUTCOMES.revoked,
      reason: 'first second of the oldest kept day',
      resourceId: vm,
      registry,
    });
    now = new Date('2026-11-20T10:00:00Z');
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'today', registry });
    expect(await allRows(table)).toHaveLength(10);

    // 90 days before 2026-11-20 is 2026-08-22: that day is kept, the days before it expire.
    const result = await createTableAuditRetention(table, () => now).purge({ retentionDays: 90 });
    expect(result).toEqual({ keepFrom: '2026-08-22', deleted: 2, more: false });

    const left = await allRows(table);
    expect(left.map((r) => r.reason).sort()).toEqual(
      [
        'first second of the oldest kept day',
        'first second of the oldest kept day',
        'first second of the oldest kept day',
        'today',
        'today',
      ].sort(),
    );
    expect((await audit.query({ resourceId: vm, since: new Date('2026-01-01T00:00:00Z') })).items.map((r) => r.reason)).toEqual([
      'first second of the oldest kept day',
    ]);
    expect((await audit.query({ registry, since: new Date('2026-01-01T00:00:00Z') })).items.map((r) => r.reason)).toEqual([
      'today',
      'first second of the oldest kept day',
    ]);
  });

  it('stops at its budget and says so; the next run finishes, and a copy already gone counts as done', async () => {
    const { table } = freshTable();
    let now = new Date('2026-01-01T00:00:00Z');
    const audit = createTableAuditLog(table, () => now);
    for (let i = 0; i < 5; i++) {
      now = new Date(Date.UTC(2026, 0, 1 + i, 8));
      await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: `r${i}`, resourceId: `${vm}-${i}` });
    }
    // Another instance (or a crashed run) already deleted one resource copy.
    const client = await table.client();
    const copy = (await allRows(table)).find((r) => r.partitionKey.startsWith('r:') && r.reason === 'r0')!;
    const rowKey = (await client.listEntities({ queryOptions: { filter: `PartitionKey eq '${copy.partitionKey}'` } }).next()).value!
      .rowKey!;
    await client.deleteEntity(copy.partitionKey, rowKey);

    now = new Date('2026-06-01T00:00:00Z');
    const retention = createTableAuditRetention(table, () => now);
    expect(await retention.purge({ retentionDays: 30, maxRecords: 2 })).toMatchObject({ deleted: 2, more: true });
    expect(await allRows(table)).toHaveLength(6); // 3 records left, 2 copies each
    expect(await retention.purge({ retentionDays: 30, maxRecords: 2 })).toMatchObject({ deleted: 2, more: true });
    expect(await retention.purge({ retentionDays: 30, maxRecords: 2 })).toMatchObject({ deleted: 1, more: false });
    expect(await allRows(table)).toEqual([]);
    expect(await retention.purge({ retentionDays: 30 })).toMatchObject({ deleted: 0, more: false });
  });

  it('leaves one expired row when it deleted something, and none when nothing had expired', async () => {
    const { config, table } = freshTable();
    let now = new Date('2026-01-10T00:00:00Z');
    const audit = createTableAuditLog(table, () => now);
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'old', resourceId: vm });
    now = new Date('2026-06-01T00:00:00Z');
    const deps = { audit, auditRetention: createTableAuditRetention(table, () => now), config };
    expect(config.auditRetentionDays).toBe(90);

    await expireAuditRows(deps, silent, { correlationId: 'sweep-1' });
    const rows = (await audit.query({ since: new Date('2026-01-01T00:00:00Z') })).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'audit retention',
      outcome: 'expired',
      caller: 'retention',
      correlationId: 'sweep-1',
      details: { deleted: 1, keptFrom: '2026-03-03', more: false, retentionDays: 90 },
    });

    await expireAuditRows(deps, silent, { correlationId: 'sweep-2' });
    expect((await audit.query({ since: new Date('2026-01-01T00:00:00Z') })).items).toHaveLength(1);
  });
});
