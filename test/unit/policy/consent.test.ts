import { describe, expect, it } from 'vitest';
import type { ConsentDefault } from '../../../src/policy/consent.js';
import {
  consentForPrincipal,
  evaluateConsent,
  formatConsent,
  parseConsent,
  REGISTRY_PUSH_CONSENT,
  registryConsentFor,
} from '../../../src/policy/consent.js';
import { VAULT_CONSENT } from '../../../src/policy/workloadTags.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const OTHER_SUB = '00000000-0000-0000-0000-000000000002';
const registryId = (name: string, rg = 'rg-web', sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const vmId = (name: string, rg = 'rg-web', sub = SUB) =>
  `/subscriptions/${sub}/resourcegroups/${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('parseConsent', () => {
  it.each([
    { value: 'none', formatted: 'none' },
    { value: ' NONE ', formatted: 'none' },
    { value: '*', formatted: '*' },
    { value: 'any', formatted: '*' },
    { value: 'same-resource-group', formatted: 'same-resource-group' },
    { value: 'Same-Subscription, same-resource-group', formatted: 'same-subscription, same-resource-group' },
    { value: 'rg:rg-build', formatted: 'rg:rg-build' },
    { value: `rg:${OTHER_SUB.toUpperCase()}/rg-build`, formatted: `rg:${OTHER_SUB}/rg-build` },
    { value: `sub:${OTHER_SUB}`, formatted: `sub:${OTHER_SUB}` },
    { value: 'tag:team=platform web', formatted: 'tag:team=platform web' },
    { value: 'tag:cost-center=4711, rg:rg-ci,', formatted: 'tag:cost-center=4711, rg:rg-ci' },
  ])('reads $value', ({ value, formatted }) => {
    const rule = parseConsent(value);
    expect(rule.ok).toBe(true);
    if (rule.ok) expect(formatConsent(rule.value)).toBe(formatted);
  });

  it.each([
    { value: '', message: 'acr-pull-allow is empty; write none to refuse every consumer' },
    { value: ' , ', message: 'acr-pull-allow is empty' },
    { value: 'none,*', message: 'none cannot be combined with other terms' },
    { value: 'same-rg', message: 'unknown term "same-rg"' },
    { value: 'same-resource-group,everyone,sub:x', message: 'unknown term "everyone"; term "sub:x": "x" is not a subscription GUID' },
    { value: 'rg:', message: 'term "rg:": "" is not a resource group name' },
    { value: 'rg:bad/rg-web', message: '"bad" is not a subscription GUID' },
    { value: 'tag:team', message: 'expected tag:<key>=<value> with both parts' },
    { value: 'tag:=x', message: 'expected tag:<key>=<value> with both parts' },
    { value: 'tag:acr-pull=contosoacr', message: 'acr-pull is written by consumers themselves' },
    { value: 'tag:ACR-PUSH-ALLOW=same-resource-group', message: 'ACR-PUSH-ALLOW is written by consumers themselves' },
  ])('refuses $value and names the term', ({ value, message }) => {
    const rule = parseConsent(value);
    expect(rule.ok).toBe(false);
    if (!rule.ok) {
      expect(rule.error).toContain(message);
      expect(rule.error).toContain('none, *, same-resource-group, same-subscription, rg:<name>');
    }
  });
});

describe('evaluateConsent', () => {
  type Row = {
    case: string;
    registry: { id: string; tags?: Record<string, string> };
    consumer: { id: string; tags?: Record<string, string> };
    defaultConsent?: ConsentDefault;
    allowed: boolean;
    reason: string;
  };
  it.each<Row>([
    {
      case: 'same-resource-group, consumer in the same group',
      registry: { id: registryId('contosoacr'), tags: { 'acr-pull-allow': 'same-resource-group' } },
      consumer: { id: vmId('vm-web-1') },
      allowed: true,
      reason: 'registry contosoacr allows same-resource-group; vm-web-1 is in rg-web',
    },
    {
      case: 'same-resource-group, consumer elsewhere',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': 'same-resource-group' } },
      consumer: { id: vmId('vm-web-1') },
      allowed: false,
      reason: `registry contosoacr allows same-resource-group; vm-web-1 is in rg-web (subscription ${SUB}), which that does not cover (the registry is in rg-acr, subscription ${SUB})`,
    },
    {
      case: 'same-resource-group with a same-named group in another subscription',
      registry: { id: registryId('contosoacr'), tags: { 'acr-pull-allow': 'same-resource-group' } },
      consumer: { id: vmId('vm-web-1', 'rg-web', OTHER_SUB) },
      allowed: false,
      reason: `vm-web-1 is in rg-web (subscription ${OTHER_SUB}), which that does not cover`,
    },
    {
      case: 'a resource group name in other casing',
      registry: { id: registryId('contosoacr', 'RG-Web'), tags: { 'acr-pull-allow': 'same-resource-group' } },
      consumer: { id: vmId('vm-web-1', 'rg-web') },
      allowed: true,
      reason: 'registry contosoacr allows same-resource-group; vm-web-1 is in rg-web',
    },
    {
      case: 'same-subscription',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'ACR-PULL-ALLOW': 'same-subscription' } },
      consumer: { id: vmId('vm-web-1') },
      allowed: true,
      reason: `registry contosoacr allows same-subscription; vm-web-1 is in subscription ${SUB}`,
    },
    {
      case: 'sub:<guid> naming another subscription',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': `sub:${OTHER_SUB}` } },
      consumer: { id: vmId('vm-web-1', 'rg-web', OTHER_SUB) },
      allowed: true,
      reason: `registry contosoacr allows sub:${OTHER_SUB}; vm-web-1 is in subscription ${OTHER_SUB}`,
    },
    {
      case: 'rg:<name> is the registry subscription only',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': 'rg:rg-web' } },
      consumer: { id: vmId('vm-web-1', 'rg-web', OTHER_SUB) },
      allowed: false,
      reason: `registry contosoacr allows rg:rg-web; vm-web-1 is in rg-web (subscription ${OTHER_SUB}), which that does not cover`,
    },
    {
      case: 'rg:<subscription>/<name> across subscriptions',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': `rg:${OTHER_SUB}/RG-WEB` } },
      consumer: { id: vmId('vm-web-1', 'rg-web', OTHER_SUB) },
      allowed: true,
      reason: `registry contosoacr allows rg:${OTHER_SUB}/RG-WEB; vm-web-1 is in rg-web`,
    },
    {
      case: 'tag:<key>=<value> with the key in other casing',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': 'tag:team=web' } },
      consumer: { id: vmId('vm-web-1'), tags: { Team: 'web' } },
      allowed: true,
      reason: 'registry contosoacr allows tag:team=web; vm-web-1 has tag team=web',
    },
    {
      case: 'tag values compare exactly',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': 'tag:team=web' } },
      consumer: { id: vmId('vm-web-1'), tags: { team: 'Web' } },
      allowed: false,
      reason: 'registry contosoacr allows tag:team=web; vm-web-1 is in rg-web',
    },
    {
      case: '*',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': '*' } },
      consumer: { id: vmId('vm-web-1', 'rg-x', OTHER_SUB) },
      allowed: true,
      reason: 'registry contosoacr allows *; any consumer',
    },
    {
      case: 'the first matching term of several',
      registry: { id: registryId('contosoacr', 'rg-acr'), tags: { 'acr-pull-allow': 'rg:rg-ci, same-subscription' } },
      consumer: { id: vmId('vm-web-1') },
      allowed: true,
      reason: `registry contosoacr allows rg:rg-ci, same-subscription; vm-web-1 is in subscription ${SUB}`,
    },
    {
      case: 'none',
      registry: { id: registryId('contosoacr'), tags: { 'acr-pull-allow': 'none' } },
      consumer: { id: vmId('vm-web-1') },
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr allows none (acr-pull-allow=none)',
    },
    {
      case: 'no tag and the default none',
      registry: { id: registryId('fabrikamacr') },
      consumer: { id: vmId('vm-web-1') },
      allowed: false,
      reason: 'registry fabrikamacr has no acr-pull-allow tag and the default is none',
    },
    {
      case: 'no tag and the default same-resource-group',
      registry: { id: registryId('fabrikamacr') },
      consumer: { id: vmId('vm-web-1') },
      defaultConsent: 'same-resource-group',
      allowed: true,
      reason: 'registry fabrikamacr has no acr-pull-allow tag and the default is same-resource-group; vm-web-1 is in rg-web',
    },
    {
      case: 'no tag and the default any',
      registry: { id: registryId('fabrikamacr') },
      consumer: { id: vmId('vm-web-1', 'rg-x', OTHER_SUB) },
      defaultConsent: 'any',
      allowed: true,
      reason: 'registry fabrikamacr has no acr-pull-allow tag and the default is any; any consumer',
    },
    {
      case: 'an invalid tag, which denies even a consumer the valid terms would allow',
      registry: { id: registryId('contosoacr'), tags: { 'acr-pull-allow': 'same-resource-group, same-rg' } },
      consumer: { id: vmId('vm-web-1') },
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr has an invalid acr-pull-allow tag, so it allows nobody: unknown term "same-rg"',
    },
    {
      case: 'an invalid consumer id',
      registry: { id: registryId('contosoacr'), tags: { 'acr-pull-allow': '*' } },
      consumer: { id: '/subscriptions/x/../y' },
      allowed: false,
      reason: 'consumer id is not valid, so nothing is granted',
    },
  ])('decides $case', ({ registry, consumer, defaultConsent, allowed, reason }) => {
    const decision = evaluateConsent(registry, consumer, defaultConsent ?? 'none');
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toContain(reason);
  });
});

// Issue 13, push through pull consent: push has its own consent, acr-push-allow, and no default.
describe('evaluateConsent for push (acr-push-allow)', () => {
  it.each<{
    case: string;
    tags?: Record<string, string>;
    consumer?: string;
    defaultConsent: ConsentDefault;
    allowed: boolean;
    reason: string;
  }>([
    {
      case: 'a registry that consents to pull only',
      tags: { 'acr-pull-allow': 'same-resource-group' },
      defaultConsent: 'none',
      allowed: false,
      reason:
        "registry contosoacr has no acr-push-allow tag; push needs the registry's own acr-push-allow consent (acr-pull-allow and ACCESS_DEFAULT_CONSENT cover pull only)",
    },
    { case: 'no tag at all and a default of any', defaultConsent: 'any', allowed: false, reason: 'has no acr-push-allow tag; push needs' },
    {
      case: 'no tag and a default of same-resource-group',
      tags: { 'acr-pull-allow': '*' },
      defaultConsent: 'same-resource-group',
      allowed: false,
      reason: 'has no acr-push-allow tag',
    },
    {
      case: 'acr-push-allow covering the consumer',
      tags: { 'acr-push-allow': 'same-resource-group' },
      defaultConsent: 'none',
      allowed: true,
      reason: 'registry contosoacr allows push by same-resource-group; vm-web-1 is in rg-web',
    },
    {
      case: 'acr-push-allow not covering the consumer',
      tags: { 'acr-push-allow': 'rg:rg-ci' },
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr allows push by rg:rg-ci; vm-web-1 is in rg-web',
    },
    {
      case: 'acr-push-allow=none',
      tags: { 'acr-push-allow': 'none', 'acr-pull-allow': '*' },
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr allows push by none (acr-push-allow=none)',
    },
    {
      case: 'an invalid acr-push-allow',
      tags: { 'Acr-Push-Allow': 'everyone' },
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr has an invalid acr-push-allow tag, so it allows nobody: unknown term "everyone"',
    },
    {
      case: 'a consumer tag matching a tag: term',
      tags: { 'acr-push-allow': 'tag:team=ci' },
      consumer: 'ci',
      defaultConsent: 'none',
      allowed: true,
      reason: 'vm-web-1 has tag team=ci',
    },
  ])('decides $case', ({ tags, consumer, defaultConsent, allowed, reason }) => {
    const decision = evaluateConsent(
      { id: registryId('contosoacr'), ...(tags ? { tags } : {}) },
      { id: vmId('vm-web-1'), ...(consumer ? { tags: { team: consumer } } : {}) },
      defaultConsent,
      REGISTRY_PUSH_CONSENT,
    );
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toContain(reason);
  });

  it('picks the consent by access', () => {
    expect(registryConsentFor('pull').tag).toBe('acr-pull-allow');
    expect(registryConsentFor('push').tag).toBe('acr-push-allow');
  });

  it.each<{ tags: Record<string, string>; access: 'pull' | 'push'; defaultConsent: ConsentDefault; allowed: boolean; reason: string }>([
    {
      tags: { 'acr-pull-allow': '*' },
      access: 'pull',
      defaultConsent: 'none',
      allowed: true,
      reason: 'registry contosoacr allows *; any consumer',
    },
    {
      tags: { 'acr-pull-allow': '*' },
      access: 'push',
      defaultConsent: 'any',
      allowed: false,
      reason: 'registry contosoacr has no acr-push-allow tag; push needs',
    },
    { tags: {}, access: 'push', defaultConsent: 'any', allowed: false, reason: 'has no acr-push-allow tag' },
    {
      tags: { 'acr-push-allow': '*' },
      access: 'push',
      defaultConsent: 'none',
      allowed: true,
      reason: 'registry contosoacr allows push by *; any consumer',
    },
    {
      tags: { 'acr-push-allow': 'same-subscription' },
      access: 'push',
      defaultConsent: 'none',
      allowed: false,
      reason: 'so only acr-push-allow=* covers it',
    },
  ])('judges a bare principal for $access on $tags (default $defaultConsent)', ({ tags, access, defaultConsent, allowed, reason }) => {
    const decision = consentForPrincipal({ name: 'contosoacr', tags }, defaultConsent, 'principal 3f2a', access);
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toContain(reason);
  });
});

// Issue #7: a Key Vault consents to workload-identity grants with acr-workload-allow, in this grammar.
describe('evaluateConsent for a Key Vault (acr-workload-allow)', () => {
  const vaultId = (name: string, rg = 'rg-apps', sub = SUB) =>
    `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.KeyVault/vaults/${name}`;
  const identityId = (name: string, rg = 'rg-apps', sub = SUB) =>
    `/subscriptions/${sub}/resourcegroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  it.each<{
    case: string;
    vault: { id: string; tags?: Record<string, string> };
    identity: { id: string; tags?: Record<string, string> };
    defaultConsent?: ConsentDefault;
    allowed: boolean;
    reason: string;
  }>([
    {
      case: 'a vault that allows its resource group',
      vault: { id: vaultId('contoso-kv'), tags: { 'acr-workload-allow': 'same-resource-group' } },
      identity: { id: identityId('id-orders') },
      allowed: true,
      reason: 'Key Vault contoso-kv allows same-resource-group; id-orders is in rg-apps',
    },
    {
      case: 'a vault without the tag, default none',
      vault: { id: vaultId('contoso-kv') },
      identity: { id: identityId('id-orders') },
      allowed: false,
      reason: 'Key Vault contoso-kv has no acr-workload-allow tag and the default is none',
    },
    {
      case: 'a vault without the tag follows ACCESS_DEFAULT_CONSENT',
      vault: { id: vaultId('contoso-kv') },
      identity: { id: identityId('id-orders') },
      defaultConsent: 'same-subscription',
      allowed: true,
      reason: 'Key Vault contoso-kv has no acr-workload-allow tag and the default is same-subscription',
    },
    {
      case: 'an acr-pull-allow tag on a vault, which is not its workload consent',
      vault: { id: vaultId('contoso-kv'), tags: { 'acr-pull-allow': '*' } },
      identity: { id: identityId('id-orders') },
      allowed: false,
      reason: 'has no acr-workload-allow tag',
    },
    {
      case: 'a narrowed consent, naming where the vault sits',
      vault: { id: vaultId('contoso-kv'), tags: { 'ACR-Workload-Allow': 'same-resource-group' } },
      identity: { id: identityId('id-orders', 'rg-other') },
      allowed: false,
      reason:
        'id-orders is in rg-other (subscription 00000000-0000-0000-0000-000000000001), which that does not cover (the Key Vault is in rg-apps',
    },
    {
      case: 'an empty value',
      vault: { id: vaultId('contoso-kv'), tags: { 'acr-workload-allow': ' ' } },
      identity: { id: identityId('id-orders') },
      defaultConsent: 'any',
      allowed: false,
      reason: 'Key Vault contoso-kv has an invalid acr-workload-allow tag, so it allows nobody: acr-workload-allow is empty',
    },
    {
      case: 'none',
      vault: { id: vaultId('contoso-kv'), tags: { 'acr-workload-allow': 'none' } },
      identity: { id: identityId('id-orders') },
      allowed: false,
      reason: 'Key Vault contoso-kv allows none (acr-workload-allow=none)',
    },
  ])('decides $case', ({ vault, identity, defaultConsent, allowed, reason }) => {
    const decision = evaluateConsent(vault, identity, defaultConsent ?? 'none', VAULT_CONSENT);
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toContain(reason);
  });

  it.each(['acr-workload-vault', 'acr-workload-cluster', 'acr-workload-subjects', 'acr-workload-allow'])(
    'refuses tag:%s=… because the identity writes it itself',
    (key) => {
      const rule = parseConsent(`tag:${key}=contoso-kv`, VAULT_CONSENT.tag);
      expect(rule.ok).toBe(false);
      if (!rule.ok) expect(rule.error).toContain(`${key} is written by consumers themselves`);
    },
  );

  it('keeps the registry wording by default', () => {
    expect(evaluateConsent({ id: registryId('contosoacr') }, { id: vmId('vm-web-1') }, 'none').reason).toBe(
      'registry contosoacr has no acr-pull-allow tag and the default is none',
    );
  });
});
