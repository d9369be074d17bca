import { describe, expect, it } from 'vitest';
import { getTag, parseConsumerTags, parseCredentialTags, parseRegistryRef } from '../../../src/policy/tags.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const REGISTRY_ID = `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/ContosoACR`;

type TagRow = { case?: string; tags: Record<string, string> | undefined };

describe('getTag', () => {
  it.each<TagRow & { name: string; value: string | undefined }>([
    { tags: { 'acr-pull': 'a' }, name: 'acr-pull', value: 'a' },
    { tags: { 'ACR-Pull': 'b' }, name: 'acr-pull', value: 'b' },
    { tags: { 'acr-pull': 'exact', 'ACR-PULL': 'other' }, name: 'acr-pull', value: 'exact' },
    { tags: { other: 'x' }, name: 'acr-pull', value: undefined },
    { tags: undefined, name: 'acr-pull', value: undefined },
  ])('finds $name in $tags case-insensitively', ({ tags, name, value }) => {
    expect(getTag(tags, name)).toBe(value);
  });
});

describe('parseRegistryRef', () => {
  it.each([
    { item: 'contosoacr', kind: 'name', name: 'contosoacr', key: 'name:contosoacr' },
    { item: 'ContosoACR', kind: 'name', name: 'contosoacr', key: 'name:contosoacr' },
    { item: 'contosoacr.azurecr.io', kind: 'loginServer', name: 'contosoacr', key: 'login:contosoacr.azurecr.io' },
    { item: 'ContosoACR.AzureCR.io', kind: 'loginServer', name: 'contosoacr', key: 'login:contosoacr.azurecr.io' },
    { item: 'contosoacr.azurecr.cn', kind: 'loginServer', name: 'contosoacr', key: 'login:contosoacr.azurecr.cn' },
    { item: 'contosoacr.azurecr.us', kind: 'loginServer', name: 'contosoacr', key: 'login:contosoacr.azurecr.us' },
    {
      item: 'contosoacr-h3a6a0g4bwgt.azurecr.io',
      kind: 'loginServer',
      name: 'contosoacr',
      key: 'login:contosoacr-h3a6a0g4bwgt.azurecr.io',
    },
    { item: REGISTRY_ID, kind: 'resourceId', name: 'contosoacr', key: `id:${REGISTRY_ID.toLowerCase()}` },
    {
      item: REGISTRY_ID.replace('resourceGroups', 'resourcegroups'),
      kind: 'resourceId',
      name: 'contosoacr',
      key: `id:${REGISTRY_ID.toLowerCase()}`,
    },
  ])('reads $item as a $kind', ({ item, kind, name, key }) => {
    const ref = parseRegistryRef(item);
    expect(ref).toMatchObject({ ok: true, value: { kind, name, key, raw: item } });
  });

  it.each([
    { item: 'acr', message: '"acr" is 3 characters long; registry names are 5-50 letters and digits' },
    { item: 'a'.repeat(51), message: 'is 51 characters long' },
    { item: 'contoso-acr', message: '"contoso-acr" contains "-"; registry names are 5-50 letters and digits only' },
    { item: 'contoso_acr', message: 'contains "_"' },
    {
      item: 'contosoacr.example.com',
      message: 'is not a registry login server; expected <name>.azurecr.io or <name>.azurecr.cn or <name>.azurecr.us',
    },
    { item: 'https://contosoacr.azurecr.io', message: 'looks like a URL' },
    { item: 'contosoacr.azurecr.io/app:1.0', message: 'has a path; name the registry only' },
    { item: 'ab.azurecr.io', message: 'login server "ab.azurecr.io": "ab" is 2 characters long' },
    {
      item: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`,
      message: 'is not a container registry (it is microsoft.compute/virtualmachines)',
    },
    { item: `${REGISTRY_ID}/tasks/build`, message: 'is not a container registry (it is microsoft.containerregistry/registries/tasks)' },
    { item: `/subscriptions/${SUB}/resourceGroups/rg-acr`, message: 'is not a container registry (it is a resourceGroup)' },
    {
      item: `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/../x`,
      message: 'a . or .. segment',
    },
  ])('rejects $item and says why', ({ item, message }) => {
    const ref = parseRegistryRef(item);
    expect(ref.ok).toBe(false);
    if (!ref.ok) expect(ref.error).toContain(message);
  });
});

describe('parseConsumerTags', () => {
  const keys = (tags: Record<string, string> | undefined) => {
    const parsed = parseConsumerTags(tags);
    return {
      requests: parsed.requests.map((r) => `${r.access} ${r.registryRef.key}`),
      errors: parsed.errors.map((e) => `${e.tag} ${e.item}`),
    };
  };

  it.each<TagRow & { requests: string[]; errors: string[] }>([
    { case: 'no tags', tags: undefined, requests: [], errors: [] },
    { case: 'an empty acr-pull value', tags: { 'acr-pull': '' }, requests: [], errors: [] },
    { case: 'one registry', tags: { 'acr-pull': 'contosoacr' }, requests: ['pull name:contosoacr'], errors: [] },
    { case: 'a tag name in other casing', tags: { 'ACR-Pull': 'contosoacr' }, requests: ['pull name:contosoacr'], errors: [] },
    {
      case: 'commas, semicolons and whitespace as separators',
      tags: { 'acr-pull': ' contosoacr, fabrikamacr;northwindacr.azurecr.io  tailspinacr ,' },
      requests: ['pull name:contosoacr', 'pull name:fabrikamacr', 'pull login:northwindacr.azurecr.io', 'pull name:tailspinacr'],
      errors: [],
    },
    {
      case: 'duplicates in any casing',
      tags: { 'acr-pull': 'contosoacr,ContosoAcr ; contosoacr' },
      requests: ['pull name:contosoacr'],
      errors: [],
    },
    {
      case: 'one bad item beside good ones',
      tags: { 'acr-pull': 'contosoacr,bad-name,fabrikamacr' },
      requests: ['pull name:contosoacr', 'pull name:fabrikamacr'],
      errors: ['acr-pull bad-name'],
    },
    {
      case: 'pull and push on different tags',
      tags: { 'acr-pull': 'contosoacr', 'acr-push': 'fabrikamacr, x' },
      requests: ['pull name:contosoacr', 'push name:fabrikamacr'],
      errors: ['acr-push x'],
    },
    {
      case: 'the same registry for pull and push',
      tags: { 'acr-pull': 'contosoacr', 'acr-push': 'contosoacr' },
      requests: ['pull name:contosoacr', 'push name:contosoacr'],
      errors: [],
    },
  ])('reads $case', ({ tags, requests, errors }) => {
    expect(keys(tags)).toEqual({ requests, errors });
  });

  it('names the tag and the problem in each error', () => {
    const parsed = parseConsumerTags({ 'acr-push': 'contosoacr,ab' });
    expect(parsed.errors).toEqual([
      { tag: 'acr-push', item: 'ab', message: 'acr-push: "ab" is 2 characters long; registry names are 5-50 letters and digits' },
    ]);
  });
});

describe('parseCredentialTags', () => {
  it.each<TagRow & { expected: unknown }>([
    { case: 'no credential tag', tags: { 'acr-pull-allow': '*' }, expected: { status: 'absent' } },
    { case: 'days without a vault', tags: { 'acr-pull-credential-days': '30' }, expected: { status: 'absent' } },
    { case: 'a vault', tags: { 'acr-pull-credential': 'kv-platform-01' }, expected: { status: 'enrolled', vaultName: 'kv-platform-01' } },
    {
      case: 'a vault in other casing',
      tags: { 'ACR-Pull-Credential': 'KV-Platform' },
      expected: { status: 'enrolled', vaultName: 'kv-platform' },
    },
    {
      case: 'a vault and days',
      tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': '730' },
      expected: { status: 'enrolled', vaultName: 'kvp', days: 730 },
    },
    {
      case: 'one day',
      tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': ' 1 ' },
      expected: { status: 'enrolled', vaultName: 'kvp', days: 1 },
    },
  ])('reads $case', ({ tags, expected }) => {
    expect(parseCredentialTags(tags)).toEqual(expected);
  });

  it.each<TagRow & { message: string }>([
    { case: 'a two-letter vault', tags: { 'acr-pull-credential': 'kv' }, message: 'acr-pull-credential: "kv" is 2 characters long' },
    { case: 'a 25-character vault', tags: { 'acr-pull-credential': `k${'v'.repeat(24)}` }, message: 'is 25 characters long' },
    { case: 'a vault starting with a digit', tags: { 'acr-pull-credential': '1kv' }, message: 'does not start with a letter' },
    { case: 'a vault with an underscore', tags: { 'acr-pull-credential': 'kv_platform' }, message: 'contains "_"' },
    { case: 'consecutive hyphens', tags: { 'acr-pull-credential': 'kv--platform' }, message: 'has consecutive hyphens' },
    { case: 'a trailing hyphen', tags: { 'acr-pull-credential': 'kv-platform-' }, message: 'ends with a hyphen' },
    { case: 'an empty vault', tags: { 'acr-pull-credential': '' }, message: 'is 0 characters long' },
    {
      case: 'zero days',
      tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': '0' },
      message: 'acr-pull-credential-days: "0" is not a whole number of days from 1 to 730',
    },
    { case: '731 days', tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': '731' }, message: '"731" is not a whole number' },
    {
      case: 'fractional days',
      tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': '30.5' },
      message: '"30.5" is not a whole number',
    },
    {
      case: 'days with a unit',
      tags: { 'acr-pull-credential': 'kvp', 'acr-pull-credential-days': '90d' },
      message: '"90d" is not a whole number',
    },
  ])('marks $case invalid and says why', ({ tags, message }) => {
    const parsed = parseCredentialTags(tags);
    expect(parsed.status).toBe('invalid');
    if (parsed.status === 'invalid') expect(parsed.errors.map((e) => e.message).join('\n')).toContain(message);
  });
});
