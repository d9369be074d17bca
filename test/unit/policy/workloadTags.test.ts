/** The workload-identity tag grammar (issue #7): pure, table-driven. */
import { describe, expect, it } from 'vitest';
import {
  FEDERATED_CREDENTIAL_PREFIX,
  federatedCredentialName,
  isOwnedCredentialName,
  isValidCredentialName,
  parseClusterRef,
  parseServiceAccountRef,
  parseVaultRef,
  parseWorkloadTags,
  serviceAccountSubject,
  VAULT_CONSENT,
  WORKLOAD_TAG_NAMES,
} from '../../../src/policy/workloadTags.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const CLUSTER_ID = `/subscriptions/${SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod`;
const VAULT_ID = `/subscriptions/${SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/contoso-kv`;

describe('parseClusterRef', () => {
  it.each([
    { item: 'aks-prod', kind: 'name', name: 'aks-prod', key: 'name:aks-prod' },
    { item: 'AKS_Prod1', kind: 'name', name: 'AKS_Prod1', key: 'name:aks_prod1' },
    { item: 'a', kind: 'name', name: 'a', key: 'name:a' },
    { item: CLUSTER_ID, kind: 'resourceId', name: 'aks-prod', key: `id:${CLUSTER_ID.toLowerCase()}` },
    {
      item: CLUSTER_ID.replace('resourceGroups', 'resourcegroups'),
      kind: 'resourceId',
      name: 'aks-prod',
      key: `id:${CLUSTER_ID.toLowerCase()}`,
    },
  ])('reads $item as a cluster $kind', ({ item, kind, name, key }) => {
    expect(parseClusterRef(item)).toMatchObject({ ok: true, value: { kind, name, key } });
  });

  it.each([
    { item: '-aks', error: /not an AKS cluster name/ },
    { item: 'aks-', error: /not an AKS cluster name/ },
    { item: 'a'.repeat(64), error: /1-63/ },
    { item: 'aks.prod', error: /not an AKS cluster name/ },
    { item: 'rg/aks', error: /has a path/ },
    {
      item: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
      error: /is not an AKS cluster \(it is microsoft\.compute\/virtualmachines\)/,
    },
    { item: '/subscriptions/not-a-guid/resourceGroups/rg', error: /not a GUID/ },
  ])('refuses $item', ({ item, error }) => {
    const ref = parseClusterRef(item);
    expect(ref.ok).toBe(false);
    if (!ref.ok) expect(ref.error).toMatch(error);
  });
});

describe('parseServiceAccountRef', () => {
  it.each([
    { item: 'default/app', namespace: 'default', serviceAccount: 'app' },
    { item: 'team-a/workload-sa', namespace: 'team-a', serviceAccount: 'workload-sa' },
    { item: 'ns1/sa.with.dots', namespace: 'ns1', serviceAccount: 'sa.with.dots' },
  ])('reads $item', ({ item, namespace, serviceAccount }) => {
    expect(parseServiceAccountRef(item)).toEqual({
      ok: true,
      value: { namespace, serviceAccount, subject: `system:serviceaccount:${namespace}:${serviceAccount}` },
    });
  });

  it.each([
    { item: 'app', error: /not <namespace>\/<serviceaccount>/ },
    { item: 'a/b/c', error: /not <namespace>\/<serviceaccount>/ },
    { item: 'Default/app', error: /namespace "Default" .* not valid/ },
    { item: 'default/App', error: /service account "App" .* not valid/ },
    { item: 'default/', error: /service account "" .* not valid/ },
    { item: '/app', error: /namespace "" .* not valid/ },
    { item: 'default/*', error: /wildcard/ },
    { item: 'system:serviceaccount:default:app', error: /token subject; write it as <namespace>\/<serviceaccount> \(default\/app\)/ },
    { item: 'default/a..b', error: /service account "a..b"/ },
    { item: `${'n'.repeat(64)}/app`, error: /namespace/ },
  ])('refuses $item', ({ item, error }) => {
    const ref = parseServiceAccountRef(item);
    expect(ref.ok).toBe(false);
    if (!ref.ok) expect(ref.error).toMatch(error);
  });
});

