import { describe, expect, it } from 'vitest';
import { resolveIdentities, taskCredentialIdentity } from '../../../src/access/identities.js';
import type { ArmResource } from '../../../src/azure/arm.js';

const RG = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg';
const UAI1 = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one`;
const UAI2 = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-two`;

// Shapes follow the VM GET example (identity.principalId, identity.userAssignedIdentities[id].principalId/clientId)
// and the AKS GET example (properties.identityProfile.kubeletidentity).
const vm = (identity: ArmResource['identity']): ArmResource => ({
  id: `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`,
  name: 'vm1',
  type: 'Microsoft.Compute/virtualMachines',
  ...(identity ? { identity } : {}),
});

describe('resolveIdentities', () => {
  it('reads system- and user-assigned principal ids from a VM without another call', () => {
    const r = resolveIdentities(
      vm({
        type: 'SystemAssigned, UserAssigned',
        principalId: 'sys',
        userAssignedIdentities: { [UAI1]: { principalId: 'p1', clientId: 'c1' }, [UAI2]: { principalId: 'p2', clientId: 'c2' } },
      }),
    );
    expect(r.identities.map((i) => [i.kind, i.principalId])).toEqual([
      ['system-assigned', 'sys'],
      ['user-assigned', 'p1'],
      ['user-assigned', 'p2'],
    ]);
    expect(r.lookups).toEqual([]);
  });

  it('asks for a read only for a user-assigned identity without a principal id', () => {
    const r = resolveIdentities(vm({ type: 'UserAssigned', userAssignedIdentities: { [UAI1]: {} } }));
    expect(r.identities).toEqual([]);
    expect(r.lookups).toEqual([UAI1]);
  });

  it('says not ready when a system-assigned identity has no principal id yet', () => {
    expect(resolveIdentities(vm({ type: 'SystemAssigned' })).notReady).toMatch(/principalId/);
  });

  it('has no identities for a resource without one', () => {
    expect(resolveIdentities(vm(undefined))).toEqual({ identities: [], lookups: [] });
  });

  it('reads the AKS kubelet identity (objectId), not the control-plane identity', () => {
    const r = resolveIdentities({
      id: `${RG}/providers/Microsoft.ContainerService/managedClusters/aks1`,
      name: 'aks1',
      type: 'Microsoft.ContainerService/managedClusters',
      identity: { type: 'SystemAssigned', principalId: 'control-plane' },
      properties: {
        provisioningState: 'Succeeded',
        identityProfile: { kubeletidentity: { objectId: 'kubelet-oid', clientId: 'kc', resourceId: UAI1 } },
      },
    });
    expect(r.identities).toEqual([{ principalId: 'kubelet-oid', kind: 'kubelet', clientId: 'kc', identityResourceId: UAI1 }]);
  });

  it('defers an AKS cluster still creating without a kubelet identity', () => {
    const r = resolveIdentities({
      id: `${RG}/providers/Microsoft.ContainerService/managedClusters/aks1`,
      name: 'aks1',
      type: 'Microsoft.ContainerService/managedClusters',
      properties: { provisioningState: 'Creating' },
    });
    expect(r.notReady).toMatch(/Creating/);
  });

  it('reads a tagged user-assigned identity from its properties', () => {
    const r = resolveIdentities({
      id: UAI1,
      name: 'id-one',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      properties: { principalId: 'p1', clientId: 'c1' },
    });
    expect(r.identities).toEqual([{ principalId: 'p1', kind: 'user-assigned', clientId: 'c1', identityResourceId: UAI1 }]);
  });

  it.each([
    [
      [
        { principalId: 's', kind: 'system-assigned' as const },
        { principalId: 'u', kind: 'user-assigned' as const, clientId: 'cu' },
      ],
      '[system]',
    ],
    [[{ principalId: 'u', kind: 'user-assigned' as const, clientId: 'cu' }], 'cu'],
    [[], undefined],
  ])('an ACR task authenticates with %j → %s', (identities, expected) => {
    expect(taskCredentialIdentity(identities)).toBe(expected);
  });
});
