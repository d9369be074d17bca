/**
 * An estate too big for one run is finished by the next, and says so (issue 15, point 2), and the
 * quiet sweep split across runs and instances (point 3) — with the real adapters against the
 * emulator and Azurite, and budgets cut small so a handful of resources is "too big":
 *   - a registry event past its Resource Graph budget records where it stopped (Table Storage);
 *     the next sweep carries it on from Resource Graph's `$skipToken` and writes a `resumed` row
 *     naming the event that began it;
 *   - a sweep past its time budget saves a cursor; the next runs resume after it, each item once,
 *     their summary rows saying "partial … resumes next run", then "resumed … the pass is finished";
 *   - two sweeps started at once on two instances: one walks, the other finds the lease held and says so.
 * Paging past the old 50-page limit: registryQuery.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileResource } from '../../../src/access/reconcile.js';
import { sweepSubscriptions, type SweepDeps, type SweepSummary } from '../../../src/resources/sweep.js';
import { createResourceGraph, type QueryBudget } from '../../../src/azure/resourceGraph.js';
import { createTableClient } from '../../../src/azure/tables.js';
import { STATUS_TABLE_SUFFIX } from '../../../src/state/sweepRecord.js';
import { createTableSweepProgress } from '../../../src/state/sweepProgress.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

let h: AccessHarness;

beforeAll(async () => {
  h = await startAccessHarness();
});
afterAll(async () => h?.stop());

const registryIn = (rg: string, name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const vmIn = (rg: string, name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const aVm = async (id: string, tags: Record<string, string>) =>
  (await h.put(id, API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, tags, properties: {} })).identity
    .principalId as string;
const aRegistry = (id: string) =>
  h.put(id, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
    properties: {},
  });
const progress = () => createTableSweepProgress(createTableClient(h.deps.config, h.emu.operatorCredential(), STATUS_TABLE_SUFFIX));
const rowsOf = async (correlationId: string) =>
  (await h.deps.audit.query({ top: 1000 })).items.filter((r) => r.correlationId === correlationId || r.eventId === correlationId);

describe('work too big for one run', () => {
  it('a registry event past its Resource Graph budget is finished by the next sweep, from where it stopped, and the rows say so', async () => {
    const rg = await h.rg('rg-unfinished');
    const acr = registryIn(rg, 'unfinishedacr');
    // Three consumers name the registry before it exists (their events found no registry: nothing granted).
    const principals = [
      await aVm(vmIn(rg, 'vm-u-1'), { 'acr-pull': 'unfinishedacr' }),
      await aVm(vmIn(rg, 'vm-u-2'), { 'acr-pull': 'unfinishedacr' }),
      await aVm(vmIn(rg, 'vm-u-3'), { 'acr-pull': 'unfinishedacr' }),
    ];
    await aRegistry(acr);
    // The real adapter, one row per page, the registry budget cut to 2 pages.
    const graph = createResourceGraph(h.deps.config, h.emu.operatorCredential(), { clientOptions: h.emu.clientOptions, pageSize: 1 });
    const skipTokens: (string | undefined)[] = [];
    const deps: SweepDeps = {
      ...h.deps,
      resourceGraph: {
        ...graph,
        queryWithin: (q: string, s: readonly string[], b: QueryBudget, o?: { abortSignal?: AbortSignal }) => (
          skipTokens.push(b.skipToken), graph.queryWithin(q, s, { ...b, maxPages: 2 }, o)
        ),
      },
    };

    const first = await reconcileResource(deps, acr, { log: h.log, trigger: { eventId: 'evt-unfinished', caller: 'tester' } });
    expect(first.decisions.filter((d) => d.outcome === 'granted')).toHaveLength(2);
    expect(first.decisions.find((d) => d.outcome === 'failed')).toMatchObject({
      errorCode: 'QueryBudgetExhausted',
      details: { unfinished: true, startedBy: 'evt-unfinished', runs: 1, rowsRead: 2 },
    });
    const [recorded] = await h.deps.registryContinuations!.list();
    expect(recorded).toMatchObject({ startedBy: 'evt-unfinished', runs: 1, rowsRead: 2 });
    expect(recorded!.skipToken).not.toBe('');

    // The next sweep carries it on from the stored token (not from the start) and says whose work it finished.
    skipTokens.length = 0;
    const summary = await sweepSubscriptions(deps, { log: h.log, sweepId: 'sweep-finishes' });
    expect(summary.registriesResumed).toBe(1);
    expect(skipTokens[0]).toBe(recorded!.skipToken);
    const rows = await rowsOf('sweep-finishes');
    const resumed = rows.filter((r) => r.outcome === 'resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ resourceId: acr, details: { startedBy: 'evt-unfinished', runs: 2, rowsRead: 3 } });
    expect(resumed[0]!.reason).toContain('finished the settlement evt-unfinished left unfinished');
    // The third consumer was granted by the resumed settlement, before the sweep reached it as a consumer.
    const granted = rows.filter((r) => r.outcome === 'granted' && r.registry?.toLowerCase() === acr.toLowerCase());
    expect(granted.map((r) => r.resourceId?.toLowerCase())).toEqual([vmIn(rg, 'vm-u-3').toLowerCase()]);
    expect((await h.assignmentsAt(acr)).map((a) => a.principalId).sort()).toEqual([...principals].sort());
    expect(summary.outcomes['failed'] ?? 0).toBe(0); // the registry is not read again from the start in the same sweep
    expect(await h.deps.registryContinuations!.list()).toEqual([]);
  });

  it('a sweep past its time budget stops, and the next runs resume after its cursor until the pass is done, each resource once', async () => {
    const rg = await h.rg('rg-cursor');
    await aRegistry(registryIn(rg, 'cursoracr'));
    const vms = ['vm-c-1', 'vm-c-2', 'vm-c-3', 'vm-c-4'].map((n) => vmIn(rg, n));
    const principals = await Promise.all(vms.map((id) => aVm(id, { 'acr-pull': 'cursoracr' })));
    // A budget of 0 s: each run starts one item (every run moves the pass on), then stops.
    const deps: SweepDeps = { ...h.deps, config: { ...h.deps.config, sweepTimeBudgetSeconds: 0 } };
    const store = progress();
    const summaries: SweepSummary[] = [];
    for (let run = 1; run <= 200; run++) {
      summaries.push(await sweepSubscriptions(deps, { log: h.log, sweepId: `cursor-run-${run}`, progress: store }));
      if (!summaries.at(-1)!.unfinished) break;
    }
    expect(summaries.length).toBeGreaterThan(vms.length);
    expect(summaries.at(-1)!.unfinished).toBeUndefined();
    expect(summaries.slice(0, -1).every((s) => s.unfinished === true)).toBe(true);
    // Each run started one resource: the pass reconciled each target once, not once per run.
    expect(summaries.every((s) => s.resources <= 1)).toBe(true);
    const targets = summaries.reduce((n, s) => n + s.resources, 0);
    const settled = await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'cursor-whole' });
    expect(targets).toBe(settled.resources);
    expect((await h.assignmentsAt(registryIn(rg, 'cursoracr'))).map((a) => a.principalId).sort()).toEqual([...principals].sort());

    const summaryRow = async (id: string) => (await rowsOf(id)).filter((r) => r.outcome === 'swept');
    const [firstRow] = await summaryRow('cursor-run-1');
    expect(firstRow!.reason).toMatch(/partial: the time budget ran out with \d+ item\(s\) left in this phase, resumes next run/);
    expect(firstRow!.details).toMatchObject({ unfinished: true });
    const [secondRow] = await summaryRow('cursor-run-2');
    expect(secondRow!.reason).toContain('resumed the sweep pass run cursor-run-1 began (run 2 of it');
    const [lastRow] = await summaryRow(`cursor-run-${summaries.length}`);
    expect(lastRow!.reason).toContain(`resumed the sweep pass run cursor-run-1 began (run ${summaries.length} of it`);
    expect(lastRow!.reason).toContain('the pass is finished');
    for (let run = 1; run <= summaries.length; run++) expect(await summaryRow(`cursor-run-${run}`)).toHaveLength(1);

    // The pass is over: the next run begins a new one.
    const fresh = await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'cursor-next-pass', progress: store });
    expect(fresh.resumed).toBeUndefined();
    expect(fresh.unfinished).toBeUndefined();
  });

  it('two sweeps started at once on two instances: one walks the estate, the other finds the lease held and says so', async () => {
    const rg = await h.rg('rg-lease');
    await aRegistry(registryIn(rg, 'leaseacr'));
    await aVm(vmIn(rg, 'vm-l-1'), { 'acr-pull': 'leaseacr' });
    // Two instances: each its own deps and its own progress store over the same table.
    const [a, b] = await Promise.all([
      sweepSubscriptions(h.deps, { log: h.log, sweepId: 'lease-a', progress: progress() }),
      sweepSubscriptions({ ...h.deps }, { log: h.log, sweepId: 'lease-b', progress: progress() }),
    ]);
    const walked = [a, b].filter((s) => !s.busy);
    const refused = [a, b].filter((s) => s.busy);
    expect(walked).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(walked[0]!.resources).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ resources: 0, busy: { holder: walked[0] === a ? 'lease-a' : 'lease-b' } });
    const refusedId = refused[0] === a ? 'lease-a' : 'lease-b';
    const rows = await rowsOf(refusedId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'swept', details: { busyHolder: walked[0] === a ? 'lease-a' : 'lease-b' } });
    expect(rows[0]!.reason).toContain('holds the sweep lease');

    // The lease is given back at the end: the next run walks.
    const after = await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'lease-c', progress: progress() });
    expect(after.busy).toBeUndefined();
    expect(after.resources).toBeGreaterThan(0);
  });

  it('does not let a lease written far ahead (a hand-edited row) block every sweep', async () => {
    const table = await createTableClient(h.deps.config, h.emu.operatorCredential(), STATUS_TABLE_SUFFIX).client();
    await table.upsertEntity(
      { partitionKey: 'sweep', rowKey: 'progress', owner: 'forged', leaseUntil: '2099-01-01T00:00:00.000Z', cursor: '' },
      'Replace',
    );
    const summary = await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'after-forged', progress: progress() });
    expect(summary.busy).toBeUndefined();
    expect(summary.resources).toBeGreaterThan(0);
  });
});
