/**
 * Point 2 of issue 16: one workload of consumers, registries and a shared identity changing — tag,
 * untag, consent given and withdrawn, delete, identity swap, a user-assigned identity federated to an
 * AKS cluster and then re-tagged, a registry enrolled for pull credentials with a rotation forced — runs once
 * clean (Event Grid idle after each step) and once under faults, in its own resource group each:
 * 20 % 429 and 5 % 500 on ARM, authorization, Resource Graph, Graph and Key Vault; every write event
 * published twice (as a template deployment does) and half of all deliveries duplicated, so about
 * 3 per event; 30 % reordered, 100 ms late; 10 % dropped after the retry window, healed by one
 * reconciliation sweep. The final AcrPull/AcrPush assignments on the two registries (principals named
 * by the resource that holds them), the identity's federated credentials (name, issuer, subject, each
 * named by what it should be) and the Key Vault state (which secrets the run's registry has, and
 * whether the served password signs in) must be the same, read after the faults are lifted; no
 * duplicate assignment, and an assignment made by hand must come through untouched.
 */
import type { Figure } from '../bench/report.js';
import { createOperator, type Operator } from '../scripts/operator.js';
import { federatedCredentialName } from '../src/policy/workloadTags.js';
import { vaultProbe, type VaultProbe } from './vault.js';
import type { RunningStack } from '../scripts/stack.js';
import type { ChaosSettings } from './settings.js';

export const FAULTS = '2. Faults, same final state';
const API = {
  resourceGroup: '2021-04-01',
  registry: '2025-11-01',
  vm: '2024-07-01',
  identity: '2023-01-31',
  tags: '2021-04-01',
  roleAssignments: '2022-04-01',
  cluster: '2025-05-01',
  federated: '2024-11-30',
} as const;
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
const FAULTED_APIS = ['arm', 'authorization', 'resourceGraph', 'graph', 'keyVault'] as const;

/** A run's final state, every entry named by what it is, not by the run's own names or ids. */
export interface Outcome {
  /** `registry|holder|role guid` per assignment, sorted. */
  readonly assignments: string[];
  readonly duplicates: number;
  readonly handMadeIntact: boolean;
  /** `name|issuer|subject` per federated credential on the workload identity, sorted. */
  readonly federated: string[];
  /** The run's secrets in the vault (`<acr>` for the registry's name), sorted, and whether the served password signs in. */
  readonly vault: string[];
}

/** Entries in one list and not the other, both ways. */
function differ(a: readonly string[], b: readonly string[]): { onlyClean: string[]; onlyFaulted: string[] } {
  return { onlyClean: a.filter((x) => !b.includes(x)), onlyFaulted: b.filter((x) => !a.includes(x)) };
}

/** The figures of point 2, from the two final states (pure: test/e2e/chaos.test.ts shows a difference is MISSED). */
export function finalStateFigures(clean: Outcome, faulted: Outcome, met: { injected: number; dropped: number }): Figure[] {
  const assignments = differ(clean.assignments, faulted.assignments);
  const federated = differ(clean.federated, faulted.federated);
  const vault = differ(clean.vault, faulted.vault);
  const count = (d: { onlyClean: string[]; onlyFaulted: string[] }) => d.onlyClean.length + d.onlyFaulted.length;
  return [
    {
      scenario: FAULTS,
      name: 'faults met: 429/500 answers, events dropped',
      value: met.injected,
      unit: '',
      display: `${met.injected} answers, ${met.dropped} events`,
    },
    {
      scenario: FAULTS,
      name: 'assignments at the end, clean / with faults',
      value: faulted.assignments.length,
      unit: '',
      display: `${clean.assignments.length} / ${faulted.assignments.length}`,
    },
    {
      scenario: FAULTS,
      name: 'final assignments that differ',
      value: count(assignments),
      unit: '',
      goal: '0',
      met: count(assignments) === 0,
      detail: assignments,
    },
    {
      scenario: FAULTS,
      name: 'federated credentials at the end, clean / with faults',
      value: faulted.federated.length,
      unit: '',
      display: `${clean.federated.length} / ${faulted.federated.length}`,
    },
    {
      scenario: FAULTS,
      name: 'final federated credentials that differ',
      value: count(federated),
      unit: '',
      goal: '0',
      met: count(federated) === 0 && clean.federated.length > 0,
      detail: { ...federated, clean: clean.federated },
    },
    {
      scenario: FAULTS,
      name: 'final Key Vault state that differs',
      value: count(vault),
      unit: '',
      goal: '0',
      met: count(vault) === 0 && clean.vault.includes('served password signs in'),
      detail: { ...vault, clean: clean.vault },
    },
    {
      scenario: FAULTS,
      name: 'duplicate assignments',
      value: clean.duplicates + faulted.duplicates,
      unit: '',
      goal: '0',
      met: clean.duplicates + faulted.duplicates === 0,
    },
    {
      scenario: FAULTS,
      name: 'assignments made by hand touched',
      value: [clean, faulted].filter((o) => !o.handMadeIntact).length,
      unit: '',
      goal: '0',
      met: clean.handMadeIntact && faulted.handMadeIntact,
    },
  ];
}

