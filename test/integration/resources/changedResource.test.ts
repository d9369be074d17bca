/**
 * The resources layer (issue 17): one changed resource → one parse, one ARM read, handed to every
 * reconciler registered for its type. Real adapters against the emulator and Azurite (the access
 * harness); the features are the app's own reconcilers, beside small recording ones a test
 * registers to watch the order and the errors — the registry is the seam, so a test registers what
 * it needs instead of building dependency objects of another shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmResources } from '../../../src/azure/arm.js';
import { TransientAzureError } from '../../../src/errors.js';
import { FEATURES, type FeatureResult, type ReadResource, type ResourceReconciler } from '../../../src/reconciler.js';
import { reconcileChangedResource } from '../../../src/resources/changedResource.js';
import { sweepSubscriptions } from '../../../src/resources/sweep.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

let h: AccessHarness;
let rg: string;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-layer');
});
afterAll(async () => h?.stop());

const options = () => ({ log: h.log, trigger: { caller: 'tester' } });
const appReconciler = (feature: string) => h.deps.reconcilers.find((r) => r.feature === feature)!;

/** A feature of the test's own: records what it was handed and when, and may throw. */
function recording(
  feature: ResourceReconciler['feature'],
  handles: string,
  behaviour: { runsAfter?: ResourceReconciler['runsAfter']; fail?: Error; log: string[] },
) {
  const seen: ReadResource[] = [];
  const reconciler: ResourceReconciler = {
    feature,
    ...(behaviour.runsAfter ? { runsAfter: behaviour.runsAfter } : {}),
    handles: (type) => type === handles,
    async reconcile(read, runOptions): Promise<FeatureResult> {
      seen.push(read);
      behaviour.log.push(`${feature} started`);
      // The shared reads answer from the layer's one read.
      await runOptions.reads.getResource(read.id);
      await new Promise((resolve) => setTimeout(resolve, 20));
      behaviour.log.push(`${feature} finished`);
      if (behaviour.fail) throw behaviour.fail;
      return { decisions: [] };
    },
  };
  return { reconciler, seen };
}

function countingReads(arm: ArmResources, reads: string[]): ArmResources {
  return { ...arm, getResource: (id, o) => (reads.push(id.toLowerCase()), arm.getResource(id, o)) };
}

