import { describe, expect, it } from 'vitest';
import { BUILT_IN_ROLE_IDS, findBuiltInRole, matchesPattern, roleGrants } from '../../../emulator/arm/roles.js';
import { isScopeAtOrAbove } from '../../../emulator/arm/ids.js';

// Role permissions as in https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
describe('role matching', () => {
  it.each([
    ['*', 'Microsoft.Compute/virtualMachines/write', true],
    ['*/read', 'Microsoft.Compute/virtualMachines/read', true],
    ['*/read', 'Microsoft.Compute/virtualMachines/write', false],
    ['Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write', true],
    ['Microsoft.KeyVault/vaults/secrets/*', 'Microsoft.KeyVault/vaults/secrets/getSecret/action', true],
  ])('%s matches %s: %s', (pattern, action, expected) => {
    expect(matchesPattern(pattern, action)).toBe(expected);
  });

  it.each([
    ['Owner', 'Microsoft.Authorization/roleAssignments/write', true],
    ['Owner', 'Microsoft.KeyVault/vaults/secrets/getSecret/action', false],
    ['Contributor', 'Microsoft.Compute/virtualMachines/write', true],
    ['Contributor', 'Microsoft.Authorization/roleAssignments/write', false],
    ['Reader', 'Microsoft.ContainerRegistry/registries/read', true],
    ['Reader', 'Microsoft.ContainerRegistry/registries/write', false],
    ['Role Based Access Control Administrator', 'Microsoft.Authorization/roleAssignments/delete', true],
    ['Role Based Access Control Administrator', 'Microsoft.Compute/virtualMachines/write', false],
    ['Managed Identity Contributor', 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write', true],
    ['AcrPull', 'Microsoft.ContainerRegistry/registries/pull/read', true],
    ['AcrPull', 'Microsoft.ContainerRegistry/registries/push/write', false],
    ['Container Registry Repository Reader', 'Microsoft.ContainerRegistry/registries/repositories/content/read', true],
    ['Key Vault Secrets User', 'Microsoft.KeyVault/vaults/secrets/getSecret/action', true],
    ['Key Vault Secrets User', 'Microsoft.KeyVault/vaults/secrets/setSecret/action', false],
    ['Key Vault Secrets Officer', 'Microsoft.KeyVault/vaults/secrets/setSecret/action', true],
  ])('%s grants %s: %s', (role, action, expected) => {
    expect(roleGrants(findBuiltInRole(role)!, action)).toBe(expected);
  });

  it('finds roles by id, full role definition id or name', () => {
    expect(
      findBuiltInRole(`/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`)?.roleName,
    ).toBe('AcrPull');
    expect(findBuiltInRole('acrpush')?.name).toBe('8311e382-0749-4cb8-b61a-304f252e45ec');
  });

  it.each([
    ['/subscriptions/s', '/subscriptions/S/resourceGroups/rg', true],
    ['/subscriptions/s/resourceGroups/rg', '/subscriptions/s/resourcegroups/RG/providers/a/b/c', true],
    ['/subscriptions/s/resourceGroups/rg', '/subscriptions/s/resourceGroups/rg2', false],
    ['/', '/subscriptions/s', true],
  ])('scope %s is at or above %s: %s', (scope, child, expected) => {
    expect(isScopeAtOrAbove(scope, child)).toBe(expected);
  });
});
