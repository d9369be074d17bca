import { describe, expect, it } from 'vitest';
import { KqlError, parseQuery, runQuery } from '../../../emulator/arm/kql.js';

// Rows as Resource Graph gives them: type lower-cased (ResourcesBasicQuery.json in
// azure-rest-api-specs specification/resourcegraph/.../stable/2022-10-01/examples).
const rows = [
  {
    id: '/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/contosoacr',
    name: 'contosoacr',
    type: 'microsoft.containerregistry/registries',
    resourceGroup: 'rg1',
    subscriptionId: 's1',
    location: 'eastus',
    tags: { 'acr-pull-allow': 'same-resource-group' },
  },
  {
    id: '/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm-web-1',
    name: 'vm-web-1',
    type: 'microsoft.compute/virtualmachines',
    resourceGroup: 'rg1',
    subscriptionId: 's1',
    location: 'eastus',
    tags: { 'acr-pull': 'contosoacr,fabrikamacr' },
    identity: {
      type: 'UserAssigned',
      userAssignedIdentities: {
        '/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-fleet': {
          principalId: '3f2a0c1e-1111-4222-8333-444455556666',
        },
      },
    },
  },
  {
    id: '/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm-2',
    name: 'vm-2',
    type: 'microsoft.compute/virtualmachines',
    resourceGroup: 'rg2',
    subscriptionId: 's2',
    location: 'westeurope',
    tags: {},
  },
];

describe('Resource Graph KQL subset', () => {
  it.each([
    ["resources | where type =~ 'Microsoft.Compute/virtualMachines'", ['vm-web-1', 'vm-2']],
    ["Resources | where type =~ 'microsoft.containerregistry/registries' and name =~ 'CONTOSOACR'", ['contosoacr']],
    ["resources | where isnotempty(tags['acr-pull'])", ['vm-web-1']],
    ["resources | where tags['ACR-PULL'] contains 'fabrikam'", ['vm-web-1']],
    ["resources | where tags['acr-pull-allow'] =~ 'same-resource-group'", ['contosoacr']],
    ["resources | where (resourceGroup =~ 'rg2' or name =~ 'contosoacr') and subscriptionId =~ 's2'", ['vm-2']],
    ["resources | where type =~ 'microsoft.compute/virtualmachines' | where location =~ 'eastus'", ['vm-web-1']],
    ["resources | where id =~ '/SUBSCRIPTIONS/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/VM-WEB-1'", ['vm-web-1']],
    ["resources | where name in~ ('VM-2', 'contosoacr')", ['contosoacr', 'vm-2']],
    ["resources | where isempty(tags['acr-pull']) and type !~ 'microsoft.containerregistry/registries'", ['vm-2']],
    // tostring() of a dynamic column is its JSON text: a principal id nested in userAssignedIdentities is found.
    [
      "resources | where tostring(identity) contains '3F2A0C1E-1111-4222-8333-444455556666' or tostring(properties) contains '3f2a0c1e-1111-4222-8333-444455556666'",
      ['vm-web-1'],
    ],
  ])('%s', (query, names) => {
    expect(runQuery(parseQuery(query), rows).map((r) => r.name)).toEqual(names);
  });

  it('projects the named columns only', () => {
    expect(runQuery(parseQuery("resources | where name =~ 'vm-2' | project id, name"), rows)).toEqual([{ id: rows[2]!.id, name: 'vm-2' }]);
  });

  it.each([
    ['securityresources | where type =~ "x"', /Only the 'resources' and 'authorizationresources' tables/],
    ['resources | summarize count() by type', /summarize … by is not supported/],
    ["resources | where properties.x.y =~ 'y'", /Unsupported/],
    ["resources | where name startswith 'vm'", /Unsupported operator 'startswith'/],
    ['resources | extend x = 1', /Unsupported operator 'extend'/],
  ])('refuses %s with a clear message', (query, message) => {
    expect(() => parseQuery(query)).toThrow(KqlError);
    expect(() => parseQuery(query)).toThrow(message);
  });
});

describe('Resource Graph authorizationresources', () => {
  // Role assignment rows as the table has them: type lower-cased, the assignment in properties
  // (https://learn.microsoft.com/azure/governance/resource-graph/samples/samples-by-table#authorizationresources).
  const assignments = [
    {
      id: '/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/a1',
      name: 'a1',
      type: 'microsoft.authorization/roleassignments',
      properties: {
        principalId: 'P-1',
        roleDefinitionId: '/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/r1',
        scope: '/subscriptions/s1',
      },
    },
    {
      id: '/subscriptions/s1/providers/Microsoft.Authorization/roleAssignments/a2',
      name: 'a2',
      type: 'microsoft.authorization/roleassignments',
      properties: {
        principalId: 'p-2',
        roleDefinitionId: '/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/r2',
        scope: '/subscriptions/s1',
      },
    },
  ];

  it('reads the table and filters on a property, case-insensitively with =~', () => {
    const q = parseQuery(
      "authorizationresources | where type =~ 'microsoft.authorization/roleassignments' and properties.principalId =~ 'p-1' | project id, properties",
    );
    expect(q.table).toBe('authorizationresources');
    expect(runQuery(q, assignments)).toEqual([{ id: assignments[0]!.id, properties: assignments[0]!.properties }]);
  });

  it('reads property names case-sensitively, as Resource Graph does', () => {
    expect(runQuery(parseQuery("authorizationresources | where properties.principalid =~ 'p-1'"), assignments)).toEqual([]);
  });
});

describe('Resource Graph KQL subset: summarize count()', () => {
  it('answers one row with the count in count_, or in the name given', () => {
    expect(runQuery(parseQuery("resources | where type =~ 'microsoft.compute/virtualmachines' | summarize count()"), rows)).toEqual([
      { count_: 2 },
    ]);
    expect(runQuery(parseQuery('resources | summarize total = count()'), rows)).toEqual([{ total: 3 }]);
    expect(runQuery(parseQuery("resources | where name =~ 'none' | summarize count()"), rows)).toEqual([{ count_: 0 }]);
  });

  it('refuses what it does not model', () => {
    expect(() => parseQuery('resources | summarize count() by location')).toThrow(KqlError);
    expect(() => parseQuery('resources | summarize dcount(name)')).toThrow(KqlError);
    expect(() => parseQuery('resources | summarize count() | project id')).toThrow(KqlError);
  });
});
