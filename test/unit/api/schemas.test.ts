import { describe, expect, it } from 'vitest';
import { PrincipalId, RegistryId, RegistryName, ResourceId } from '../../../src/api/schemas/common.js';
import { AuditQuerySchema } from '../../../src/api/schemas/audit.js';

const sub = '00000000-0000-0000-0000-000000000001';
const vm = `/subscriptions/${sub}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const registry = `/subscriptions/${sub}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`;

describe('ResourceId', () => {
  it.each([vm, vm.toLowerCase().replace('resourcegroups', 'resourcegroups'), registry, `/subscriptions/${sub}/resourceGroups/rg-web`])(
    'accepts %s',
    (id) => {
      expect(ResourceId.safeParse(id).success).toBe(true);
    },
  );

  it.each([
    ['an OData quote', `/subscriptions/${sub}/resourceGroups/rg' or '1' eq '1`],
    ['an OData filter in a query', `${vm}?$filter=principalId eq 'x'`],
    ['a parent segment', `/subscriptions/${sub}/resourceGroups/rg-web/../../providers/Microsoft.Authorization/roleAssignments/x`],
    ['an encoded slash', `/subscriptions/${sub}/resourceGroups/rg-web%2F..%2Fother`],
    ['a fragment', `${vm}#x`],
    ['a doubled slash', `/subscriptions/${sub}//resourceGroups/rg-web`],
    ['a control character', `${vm}\n`],
    ['no leading slash', vm.slice(1)],
    ['a tenant-level id', '/providers/Microsoft.Management/managementGroups/root'],
    ['a non-GUID subscription', '/subscriptions/not-a-guid/resourceGroups/rg'],
    ['an empty string', ''],
    ['a very long id', `${vm}/${'a'.repeat(3000)}`],
  ])('rejects %s as InvalidResourceId', (_why, id) => {
    const result = ResourceId.safeParse(id);
    expect(result.success).toBe(false);
  });
});

describe('RegistryId', () => {
  it('accepts a registry id', () => expect(RegistryId.safeParse(registry).success).toBe(true));
  it.each([vm, `${registry}/tasks/build`, 'contosoacr'])('rejects %s', (id) => expect(RegistryId.safeParse(id).success).toBe(false));
});

describe('small scalars', () => {
  it.each(['contosoacr', 'ABCDE12345'])('RegistryName accepts %s', (name) => expect(RegistryName.safeParse(name).success).toBe(true));
  it.each(['acr', 'contoso-acr', 'contoso.azurecr.io', 'a'.repeat(51)])('RegistryName rejects %s', (name) =>
    expect(RegistryName.safeParse(name).success).toBe(false),
  );
  it.each(['3f2a6c1e-8d4b-4c7a-9f10-2b5e7d9a1c34', '3F2A6C1E-8D4B-4C7A-9F10-2B5E7D9A1C34'])('PrincipalId accepts %s', (id) =>
    expect(PrincipalId.safeParse(id).success).toBe(true),
  );
  it.each(["3f2a6c1e' or 1 eq 1", '3f2a6c1e8d4b4c7a9f102b5e7d9a1c34', ''])('PrincipalId rejects %s', (id) =>
    expect(PrincipalId.safeParse(id).success).toBe(false),
  );
});

describe('AuditQuerySchema', () => {
  it('accepts every documented filter', () => {
    const result = AuditQuerySchema.safeParse({
      resourceId: vm,
      registry,
      since: '2026-11-01T00:00:00Z',
      until: '2026-11-20T10:00:00+01:00',
      top: '10',
      continuationToken: 'abc',
    });
    expect(result.success).toBe(true);
  });
  it.each([
    [{ since: 'yesterday' }],
    [{ top: '0' }],
    [{ top: '5000' }],
    [{ top: 'ten' }],
    [{ resourceid: vm }],
    [{ $filter: "PartitionKey eq 'x'" }],
  ])('rejects %j', (query) => expect(AuditQuerySchema.safeParse(query).success).toBe(false));
});
