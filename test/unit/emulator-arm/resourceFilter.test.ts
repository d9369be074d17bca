/**
 * The Resources_List `$filter` grammar (resources/.../Microsoft.Resources/stable/2021-04-01/resources.json,
 * the `$filter` parameter's description): eq/ne on location, resourceType, name, resourceGroup,
 * identity/principalId; substringof(); tagName/tagValue and startswith(tagName, …); and/or/parentheses.
 */
import { describe, expect, it } from 'vitest';
import { parseResourceFilter, type FilterView } from '../../../emulator/arm/resourceFilter.js';

const acr: FilterView = {
  name: 'contosoacr',
  resourceType: 'Microsoft.ContainerRegistry/registries',
  resourceGroup: 'rg-a',
  location: 'westeurope',
  tags: { Team: 'Blue', department: 'ops' },
};
const vm: FilterView = {
  name: 'vm-web-1',
  resourceType: 'Microsoft.Compute/virtualMachines',
  resourceGroup: 'rg-b',
  location: 'eastus',
  tags: {},
  identityPrincipalId: '3f2a0000-0000-4000-8000-000000000001',
};

describe('Resources_List $filter', () => {
  it.each([
    ["resourceType eq 'microsoft.containerregistry/registries'", [true, false]],
    ["resourceType eq 'Microsoft.ContainerRegistry/registries' and name eq 'CONTOSOACR'", [true, false]],
    ["resourceType ne 'Microsoft.ContainerRegistry/registries'", [false, true]],
    ["location eq 'eastus' or resourceGroup eq 'rg-a'", [true, true]],
    ["substringof('web', name)", [false, true]],
    ["(substringof('acr', name) or substringof('web', name)) and resourceGroup eq 'rg-b'", [false, true]],
    ["tagName eq 'team'", [true, false]],
    ["tagName eq 'team' and tagValue eq 'Blue'", [true, false]],
    // Tag values compare exactly, and with the tag the same clause names.
    ["tagName eq 'team' and tagValue eq 'blue'", [false, false]],
    ["tagName eq 'department' and tagValue eq 'Blue'", [false, false]],
    ["startswith(tagName, 'depart')", [true, false]],
    ["identity/principalId eq '3F2A0000-0000-4000-8000-000000000001'", [false, true]],
    ["name eq 'it''s'", [false, false]],
  ] as const)('%s', (filter, expected) => {
    const parsed = parseResourceFilter(filter);
    if (!parsed.ok) throw new Error(parsed.error);
    expect([parsed.filter.matches(acr), parsed.filter.matches(vm)]).toEqual(expected);
  });

  it('hides tags only when filtering by tag value, as ARM does', () => {
    const byValue = parseResourceFilter("tagName eq 'team' and tagValue eq 'Blue'");
    const byName = parseResourceFilter("tagName eq 'team'");
    expect([byValue.ok && byValue.filter.hidesTags, byName.ok && byName.filter.hidesTags]).toEqual([true, false]);
  });

  it.each([
    "kind eq 'x'",
    "name gt 'a'",
    "name eq 'unterminated",
    "substringof('x', location)",
    "startswith(name, 'x')",
    "tagValue ne 'x'",
    "name eq 'a' xor name eq 'b'",
    "(name eq 'a'",
  ])('refuses %s', (filter) => {
    expect(parseResourceFilter(filter).ok).toBe(false);
  });
});
