/**
 * 1. Event → grant latency: VMs created already tagged, one at a time (the next only once Event
 * Grid is idle, so no event waits behind another), at each emulator ARM latency. Each latency is
 * the emulator's own clock: the VM's ResourceWriteSuccess `eventTime` (the write accepted) →
 * the AcrPull assignment's `createdOn` (the grant written).
 */
import { ACR_PULL, API, aRegistry, aVirtualMachine, percentile, type BenchStack } from '../benchStack.js';
import type { Figure } from '../report.js';
import type { BenchSettings } from '../settings.js';

/** The ARM endpoint's APIs: resources and tags, role assignments, Resource Graph. */
export const ARM_APIS = ['arm', 'authorization', 'resourceGraph'] as const;
export const LATENCY_GOAL_MS = 2000;
/** The latency the goal is set at. */
export const LATENCY_GOAL_AT_MS = 100;

export async function runLatency(s: BenchStack, settings: BenchSettings, log: (line: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const latencyMs of settings.latenciesMs) {
    await s.setFaults({ latencyMs: Object.fromEntries(ARM_APIS.map((api) => [api, latencyMs])), throttle: { enabled: false } });
    try {
      const rg = s.rgId(`bench-latency-${latencyMs}`);
      const registryName = `benchlat${latencyMs}acr`;
      const registryId = `${rg}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
      await s.arm('PUT', rg, API.resourceGroup, { location: 'westeurope' });
      await s.arm('PUT', registryId, API.registry, aRegistry({ 'acr-pull-allow': 'same-resource-group' }));
      await s.idle();

      const vms: { id: string; principalId: string }[] = [];
      const started = Date.now();
      for (let i = 0; i < settings.latencyVms; i++) {
        const id = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-${i}`;
        const body = (await s.arm('PUT', id, API.vm, aVirtualMachine({ 'acr-pull': registryName }))).json<{
          identity: { principalId: string };
        }>();
        vms.push({ id, principalId: body.identity.principalId.toLowerCase() });
        await s.idle();
      }
      log(`  latency ${latencyMs} ms: ${vms.length} VMs in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      const written = writeTimes(await s.events());
      const granted = new Map(
        (await s.assignmentsAt(registryId)).filter((a) => a.roleDefinitionGuid === ACR_PULL).map((a) => [a.principalId, a.createdOn]),
      );
      const latencies: number[] = [];
      let missing = 0;
      for (const vm of vms) {
        const eventTime = written.get(vm.id.toLowerCase());
        const createdOn = granted.get(vm.principalId);
        if (!eventTime || !createdOn) missing++;
        else latencies.push(Date.parse(createdOn) - Date.parse(eventTime));
      }
      latencies.sort((a, b) => a - b);
      const detail = {
        vms: vms.length,
        measured: latencies.length,
        missing,
        minMs: latencies[0] ?? null,
        maxMs: latencies.at(-1) ?? null,
        armLatencyMsPerCall: latencyMs,
        apis: ARM_APIS,
      };
      const scenario = `1. Event → grant, ARM +${latencyMs} ms/call`;
      const atGoal = latencyMs === LATENCY_GOAL_AT_MS;
      for (const p of [50, 95, 99] as const) {
        const value = latencies.length ? percentile(latencies, p) : null;
        const goal = p === 99 && atGoal ? `≤ ${LATENCY_GOAL_MS.toLocaleString('en-US')} ms` : undefined;
        figures.push({
          scenario,
          name: `p${p} (${latencies.length} VMs)`,
          value,
          unit: 'ms',
          ...(goal ? { goal, met: value !== null && value <= LATENCY_GOAL_MS && missing === 0 } : {}),
          ...(p === 50 ? { detail } : {}),
        });
      }
      figures.push({ scenario, name: 'VMs without a grant', value: missing, unit: '', goal: '0', met: missing === 0 });
    } finally {
      await s.setFaults({ latencyMs: Object.fromEntries(ARM_APIS.map((api) => [api, 0])) });
    }
  }
  return figures;
}

/** Resource id (lower case) → eventTime of its first ResourceWriteSuccess. */
export function writeTimes(events: readonly { subject: string; eventType: string; eventTime: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.eventType !== 'Microsoft.Resources.ResourceWriteSuccess') continue;
    const key = e.subject.toLowerCase();
    if (!out.has(key)) out.set(key, e.eventTime);
  }
  return out;
}
