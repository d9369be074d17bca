import { describe, expect, it } from 'vitest';
import { refersTo, registriesByNameQuery } from '../../../src/access/registries.js';
import { taggedConsumersQuery } from '../../../src/access/settleRegistry.js';
import { customRegistriesBody, customRegistryLoginServers } from '../../../src/azure/acrTasks.js';
import { apiVersionFor } from '../../../src/azure/arm.js';
import { parseRegistryRef } from '../../../src/policy/tags.js';

const VM = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const ACR =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoacr';

describe('refersTo', () => {
  const facts = { id: ACR, name: 'contosoacr', loginServer: 'contosoacr.azurecr.io', exists: true };
  it.each([
    ['contosoacr', true],
    ['ContosoACR', true],
    ['contosoacr.azurecr.io', true],
    [ACR.toLowerCase(), true],
    ['fabrikamacr', false],
  ])('%s names contosoacr: %s', (raw, expected) => {
    const ref = parseRegistryRef(raw);
    if (!ref.ok) throw new Error(ref.error);
    expect(refersTo({ registryRef: ref.value, access: 'pull', tag: 'acr-pull' }, facts)).toBe(expected);
  });
});

describe('queries and bodies', () => {
  it('looks registries up by name in one Resource Graph query of the supported KQL subset', () => {
    expect(registriesByNameQuery(['contosoacr', 'fabrikamacr'])).toBe(
      "resources | where type =~ 'microsoft.containerregistry/registries' and name in~ ('contosoacr', 'fabrikamacr') | project id, name, type, tags, properties",
    );
  });

  it('finds tagged consumers by either consumer tag', () => {
    expect(taggedConsumersQuery()).toContain("isnotempty(tags['acr-pull']) or isnotempty(tags['acr-push'])");
    // A registry event filters on the server: the name is in every form a tag can name it by.
    expect(taggedConsumersQuery({ name: 'contosoacr', loginServer: 'contosoacr.azurecr.io' })).toContain(
      "where tags['acr-pull'] contains 'contosoacr' or tags['acr-push'] contains 'contosoacr' |",
    );
    expect(taggedConsumersQuery({ name: 'contosoacr', loginServer: 'registry.contoso.example' })).toContain(
      "tags['acr-push'] contains 'registry.contoso.example'",
    );
    // Never a quote into the query: an unexpected name falls back to every tagged consumer (the exact check still applies).
    expect(taggedConsumersQuery({ name: "x' or 1==1 //" })).toContain("isnotempty(tags['acr-pull'])");
  });

  it('sets an ACR task custom registry to an identity the way az acr task credential add --use-identity does', () => {
    expect(customRegistriesBody('ContosoACR.azurecr.io', { identity: '[system]' })).toEqual({
      properties: { credentials: { customRegistries: { 'contosoacr.azurecr.io': { identity: '[system]' } } } },
    });
  });

  // containerregistry/.../2019-06-01-preview/examples/TasksGet.json: entries listed by login server, values null.
  it.each<[string, unknown, string[] | undefined]>([
    [
      'entries by login server, values null',
      { customRegistries: { 'ContosoACR.azurecr.io': null, 'fabrikamacr.azurecr.io': null }, sourceRegistry: null },
      ['contosoacr.azurecr.io', 'fabrikamacr.azurecr.io'],
    ],
    ['an empty map', { customRegistries: {} }, []],
    ['credentials null', null, undefined],
    ['no customRegistries', { sourceRegistry: null }, undefined],
    ['customRegistries null', { customRegistries: null }, undefined],
  ])('reads which login servers an ACR task has a credential for: %s', (_case, credentials, expected) => {
    const found = customRegistryLoginServers({
      id: `${ACR}/tasks/build`,
      name: 'build',
      type: 'Microsoft.ContainerRegistry/registries/tasks',
      properties: { credentials },
    });
    expect(found === undefined ? undefined : [...found].sort()).toEqual(expected);
  });

  it.each([
    [ACR, '2025-11-01'],
    [`${ACR}/tasks/build`, '2019-06-01-preview'],
    [VM, '2024-07-01'],
  ])('reads %s with api-version %s', (id, version) => {
    expect(apiVersionFor(id)).toBe(version);
  });
});
