/**
 * How a consumer event reads a registry shared by many: by principal (`atScope() and
 * assignedTo('<id>')`), one page each, not every page of the registry's assignments — and a
 * principal the consumer no longer has is still found through the grant index.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileResource } from '../../../src/access/reconcile.js';
import { ROLES } from '../../../src/policy/roles.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

/** More than the emulator's default page size (100): listing the whole registry takes two pages. */
const HAND_MADE = 150;

let h: AccessHarness;
let rg: string;
let acr: string;
const reconcile = (id: string) => reconcileResource(h.deps, id, { log: h.log, trigger: { eventId: 'evt', caller: 'tester' } });

/** Authorization GETs since the last clearCalls: on a consumer event, role-assignment list pages only. */
async function assignmentListCalls(): Promise<number> {
  return (await h.calls()).filter((c) => c.api === 'authorization' && c.method === 'GET').reduce((n, c) => n + c.count, 0);
}

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-shared');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/sharedacr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
    properties: {},
  });
  const roleAssignments = Array.from({ length: HAND_MADE }, () => ({
    scope: acr,
    principalId: randomUUID(),
    roleDefinitionId: ROLES.acrPull.roleDefinitionId,
    description: 'made by hand',
  }));
  const seeded = await h.emu.admin('POST', '/seed', { arm: { roleAssignments } });
  expect(seeded.status).toBeLessThan(300);
  expect(await h.deps.roleAssignments.listAtScope(acr)).toHaveLength(HAND_MADE);
});
afterAll(async () => h?.stop());

describe('a consumer event on a registry with 150 assignments', () => {
  it('lists by principal, one page each, and still revokes the principal a VM no longer has', async () => {
    const uami = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-new`;
    const uamiPrincipal = (await h.put(uami, API.identity, { location: 'westeurope' })).properties.principalId as string;
    const vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-shared`;
    const systemPrincipal = (
      await h.put(vm, API.vm, {
        location: 'westeurope',
        identity: { type: 'SystemAssigned' },
        tags: { 'acr-pull': 'sharedacr' },
        properties: {},
      })
    ).identity.principalId as string;

    // A new tagged VM: one principal, one list call (the whole registry would be two pages).
    await h.clearCalls();
    expect((await reconcile(vm)).decisions.map((d) => d.outcome)).toEqual(['granted']);
    expect(await assignmentListCalls()).toBe(1);
    expect(await h.deps.grantIndex.listForConsumer(vm)).toEqual([
      expect.objectContaining({ principalIds: [systemPrincipal.toLowerCase()] }),
    ]);

    // The same event again: still one call, and nothing written.
    await h.clearCalls();
    expect((await reconcile(vm)).decisions.map((d) => d.outcome)).toEqual(['already-present']);
    expect(await assignmentListCalls()).toBe(1);

    // The VM switches from its system-assigned identity to a new user-assigned one: the index's
    // recorded principal is listed beside the current one, so the stale grant is found and revoked.
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [uami]: {} } },
      tags: { 'acr-pull': 'sharedacr' },
      properties: {},
    });
    await h.clearCalls();
    const switched = await reconcile(vm);
    expect(switched.decisions.map((d) => [d.outcome, d.principalId])).toEqual([
      ['granted', uamiPrincipal],
      ['revoked', systemPrincipal],
    ]);
    expect(await assignmentListCalls()).toBe(2);
    const left = await h.deps.roleAssignments.listAtScope(acr);
    expect(left).toHaveLength(HAND_MADE + 1);
    expect(left.some((a) => a.principalId === systemPrincipal)).toBe(false);
    expect(left.filter((a) => a.principalId === uamiPrincipal)).toHaveLength(1);
    // Once revoked, the index records only the principal the VM has now.
    expect(await h.deps.grantIndex.listForConsumer(vm)).toEqual([expect.objectContaining({ principalIds: [uamiPrincipal.toLowerCase()] })]);

    await h.clearCalls();
    expect((await reconcile(vm)).decisions.map((d) => d.outcome)).toEqual(['already-present']);
    expect(await assignmentListCalls()).toBe(1);
  });

  it('lists the whole registry for an index row written before principals were recorded, then records them', async () => {
    const vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-old-row`;
    const principal = (
      await h.put(vm, API.vm, {
        location: 'westeurope',
        identity: { type: 'SystemAssigned' },
        tags: { 'acr-pull': 'sharedacr' },
        properties: {},
      })
    ).identity.principalId as string;
    await reconcile(vm);
    // As a row from before this change: no principal ids.
    await h.deps.grantIndex.upsert({ consumerId: vm, registryId: acr });

    await h.clearCalls();
    expect((await reconcile(vm)).decisions.map((d) => d.outcome)).toEqual(['already-present']);
    expect(await assignmentListCalls()).toBe(2); // ours, the 150 and those inherited from above, at 100 a page
    expect(await h.deps.grantIndex.listForConsumer(vm)).toEqual([expect.objectContaining({ principalIds: [principal.toLowerCase()] })]);

    await h.clearCalls();
    await reconcile(vm);
    expect(await assignmentListCalls()).toBe(1);
  });
});