describe('the resources layer', () => {
  it('reads the resource once and hands that read to every feature registered for its type, and to no other', async () => {
    const identityId = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-layer`;
    await h.put(identityId, API.identity, { location: 'westeurope', tags: { team: 'platform' } });
    const log: string[] = [];
    const a = recording(FEATURES.access, 'microsoft.managedidentity/userassignedidentities', { log });
    const b = recording(FEATURES.workload, 'microsoft.managedidentity/userassignedidentities', { log });
    const c = recording(FEATURES.credentials, 'microsoft.containerregistry/registries', { log });
    const reads: string[] = [];

    const result = await reconcileChangedResource(
      { ...h.deps, arm: countingReads(h.deps.arm, reads), reconcilers: [a.reconciler, b.reconciler, c.reconciler] },
      identityId,
      options(),
    );

    expect(result.features.map((f) => f.feature)).toEqual([FEATURES.access, FEATURES.workload]);
    expect(a.seen).toHaveLength(1);
    expect(a.seen[0]).toMatchObject({ id: identityId, type: 'microsoft.managedidentity/userassignedidentities', name: 'id-layer' });
    expect(a.seen[0]!.resource?.tags).toEqual({ team: 'platform' });
    expect(b.seen[0]!.resource).toBe(a.seen[0]!.resource);
    expect(c.seen).toEqual([]);
    expect(reads).toEqual([identityId.toLowerCase()]);
  });

  it('runs a feature registered to run after another once that one has finished, and not at all when it threw', async () => {
    const registryId = `${rg}/providers/Microsoft.ContainerRegistry/registries/layeracr`;
    await h.put(registryId, API.registry, { location: 'westeurope', sku: { name: 'Standard' }, properties: {} });
    const type = 'microsoft.containerregistry/registries';

    const log: string[] = [];
    const first = recording(FEATURES.access, type, { log });
    const second = recording(FEATURES.credentials, type, { log, runsAfter: [FEATURES.access] });
    await reconcileChangedResource({ ...h.deps, reconcilers: [first.reconciler, second.reconciler] }, registryId, options());
    expect(log).toEqual(['access started', 'access finished', 'pull credentials started', 'pull credentials finished']);

    const failing: string[] = [];
    const broken = recording(FEATURES.access, type, {
      log: failing,
      fail: new TransientAzureError('ServiceUnavailable', 'ARM answered 503'),
    });
    const after = recording(FEATURES.credentials, type, { log: failing, runsAfter: [FEATURES.access] });
    await expect(
      reconcileChangedResource({ ...h.deps, reconcilers: [broken.reconciler, after.reconciler] }, registryId, options()),
    ).rejects.toBeInstanceOf(TransientAzureError);
    expect(after.seen).toEqual([]);
  });

  it("lets every feature finish before it rethrows the first one's retryable error: a transient error elsewhere does not hide a grant", async () => {
    await h.put(`${rg}/providers/Microsoft.ContainerRegistry/registries/layergrantacr`, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    const identityId = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-layer-grant`;
    const identity = await h.put(identityId, API.identity, { location: 'westeurope', tags: { 'acr-pull': 'layergrantacr' } });
    const log: string[] = [];
    const broken = recording(FEATURES.workload, 'microsoft.managedidentity/userassignedidentities', {
      log,
      fail: new TransientAzureError('ServiceUnavailable', 'Entra answered 503'),
    });

    await expect(
      reconcileChangedResource({ ...h.deps, reconcilers: [appReconciler(FEATURES.access), broken.reconciler] }, identityId, options()),
    ).rejects.toBeInstanceOf(TransientAzureError);

    const granted = await h.assignmentsAt(`${rg}/providers/Microsoft.ContainerRegistry/registries/layergrantacr`);
    expect(granted.map((a) => a.principalId)).toEqual([identity.properties.principalId]);
  });

  it('records a resource type no registered feature acts on, and reads nothing', async () => {
    const vaultId = `${rg}/providers/Microsoft.KeyVault/vaults/kv-layer`;
    const reads: string[] = [];
    // Registry access alone: a Key Vault is workload identity's (its acr-workload-allow consent), not a consumer.
    const result = await reconcileChangedResource(
      { ...h.deps, arm: countingReads(h.deps.arm, reads), reconcilers: [appReconciler(FEATURES.access)] },
      vaultId,
      { ...options(), dryRun: true },
    );
    expect(result.features).toEqual([]);
    expect(result.decisions).toMatchObject([
      { outcome: 'skipped', resourceId: vaultId, reason: 'resource type microsoft.keyvault/vaults is not one the automation acts on' },
    ]);
    expect(reads).toEqual([]);
  });

  it('hands each row of the sweep to the reconcilers that claim it, and only to them', async () => {
    const claimed = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-swept`;
    const unclaimed = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-not-swept`;
    await h.put(claimed, API.identity, { location: 'westeurope', tags: { 'layer-sweep': 'yes' } });
    await h.put(unclaimed, API.identity, { location: 'westeurope', tags: { 'layer-sweep': 'no' } });
    const log: string[] = [];
    const wanting = recording(FEATURES.workload, 'microsoft.managedidentity/userassignedidentities', { log });
    const other = recording(FEATURES.access, 'microsoft.managedidentity/userassignedidentities', { log });
    const sweeping: ResourceReconciler = {
      ...wanting.reconciler,
      sweep: { where: "isnotempty(tags['layer-sweep'])", wants: (row) => row.tags['layer-sweep'] === 'yes' },
    };

    const summary = await sweepSubscriptions(
      { ...h.deps, reconcilers: [sweeping, other.reconciler] },
      { log: h.log, sweepId: 'layer-sweep' },
    );

    expect(wanting.seen.map((r) => r.id.toLowerCase())).toEqual([claimed.toLowerCase()]);
    expect(other.seen).toEqual([]);
    expect(summary.resources).toBe(1);
  });
});