describe('parseVaultRef', () => {
  it.each([
    { item: 'contoso-kv', kind: 'name', name: 'contoso-kv' },
    { item: 'Contoso-KV', kind: 'name', name: 'contoso-kv' },
    { item: VAULT_ID, kind: 'resourceId', name: 'contoso-kv' },
  ])('reads $item as a vault $kind', ({ item, kind, name }) => {
    expect(parseVaultRef(item)).toMatchObject({ ok: true, value: { kind, name } });
  });

  it.each([
    { item: 'kv', error: /3-24/ },
    { item: 'https://contoso-kv.vault.azure.net/', error: /looks like a URL/ },
    { item: '1vault', error: /does not start with a letter/ },
    { item: CLUSTER_ID, error: /not a Key Vault/ },
  ])('refuses $item', ({ item, error }) => {
    const ref = parseVaultRef(item);
    expect(ref.ok).toBe(false);
    if (!ref.ok) expect(ref.error).toMatch(error);
  });
});

type WorkloadRow = {
  case: string;
  tags: Record<string, string> | undefined;
  present: boolean;
  clusters: string[];
  subjects: string[];
  vaults: string[];
  errors: Array<string | RegExp>;
};

describe('parseWorkloadTags', () => {
  it.each<WorkloadRow>([
    {
      case: 'no tags',
      tags: undefined,
      present: false,
      clusters: [],
      subjects: [],
      vaults: [],
      errors: [],
    },
    {
      case: 'one cluster, two subjects, a vault',
      tags: { 'acr-workload-cluster': 'aks-prod', 'acr-workload-subjects': 'default/app, team-a/api', 'acr-workload-vault': 'contoso-kv' },
      present: true,
      clusters: ['aks-prod'],
      subjects: ['system:serviceaccount:default:app', 'system:serviceaccount:team-a:api'],
      vaults: ['contoso-kv'],
      errors: [],
    },
    {
      case: 'tag names in any case, items split by ; and spaces, duplicates dropped',
      tags: { 'ACR-Workload-Cluster': `aks-prod;${CLUSTER_ID} aks-prod`, 'acr-workload-subjects': 'default/app default/app' },
      present: true,
      clusters: ['aks-prod', 'aks-prod'],
      subjects: ['system:serviceaccount:default:app'],
      vaults: [],
      errors: [],
    },
    {
      case: 'a vault alone',
      tags: { 'acr-workload-vault': 'contoso-kv' },
      present: true,
      clusters: [],
      subjects: [],
      vaults: ['contoso-kv'],
      errors: [],
    },
    {
      case: 'a bad item among good ones',
      tags: { 'acr-workload-cluster': 'aks-prod', 'acr-workload-subjects': 'default/app, bad' },
      present: true,
      clusters: ['aks-prod'],
      subjects: ['system:serviceaccount:default:app'],
      vaults: [],
      errors: ['acr-workload-subjects: "bad" is not <namespace>/<serviceaccount>'],
    },
    {
      case: 'a cluster without subjects',
      tags: { 'acr-workload-cluster': 'aks-prod' },
      present: true,
      clusters: ['aks-prod'],
      subjects: [],
      vaults: [],
      errors: [/acr-workload-cluster names a cluster but acr-workload-subjects names no/],
    },
    {
      case: 'subjects without a cluster',
      tags: { 'acr-workload-subjects': 'default/app' },
      present: true,
      clusters: [],
      subjects: ['system:serviceaccount:default:app'],
      vaults: [],
      errors: [/names service accounts but acr-workload-cluster names no AKS cluster/],
    },
    {
      case: 'empty tags',
      tags: { 'acr-workload-cluster': '', 'acr-workload-subjects': ' ' },
      present: true,
      clusters: [],
      subjects: [],
      vaults: [],
      errors: [],
    },
  ])('$case', ({ tags, present, clusters, subjects, vaults, errors }) => {
    const parsed = parseWorkloadTags(tags);
    expect(parsed.present).toBe(present);
    expect(parsed.clusters.map((c) => c.name)).toEqual(clusters);
    expect(parsed.serviceAccounts.map((s) => s.subject)).toEqual(subjects);
    expect(parsed.vaults.map((v) => v.name)).toEqual(vaults);
    expect(parsed.errors).toHaveLength(errors.length);
    errors.forEach((e, i) => expect(parsed.errors[i]!.message).toMatch(e));
  });
});

