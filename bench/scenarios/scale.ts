/**
 * 7. Frugal at scale (issue 15, points 2 and 3), over an estate of `scaleConsumers` tagged VMs
 * (5,000 at full size) seeded straight into the emulator's ARM state (POST /admin/seed: the same
 * bodies a PUT would store, no events), so setup takes seconds, not an hour of throttled writes:
 *
 *   a. A registry created that `waitingConsumers` (50) of them name, beside the rest, which name
 *      other registries: Resource Graph rows read (goal ≤ 2 × 50 = 100: the query filters on the
 *      server), its Resource Graph calls, and the grants written (goal 50).
 *   b. A quiet sweep: the sweep timer fired through the host's admin API until the estate is
 *      settled (the seeded consumers' grants are the first sweeps' writes), then once more,
 *      measured: ARM writes (goal 0), audit rows (goal one summary per run), ARM and Resource
 *      Graph calls, and time. A sweep the time budget (SWEEP_TIME_BUDGET_SECONDS) splits over
 *      several runs is fired until its summary no longer says "resumes next run"; every run is counted.
 *
 * It runs last: the sweep covers the whole subscription, so the other scenarios' resources are in
 * its count (the figure names how many resources were reconciled).
 */
import { TableClient } from '@azure/data-tables';
import { ACR_PULL, API, aRegistry, aVirtualMachine, countOf, LOCATION, type BenchStack } from '../benchStack.js';
import type { Figure } from '../report.js';
import type { BenchSettings } from '../settings.js';

/**
 * Consumers per other registry: the rest of the estate names registries that exist and consent.
 * Each such group shares one user-assigned identity (a fleet's identity), so its 50 VMs need one
 * AcrPull: a subscription holds at most 4,000 role assignments (the emulator enforces it), so
 * 5,000 consumers each with an identity of its own cannot all be granted in one subscription.
 */
const CONSUMERS_PER_REGISTRY = 50;

