import { describe, expect, it, inject } from 'vitest';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../../src/config.js';
import { createTableClient } from '../../../src/azure/tables.js';
import { createTableAuditLog } from '../../../src/audit/tableAuditLog.js';
import { AUDIT_OUTCOMES } from '../../../src/audit/auditLog.js';
import { InvalidInputError } from '../../../src/errors.js';

// Real Table Storage (Azurite, started by the global setup); one fresh table per test.
function freshAuditLog(clock: () => Date) {
  const config = loadConfig({
    AZURE_TENANT_ID: '00000000-0000-0000-0000-0000000000aa',
    WATCHED_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
    TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
    TABLE_PREFIX: `t${randomUUID().replace(/-/g, '').slice(0, 12)}`,
  });
  const table = createTableClient(config, { getToken: async () => null }, 'audit');
  return createTableAuditLog(table, clock);
}

const vm = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1';
const registry =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr';

describe('table audit log', () => {
  it('reads records back by resource, newest first, whatever the id casing', async () => {
    let now = new Date('2026-11-20T10:00:00Z');
    const audit = freshAuditLog(() => now);
    await audit.record({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.granted,
      reason: 'first',
      resourceId: vm,
      registry,
      eventId: 'e1',
      details: { propagation: 'pending' },
    });
    now = new Date('2026-11-20T10:00:01Z');
    await audit.record({ action: 'revoke', outcome: AUDIT_OUTCOMES.revoked, reason: 'second', resourceId: vm, registry });
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'other resource', resourceId: `${vm}-2` });

    const page = await audit.query({ resourceId: vm.toLowerCase().replace('resourcegroups', 'resourceGroups') });
    expect(page.items.map((r) => r.reason)).toEqual(['second', 'first']);
    expect(page.items[1]).toMatchObject({ eventId: 'e1', details: { propagation: 'pending' }, time: '2026-11-20T10:00:00.000Z' });
    expect(page.continuationToken).toBeUndefined();
  });

  it('filters by registry and by time window', async () => {
    let now = new Date('2026-11-18T23:59:59Z');
    const audit = freshAuditLog(() => now);
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'day one', registry });
    now = new Date('2026-11-19T00:00:01Z');
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.deniedByConsent, reason: 'day two', registry });
    now = new Date('2026-11-20T12:00:00Z');
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.skipped, reason: 'no registry' });

    expect((await audit.query({ registry })).items.map((r) => r.reason)).toEqual(['day two', 'day one']);
    const window = await audit.query({ since: new Date('2026-11-19T00:00:00Z'), until: new Date('2026-11-20T23:00:00Z') });
    expect(window.items.map((r) => r.reason)).toEqual(['no registry', 'day two']);
  });

  it('pages across day partitions with its own continuation token', async () => {
    let now = new Date('2026-11-01T00:00:00Z');
    const audit = freshAuditLog(() => now);
    for (let i = 0; i < 5; i++) {
      now = new Date(Date.UTC(2026, 10, 1 + i, 12));
      await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: `r${i}` });
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await audit.query({
        since: new Date('2026-11-01T00:00:00Z'),
        until: new Date('2026-11-06T00:00:00Z'),
        top: 2,
        continuationToken: token,
      });
      seen.push(...page.items.map((r) => r.reason));
      token = page.continuationToken;
      pages += 1;
    } while (token && pages < 10);
    expect(seen).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
  });

  it('refuses a continuation token it did not issue', async () => {
    const audit = freshAuditLog(() => new Date());
    await expect(audit.query({ continuationToken: 'not-a-token' })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(audit.query({ since: new Date('2026-02-01'), until: new Date('2026-01-01') })).rejects.toThrow(/since must not be later/);
  });
});

describe('table audit log, wide windows', () => {
  it('pages through a window of years a month of days at a time, and still finds the oldest record', async () => {
    let now = new Date('2025-01-10T12:00:00Z');
    const audit = freshAuditLog(() => now);
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'old' });
    now = new Date('2026-11-20T12:00:00Z');
    await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'new' });

    // The window ends far in the future: the walk starts at today, not in 2099.
    const query = { since: new Date('2024-12-01T00:00:00Z'), until: new Date('2099-01-01T00:00:00Z') };
    const first = await audit.query(query);
    expect(first.items.map((r) => r.reason)).toEqual(['new']);
    expect(first.continuationToken).toBeDefined();

    const seen = [...first.items.map((r) => r.reason)];
    let token = first.continuationToken;
    let pages = 1;
    while (token && pages < 40) {
      const page = await audit.query({ ...query, continuationToken: token });
      seen.push(...page.items.map((r) => r.reason));
      token = page.continuationToken;
      pages += 1;
    }
    expect(seen).toEqual(['new', 'old']);
    // About 720 days at 31 a page; a walk that started in 2099 would need over a thousand pages.
    expect(pages).toBeGreaterThan(20);
    expect(pages).toBeLessThan(30);
  });
});

describe('table audit log with hostile sizes (issue 16: a 400,000-character event id made every delivery fail)', () => {
  it('keeps a row whose event id, reason and details are larger than Table Storage takes, cut and marked', async () => {
    const audit = freshAuditLog(() => new Date('2026-11-20T10:00:00Z'));
    const eventId = 'A'.repeat(400_000);
    await audit.record({
      action: 'event',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: `bad ${'🦄'.repeat(40_000)}`,
      eventId,
      resourceId: vm,
      details: { blob: 'x'.repeat(100_000) },
    });
    const [row] = (await audit.query({ resourceId: vm })).items;
    expect(row?.eventId).toMatch(/^A+ …\[cut: 400000 characters\]$/);
    expect(row!.eventId!.length).toBeLessThanOrEqual(8_000);
    expect(row?.reason).toMatch(/^bad (🦄)+ …\[cut: 80004 characters\]$/);
    expect(row?.details).toEqual({ cut: expect.stringMatching(/too large to keep/) });
  });
});
