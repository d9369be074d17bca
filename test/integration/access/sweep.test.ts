/**
 * The reconciliation sweep (DESIGN.md, "Ownership and reconciliation": Event Grid may drop an event
 * after its retry window; a periodic sweep catches what events missed) with the real adapters
 * against the emulator and Azurite. Events are "missed" by writing ARM and not reconciling: the
 * harness runs no host and no Event Grid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileResource } from '../../../src/access/reconcile.js';
import { SWEEP_CALLER, sweepSubscriptions, sweepTargetsQuery, type SweepDeps } from '../../../src/resources/sweep.js';
import type { AuditRecord } from '../../../src/audit/auditLog.js';
import { TransientAzureError } from '../../../src/errors.js';
import { describeOwnership, roleAssignmentName } from '../../../src/policy/ownership.js';
import { sameResourceId } from '../../../src/policy/resourceId.js';
import { ROLES } from '../../../src/policy/roles.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let rg: string;
let acr: string;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-sweep');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/sweepacr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
    properties: {},
  });
});
afterAll(async () => h?.stop());

const vmId = (name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const aTaggedVm = async (name: string, tags: Record<string, string> = { 'acr-pull': 'sweepacr' }) => {
  const body = await h.put(vmId(name), API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, tags, properties: {} });
  return body.identity.principalId as string;
};
const sweep = (deps: SweepDeps = h.deps, concurrency?: number) =>
  sweepSubscriptions(deps, { log: h.log, sweepId: 'sweep-test', ...(concurrency ? { concurrency } : {}) });
const auditOf = async (resourceId: string): Promise<AuditRecord[]> => (await h.deps.audit.query({ resourceId, top: 200 })).items;
const assignmentPath = (scope: string, name: string) => `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
const anAssignment = (principalId: string, description: string) => ({
  properties: {
    roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.acrPull.roleDefinitionId}`,
    principalId,
    principalType: 'ServicePrincipal',
    description,
  },
});
const writes = (calls: Awaited<ReturnType<AccessHarness['calls']>>) =>
  calls.filter((c) => c.method !== 'GET' && !['admin', 'resourceGraph', 'login', 'managedIdentity'].includes(c.api));

describe('reconciliation sweep', () => {
  it('queries the emulator with a Resource Graph query it understands', async () => {
    // The subset is emulator/arm/README.md's; Azure's Resource Graph takes the same text.
    await expect(h.deps.resourceGraph.query(sweepTargetsQuery(h.deps.reconcilers), [h.sub])).resolves.toBeInstanceOf(Array);
  });

  it('makes a grant whose event was never delivered, with an audit row by the sweep', async () => {
    const principalId = await aTaggedVm('vm-missed');
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === principalId)).toBe(false);

    const summary = await sweep();
    expect(summary).toMatchObject({ subscriptions: 1, failedResources: 0 });
    expect(summary.outcomes['granted']).toBeGreaterThanOrEqual(1);
    const granted = (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
    expect(granted.map((a) => a.roleDefinitionId)).toEqual([ROLES.acrPull.roleDefinitionId]);
    const rows = (await auditOf(vmId('vm-missed'))).filter((r) => r.outcome === 'granted');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ caller: SWEEP_CALLER, correlationId: 'sweep-test', principalId, registry: acr });
  });

  it('revokes ours for a VM deleted without its event, and leaves one made by hand and ours that names no consumer', async () => {
    const vm = vmId('vm-gone');
    const principalId = await aTaggedVm('vm-gone');
    await reconcileResource(h.deps, vm, { log: h.log, trigger: { eventId: 'evt-create' } }); // this event was delivered
    const byHand = '5e1f0a2b-0000-4000-8000-00000000aa01';
    await h.put(assignmentPath(acr, byHand), '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.repositoryReader.roleDefinitionId}`,
        principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });
    // Ours, but naming no consumer (as the pull-credential service principal's is): not the sweep's to judge.
    const other = (
      await h.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-credentials`, API.identity, {
        location: 'westeurope',
      })
    ).properties.principalId as string;
    const credentialName = mustName(
      roleAssignmentName({ scope: acr, principalId: other, roleDefinitionId: ROLES.acrPull.roleDefinitionId }),
    );
    await h.put(
      assignmentPath(acr, credentialName),
      '2022-04-01',
      anAssignment(other, describeOwnership({ kind: 'pull-credential', registryName: 'sweepacr' })),
    );
    expect((await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId)).toHaveLength(2);

    await h.del(vm, API.vm); // the delete event is never delivered
    await sweep();

    const left = await h.assignmentsAt(acr);
    expect(left.filter((a) => a.principalId === principalId).map((a) => a.description)).toEqual(['made by hand']);
    expect(left.some((a) => a.name === credentialName)).toBe(true);
    const revoked = (await auditOf(vm)).filter((r) => r.outcome === 'revoked');
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ caller: SWEEP_CALLER, principalId, registry: acr });
  });

  it('revokes ours whose principal is gone even when the grant index has lost track of it', async () => {
    const vm = vmId('vm-forgotten');
    const principalId = await aTaggedVm('vm-forgotten');
    await reconcileResource(h.deps, vm, { log: h.log, trigger: { eventId: 'evt-create-2' } });
    await h.deps.grantIndex.remove(vm, acr);
    await h.del(vm, API.vm);

    await sweep();
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === principalId)).toBe(false);
    expect((await auditOf(vm)).filter((r) => r.outcome === 'revoked' && r.caller === SWEEP_CALLER)).toHaveLength(1);
  });

  // Issue #14, point 1: step 3 (the consumer an assignment names is gone) asks who else still asks.
  it('keeps ours for a shared identity when the VM it names is gone and the grant index lost track of it, and hands it to the VM that asks', async () => {
    const fleet = await h.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-sweep-fleet`, API.identity, {
      location: 'westeurope',
    });
    const principalId = String(fleet.properties.principalId);
    const [first, second] = [vmId('vm-fleet-a'), vmId('vm-fleet-b')];
    for (const id of [first!, second!]) {
      await h.put(id, API.vm, {
        location: 'westeurope',
        identity: { type: 'UserAssigned', userAssignedIdentities: { [fleet.id]: {} } },
        tags: { 'acr-pull': 'sweepacr' },
        properties: {},
      });
      await reconcileResource(h.deps, id, { log: h.log, trigger: { eventId: `evt-${id}` } });
    }
    const [assignment] = (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
    expect(assignment?.description).toContain(first); // the first VM's grant; the second found it present
    await h.deps.grantIndex.remove(first!, acr);
    await h.del(first!, API.vm); // its delete event is never delivered

    await sweep();
    expect((await auditOf(first!)).filter((r) => r.outcome === 'revoked')).toEqual([]);
    const kept = (await auditOf(first!)).filter((r) => r.outcome === 'kept' && r.caller === SWEEP_CALLER);
    expect(kept).toHaveLength(1);
    expect(kept[0]!.details).toMatchObject({ stillAskedBy: second });
    const [after] = (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
    expect(after?.name).toBe(assignment?.name);
    expect(after?.description).toBe(`Managed by acr-pull-automation: acr-pull on ${second}`);
    // Handed over with its index row: the second VM's deletion finds it and, nobody else asking, revokes it.
    await h.del(second!, API.vm);
    await reconcileResource(h.deps, second!, { log: h.log, trigger: { eventId: 'evt-fleet-b-deleted' } });
    expect((await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId)).toEqual([]);
  });

  it('revokes ours on a key vault for a user-assigned identity deleted without its event', async () => {
    const vault = `${rg}/providers/Microsoft.KeyVault/vaults/sweep-kv`;
    await h.put(vault, '2023-07-01', {
      location: 'westeurope',
      properties: { tenantId: h.emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
    });
    const identity = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-gone`;
    const principalId = (await h.put(identity, API.identity, { location: 'westeurope' })).properties.principalId as string;
    // Ours: the deterministic name and our description (a description alone is not enough).
    const name = mustName(roleAssignmentName({ scope: vault, principalId, roleDefinitionId: ROLES.keyVaultSecretsUser.roleDefinitionId }));
    await h.put(assignmentPath(vault, name), '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.keyVaultSecretsUser.roleDefinitionId}`,
        principalId,
        principalType: 'ServicePrincipal',
        description: describeOwnership({ kind: 'workload-vault', identityId: identity }),
      },
    });
    await h.del(identity, API.identity);

    await sweep();
    expect((await h.assignmentsAt(vault)).some((a) => a.name === name)).toBe(false);
    expect((await auditOf(identity)).filter((r) => r.outcome === 'revoked' && r.caller === SWEEP_CALLER)).toHaveLength(1);
  });

  // A container group's user-assigned identity outlives the group, so "its principal is gone" does
  // not catch this one: the sweep must settle container groups as it settles every other consumer.
  // Body as containerinstance/.../stable/2023-05-01/examples/ContainerGroupsCreateOrUpdate.json.
  it('revokes ours for a container group deleted without its event, though its user-assigned identity lives on and the grant index lost track of it', async () => {
    const identity = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-ci-job`;
    const principalId = (await h.put(identity, API.identity, { location: 'westeurope' })).properties.principalId as string;
    const group = `${rg}/providers/Microsoft.ContainerInstance/containerGroups/ci-gone`;
    await h.put(group, '2023-05-01', {
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [identity]: {} } },
      tags: { 'acr-pull': 'sweepacr' },
      properties: { osType: 'Linux', containers: [{ name: 'job', properties: { image: 'sweepacr.azurecr.io/job:1' } }] },
    });
    await reconcileResource(h.deps, group, { log: h.log, trigger: { eventId: 'evt-ci-create' } }); // this event was delivered
    const ours = (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
    expect(ours).toHaveLength(1);
    await h.deps.grantIndex.remove(group, acr); // only the assignment itself is left to point at the group

    await h.del(group, '2023-05-01'); // the delete event is never delivered
    await sweep();

    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === principalId)).toBe(false);
    expect((await auditOf(group)).filter((r) => r.outcome === 'revoked' && r.caller === SWEEP_CALLER)).toHaveLength(1);
  });

  it('revokes ours once when consent is withdrawn and the registry event is lost', async () => {
    const withdrawn = `${rg}/providers/Microsoft.ContainerRegistry/registries/withdrawnacr`;
    await h.put(withdrawn, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    const vm = vmId('vm-consent');
    const principalId = await aTaggedVm('vm-consent', { 'acr-pull': 'withdrawnacr' });
    await reconcileResource(h.deps, vm, { log: h.log, trigger: { eventId: 'evt-consent' } });
    expect((await h.assignmentsAt(withdrawn)).map((a) => a.principalId)).toEqual([principalId]);
    await h.tag(withdrawn, {}); // acr-pull-allow removed; ACCESS_DEFAULT_CONSENT is none

    await sweep();
    expect(await h.assignmentsAt(withdrawn)).toEqual([]);
    // Settled as a consumer and again through its registry, but revoked (and recorded) once.
    expect((await auditOf(vm)).filter((r) => r.outcome === 'revoked' && r.caller === SWEEP_CALLER)).toHaveLength(1);
  });

  it('writes nothing to ARM on a second sweep', async () => {
    await sweep();
    await h.clearCalls();
    const summary = await sweep();
    expect(writes(await h.calls())).toEqual([]);
    expect(summary.failedResources).toBe(0);
    expect(summary.outcomes['granted'] ?? 0).toBe(0);
    expect(summary.outcomes['revoked'] ?? 0).toBe(0);
    expect(summary.resources).toBeGreaterThan(0);
  });

  it('over a settled estate writes no row per consumer, only one summary row that counts them', async () => {
    await aTaggedVm('vm-quiet-1');
    await aTaggedVm('vm-quiet-2');
    await sweep();
    const since = new Date();
    const summary = await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'quiet-sweep' });
    expect(summary.failedResources).toBe(0);
    expect(summary.outcomes['already-present']).toBeGreaterThanOrEqual(2);
    const rows = (await h.deps.audit.query({ since, top: 1000 })).items.filter((r) => r.correlationId === 'quiet-sweep');
    expect(rows.map((r) => r.outcome)).toEqual(['swept']);
    expect(rows[0]).toMatchObject({
      action: 'sweep',
      caller: SWEEP_CALLER,
      details: { resources: summary.resources, failedResources: 0, 'outcome.already-present': summary.outcomes['already-present'] },
    });
    expect(rows[0]!.reason).toContain(`${summary.outcomes['already-present']} already-present`);
    expect((await auditOf(vmId('vm-quiet-1'))).filter((r) => r.correlationId === 'quiet-sweep')).toEqual([]);
  });

  it('goes on past a resource that keeps failing, records it, and does not throw', async () => {
    const first = await aTaggedVm('vm-before-broken');
    await aTaggedVm('vm-broken');
    const last = await aTaggedVm('vm-after-broken');
    const broken = vmId('vm-broken');
    // What the ARM adapter throws for a 503 once the SDK's retry budget is spent (src/azure/arm.ts).
    const deps: SweepDeps = {
      ...h.deps,
      arm: {
        ...h.deps.arm,
        getResource: (id, options) =>
          sameResourceId(id, broken)
            ? Promise.reject(
                new TransientAzureError('ServiceUnavailable', `could not read ${id}: 503 ServiceUnavailable The service is unavailable.`),
              )
            : h.deps.arm.getResource(id, options),
      },
    };

    const summary = await sweep(deps, 1);
    expect(summary.failedResources).toBeGreaterThanOrEqual(1);
    const principals = (await h.assignmentsAt(acr)).map((a) => a.principalId);
    expect(principals).toEqual(expect.arrayContaining([first, last]));
    const failed = (await auditOf(broken)).filter((r) => r.outcome === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed[0]).toMatchObject({ caller: SWEEP_CALLER, errorCode: 'ServiceUnavailable' });
  });
});

function mustName(result: ReturnType<typeof roleAssignmentName>): string {
  if (!result.ok) throw new Error(result.error);
  return result.value;
}
