/**
 * Several instances of the app (issue 14 point 7): two deps objects built as two processes would build
 * them — their own caches, in-process locks and leases objects — over one Azurite and one emulator.
 * Reconciling the same identity from both at once must never meet Entra's 409
 * `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`
 * (https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations), which the
 * emulator answers while another write on the identity is in flight; with in-process locks only, it does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONCURRENT_WRITE_CODE } from '../../../src/azure/federatedCredentials.js';
import { createDeps, type Deps } from '../../../src/deps.js';
import { NotReadyError } from '../../../src/errors.js';
import { federatedCredentialName, FEDERATED_CREDENTIAL_PREFIX } from '../../../src/policy/workloadTags.js';
import type { IdentityLeases } from '../../../src/workload/identityLeases.js';
import { reconcileWorkloadIdentity } from '../../../src/workload/reconcileWorkloadIdentity.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

let h: AccessHarness;
let rg: string;
let seq = 0;

/** A second instance: the same settings, everything else its own. */
const anotherInstance = (): Deps => createDeps(h.deps.config, h.emu.operatorCredential(), { clientOptions: h.emu.clientOptions });
/** What the app had before the lease: each instance serialised only its own runs. */
const NO_LEASE: IdentityLeases = { run: (_id, work) => work() };

const reconcile = (deps: Deps, id: string) =>
  reconcileWorkloadIdentity(deps, id, { log: h.log, trigger: { eventId: `evt-inst-${++seq}`, caller: 'tester' } });

async function clusterAndIdentity(suffix: string, subjects: readonly string[]): Promise<{ clusterId: string; identityId: string }> {
  const clusterId = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-${suffix}`;
  await h.put(clusterId, API.aks, {
    location: 'westeurope',
    identity: { type: 'SystemAssigned' },
    properties: { dnsPrefix: `aks-${suffix}`, oidcIssuerProfile: { enabled: true } },
  });
  const identityId = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-${suffix}`;
  await h.put(identityId, API.identity, {
    location: 'westeurope',
    tags: { 'acr-workload-cluster': `aks-${suffix}`, 'acr-workload-subjects': subjects.join(' ') },
  });
  return { clusterId, identityId };
}

/** Two runs on each of two instances, all at once. */
const raceOn = (instances: readonly Deps[], id: string) =>
  Promise.allSettled(instances.flatMap((deps) => [reconcile(deps, id), reconcile(deps, id)]));

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-instances');
  // Each federated-credential write stays in flight long enough for the instances to overlap.
  await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 60 });
});
afterAll(async () => {
  await h?.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
  await h?.stop();
});

describe('two instances reconciling one identity', () => {
  it('meet no 409 and leave exactly the wanted credentials, one writer at a time through the lease', async () => {
    const subjects = ['default/a', 'default/b', 'default/c', 'team/api'];
    const { clusterId, identityId } = await clusterAndIdentity('shared', subjects);
    await h.clearCalls();

    const results = await raceOn([h.deps, anotherInstance()], identityId);

    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const decisions = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.decisions : []));
    expect(decisions.filter((d) => d.outcome === 'failed')).toEqual([]);
    // Each credential is created once; the later runs find it present.
    expect(decisions.filter((d) => d.outcome === 'granted')).toHaveLength(subjects.length);
    expect((await h.calls()).filter((c) => c.status === 409)).toEqual([]);
    const names = ((await h.deps.federatedCredentials.list(identityId)) ?? [])
      .map((f) => f.name)
      .filter((n) => n.startsWith(FEDERATED_CREDENTIAL_PREFIX));
    expect(names.sort()).toEqual(subjects.map((s) => federatedCredentialName(clusterId, s.split('/')[0]!, s.split('/')[1]!)).sort());
  });

  it('meet the 409 with in-process locks only (what the lease prevents)', async () => {
    const { identityId } = await clusterAndIdentity('unleased', ['default/a', 'default/b', 'default/c', 'team/api']);
    await h.clearCalls();

    const results = await raceOn(
      [
        { ...h.deps, identityLeases: NO_LEASE },
        { ...anotherInstance(), identityLeases: NO_LEASE },
      ],
      identityId,
    );

    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((e) => e instanceof NotReadyError && e.code === CONCURRENT_WRITE_CODE)).toBe(true);
    expect((await h.calls()).some((c) => c.status === 409)).toBe(true);
  });
});
