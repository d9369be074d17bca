/**
 * The reconciliation sweep through the local Functions host (DESIGN.md, "Ownership and
 * reconciliation"): Event Grid drops the events (dead-lettered after its retry window, as the
 * emulator's `events.dropRate` models), then the `reconcileSweep` timer, fired through the admin
 * API as the Functions host allows, grants what the missed write asked for and revokes what the
 * missed delete left behind.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { ROLES } from '../../src/policy/roles.js';
import {
  aRegistry,
  aUserAssignedIdentity,
  aVirtualMachine,
  API_VERSIONS,
  startAccessStack,
  type AccessStack,
} from '../support/e2eAccess.js';

let s: AccessStack;

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
    // Only the admin API fires the sweep here (once a year otherwise): the test decides when it runs.
    appSettings: { RECONCILE_SCHEDULE: '0 0 0 1 1 *' },
  });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

async function fireSweep(): Promise<string> {
  const { functions, masterKey } = s.stack.endpoints;
  const seen = s.stack.host
    .logs()
    .filter((l) => l.functionName === 'reconcileSweep' && l.message.includes('reconciliation sweep finished')).length;
  const response = await fetch(`${functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  expect(response.status).toBe(202); // Azure answers 202 and runs the function in the background
  const line = await s.stack.host.waitForLog(
    (l) =>
      l.functionName === 'reconcileSweep' &&
      l.message.includes('reconciliation sweep finished') &&
      s.stack.host.logs().filter((m) => m.functionName === 'reconcileSweep' && m.message.includes('reconciliation sweep finished')).length >
        seen,
    60_000,
  );
  return line.message;
}

const bySweep = (rows: readonly AuditRecord[], outcome: string) => rows.filter((r) => r.caller === 'sweep' && r.outcome === outcome);

describe('reconciliation sweep through the host', () => {
  it('registers the timer on the RECONCILE_SCHEDULE setting', () => {
    expect(s.stack.functions).toContainEqual({ name: 'reconcileSweep', trigger: 'timer', schedule: '%RECONCILE_SCHEDULE%' });
  });

  it('grants what a dropped write event asked for and revokes what a dropped delete event left, then changes nothing', async () => {
    const rg = await s.resourceGroup('rg-sweep-e2e');
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/sweepe2eacr`;
    await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const gone = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-gone`;
    const gonePrincipal = (await s.put(gone, aVirtualMachine({ tags: { 'acr-pull': 'sweepe2eacr' } }))).identity.principalId as string;
    await s.idle();
    expect((await s.assignmentsAt(acr)).map((a) => a.principalId)).toEqual([gonePrincipal]); // delivered: granted by the event

    // From here Event Grid gives up on every event (dead-lettered, MaxDeliveryAttemptsExceeded).
    await s.admin('PUT', '/faults', { events: { dropRate: 1 } });
    const missed = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-missed`;
    const missedPrincipal = (await s.put(missed, aVirtualMachine({ tags: { 'acr-pull': 'sweepe2eacr' } }))).identity.principalId as string;
    await s.del(gone, API_VERSIONS.virtualMachine);
    await s.idle();
    const deadLetters = await s.admin<{ deadLetters: unknown[] } | unknown[]>('GET', '/eventgrid/deadletters');
    expect(JSON.stringify(deadLetters)).toContain('MaxDeliveryAttemptsExceeded');
    expect((await s.assignmentsAt(acr)).map((a) => a.principalId)).toEqual([gonePrincipal]); // nothing happened

    const summary = await fireSweep();
    expect(summary).toContain('"failedResources":0');
    const after = await s.assignmentsAt(acr);
    expect(after.map((a) => [a.principalId, a.roleDefinitionGuid])).toEqual([[missedPrincipal, ROLES.acrPull.roleDefinitionId]]);
    expect(bySweep(await s.audit(missed), 'granted')).toHaveLength(1);
    expect(bySweep(await s.audit(gone), 'revoked')).toHaveLength(1);

    // A second sweep finds everything in place: no ARM write.
    await s.clearCalls();
    await fireSweep();
    const writes = (await s.calls()).filter(
      (c) => c.method !== 'GET' && !['admin', 'resourceGraph', 'login', 'managedIdentity'].includes(c.api),
    );
    expect(writes).toEqual([]);
  });

  // Issue #14, point 1: a sweep that finds the consumer an assignment names gone (its delete event
  // lost) still keeps it while another consumer holding the principal asks.
  it('keeps AcrPull for a shared identity when the VM its assignment names was deleted without its event, and the next sweep writes nothing', async () => {
    await s.admin('PUT', '/faults', { events: { dropRate: 0 } });
    const rg = await s.resourceGroup('rg-sweep-shared');
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/sweepsharedacr`;
    await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const fleet = await s.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-sweep-fleet`, aUserAssignedIdentity());
    const principalId = String(fleet.properties.principalId).toLowerCase();
    const vms = ['vm-sweep-1', 'vm-sweep-2'].map((n) => `${rg}/providers/Microsoft.Compute/virtualMachines/${n}`);
    for (const id of vms)
      await s.put(id, aVirtualMachine({ tags: { 'acr-pull': 'sweepsharedacr' }, identity: { userAssigned: [fleet.id] } }));
    await s.idle();
    const [assignment] = (await s.assignmentsAt(acr)).filter((a) => a.principalId.toLowerCase() === principalId);
    const named = vms.find((id) => assignment?.description?.toLowerCase().endsWith(` on ${id.toLowerCase()}`));
    const other = vms.find((id) => id !== named)!;
    expect(named).toBeDefined();

    await s.admin('PUT', '/faults', { events: { dropRate: 1 } });
    await s.del(named!, API_VERSIONS.virtualMachine); // its delete event is never delivered
    await s.idle();

    await fireSweep();
    // Never revoked, not even for a moment (the other VM's settle in the same sweep would grant it again after a gap).
    expect(bySweep(await s.audit(named!), 'revoked')).toEqual([]);
    expect((await s.assignmentsAt(acr)).filter((a) => a.principalId.toLowerCase() === principalId)).toHaveLength(1);
    const kept = bySweep(await s.audit(named!), 'kept');
    expect(kept.length).toBeGreaterThanOrEqual(1);
    expect(kept[0]!.reason).toContain(other.split('/').pop()!);
    expect(String(kept[0]!.details?.['stillAskedBy']).toLowerCase()).toBe(other.toLowerCase());

    // The kept assignment now names the VM that asks: the next sweep has nothing to decide or write.
    await s.clearCalls();
    await fireSweep();
    const writes = (await s.calls()).filter(
      (c) => c.method !== 'GET' && !['admin', 'resourceGraph', 'login', 'managedIdentity'].includes(c.api),
    );
    expect(writes).toEqual([]);
    expect(bySweep(await s.audit(named!), 'kept')).toHaveLength(kept.length);
  });
});