export async function runFaults(stack: RunningStack, settings: ChaosSettings, log: (line: string) => void): Promise<Figure[]> {
  const operator = createOperator(stack.endpoints, stack.emulator!.caPem);
  const vault = await vaultProbe(stack, operator);
  log(`${FAULTS}: ${settings.workloadVms} VMs, an identity federated, a registry enrolled and rotated; clean run …`);
  const clean = await (await runWorkload(stack, operator, vault, 'clean', settings, false))();
  log(`${FAULTS}: the same under faults …`);
  const before = await operator.admin<Record<string, unknown>>('GET', '/faults');
  const options = await operator.admin<Record<string, unknown>>('GET', '/eventgrid/options');
  let observe: () => Promise<Outcome>;
  let injected = 0;
  let dropped = 0;
  try {
    await operator.admin('PUT', '/faults', {
      errors: Object.fromEntries(FAULTED_APIS.map((api) => [api, { '429': 0.2, '500': 0.05 }])),
      events: { reorderRate: 0.3, delayMs: 100, dropRate: 0.1 },
      // Retry-After on each 429: 1 s as ARM commonly sends; 0 at the tiny size, so the run inside `npm test`
      // stays short (the same faults and counts, only no wait before the SDK asks again).
      retryAfterSeconds: settings.size === 'tiny' ? 0 : 1,
    });
    // Event Grid's 30 attempts (https://learn.microsoft.com/azure/event-grid/delivery-and-retry); writes published twice, deliveries duplicated.
    await operator.admin('PUT', '/eventgrid/options', { duplicateWriteEvents: true, duplicateRate: 0.5, maxAttempts: 30 });
    const since = Date.now();
    observe = await runWorkload(stack, operator, vault, 'faults', settings, true);
    // What the faults did, from the emulator's records: injected answers, and deliveries Event Grid dropped.
    const calls = (await operator.admin<{ calls: Array<{ status: number; count: number }> }>('GET', `/calls?since=${since}`)).calls;
    injected = calls.filter((c) => c.status === 429 || c.status === 500).reduce((n, c) => n + c.count, 0);
    dropped = (await operator.admin<{ value: Array<{ deadLetteredAt: string }> }>('GET', '/eventgrid/deadletters')).value.filter(
      (d) => Date.parse(d.deadLetteredAt) >= since,
    ).length;
  } finally {
    await operator.admin('PUT', '/faults', {
      errors: Object.fromEntries(FAULTED_APIS.map((api) => [api, { '429': 0, '500': 0 }])),
      events: before['events'],
      retryAfterSeconds: before['retryAfterSeconds'],
    });
    await operator.admin('PUT', '/eventgrid/options', options);
  }
  // Read once the faults are lifted: the state is the app's doing, the reading is not faulted.
  const faulted = await observe();
  return finalStateFigures(clean, faulted, { injected, dropped });
}

