/**
 * Issue #14, point 1 — shared identities, end to end: resources are written on the emulator, ARM's
 * events reach the app through Event Grid and the local Functions host, and the outcome is read
 * back through ARM role assignments and the audit table.
 *
 * One assignment (deterministic name of registry + principal + role) serves every consumer that
 * holds the principal: a fleet of VMs sharing a user-assigned identity, clusters sharing a kubelet
 * identity, an identity tagged itself and attached to a tagged VM. It is revoked only when no
 * consumer that holds the principal still asks for it; a withheld revoke is a `kept` audit row that
 * names who still asks. And an assignment is ours only with our deterministic name AND our
 * description: one whose description was copied onto another name is never revoked.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { OWNERSHIP_KINDS, parseOwnership } from '../../src/policy/ownership.js';
import { ROLES } from '../../src/policy/roles.js';
import {
  aHandMadeAssignment,
  aManagedCluster,
  aRegistry,
  aUserAssignedIdentity,
  aVirtualMachine,
  API_VERSIONS,
  startAccessStack,
  type AccessStack,
  type Assignment,
} from '../support/e2eAccess.js';

let s: AccessStack;

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

/** A resource group with a registry that allows `allow`, and helpers to name resources in it. */
async function aSetting(name: string, allow = 'same-resource-group') {
  const rg = await s.resourceGroup(`rg-${name}`);
  const registryName = `${name.replace(/-/g, '')}acr`;
  const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
  await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': allow } }));
  const identity = async (id: string, tags: Record<string, string> = {}) => {
    const body = await s.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${id}`, aUserAssignedIdentity({ tags }));
    return { id: body.id as string, principalId: String(body.properties.principalId).toLowerCase() };
  };
  return {
    rg,
    acr,
    registryName,
    tag: { 'acr-pull': registryName },
    vm: (vmName: string, group = rg) => `${group}/providers/Microsoft.Compute/virtualMachines/${vmName}`,
    identity,
    /** AcrPull assignments on the registry held by this principal. */
    pullsOf: async (principalId: string): Promise<Assignment[]> =>
      (await s.assignmentsAt(acr)).filter(
        (a) => a.principalId.toLowerCase() === principalId && a.roleDefinitionGuid === ROLES.acrPull.roleDefinitionId,
      ),
  };
}

async function untag(id: string, tags: Record<string, string>): Promise<void> {
  await s.tag(id, tags, 'Delete');
  await s.idle();
}

/** The consumer an assignment of ours names in its description. */
function namedConsumer(a: Assignment | undefined): string | undefined {
  const ownership = parseOwnership(a?.description);
  return ownership?.kind === OWNERSHIP_KINDS.tagPolicy ? ownership.consumerId.toLowerCase() : undefined;
}

const rowsWith = (rows: readonly AuditRecord[], outcome: string, principalId: string) =>
  rows.filter((r) => r.outcome === outcome && r.principalId?.toLowerCase() === principalId);

/** The `kept` row for a withheld revoke: it names who still asks, by name in the reason and by id in the details. */
function expectKeptFor(rows: readonly AuditRecord[], principalId: string, stillAsking: { id: string; name: string }): void {
  const kept = rowsWith(rows, 'kept', principalId);
  expect(kept.length, JSON.stringify(rows.map((r) => [r.outcome, r.reason]))).toBeGreaterThanOrEqual(1);
  for (const row of kept) {
    expect(row.reason).toContain(stillAsking.name);
    expect(String(row.details?.['stillAskedBy']).toLowerCase()).toContain(stillAsking.id.toLowerCase());
    expect(row.role).toContain(ROLES.acrPull.roleDefinitionId);
  }
  expect(rowsWith(rows, 'revoked', principalId)).toEqual([]);
}

describe('shared identities: a revoke waits for the last consumer that asks', () => {
  it('keeps AcrPull for a user-assigned identity two VMs share when one is untagged, names the VM that still asks, and revokes it when both are', async () => {
    const x = await aSetting('fleet');
    const fleet = await x.identity('id-fleet');
    const vm1 = x.vm('vm-fleet-1');
    const vm2 = x.vm('vm-fleet-2');
    await s.put(vm1, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [fleet.id] } }));
    await s.put(vm2, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [fleet.id] } }));
    await s.idle();
    expect(await x.pullsOf(fleet.principalId)).toHaveLength(1);

    await untag(vm1, x.tag);
    const kept = await x.pullsOf(fleet.principalId);
    expect(kept).toHaveLength(1);
    expectKeptFor(await s.audit(vm1), fleet.principalId, { id: vm2, name: 'vm-fleet-2' });
    // The description now names a consumer that asks, so that consumer's own untag or delete decides next.
    expect(namedConsumer(kept[0])).toBe(vm2.toLowerCase());

    await untag(vm2, x.tag);
    expect(await x.pullsOf(fleet.principalId)).toEqual([]);
    expect(rowsWith(await s.audit(vm2), 'revoked', fleet.principalId)).toHaveLength(1);
  });

  it('keeps AcrPull for a kubelet identity two AKS clusters share until neither asks', async () => {
    const x = await aSetting('kubelet');
    const controlPlane = await x.identity('id-aks-control');
    const kubelet = await x.identity('id-aks-kubelet');
    const aks1 = `${x.rg}/providers/Microsoft.ContainerService/managedClusters/aks-blue`;
    const aks2 = `${x.rg}/providers/Microsoft.ContainerService/managedClusters/aks-green`;
    for (const id of [aks1, aks2]) {
      const body = await s.put(id, aManagedCluster({ tags: x.tag, controlPlaneIdentity: controlPlane.id, kubeletIdentity: kubelet.id }));
      expect(String(body.properties.identityProfile.kubeletidentity.objectId).toLowerCase()).toBe(kubelet.principalId);
    }
    await s.idle();
    expect(await x.pullsOf(kubelet.principalId)).toHaveLength(1);

    await untag(aks1, x.tag);
    expect(await x.pullsOf(kubelet.principalId)).toHaveLength(1);
    expectKeptFor(await s.audit(aks1), kubelet.principalId, { id: aks2, name: 'aks-green' });

    await untag(aks2, x.tag);
    expect(await x.pullsOf(kubelet.principalId)).toEqual([]);
  });

  it('keeps AcrPull for an identity tagged itself while a tagged VM it is attached to still asks, and the other way round', async () => {
    const x = await aSetting('selfish');
    const self = await x.identity('id-selfish', x.tag);
    const vm = x.vm('vm-selfish');
    await s.put(vm, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [self.id] } }));
    await s.idle();
    expect(await x.pullsOf(self.principalId)).toHaveLength(1);

    await untag(self.id, x.tag);
    expect(await x.pullsOf(self.principalId)).toHaveLength(1);
    expectKeptFor(await s.audit(self.id), self.principalId, { id: vm, name: 'vm-selfish' });

    // Tagged again, then the VM untagged: now the identity is the one that still asks.
    await s.tag(self.id, x.tag);
    await s.idle();
    await untag(vm, x.tag);
    expect(await x.pullsOf(self.principalId)).toHaveLength(1);
    expectKeptFor(await s.audit(vm), self.principalId, { id: self.id, name: 'id-selfish' });

    await untag(self.id, x.tag);
    expect(await x.pullsOf(self.principalId)).toEqual([]);
  });

  it('keeps AcrPull when the consumer the assignment names is deleted while another still asks, and revokes it with the last one', async () => {
    const x = await aSetting('deleted');
    const fleet = await x.identity('id-deleted');
    const vms = [x.vm('vm-del-1'), x.vm('vm-del-2')];
    for (const id of vms) await s.put(id, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [fleet.id] } }));
    await s.idle();
    const [assignment] = await x.pullsOf(fleet.principalId);
    // Delete the VM the description names: the one whose grant index row leads the delete path to the assignment.
    const named = vms.find((id) => id.toLowerCase() === namedConsumer(assignment));
    const other = vms.find((id) => id !== named)!;
    expect(named).toBeDefined();

    await s.del(named!, API_VERSIONS.virtualMachine);
    await s.idle();
    expect(await x.pullsOf(fleet.principalId)).toHaveLength(1);
    expectKeptFor(await s.audit(named!), fleet.principalId, { id: other, name: other.split('/').pop()! });

    await s.del(other, API_VERSIONS.virtualMachine);
    await s.idle();
    expect(await x.pullsOf(fleet.principalId)).toEqual([]);
    expect(rowsWith(await s.audit(other), 'revoked', fleet.principalId)).toHaveLength(1);
  });

  it('keeps AcrPull on a registry event that narrows consent for one consumer while another holding the principal is still allowed', async () => {
    const x = await aSetting('narrowing', '*');
    const far = await s.resourceGroup('rg-narrowing-far');
    const fleet = await x.identity('id-narrowing');
    // Created in this order, so the registry event settles the allowed VM before the one it no longer allows.
    const near = x.vm('vm-near');
    const distant = x.vm('vm-distant', far);
    await s.put(near, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [fleet.id] } }));
    await s.put(distant, aVirtualMachine({ tags: x.tag, identity: { userAssigned: [fleet.id] } }));
    await s.idle();
    expect(await x.pullsOf(fleet.principalId)).toHaveLength(1);

    await s.tag(x.acr, { 'acr-pull-allow': 'same-resource-group' }); // the registry's own event
    await s.idle();
    expect(await x.pullsOf(fleet.principalId)).toHaveLength(1);
    const rows = await s.audit(distant);
    expect(rows.some((r) => r.outcome === 'denied-by-consent')).toBe(true);
    expectKeptFor(rows, fleet.principalId, { id: near, name: 'vm-near' });
  });
});

describe('ownership: our deterministic name and our description', () => {
  it('never revokes an assignment whose description was copied onto another name, on a consumer event, its deletion or a registry event', async () => {
    const x = await aSetting('copied');
    const vm = x.vm('vm-copied');
    const principalId = String((await s.put(vm, aVirtualMachine({ tags: x.tag }))).identity.principalId).toLowerCase();
    await s.idle();
    expect(await x.pullsOf(principalId)).toHaveLength(1); // ours, by the tag policy
    // Someone copies our description onto an AcrPush assignment of their own, under a name that is not ours.
    const copied = aHandMadeAssignment(s.subscriptionId, ROLES.acrPush.roleDefinitionId, principalId);
    (copied.body['properties'] as Record<string, unknown>)['description'] = `Managed by acr-pull-automation: acr-push on ${vm}`;
    const name = '0c0b0a09-0000-4000-8000-00000000c0b1';
    await s.put(`${x.acr}/providers/Microsoft.Authorization/roleAssignments/${name}`, copied);
    const pushes = async () =>
      (await s.assignmentsAt(x.acr)).filter((a) => a.roleDefinitionGuid === ROLES.acrPush.roleDefinitionId).map((a) => a.name);

    await s.tag(vm, { env: 'test' }); // a consumer event: the VM does not ask for push, but that assignment is not ours
    await s.idle();
    expect(await pushes()).toEqual([name]);

    await s.del(vm, API_VERSIONS.virtualMachine); // the delete takes ours, and only ours
    await s.idle();
    expect(await x.pullsOf(principalId)).toEqual([]);
    expect(await pushes()).toEqual([name]);

    await s.tag(x.acr, { env: 'test' }); // a registry event: it names a consumer that is gone, and still is not ours
    await s.idle();
    expect(await pushes()).toEqual([name]);
    expect((await s.audit(vm)).filter((r) => r.outcome === 'revoked' && r.role?.includes(ROLES.acrPush.roleDefinitionId))).toEqual([]);
  });
});
