import { describe, expect, it } from 'vitest';
import {
  accessOf,
  ASSIGNABLE_ROLE_DEFINITION_IDS,
  chooseRole,
  roleDefinitionGuid,
  roleFor,
  ROLES,
  sameRoleDefinition,
  subscriptionRoleDefinitionId,
} from '../../../src/policy/roles.js';

const SUB = '00000000-0000-0000-0000-000000000001';

describe('ROLES', () => {
  // Built-in ids from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
  it.each([
    { role: ROLES.acrPull, name: 'AcrPull', id: '7f951dda-4ed3-4680-a7ca-43fe172d538d' },
    { role: ROLES.acrPush, name: 'AcrPush', id: '8311e382-0749-4cb8-b61a-304f252e45ec' },
    { role: ROLES.repositoryReader, name: 'Container Registry Repository Reader', id: 'b93aa761-3e63-49ed-ac28-beffa264f7ac' },
    { role: ROLES.repositoryWriter, name: 'Container Registry Repository Writer', id: '2a1e307c-b015-4ebd-883e-5b7698a07328' },
    { role: ROLES.keyVaultSecretsUser, name: 'Key Vault Secrets User', id: '4633458b-17de-408a-b874-0445c86b69e6' },
  ])('$name has the built-in id $id', ({ role, name, id }) => {
    expect(role).toEqual({ name, roleDefinitionId: id });
    expect(ASSIGNABLE_ROLE_DEFINITION_IDS).toContain(id);
  });

  it('lists exactly the five roles the product may assign', () => {
    expect([...ASSIGNABLE_ROLE_DEFINITION_IDS].sort()).toEqual(
      Object.values(ROLES)
        .map((r) => r.roleDefinitionId)
        .sort(),
    );
    expect(new Set(ASSIGNABLE_ROLE_DEFINITION_IDS).size).toBe(5);
  });
});

describe('chooseRole', () => {
  it.each([
    {
      mode: undefined,
      access: 'pull',
      role: 'AcrPull',
      reason: 'registry has no roleAssignmentMode (LegacyRegistryPermissions by default), so AcrPull',
    },
    {
      mode: '',
      access: 'push',
      role: 'AcrPush',
      reason: 'registry has no roleAssignmentMode (LegacyRegistryPermissions by default), so AcrPush',
    },
    { mode: 'LegacyRegistryPermissions', access: 'pull', role: 'AcrPull', reason: 'registry uses LegacyRegistryPermissions, so AcrPull' },
    { mode: 'LegacyRegistryPermissions', access: 'push', role: 'AcrPush', reason: 'registry uses LegacyRegistryPermissions, so AcrPush' },
    {
      mode: 'AbacRepositoryPermissions',
      access: 'pull',
      role: 'Container Registry Repository Reader',
      reason: 'registry uses AbacRepositoryPermissions, where AcrPull is ignored, so Container Registry Repository Reader',
    },
    {
      mode: 'abacrepositorypermissions',
      access: 'push',
      role: 'Container Registry Repository Writer',
      reason: 'registry uses AbacRepositoryPermissions, where AcrPush is ignored, so Container Registry Repository Writer',
    },
    {
      mode: 'SomethingNew',
      access: 'pull',
      role: 'AcrPull',
      reason: 'registry reports an unrecognised roleAssignmentMode "SomethingNew"; treated as LegacyRegistryPermissions, so AcrPull',
    },
  ] as const)('$mode + $access → $role', ({ mode, access, role, reason }) => {
    const choice = chooseRole(mode, access);
    expect(choice.role.name).toBe(role);
    expect(choice.access).toBe(access);
    expect(choice.reason).toBe(reason);
  });
});

describe('role definition ids', () => {
  it.each([
    { input: '7F951DDA-4ED3-4680-A7CA-43FE172D538D', guid: '7f951dda-4ed3-4680-a7ca-43fe172d538d' },
    {
      input: '/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d',
      guid: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
    },
    {
      input: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
      guid: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
    },
    { input: '/providers/Microsoft.Authorization/roleDefinitions/AcrPull', guid: undefined },
    { input: '', guid: undefined },
  ])('reads the GUID of $input', ({ input, guid }) => {
    expect(roleDefinitionGuid(input)).toBe(guid);
  });

  it.each([
    {
      a: '/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d',
      b: subscriptionRoleDefinitionId(SUB, ROLES.acrPull),
      same: true,
    },
    { a: ROLES.acrPull.roleDefinitionId, b: ROLES.acrPush.roleDefinitionId, same: false },
    { a: 'x', b: 'x', same: false },
  ])('compares $a and $b by trailing GUID', ({ a, b, same }) => {
    expect(sameRoleDefinition(a, b)).toBe(same);
  });

  it.each([
    {
      id: `/providers/Microsoft.Authorization/roleDefinitions/${ROLES.repositoryReader.roleDefinitionId}`,
      name: 'Container Registry Repository Reader',
      access: 'pull',
    },
    { id: ROLES.repositoryWriter.roleDefinitionId.toUpperCase(), name: 'Container Registry Repository Writer', access: 'push' },
    { id: ROLES.acrPush.roleDefinitionId, name: 'AcrPush', access: 'push' },
    { id: ROLES.keyVaultSecretsUser.roleDefinitionId, name: 'Key Vault Secrets User', access: undefined },
  ])('knows $name and what it grants', ({ id, name, access }) => {
    const role = roleFor(id);
    expect(role?.name).toBe(name);
    expect(role && accessOf(role)).toBe(access);
  });

  it('does not know roles outside the product set', () => {
    expect(roleFor('b24988ac-6180-42a0-ab88-20f7382dd24c')).toBeUndefined(); // Contributor
  });
});
