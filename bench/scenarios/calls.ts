/**
 * 2. ARM calls per event, from the emulator's counters, against the floor the budget sets: one
 * read of the resource, one write per new (principal, registry, role) pair, no write when nothing
 * changes, registry look-ups cached (DESIGN.md, "Budgets").
 *
 * The operator only writes resources (ARM PUT and tags PATCH), so every ARM read, Resource Graph
 * query and role-assignment call counted between clearing the counters and Event Grid going idle
 * is the app's.
 */
import { ACR_PULL, API, aRegistry, aVirtualMachine, countOf, mapLimit, type BenchStack, type CallCount } from '../benchStack.js';
import { RESOURCE_EVENT_SUBSCRIPTION } from '../../src/access/eventSubscription.js';
import type { Figure } from '../report.js';
import type { BenchSettings } from '../settings.js';

export interface CallsPerEvent {
  /** ARM GET: reads of resources. */
  readonly resourceReads: number;
  /** Resource Graph queries: registry look-ups, consumers naming a registry. */
  readonly lookups: number;
  /** Role-assignment list reads. */
  readonly assignmentLists: number;
  /** Role-assignment PUT and DELETE (429s included), and any other write of the app's. */
  readonly writes: number;
  readonly throttled: number;
  readonly graph: number;
  readonly keyVault: number;
  readonly total: number;
}

interface Floor {
  readonly resourceReads: number;
  readonly lookups: number;
  readonly writes: number;
}

/** The app's calls among the counters (see the module comment). */
export function appCalls(calls: readonly CallCount[]): CallsPerEvent {
  const resourceReads = countOf(calls, { api: 'arm', method: 'GET' });
  const lookups = countOf(calls, { api: 'resourceGraph' });
  const assignmentLists = countOf(calls, { api: 'authorization', method: 'GET' });
  const writes = countOf(calls, { api: 'authorization', status: () => true }) - assignmentLists + countOf(calls, { api: 'arm', method: 'PATCH', route: /^(?!.*tags)/i });
  const throttled = countOf(calls, { status: (x) => x === 429 });
  return {
    resourceReads,
    lookups,
    assignmentLists,
    writes,
    throttled,
    graph: countOf(calls, { api: 'graph' }),
    keyVault: countOf(calls, { api: 'keyVault' }),
    total: resourceReads + lookups + assignmentLists + writes,
  };
}

