/** Which identities a Key Vault event settles (issue #7, vault consent): pure helpers of the use case. */
import { describe, expect, it } from 'vitest';
import { parseVaultRef } from '../../../src/policy/workloadTags.js';
import { identitiesNamingVaultQuery, isWorkloadResource, refersToVault } from '../../../src/workload/reconcileWorkloadIdentity.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/contoso-kv`;

describe('refersToVault', () => {
  it.each([
    { item: 'contoso-kv', refers: true },
    { item: 'Contoso-KV', refers: true },
    { item: 'contoso-kv2', refers: false },
    { item: VAULT.toLowerCase().replace('resourcegroups', 'resourceGroups'), refers: true },
    { item: `/subscriptions/${SUB}/resourcegroups/RG-KV/providers/microsoft.keyvault/vaults/contoso-kv`, refers: true },
    { item: `/subscriptions/${SUB}/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/contoso-kv`, refers: false },
  ])('$item → $refers', ({ item, refers }) => {
    const ref = parseVaultRef(item);
    expect(ref.ok).toBe(true);
    if (ref.ok) expect(refersToVault(ref.value, VAULT)).toBe(refers);
  });
});

describe('isWorkloadResource', () => {
  it.each([
    { id: VAULT, is: true },
    { id: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-a`, is: true },
    { id: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks`, is: true },
    { id: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoacr`, is: false },
    { id: `/subscriptions/${SUB}/resourceGroups/rg`, is: false },
  ])('$id → $is', ({ id, is }) => expect(isWorkloadResource(id)).toBe(is));
});

describe('identitiesNamingVaultQuery', () => {
  it('asks Resource Graph for identities whose acr-workload-vault mentions the name, with their tags', () => {
    expect(identitiesNamingVaultQuery('contoso-kv')).toBe(
      "resources | where type =~ 'microsoft.managedidentity/userassignedidentities' and tags['acr-workload-vault'] contains 'contoso-kv' | project id, name, type, tags",
    );
  });
  it('keeps only characters a vault name may have', () => {
    expect(identitiesNamingVaultQuery("kv' or 1==1")).toContain("contains 'kvor11'");
  });
});