export async function runScale(s: BenchStack, settings: BenchSettings, log: (line: string) => void): Promise<Figure[]> {
  await s.setFaults({ throttle: { enabled: false } });
  const rg = s.rgId('bench-scale');
  await s.arm('PUT', rg, API.resourceGroup, { location: LOCATION });
  const naming = settings.waitingConsumers;
  const others = Math.max(0, settings.scaleConsumers - naming);
  const registries = Math.max(1, Math.ceil(others / CONSUMERS_PER_REGISTRY));
  // `scaleother7x` is never part of `scaleother70x`, nor of the target's name: Resource Graph's `contains` keeps them apart.
  const otherName = (i: number) => `scaleother${i}x`;
  const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
  const vm = (name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const target = 'scaletargetacr';
  const identityId = (i: number) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-scale-${i}`;
  const fleetVm = (i: number) => ({
    ...aVirtualMachine({ 'acr-pull': otherName(i % registries) }),
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identityId(i % registries)]: {} } },
  });
  const seeded = Date.now();
  const resources = [
    ...Array.from({ length: registries }, (_, i) => ({
      id: registryId(otherName(i)),
      ...aRegistry({ 'acr-pull-allow': 'same-resource-group' }),
    })),
    // Identities before the VMs that name them (ARM refuses a VM whose user-assigned identity does not exist).
    ...Array.from({ length: registries }, (_, i) => ({ id: identityId(i), location: LOCATION })),
    ...Array.from({ length: others }, (_, i) => ({ id: vm(`vm-scale-${i}`), ...fleetVm(i) })),
    ...Array.from({ length: naming }, (_, i) => ({ id: vm(`vm-target-${i}`), ...aVirtualMachine({ 'acr-pull': target }) })),
  ];
  await s.admin('POST', '/seed', { arm: { resources } });
  log(
    `  scale: seeded ${others + naming} tagged VMs (${naming} name ${target}; the others share ${registries} user-assigned identities) and ${registries} registries in ${Date.now() - seeded} ms`,
  );

  // a. The registry event, delivered as Azure does (30 s per response: a slow first delivery is not redelivered at 5 s).
  const eventGridBefore = await s.admin<Record<string, unknown>>('GET', '/eventgrid/options');
  await s.admin('PUT', '/eventgrid/options', { requestTimeoutMs: 30_000 });
  await s.clearCalls();
  const created = Date.now();
  await s.arm('PUT', registryId(target), API.registry, aRegistry({ 'acr-pull-allow': 'same-resource-group' }));
  await s.idle(600_000);
  const eventMs = Date.now() - created;
  await s.admin('PUT', '/eventgrid/options', { requestTimeoutMs: eventGridBefore['requestTimeoutMs'] });
  const calls = await s.calls();
  const graphCalls = calls.filter((c) => c.api === 'resourceGraph');
  const rowsRead = graphCalls.reduce((n, c) => n + (c.rows ?? 0), 0);
  const grants = (await s.assignmentsAt(registryId(target))).filter((a) => a.roleDefinitionGuid === ACR_PULL).length;
  const writes = countOf(calls, { api: 'authorization', method: 'PUT' });
  log(
    `  scale: registry event read ${rowsRead} rows in ${countOf(calls, { api: 'resourceGraph' })} Resource Graph calls, wrote ${writes}, ${grants} grants, ${eventMs} ms`,
  );
  const total = others + naming;
  const eventScenario = `7a. At scale: registry event (${total.toLocaleString('en-US')} tagged, ${naming} name it)`;
  const figures: Figure[] = [
    {
      scenario: eventScenario,
      name: 'Resource Graph rows read',
      value: rowsRead,
      unit: 'rows',
      goal: `≤ ${naming * 2}`,
      met: rowsRead <= naming * 2,
      detail: { resourceGraphCalls: countOf(calls, { api: 'resourceGraph' }), tagged: total },
    },
    {
      scenario: eventScenario,
      name: 'grants written',
      value: grants,
      unit: 'grants',
      goal: `${naming}`,
      met: grants === naming,
      detail: { roleAssignmentPuts: writes, ms: eventMs },
    },
  ];

  // b. The quiet sweep: settle first (the seeded consumers have no grants yet), then measure.
  let settleRuns = 0;
  for (;;) {
    const pass = await sweepPass(s);
    settleRuns += pass.runs.length;
    if (pass.runs.every((r) => !/"(granted|revoked)":[1-9]/.test(r.line))) break;
    if (settleRuns > 20) throw new Error('the estate did not settle within 20 sweep runs');
  }
  await s.idle(600_000);
  await s.clearCalls();
  const since = new Date().toISOString();
  const pass = await sweepPass(s);
  const sweepCalls = await s.calls();
  const table = TableClient.fromConnectionString(s.tablesConnectionString, `${s.tablePrefix}audit`, { allowInsecureConnection: true });
  let rows = 0;
  const outcomes = new Map<string, number>();
  for await (const row of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: `PartitionKey eq 't:${since.slice(0, 10)}' and caller eq 'sweep' and time ge '${since}'` },
  })) {
    rows++;
    outcomes.set(String(row['outcome']), (outcomes.get(String(row['outcome'])) ?? 0) + 1);
  }
  const sweepWrites =
    countOf(sweepCalls, { api: 'authorization', method: 'PUT' }) +
    countOf(sweepCalls, { api: 'authorization', method: 'DELETE' }) +
    countOf(sweepCalls, { api: 'arm', method: 'PUT' }) +
    countOf(sweepCalls, { api: 'arm', method: 'PATCH' });
  const armCalls = countOf(sweepCalls, { api: 'arm' }) + countOf(sweepCalls, { api: 'authorization' });
  const rgCalls = countOf(sweepCalls, { api: 'resourceGraph' });
  const swept = pass.runs.reduce((n, r) => n + r.resources, 0);
  const runs = pass.runs.length;
  const summaries = outcomes.get('swept') ?? 0;
  const changes = rows - summaries;
  log(
    `  scale: quiet sweep over ${swept} resources in ${runs} run(s) after ${settleRuns} settling run(s): ${sweepWrites} writes, ${rows} audit rows (${[...outcomes].map(([o, n]) => `${n} ${o}`).join(', ')}), ${armCalls} ARM calls, ${rgCalls} Resource Graph calls, ${pass.ms} ms`,
  );
  const sweepScenario = `7b. At scale: quiet sweep (${swept.toLocaleString('en-US')} resources)`;
  figures.push(
    { scenario: sweepScenario, name: 'ARM writes', value: sweepWrites, unit: 'writes', goal: '0', met: sweepWrites === 0 },
    {
      scenario: sweepScenario,
      name: `audit rows (${runs} run${runs === 1 ? '' : 's'} of the pass)`,
      value: rows,
      unit: 'rows',
      display: `${rows} rows: ${summaries} summar${summaries === 1 ? 'y' : 'ies'}, ${changes} other`,
      goal: `one summary per run (${runs}), 0 other`,
      met: summaries === runs + pass.busy && changes === 0,
      detail: { ...Object.fromEntries(outcomes), busyRuns: pass.busy },
    },
    {
      scenario: sweepScenario,
      name: 'ARM calls',
      value: armCalls,
      unit: 'calls',
      display: `${armCalls.toLocaleString('en-US')} calls (${(armCalls / Math.max(1, swept)).toFixed(2)} per resource)`,
      detail: {
        reads: countOf(sweepCalls, { api: 'arm', method: 'GET' }),
        assignmentLists: countOf(sweepCalls, { api: 'authorization', method: 'GET' }),
      },
    },
    {
      scenario: sweepScenario,
      name: 'Resource Graph calls',
      value: rgCalls,
      unit: 'calls',
      detail: { rows: sweepCalls.filter((c) => c.api === 'resourceGraph').reduce((n, c) => n + (c.rows ?? 0), 0) },
    },
    {
      scenario: sweepScenario,
      name: 'time',
      value: pass.ms,
      unit: 'ms',
      display: `${(pass.ms / 1000).toFixed(1)} s (${((pass.ms / Math.max(1, swept)) * 1000).toFixed(0)} µs per resource)`,
      detail: { runs: pass.runs.map((r) => r.ms) },
    },
  );
  return figures;
}

interface SweepRun {
  readonly ms: number;
  readonly resources: number;
  readonly line: string;
}

/** Fires the sweep timer until a run ends its pass (its summary does not say it resumes next run). */
async function sweepPass(s: BenchStack): Promise<{ ms: number; runs: SweepRun[]; busy: number }> {
  const runs: SweepRun[] = [];
  let busy = 0;
  for (;;) {
    const run = await fireSweep(s);
    // Another sweep held the lease (it wrote its own summary row): fire again once it is done.
    if (/"busy":\{/.test(run.line)) {
      if (++busy > 100) throw new Error('the sweep lease stayed held for 100 tries');
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    runs.push(run);
    if (!/"unfinished":true/.test(run.line)) return { ms: runs.reduce((n, r) => n + r.ms, 0), runs, busy };
    if (runs.length > 50) throw new Error('the sweep did not finish its pass within 50 runs');
  }
}

/** Fires the sweep timer through the host's admin API and waits for its "finished" log line. */
async function fireSweep(s: BenchStack): Promise<SweepRun> {
  const before = s.stack.host.child.output.length;
  const started = Date.now();
  const res = await fetch(`${s.stack.endpoints.functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': s.stack.endpoints.masterKey, 'content-type': 'application/json' },
    body: '{}',
  });
  if (res.status !== 202) throw new Error(`firing the sweep timer answered ${res.status}`);
  for (;;) {
    const line = s.stack.host.child.output.slice(before).find((l) => l.includes('reconciliation sweep finished'));
    if (line) {
      const unescaped = line.replace(/\\"/g, '"');
      return { ms: Date.now() - started, resources: Number(/"resources":(\d+)/.exec(unescaped)?.[1] ?? 0), line: unescaped };
    }
    if (Date.now() - started > 900_000) throw new Error('the sweep did not finish within 900 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