/** Runs the workload and answers how to read its final state. */
async function runWorkload(
  stack: RunningStack,
  operator: Operator,
  vault: VaultProbe,
  run: string,
  settings: ChaosSettings,
  faulty: boolean,
): Promise<() => Promise<Outcome>> {
  const e = stack.endpoints;
  const rg = `/subscriptions/${e.subscriptionId}/resourceGroups/chaos-${run}`;
  const acr1 = `${rg}/providers/Microsoft.ContainerRegistry/registries/${run}acr1`;
  const acr2 = `${rg}/providers/Microsoft.ContainerRegistry/registries/${run}acr2`;
  const acr3 = `${rg}/providers/Microsoft.ContainerRegistry/registries/${run}acr3`;
  const cluster = `${rg}/providers/Microsoft.ContainerService/managedClusters/${run}-aks`;
  const workloadIdentity = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-workload`;
  const vm = (i: number) => `${rg}/providers/Microsoft.Compute/virtualMachines/vm-${i}`;
  const holders = new Map<string, string>();
  // The operator meets the same faults: wait and ask again, as any ARM client does.
  const call = async <T>(method: string, path: string, apiVersion: string, body?: unknown): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await operator.arm(method, path, apiVersion, body);
        return (res.text ? res.json<T>() : undefined) as T;
      } catch (error) {
        if (attempt >= 40 || !/answered (429|5\d\d)/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  };
  const settle = async () => {
    if (!faulty) await operator.idle(120_000);
  };
  // A forced rotation through the app's API, asked again while the app cannot yet (not enrolled, a fault): as an on-call would.
  const rotate = async (registry: string) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${e.functions}/api/credentials/${registry}/rotate`, {
        method: 'POST',
        headers: { 'x-functions-key': e.functionKey },
      });
      await res.text();
      if (res.status < 300) return;
      if (attempt >= 60 || ![404, 409, 429, 500, 502, 503].includes(res.status))
        throw new Error(`rotating ${registry} answered ${res.status}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const tag = (id: string, tags: Record<string, string>, operation: 'Merge' | 'Delete') =>
    call('PATCH', `${id}/providers/Microsoft.Resources/tags/default`, API.tags, { operation, properties: { tags } });
  const putVm = async (i: number, identity: Record<string, unknown>, tags: Record<string, string>) => {
    const body = await call<{ identity: { principalId?: string } }>('PUT', vm(i), API.vm, {
      location: 'westeurope',
      tags,
      identity,
      properties: { hardwareProfile: { vmSize: 'Standard_B2s' } },
    });
    if (body.identity.principalId) holders.set(body.identity.principalId.toLowerCase(), `vm-${i} system`);
  };

  await call('PUT', rg, API.resourceGroup, { location: 'westeurope' });
  await call('PUT', acr1, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
  });
  await call('PUT', acr2, API.registry, { location: 'westeurope', sku: { name: 'Standard' } });
  // An AKS cluster with its OIDC issuer (containerservice .../examples/ManagedClustersCreate_OIDCIssuer.json, trimmed).
  const aks = await call<{ properties: { oidcIssuerProfile?: { issuerURL?: string } } }>('PUT', cluster, API.cluster, {
    location: 'westeurope',
    identity: { type: 'SystemAssigned' },
    properties: {
      dnsPrefix: `${run}-aks`,
      agentPoolProfiles: [
        { name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2', osType: 'Linux', type: 'VirtualMachineScaleSets', mode: 'System' },
      ],
      oidcIssuerProfile: { enabled: true },
      securityProfile: { workloadIdentity: { enabled: true } },
    },
  });
  const issuer = aks.properties.oidcIssuerProfile?.issuerURL ?? '(no issuer)';
  const shared = await call<{ id: string; properties: { principalId: string } }>(
    'PUT',
    `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shared`,
    API.identity,
    { location: 'westeurope' },
  );
  holders.set(shared.properties.principalId.toLowerCase(), 'id-shared');
  // An assignment made by hand (no marker of ours) on the registry: it must come through untouched.
  const handPrincipal = e.operator!.objectId;
  const handName = run === 'clean' ? '11111111-0000-4000-8000-000000000001' : '11111111-0000-4000-8000-000000000002';
  const handId = `${acr1}/providers/Microsoft.Authorization/roleAssignments/${handName}`;
  await call('PUT', handId, API.roleAssignments, {
    properties: {
      roleDefinitionId: `/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
      principalId: handPrincipal,
      principalType: 'ServicePrincipal',
      description: 'granted by hand for the build team',
    },
  });
  await settle();

  const n = settings.workloadVms;
  const withShared = { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [shared.id]: {} } };
  for (let i = 0; i < n; i++) await putVm(i, i % 3 === 0 ? withShared : { type: 'SystemAssigned' }, { 'acr-pull': `${run}acr1` });
  await settle();
  // Steps, each on the state the last one left.
  await tag(vm(1), { 'acr-pull': `${run}acr1,${run}acr2` }, 'Merge'); // acr2 has not consented: denied
  await settle();
  await tag(acr2, { 'acr-pull-allow': 'same-resource-group' }, 'Merge'); // consent given: vm-1 gets acr2
  await settle();
  await tag(vm(2), { 'acr-pull': '' }, 'Delete'); // untagged: revoked
  await settle();
  await call('DELETE', vm(3), API.vm); // deleted (holds the shared identity, still asked for by vm-0)
  holders.forEach((label, principal) => label === 'vm-3 system' && holders.delete(principal));
  await settle();
  await putVm(4, { type: 'UserAssigned', userAssignedIdentities: { [shared.id]: {} } }, { 'acr-pull': `${run}acr1` }); // identity swap
  await settle();
  await tag(acr2, { 'acr-pull-allow': '' }, 'Delete'); // consent withdrawn: vm-1 loses acr2
  await settle();
  if (n > 5) await tag(vm(5), { 'acr-push': `${run}acr1` }, 'Merge'); // push without push consent: denied
  await settle();
  // Workload identity: federated for one service account, then re-tagged (one dropped, two added).
  await call('PUT', workloadIdentity, API.identity, {
    location: 'westeurope',
    tags: { 'acr-workload-cluster': `${run}-aks`, 'acr-workload-subjects': 'apps/api' },
  });
  await settle();
  await tag(workloadIdentity, { 'acr-workload-subjects': 'apps/worker apps/jobs' }, 'Merge');
  await settle();
  // Pull credentials: a registry enrolled in the vault, then a rotation forced through the API.
  await call('PUT', acr3, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-credential': e.keyVaultName! },
  });
  await settle();
  await rotate(`${run}acr3`);
  await settle();

  // Events settle; then one sweep heals what Event Grid dropped.
  await operator.idle(180_000);
  const finished = () =>
    stack.hosts.reduce((count, h) => count + h.child.output.filter((l) => l.includes('reconciliation sweep finished')).length, 0);
  const seen = finished();
  const fired = await fetch(`${e.functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': e.masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  if (fired.status !== 202) throw new Error(`firing the sweep answered ${fired.status}`);
  for (let waited = 0; finished() === seen && waited < 120_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
  await operator.idle(120_000);

  return async () => {
    const assignments: string[] = [];
    let handMadeIntact = false;
    const keys: string[] = [];
    for (const [label, scope] of [
      ['acr1', acr1],
      ['acr2', acr2],
    ] as const) {
      const page = await call<{
        value: Array<{
          name: string;
          properties: { scope: string; principalId: string; roleDefinitionId: string; description?: string | null };
        }>;
      }>('GET', `${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`, API.roleAssignments);
      for (const a of page.value) {
        if (a.properties.scope.toLowerCase() !== scope.toLowerCase()) continue;
        const role = a.properties.roleDefinitionId.split('/').pop()!;
        if (a.name === handName) {
          handMadeIntact = a.properties.description === 'granted by hand for the build team' && role === ACR_PULL;
          continue;
        }
        const holder = holders.get(a.properties.principalId.toLowerCase()) ?? `unknown principal (${a.properties.principalId})`;
        keys.push(`${a.properties.principalId.toLowerCase()}|${scope.toLowerCase()}|${role}`);
        assignments.push(`${label}|${holder}|${role}`);
      }
    }
    const duplicates = keys.length - new Set(keys).size;

    // Federated credentials, each named by what it should be: the name the app derives, the cluster's issuer, the subject.
    const federated: string[] = [];
    const fics = await call<{ value: Array<{ name: string; properties: { issuer: string; subject: string } }> }>(
      'GET',
      `${workloadIdentity}/federatedIdentityCredentials`,
      API.federated,
    );
    for (const f of fics.value) {
      const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(f.properties.subject);
      const expectedName = sa ? federatedCredentialName(cluster, sa[1]!, sa[2]!) : undefined;
      federated.push(
        `${f.name === expectedName ? 'name as derived' : `unexpected name ${f.name}`}|${f.properties.issuer === issuer ? 'the cluster issuer' : `another issuer ${f.properties.issuer}`}|${f.properties.subject}`,
      );
    }

    // Key Vault: the run's secrets (from the emulator's records) and whether the served password signs in.
    const secrets = (await vault.secretNames())
      .filter((name) => name.startsWith(`${run}acr`))
      .map((name) => name.replace(`${run}acr`, '<run>acr'));
    const signIn = await vault.signsIn(`${run}acr3`);
    const vaultState = [...secrets, signIn.ok ? 'served password signs in' : `served password does not sign in (${signIn.error})`];
    return { assignments: assignments.sort(), duplicates, handMadeIntact, federated: federated.sort(), vault: vaultState.sort() };
  };
}