describe('federatedCredentialName', () => {
  it.each([
    { cluster: CLUSTER_ID, ns: 'default', sa: 'app' },
    { cluster: CLUSTER_ID, ns: 'n'.repeat(63), sa: 's'.repeat(253) },
    { cluster: CLUSTER_ID, ns: 'ns1', sa: 'sa.with.dots' },
    { cluster: CLUSTER_ID.replace('aks-prod', 'AKS_Prod'), ns: 'default', sa: 'app' },
  ])('is a valid credential name with our prefix for $ns/$sa', ({ cluster, ns, sa }) => {
    const name = federatedCredentialName(cluster, ns, sa);
    expect(name.startsWith(FEDERATED_CREDENTIAL_PREFIX)).toBe(true);
    expect(name.length).toBeLessThanOrEqual(120);
    expect(isValidCredentialName(name)).toBe(true);
    expect(isOwnedCredentialName(name)).toBe(true);
  });

  it('is deterministic and ignores id casing', () => {
    const a = federatedCredentialName(CLUSTER_ID, 'default', 'app');
    expect(federatedCredentialName(CLUSTER_ID.toLowerCase().replace('resourcegroups', 'resourceGroups'), 'default', 'app')).toBe(a);
    expect(a).toMatch(/^acr-pull-automation-aks-prod-default-app-[0-9a-f]{10}$/);
  });

  it('differs per cluster and per service account, even when the readable part is cut', () => {
    const other = CLUSTER_ID.replace('rg-aks', 'rg-other');
    const long = 's'.repeat(200);
    const names = new Set([
      federatedCredentialName(CLUSTER_ID, 'default', 'app'),
      federatedCredentialName(other, 'default', 'app'),
      federatedCredentialName(CLUSTER_ID, 'default', 'api'),
      federatedCredentialName(CLUSTER_ID, 'default', `${long}a`),
      federatedCredentialName(CLUSTER_ID, 'default', `${long}b`),
    ]);
    expect(names.size).toBe(5);
  });

  it.each([
    { name: 'my-credential', owned: false },
    { name: 'acr-pull-automation', owned: false },
    { name: 'acr-pull-automation-by-hand', owned: false },
    { name: 'acr-pull-automation-aks-default-app-0123456789', owned: true },
  ])('$name is ours: $owned', ({ name, owned }) => {
    expect(isOwnedCredentialName(name)).toBe(owned);
  });
});

describe('serviceAccountSubject', () => {
  it('is the subject the AKS issuer signs', () => {
    expect(serviceAccountSubject('default', 'app')).toBe('system:serviceaccount:default:app');
  });
});

describe('acr-workload-allow', () => {
  it('is read from the vault, not the identity: on an identity it asks for nothing', () => {
    expect(parseWorkloadTags({ 'acr-workload-allow': '*' })).toEqual({
      present: false,
      clusters: [],
      serviceAccounts: [],
      vaults: [],
      errors: [],
    });
  });
  it('uses the acr-pull-allow grammar under its own name', () => {
    expect(VAULT_CONSENT).toEqual({ noun: 'Key Vault', tag: 'acr-workload-allow' });
    expect(WORKLOAD_TAG_NAMES.allow).toBe('acr-workload-allow');
  });
});
