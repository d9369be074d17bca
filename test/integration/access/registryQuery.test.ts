/**
 * What a registry event reads from Resource Graph (issue 15, "registry events cost what they touch"):
 * the consumers that name the registry, filtered by Resource Graph itself, and paging with
 * `$skipToken` that stops only at the end or at a budget it reports. The emulator counts the rows it
 * answered per call (emulator/arm/resourceGraph.ts), so "rows read" is Resource Graph's own count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileResource } from '../../../src/access/reconcile.js';
import { createResourceGraph } from '../../../src/azure/resourceGraph.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let rg: string;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-rgquery');
});
afterAll(async () => h?.stop());

const vmId = (name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const aVm = async (name: string, tags: Record<string, string>) => {
  const body = await h.put(vmId(name), API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, tags, properties: {} });
  return body.identity.principalId as string;
};
const rowsRead = async () =>
  ((await h.calls()) as Array<{ api: string; rows?: number }>)
    .filter((c) => c.api === 'resourceGraph')
    .reduce((n, c) => n + (c.rows ?? 0), 0);

describe('a registry event reads from Resource Graph', () => {
  it('only the consumers whose tags mention the registry, in any form, and grants exactly those that name it', async () => {
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/filteracr`;
    await h.put(acr, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    const byName = await aVm('vm-by-name', { 'acr-pull': 'filteracr' });
    const byLoginServer = await aVm('vm-by-login-server', { 'acr-pull': 'otheracr, FILTERACR.azurecr.io' });
    const byId = await aVm('vm-by-id', { 'acr-pull': acr.toLowerCase() });
    const longerName = await aVm('vm-longer-name', { 'acr-pull': 'filteracr2' });
    for (let i = 0; i < 12; i++) await aVm(`vm-other-${i}`, { 'acr-pull': 'otheracr' });

    await h.clearCalls();
    await reconcileResource(h.deps, acr, { log: h.log, trigger: { eventId: 'evt-filter', caller: 'tester' } });

    // 3 name it, 1 contains its name without naming it (dropped by the exact check); the 12 others are never read.
    expect(await rowsRead()).toBe(4);
    const granted = (await h.assignmentsAt(acr)).map((a) => a.principalId);
    expect(granted.sort()).toEqual([byName, byLoginServer, byId].sort());
    expect(granted).not.toContain(longerName);
  });

  it('past its budget, settles what it read, says so in a failed row, and revokes nothing a consumer it did not read still asks for', async () => {
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/budgetacr`;
    await h.put(acr, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    const principals: string[] = [];
    for (const name of ['vm-budget-a', 'vm-budget-b', 'vm-budget-c']) {
      principals.push(await aVm(name, { 'acr-pull': 'budgetacr' }));
      await reconcileResource(h.deps, vmId(name), { log: h.log, trigger: { eventId: `evt-${name}`, caller: 'tester' } });
    }
    expect((await h.assignmentsAt(acr)).map((a) => a.principalId).sort()).toEqual([...principals].sort());

    // The real adapter, one row per page, its budget cut to 2 pages: 3 consumers name the registry.
    const graph = createResourceGraph(h.deps.config, h.emu.operatorCredential(), { clientOptions: h.emu.clientOptions, pageSize: 1 });
    const deps = {
      ...h.deps,
      resourceGraph: {
        ...graph,
        queryWithin: (q: string, s: readonly string[], b: object, o?: { abortSignal?: AbortSignal }) =>
          graph.queryWithin(q, s, { ...b, maxPages: 2 }, o),
      },
    };
    const result = await reconcileResource(deps, acr, { log: h.log, trigger: { eventId: 'evt-budget', caller: 'tester' } });

    const failed = result.decisions.filter((d) => d.outcome === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ errorCode: 'QueryBudgetExhausted', resourceId: acr });
    expect(failed[0]!.reason).toContain('the next sweep settles the rest');
    expect(result.decisions.filter((d) => d.outcome === 'revoked')).toEqual([]);
    expect((await h.assignmentsAt(acr)).map((a) => a.principalId).sort()).toEqual([...principals].sort());
  });

  it('pages past the old 50-page limit to the end, and a budgeted query says where it stopped', async () => {
    for (let i = 0; i < 60; i++) await aVm(`vm-page-${i}`, { pagetest: 'yes' });
    // One row per page, so 60 rows are 60 pages (Resource Graph pages with $top and $skipToken).
    const graph = createResourceGraph(h.deps.config, h.emu.operatorCredential(), { clientOptions: h.emu.clientOptions, pageSize: 1 });
    const query = "resources | where tags['pagetest'] =~ 'yes' | project id";

    await h.clearCalls();
    const rows = await graph.query(query, [h.sub]);
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => r['id'])).size).toBe(60);
    expect(
      ((await h.calls()) as Array<{ api: string; count: number }>)
        .filter((c) => c.api === 'resourceGraph')
        .reduce((n, c) => n + c.count, 0),
    ).toBe(60);

    const partial = await graph.queryWithin(query, [h.sub], { maxPages: 7 });
    expect(partial).toMatchObject({ complete: false, pages: 7 });
    expect(partial.rows).toHaveLength(7);
    const whole = await graph.queryWithin(query, [h.sub], { maxPages: 100 });
    expect(whole).toMatchObject({ complete: true, pages: 60 });
  });
});