export async function runCalls(s: BenchStack, settings: BenchSettings, log: (line: string) => void): Promise<Figure[]> {
  await s.setFaults({ throttle: { enabled: false } });
  const rg = s.rgId('bench-calls');
  const registryName = 'benchcallsacr';
  const registryId = `${rg}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
  const vm = (name: string, group = rg) => `${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
  await s.arm('PUT', rg, API.resourceGroup, { location: 'westeurope' });
  await s.arm('PUT', registryId, API.registry, aRegistry({ 'acr-pull-allow': 'same-resource-group' }));
  // A first consumer warms the app's registry cache, as any earlier event would have.
  await s.arm('PUT', vm('vm-warm'), API.vm, aVirtualMachine({ 'acr-pull': registryName }));
  await s.idle();

  const measure = async (act: () => Promise<void>): Promise<CallsPerEvent> => {
    await s.clearCalls();
    await act();
    await s.idle();
    return appCalls(await s.calls());
  };
  const figures: Figure[] = [];
  const add = (name: string, measured: CallsPerEvent, floor: Floor, events = 1) => {
    const per = (n: number) => Math.round((n / events) * 100) / 100;
    const floorTotal = floor.resourceReads + floor.lookups + floor.writes;
    const met = measured.resourceReads <= floor.resourceReads && measured.lookups <= floor.lookups && measured.writes === floor.writes;
    figures.push({
      scenario: '2. ARM calls per event',
      name,
      value: per(measured.total),
      unit: 'calls',
      display: `${per(measured.total)} calls: ${measured.resourceReads} read, ${measured.lookups} look-up, ${measured.assignmentLists} assignment list, ${measured.writes} write`,
      goal: `floor ${floorTotal}: ${floor.resourceReads} read, ${floor.lookups} look-up, ${floor.writes} write`,
      met,
      detail: { ...measured, floor },
    });
  };

  // a. A new VM, created tagged: one read, one write; the registry is cached for the look-up, and
  // read again from ARM before the grant (consent for a write is never taken from a cache).
  const created = await measure(async () => {
    await s.arm('PUT', vm('vm-new'), API.vm, aVirtualMachine({ 'acr-pull': registryName }));
  });
  add('new tagged VM', created, { resourceReads: 2, lookups: 0, writes: 1 });

  // b. The same event delivered again (Event Grid delivers at least once): one read, nothing written.
  const event = (await s.events()).find((e) => e.subject.toLowerCase() === vm('vm-new').toLowerCase() && e.eventType === 'Microsoft.Resources.ResourceWriteSuccess');
  if (!event) throw new Error('no ResourceWriteSuccess event for vm-new');
  const redelivered = await measure(async () => {
    const { functions, eventGridKey } = s.stack.endpoints;
    const res = await fetch(`${functions}/runtime/webhooks/eventgrid?functionName=${RESOURCE_EVENT_SUBSCRIPTION.functionName}&code=${encodeURIComponent(eventGridKey)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', 'aeg-subscription-name': RESOURCE_EVENT_SUBSCRIPTION.functionName.toUpperCase(), 'aeg-delivery-count': '1' },
      body: JSON.stringify([event]),
    });
    if (res.status >= 300) throw new Error(`redelivery answered ${res.status}: ${await res.text()}`);
  });
  add('same event redelivered', redelivered, { resourceReads: 1, lookups: 0, writes: 0 });

  // c. The tag removed: one read, one delete.
  const untagged = await measure(async () => {
    await s.arm('PATCH', `${vm('vm-new')}/providers/Microsoft.Resources/tags/default`, API.tags, { operation: 'Replace', properties: { tags: {} } });
  });
  add('tag removed', untagged, { resourceReads: 1, lookups: 0, writes: 1 });

  // d. A registry created that N consumers already name: one read of it, one query for the
  // consumers naming it, one write per consumer.
  const waitRg = s.rgId('bench-waiting');
  const waitName = 'benchwaitingacr';
  const waitRegistry = `${waitRg}/providers/Microsoft.ContainerRegistry/registries/${waitName}`;
  await s.arm('PUT', waitRg, API.resourceGroup, { location: 'westeurope' });
  const consumers = await mapLimit(
    Array.from({ length: settings.waitingConsumers }, (_, i) => vm(`vm-wait-${i}`, waitRg)),
    8,
    async (id) => (await s.arm('PUT', id, API.vm, aVirtualMachine({ 'acr-pull': waitName }))).json<{ identity: { principalId: string } }>().identity.principalId.toLowerCase(),
  );
  await s.idle();
  const registryCreated = await measure(async () => {
    await s.arm('PUT', waitRegistry, API.registry, aRegistry({ 'acr-pull-allow': 'same-resource-group' }));
  });
  const granted = new Set((await s.assignmentsAt(waitRegistry)).filter((a) => a.roleDefinitionGuid === ACR_PULL).map((a) => a.principalId));
  const missing = consumers.filter((p) => !granted.has(p)).length;
  add(`registry created, ${settings.waitingConsumers} consumers waiting`, registryCreated, { resourceReads: 1, lookups: 1, writes: settings.waitingConsumers });
  figures.push({
    scenario: '2. ARM calls per event',
    name: `waiting consumers granted on registry creation`,
    value: settings.waitingConsumers - missing,
    unit: `of ${settings.waitingConsumers}`,
    goal: `${settings.waitingConsumers}`,
    met: missing === 0,
  });
  log(`  calls: new ${created.total}, redelivered ${redelivered.total}, untagged ${untagged.total}, registry created ${registryCreated.total}`);
  return figures;
}
