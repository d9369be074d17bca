import { describe, expect, it } from 'vitest';
import {
  normalizeResourceId,
  parseResourceId,
  resourceGroupOf,
  resourceNameOf,
  resourceTypeOf,
  sameResourceId,
  subscriptionIdOf,
} from '../../../src/policy/resourceId.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VM = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;

describe('parseResourceId', () => {
  it.each([
    {
      case: 'a virtual machine',
      input: VM,
      kind: 'resource',
      id: VM,
      normalized: VM.toLowerCase(),
      resourceGroup: 'rg-web',
      type: 'microsoft.compute/virtualmachines',
      name: 'vm-web-1',
    },
    {
      // Event Grid's documented ResourceWriteSuccess sample writes `resourcegroups` in subject and resourceUri.
      case: 'lower-case resourcegroups and an upper-case subscription',
      input: `/subscriptions/${SUB.toUpperCase()}/resourcegroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`,
      kind: 'resource',
      id: VM,
      normalized: VM.toLowerCase(),
      resourceGroup: 'rg-web',
      type: 'microsoft.compute/virtualmachines',
      name: 'vm-web-1',
    },
    {
      case: 'an ACR task (child resource)',
      input: `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr/tasks/build-base`,
      kind: 'resource',
      id: `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr/tasks/build-base`,
      normalized: `/subscriptions/${SUB}/resourcegroups/rg-acr/providers/microsoft.containerregistry/registries/contosoacr/tasks/build-base`,
      resourceGroup: 'rg-acr',
      type: 'microsoft.containerregistry/registries/tasks',
      name: 'build-base',
      parentId: `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`,
    },
    {
      case: 'a federated identity credential (child of a user-assigned identity)',
      input: `/subscriptions/${SUB}/resourcegroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app/federatedIdentityCredentials/aks-prod-web`,
      kind: 'resource',
      id: `/subscriptions/${SUB}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app/federatedIdentityCredentials/aks-prod-web`,
      normalized: `/subscriptions/${SUB}/resourcegroups/rg-id/providers/microsoft.managedidentity/userassignedidentities/id-app/federatedidentitycredentials/aks-prod-web`,
      resourceGroup: 'rg-id',
      type: 'microsoft.managedidentity/userassignedidentities/federatedidentitycredentials',
      name: 'aks-prod-web',
      parentId: `/subscriptions/${SUB}/resourceGroups/rg-id/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app`,
    },
    {
      case: 'a tag write on a VM (suffix stripped to the VM)',
      input: `${VM}/providers/Microsoft.Resources/tags/default`,
      kind: 'resource',
      id: VM,
      normalized: VM.toLowerCase(),
      resourceGroup: 'rg-web',
      type: 'microsoft.compute/virtualmachines',
      name: 'vm-web-1',
    },
    {
      case: 'a tag write on a resource group, in lower case',
      input: `/subscriptions/${SUB}/resourcegroups/rg-web/providers/microsoft.resources/tags/default`,
      kind: 'resourceGroup',
      id: `/subscriptions/${SUB}/resourceGroups/rg-web`,
      normalized: `/subscriptions/${SUB}/resourcegroups/rg-web`,
      resourceGroup: 'rg-web',
      type: undefined,
      name: 'rg-web',
    },
    {
      case: 'a subscription',
      input: `/subscriptions/${SUB}`,
      kind: 'subscription',
      id: `/subscriptions/${SUB}`,
      normalized: `/subscriptions/${SUB}`,
      resourceGroup: undefined,
      type: undefined,
      name: SUB,
    },
    {
      case: 'a subscription-level provider resource',
      input: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
      kind: 'resource',
      id: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
      normalized: `/subscriptions/${SUB}/providers/microsoft.authorization/roledefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
      resourceGroup: undefined,
      type: 'microsoft.authorization/roledefinitions',
      name: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
    },
  ])('parses $case', ({ input, kind, id, normalized, resourceGroup, type, name, parentId }) => {
    const parsed = parseResourceId(input);
    expect(parsed).toMatchObject({ ok: true });
    if (!parsed.ok) return;
    expect(parsed.value.kind).toBe(kind);
    expect(parsed.value.id).toBe(id);
    expect(parsed.value.normalized).toBe(normalized);
    expect(parsed.value.subscriptionId).toBe(SUB);
    expect(parsed.value.resourceGroup).toBe(resourceGroup);
    expect(parsed.value.type).toBe(type);
    expect(parsed.value.name).toBe(name);
    expect(parsed.value.parentId).toBe(parentId);
  });

  it.each([
    { case: 'empty', input: '', reason: 'resource id is empty' },
    { case: 'no leading slash', input: VM.slice(1), reason: 'must start with /subscriptions/' },
    {
      case: 'a management group',
      input: '/providers/Microsoft.Management/managementGroups/mg-1',
      reason: 'tenant and management-group ids are not supported',
    },
    {
      case: 'a subscription that is not a GUID',
      input: '/subscriptions/prod/resourceGroups/rg-web',
      reason: 'subscription "prod" is not a GUID',
    },
    {
      case: 'a .. segment',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/../vm-2`,
      reason: 'a . or .. segment',
    },
    { case: 'percent-encoded slash', input: `/subscriptions/${SUB}/resourceGroups/rg-web%2F..%2Frg-other`, reason: 'percent-encoded' },
    { case: 'a query string', input: `${VM}?api-version=2024-07-01`, reason: 'query string' },
    { case: 'a fragment', input: `${VM}#x`, reason: 'fragment' },
    { case: 'an OData quote', input: `${VM}' or principalId eq '1`, reason: 'whitespace' },
    { case: 'a lone quote', input: `${VM}'`, reason: 'a quote' },
    { case: 'inner whitespace', input: `/subscriptions/${SUB}/resourceGroups/rg web`, reason: 'whitespace' },
    { case: 'a trailing newline', input: `${VM}\n`, reason: 'whitespace' },
    { case: 'a doubled slash', input: `/subscriptions/${SUB}//resourceGroups/rg-web`, reason: 'empty segment' },
    { case: 'a trailing slash', input: `${VM}/`, reason: 'empty segment' },
    { case: 'a backslash', input: `${VM}\\x`, reason: 'backslash' },
    {
      case: 'a type without a name',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines`,
      reason: 'resource type "virtualMachines" has no name after it',
    },
    {
      case: 'a provider without a type',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute`,
      reason: 'no resource type and name',
    },
    {
      case: 'a namespace without a dot',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Compute/virtualMachines/vm`,
      reason: 'provider namespace "Compute" is not valid',
    },
    {
      case: 'an unknown keyword',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web/things/x`,
      reason: 'expected "providers" or "resourceGroups" after the resource group',
    },
    {
      case: 'an extension resource other than tags',
      input: `${VM}/providers/Microsoft.Authorization/roleAssignments/0b8a9d0e-0000-0000-0000-000000000000`,
      reason: 'extension resource',
    },
    {
      case: 'a resource group name ending in a period',
      input: `/subscriptions/${SUB}/resourceGroups/rg-web.`,
      reason: 'resource group name "rg-web." is not valid',
    },
    { case: 'an over-long id', input: `/subscriptions/${SUB}/resourceGroups/${'a'.repeat(2100)}`, reason: 'longer than 2048 characters' },
  ])('rejects $case with the reason', ({ input, reason }) => {
    const parsed = parseResourceId(input);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toContain(reason);
  });
});

