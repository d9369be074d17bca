/**
 * The HTTP preview runs the event path's own code (the resources layer's `reconcileChangedResource`) with writes off:
 * for an identity it shows workload identity changes too (issue #7: "Preview (the HTTP API)
 * shows these changes too"), and for a Key Vault only workload identity acts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURES } from '../../../src/reconciler.js';
import { reconcileChangedResource, type ChangedResourceResult } from '../../../src/resources/changedResource.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

let h: AccessHarness;
const featureResult = (result: ChangedResourceResult, feature: string) => result.features.find((f) => f.feature === feature)?.result;
let rg: string;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-preview');
});
afterAll(async () => h?.stop());

describe('preview of a changed resource', () => {
  it('shows the federated credentials an identity would get, and writes nothing', async () => {
    const clusterId = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-preview`;
    await h.put(clusterId, API.aks, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: {
        dnsPrefix: 'aks-preview',
        oidcIssuerProfile: { enabled: true },
        securityProfile: { workloadIdentity: { enabled: true } },
      },
    });
    const identityId = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-preview`;
    await h.put(identityId, API.identity, {
      location: 'westeurope',
      tags: { 'acr-workload-cluster': 'aks-preview', 'acr-workload-subjects': 'default/app' },
    });

    await h.clearCalls();
    const result = await reconcileChangedResource(h.deps, identityId, { dryRun: true, log: h.log, trigger: { caller: 'tester' } });
    expect(featureResult(result, FEATURES.workload)?.decisions.map((d) => d.outcome)).toEqual(['would-grant']);
    expect(featureResult(result, FEATURES.workload)?.decisions[0]?.reason).toContain('default/app on cluster aks-preview');
    const writes = (await h.calls()).filter((c) => c.method !== 'GET' && ['arm', 'authorization'].includes(c.api));
    expect(writes).toEqual([]);
    expect(await h.deps.federatedCredentials.list(identityId)).toEqual([]);
  });

  it('leaves a Key Vault to workload identity alone: the access feature records nothing for it', async () => {
    const vaultId = `${rg}/providers/Microsoft.KeyVault/vaults/kv-preview`;
    await h.put(vaultId, '2023-07-01', {
      location: 'westeurope',
      tags: { 'acr-workload-allow': 'same-resource-group' },
      properties: { tenantId: h.emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
    });
    const result = await reconcileChangedResource(h.deps, vaultId, { dryRun: true, log: h.log, trigger: { caller: 'tester' } });
    expect(featureResult(result, FEATURES.access)).toBeUndefined();
    expect(result.decisions.filter((d) => d.action === 'reconcile' || d.action === 'grant')).toEqual([]);
    expect(featureResult(result, FEATURES.workload)).toBeDefined();
  });
});

describe('one event, one read', () => {
  it('reads a tagged identity from ARM once, though registry access and workload identity both settle it', async () => {
    const identityId = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-once`;
    await h.put(identityId, API.identity, {
      location: 'westeurope',
      tags: { 'acr-pull': 'nosuchacr', 'acr-workload-cluster': 'aks-preview', 'acr-workload-subjects': 'default/once' },
    });
    // Observe our own ARM adapter (the real one, against the emulator): which resources it reads.
    const reads: string[] = [];
    const arm = {
      ...h.deps.arm,
      getResource: (id: string, options?: { abortSignal?: AbortSignal }) => (
        reads.push(id.toLowerCase()), h.deps.arm.getResource(id, options)
      ),
    };
    const result = await reconcileChangedResource({ ...h.deps, arm }, identityId, { log: h.log, trigger: { caller: 'tester' } });
    expect(featureResult(result, FEATURES.workload)).toBeDefined();
    expect(featureResult(result, FEATURES.access)).toBeDefined();
    expect(reads.filter((id) => id === identityId.toLowerCase())).toHaveLength(1);
  });
});
