import { describe, expect, it } from 'vitest';
import { roleAssignmentName, uuidV5 } from '../../../src/policy/ownership.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const REGISTRY = `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const PRINCIPAL = '3f2a0c1e-1111-4222-8333-444455556666';
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
const READER = 'b93aa761-3e63-49ed-ac28-beffa264f7ac';
const V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidV5', () => {
  // Expected values computed independently with Python's uuid.uuid5 (RFC 4122 §4.3).
  it.each([
    { name: 'www.example.com', namespace: '6ba7b810-9dad-11d1-80b4-00c04fd430c8', uuid: '2ed6657d-e927-568b-95e1-2665a8aea6a2' },
    { name: 'https://example.com/ümlaut', namespace: '6ba7b811-9dad-11d1-80b4-00c04fd430c8', uuid: 'e8ad5e90-4009-5afe-b50c-16338c474ca6' },
  ])('gives $uuid for $name', ({ name, namespace, uuid }) => {
    expect(uuidV5(name, namespace)).toBe(uuid);
  });
});

describe('roleAssignmentName', () => {
  // Expected values computed independently: uuid.uuid5(UUID('ff621b0d-acba-47d5-8b0c-f3a3cc447b7b'),
  // '<lower-case scope>|<lower-case principal>|<role GUID>') in Python.
  it.each([
    { role: ACR_PULL, name: 'af025966-ac00-5376-a714-adeca72bce48' },
    { role: READER, name: 'fb6749b4-4db5-5a74-a857-2621b4f67b49' },
  ])('names $role on contosoacr $name', ({ role, name }) => {
    const result = roleAssignmentName({ scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: role });
    expect(result).toEqual({ ok: true, value: name });
    expect(name).toMatch(V5);
  });

  it.each([
    {
      case: 'upper-case scope',
      scope: REGISTRY.toUpperCase().replace(SUB.toUpperCase(), SUB),
      principalId: PRINCIPAL,
      roleDefinitionId: ACR_PULL,
    },
    {
      case: 'resourcegroups spelling',
      scope: REGISTRY.replace('resourceGroups', 'resourcegroups'),
      principalId: PRINCIPAL,
      roleDefinitionId: ACR_PULL,
    },
    { case: 'upper-case principal', scope: REGISTRY, principalId: PRINCIPAL.toUpperCase(), roleDefinitionId: ACR_PULL },
    {
      case: 'tenant-form role id',
      scope: REGISTRY,
      principalId: PRINCIPAL,
      roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
    },
    {
      case: 'subscription-form role id in upper case',
      scope: REGISTRY,
      principalId: PRINCIPAL,
      roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL.toUpperCase()}`,
    },
  ])('gives the same name for $case', (key) => {
    expect(roleAssignmentName(key)).toEqual({ ok: true, value: 'af025966-ac00-5376-a714-adeca72bce48' });
  });

  it.each([
    { case: 'another principal', scope: REGISTRY, principalId: '3f2a0c1e-1111-4222-8333-444455556667', roleDefinitionId: ACR_PULL },
    { case: 'another registry', scope: REGISTRY.replace('contosoacr', 'fabrikamacr'), principalId: PRINCIPAL, roleDefinitionId: ACR_PULL },
    { case: 'another role', scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: '8311e382-0749-4cb8-b61a-304f252e45ec' },
  ])('gives a different v5 name for $case', (key) => {
    const result = roleAssignmentName(key);
    expect(result.ok && result.value).toMatch(V5);
    expect(result).not.toEqual({ ok: true, value: 'af025966-ac00-5376-a714-adeca72bce48' });
  });

  it.each([
    {
      case: 'an invalid scope',
      key: { scope: `${REGISTRY}/../x`, principalId: PRINCIPAL, roleDefinitionId: ACR_PULL },
      error: 'cannot name a role assignment: resource id',
    },
    {
      case: 'a principal that is not a GUID',
      key: { scope: REGISTRY, principalId: 'vm-web-1', roleDefinitionId: ACR_PULL },
      error: 'principal id "vm-web-1" is not a GUID',
    },
    {
      case: 'a role by name',
      key: { scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: 'AcrPull' },
      error: 'role definition id "AcrPull" does not end in a GUID',
    },
  ])('refuses $case', ({ key, error }) => {
    const result = roleAssignmentName(key);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(error);
  });
});