describe('sameResourceId', () => {
  it.each([
    { a: VM, b: VM.toUpperCase().replace(SUB.toUpperCase(), SUB), same: true },
    { a: VM, b: VM.replace('resourceGroups', 'resourcegroups'), same: true },
    { a: VM, b: `${VM}/providers/Microsoft.Resources/tags/default`, same: true },
    { a: VM, b: VM.replace('vm-web-1', 'vm-web-2'), same: false },
    { a: VM, b: `${VM}/extensions/ama`, same: false },
    { a: VM, b: `${VM}?x`, same: false },
    { a: 'not an id', b: 'not an id', same: false },
  ])('$a vs $b → $same', ({ a, b, same }) => {
    expect(sameResourceId(a, b)).toBe(same);
  });
});

describe('helpers', () => {
  it.each([
    {
      input: VM.replace('resourceGroups', 'resourcegroups'),
      normalized: VM.toLowerCase(),
      sub: SUB,
      group: 'rg-web',
      type: 'microsoft.compute/virtualmachines',
      name: 'vm-web-1',
    },
    {
      input: `/subscriptions/${SUB}/resourceGroups/RG-Web`,
      normalized: `/subscriptions/${SUB}/resourcegroups/rg-web`,
      sub: SUB,
      group: 'RG-Web',
      type: undefined,
      name: 'RG-Web',
    },
    { input: '/subscriptions/x/../y', normalized: undefined, sub: undefined, group: undefined, type: undefined, name: undefined },
  ])('read the parts of $input', ({ input, normalized, sub, group, type, name }) => {
    expect(normalizeResourceId(input)).toBe(normalized);
    expect(subscriptionIdOf(input)).toBe(sub);
    expect(resourceGroupOf(input)).toBe(group);
    expect(resourceTypeOf(input)).toBe(type);
    expect(resourceNameOf(input)).toBe(name);
  });
});
