/**
 * Issue #16, point 1 — several instances. On Azure the app scales out: Event Grid delivers to one
 * address and the front end spreads the deliveries over every instance, so two instances can work on
 * the same resource, principal or identity at the same moment. Here three local host processes run
 * behind the load balancer of `devhost/loadBalancer.ts` (as `npm start -- --instances 3`), sharing
 * Azurite and the emulator; the outcome is read from ARM on the emulator, never from the app.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROLES } from '../../src/policy/roles.js';
import { FEDERATED_CREDENTIAL_PREFIX } from '../../src/policy/workloadTags.js';
import {
  API_VERSIONS,
  aRegistry,
  aUserAssignedIdentity,
  aVirtualMachine,
  countOf,
  startAccessStack,
  type AccessStack,
} from '../support/e2eAccess.js';

const INSTANCES = 3;
let s: AccessStack;

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
    instances: INSTANCES,
  });
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

/** Deliveries each instance answered, read from the front: every instance took its share. */
const sentPerInstance = () => [...s.stack.loadBalancer!.sent];

describe('three instances behind one address', () => {
  it('runs three host processes behind one address, which Event Grid is subscribed to', async () => {
    expect(s.stack.hosts).toHaveLength(INSTANCES);
    expect(new Set(s.stack.hosts.map((h) => h.pid)).size).toBe(INSTANCES);
    expect(s.stack.endpoints.functions).toBe(s.stack.loadBalancer!.url);
    const subscriptions = await s.admin<{ value: Array<{ endpoint: string }> }>('GET', '/eventgrid/subscriptions');
    expect(subscriptions.value.length).toBeGreaterThan(0);
    for (const sub of subscriptions.value) expect(sub.endpoint.startsWith(`${s.stack.loadBalancer!.url}/`)).toBe(true);
  });

  it('grants a burst of tagged VMs, some sharing one identity, with 0 duplicate and 0 missing assignments', async () => {
    const rg = await s.resourceGroup('rg-burst');
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/burstacr`;
    await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const shared = await s.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-shared`, aUserAssignedIdentity());
    await s.idle();
    // Every ARM write's event delivered twice, so two instances handle the same VM at once.
    await s.admin('PUT', '/eventgrid/options', { duplicateRate: 1 });
    const before = sentPerInstance();

    const vms = Array.from({ length: 24 }, (_, i) => `${rg}/providers/Microsoft.Compute/virtualMachines/vm-burst-${i}`);
    const bodies = await Promise.all(
      vms.map((id, i) =>
        s.put(
          id,
          aVirtualMachine({
            tags: { 'acr-pull': 'burstacr' },
            identity: i % 2 === 0 ? { system: true, userAssigned: [shared.id] } : { system: true },
          }),
        ),
      ),
    );
    await s.idle(120_000);
    await s.admin('PUT', '/eventgrid/options', { duplicateRate: 0 });

    const expected = new Set([
      String(shared.properties.principalId).toLowerCase(),
      ...bodies.map((b) => String(b.identity.principalId).toLowerCase()),
    ]);
    const pulls = (await s.assignmentsAt(acr)).filter((a) => a.roleDefinitionGuid === ROLES.acrPull.roleDefinitionId);
    const held = pulls.map((a) => a.principalId.toLowerCase());
    const missing = [...expected].filter((p) => !held.includes(p));
    const duplicates = held.filter((p, i) => held.indexOf(p) !== i);
    expect({ missing, duplicates, extra: held.filter((p) => !expected.has(p)) }).toEqual({ missing: [], duplicates: [], extra: [] });
    expect(pulls).toHaveLength(25);

    // The deliveries were spread: each instance answered a share of the burst.
    const after = sentPerInstance();
    const share = after.map((n, i) => n - before[i]!);
    for (const n of share) expect(n).toBeGreaterThanOrEqual(10);
    const deadLetters = await s.admin<{ value: unknown[] }>('GET', '/eventgrid/deadletters');
    expect(deadLetters.value).toEqual([]);
  });

  it('writes the federated credentials of one identity from three instances at once with no concurrent-write refusal', async () => {
    const rg = await s.resourceGroup('rg-wi');
    const cluster = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-wi`;
    await s.put(cluster, {
      apiVersion: API_VERSIONS.managedCluster,
      body: {
        location: 'westeurope',
        identity: { type: 'SystemAssigned' },
        properties: {
          dnsPrefix: 'aks-wi',
          agentPoolProfiles: [
            { name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2', osType: 'Linux', type: 'VirtualMachineScaleSets', mode: 'System' },
          ],
          oidcIssuerProfile: { enabled: true },
          securityProfile: { workloadIdentity: { enabled: true } },
        },
      },
    });
    const identity = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-wi`;
    await s.put(identity, aUserAssignedIdentity());
    await s.idle();
    // Entra refuses a credential write while another on the same identity is in flight; make the window wide.
    await s.admin('PUT', '/arm/options', { ficWriteDurationMs: 150 });
    await s.admin('PUT', '/eventgrid/options', { duplicateRate: 1 });
    await s.clearCalls();

    const subjects = Array.from({ length: 6 }, (_, i) => `team${i}/api`);
    // Tag writes in quick succession: each event (delivered twice) makes an instance reconcile the whole identity.
    await Promise.all([
      s.tag(identity, { 'acr-workload-cluster': 'aks-wi', 'acr-workload-subjects': subjects.slice(0, 3).join(' ') }),
      s.tag(identity, { 'acr-workload-cluster': 'aks-wi' }),
    ]);
    await s.tag(identity, { 'acr-workload-cluster': 'aks-wi', 'acr-workload-subjects': subjects.join(' ') });
    await s.idle(120_000);
    await s.admin('PUT', '/eventgrid/options', { duplicateRate: 0 });
    await s.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });

    // The emulator's call counters name routes by pattern: credential writes are PUTs under Microsoft.ManagedIdentity (the identity itself was written before the counters were cleared).
    const calls = await s.calls();
    const ficWrites = countOf(calls, { api: 'arm', method: 'PUT', route: /Microsoft\.ManagedIdentity/ });
    const refused = countOf(calls, { api: 'arm', method: 'PUT', route: /Microsoft\.ManagedIdentity/, status: (st) => st === 409 });
    expect(ficWrites).toBeGreaterThanOrEqual(subjects.length);
    expect(refused).toBe(0);

    const fics = await listFics(identity);
    expect(
      fics
        .filter((f) => f.name.startsWith(FEDERATED_CREDENTIAL_PREFIX))
        .map((f) => f.subject)
        .sort(),
    ).toEqual(subjects.map((x) => `system:serviceaccount:${x.replace('/', ':')}`).sort());
    const rows = await s.audit(identity);
    expect(rows.filter((r) => r.outcome === 'failed')).toEqual([]);
  });
});

/** The identity's federated credentials through ARM (one page: fewer than the page size here). */
async function listFics(identity: string): Promise<Array<{ name: string; subject: string }>> {
  const page = (await s.get(`${identity}/federatedIdentityCredentials`, '2024-11-30')) as {
    value: Array<{ name: string; properties: { subject: string } }>;
  };
  return page.value.map((f) => ({ name: f.name, subject: f.properties.subject }));
}
