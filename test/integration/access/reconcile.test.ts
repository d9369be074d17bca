/**
 * reconcileResource with the real adapters against the emulator and Azurite (issue #4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileResource } from '../../../src/access/reconcile.js';
import { TransientAzureError } from '../../../src/errors.js';
import { ROLES } from '../../../src/policy/roles.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let rg: string;
let acr: string;
const reconcile = (id: string, eventId = 'evt') => reconcileResource(h.deps, id, { log: h.log, trigger: { eventId, caller: 'tester' } });

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-web');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group', 'acr-push-allow': 'same-resource-group' },
    properties: {},
  });
});
afterAll(async () => h?.stop());

const vmId = (name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;

describe('reconcileResource', () => {
  it('grants AcrPull to a tagged VM system identity once, then writes nothing on a second event', async () => {
    const vm = vmId('vm-web-1');
    const body = await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'contosoacr' },
      properties: {},
    });
    const principalId = body.identity.principalId as string;

    const first = await reconcile(vm, 'evt-1');
    expect(first.decisions.map((d) => d.outcome)).toEqual(['granted']);
    expect(first.decisions[0]).toMatchObject({ principalId, registry: acr, eventId: 'evt-1', caller: 'tester' });
    expect(first.decisions[0]!.reason).toMatch(/propagation pending/);
    const assignments = await h.assignmentsAt(acr);
    expect(assignments.filter((a) => a.principalId === principalId).map((a) => a.roleDefinitionId)).toEqual([
      ROLES.acrPull.roleDefinitionId,
    ]);

    await h.clearCalls();
    const second = await reconcile(vm, 'evt-2');
    expect(second.decisions.map((d) => d.outcome)).toEqual(['already-present']);
    const calls = await h.calls();
    const writes = calls.filter(
      (c) => c.method !== 'GET' && c.api !== 'admin' && c.api !== 'resourceGraph' && c.api !== 'login' && c.api !== 'managedIdentity',
    );
    expect(writes).toEqual([]);
    const armReads = calls.filter((c) => c.api === 'arm' && c.method === 'GET').reduce((n, c) => n + c.count, 0);
    expect(armReads).toBe(1);
    // The registry was looked up on the first event and cached.
    expect(calls.filter((c) => c.api === 'resourceGraph')).toEqual([]);
  });

  it('revokes only its own assignment when the tag is removed, leaving one made by hand', async () => {
    const vm = vmId('vm-web-2');
    const body = await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'contosoacr', 'acr-push': 'contosoacr' },
      properties: {},
    });
    const principalId = body.identity.principalId as string;
    await reconcile(vm);
    // A hand-made Reader-like assignment on the same registry for the same principal (AcrPush by hand is replaced here by a plain one).
    await h.put(`${acr}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-000000000001`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.repositoryReader.roleDefinitionId}`,
        principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });
    await h.tag(vm, {});
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome).sort()).toEqual(['revoked', 'revoked']);
    const left = (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
    expect(left.map((a) => a.description)).toEqual(['made by hand']);
  });

  it('revokes on delete, finding the registries through the grant index', async () => {
    const vm = vmId('vm-web-3');
    const body = await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'contosoacr' },
      properties: {},
    });
    await reconcile(vm);
    await h.del(vm, API.vm);
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['revoked']);
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === body.identity.principalId)).toBe(false);
  });

  it('denies a consumer outside the registry consent and says why', async () => {
    const otherRg = await h.rg('rg-other');
    const vm = `${otherRg}/providers/Microsoft.Compute/virtualMachines/vm-x`;
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'contosoacr' },
      properties: {},
    });
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['denied-by-consent']);
    expect(result.decisions[0]!.reason).toMatch(/same-resource-group/);
  });

  it('rejects an invalid tag without throwing', async () => {
    const vm = vmId('vm-bad');
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'https://contosoacr.azurecr.io' },
      properties: {},
    });
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['rejected-input']);
    expect(result.decisions[0]!.reason).toMatch(/URL/);
  });

  it('grants a consumer tagged before its registry exists when the registry is created', async () => {
    const vm = vmId('vm-early');
    const body = await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'lateacr' },
      properties: {},
    });
    const before = await reconcile(vm);
    expect(before.decisions.map((d) => d.outcome)).toEqual(['skipped']);
    const late = `${rg}/providers/Microsoft.ContainerRegistry/registries/lateacr`;
    await h.put(late, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    const after = await reconcile(late);
    expect(after.decisions.map((d) => d.outcome)).toContain('granted');
    expect((await h.assignmentsAt(late)).map((a) => a.principalId)).toEqual([body.identity.principalId]);

    // Withdrawing consent revokes ours.
    await h.tag(late, { 'acr-pull-allow': 'none' });
    const withdrawn = await reconcile(late);
    expect(withdrawn.decisions.map((d) => d.outcome)).toEqual(expect.arrayContaining(['revoked']));
    expect(await h.assignmentsAt(late)).toEqual([]);
  });

  it('grants the repository role on an ABAC-mode registry', async () => {
    const abac = `${rg}/providers/Microsoft.ContainerRegistry/registries/abacacr`;
    await h.put(abac, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*' },
      properties: { roleAssignmentMode: 'AbacRepositoryPermissions' },
    });
    const vm = vmId('vm-abac');
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'abacacr' },
      properties: {},
    });
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['granted']);
    expect((await h.assignmentsAt(abac)).map((a) => a.roleDefinitionId)).toEqual([ROLES.repositoryReader.roleDefinitionId]);
  });

  it('reports a platform deny rule as denied by platform policy', async () => {
    const denied = `${rg}/providers/Microsoft.ContainerRegistry/registries/deniedacr`;
    await h.put(denied, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*' },
      properties: {},
    });
    expect((await h.emu.admin('PUT', '/arm/policies/no-acr', { scopePrefix: denied })).status).toBeLessThan(300);
    const vm = vmId('vm-denied');
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'deniedacr' },
      properties: {},
    });
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['denied-by-platform-policy']);
  });

  it('grants a VM with system and two user-assigned identities, and an ACR task with its custom-registry credential', async () => {
    const id1 = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one`;
    const id2 = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-two`;
    await h.put(id1, API.identity, { location: 'westeurope' });
    await h.put(id2, API.identity, { location: 'westeurope' });
    const vm = vmId('vm-multi');
    await h.put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [id1]: {}, [id2]: {} } },
      tags: { 'acr-pull': 'contosoacr' },
      properties: {},
    });
    const result = await reconcile(vm);
    expect(result.decisions.map((d) => d.outcome)).toEqual(['granted', 'granted', 'granted']);

    const build = `${rg}/providers/Microsoft.ContainerRegistry/registries/buildacr`;
    await h.put(build, API.registry, { location: 'westeurope', sku: { name: 'Standard' }, properties: {} });
    const task = `${build}/tasks/nightly`;
    await h.put(task, API.task, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      tags: { 'acr-pull': 'contosoacr.azurecr.io' },
      properties: { platform: { os: 'Linux' }, step: { type: 'EncodedTask', encodedTaskContent: 'eA==' } },
    });
    const taskResult = await reconcile(task);
    expect(taskResult.decisions.map((d) => [d.action, d.outcome])).toEqual([
      ['grant', 'granted'],
      ['task-credential', 'granted'],
    ]);
    await h.clearCalls();
    const again = await reconcile(task);
    expect(again.decisions.map((d) => d.outcome)).toEqual(['already-present']);
    expect((await h.calls()).filter((c) => c.method === 'PATCH' || c.method === 'PUT')).toEqual([]);
  });
});

// Issue #14, point 1: one assignment serves every consumer holding a shared principal.
describe('shared identities', () => {
  const shared = async (name: string) => {
    const body = await h.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`, API.identity, {
      location: 'westeurope',
    });
    return { id: body.id as string, principalId: String(body.properties.principalId) };
  };
  const vmWith = (id: string, identity: Record<string, unknown>, tags: Record<string, string> = { 'acr-pull': 'contosoacr' }) =>
    h.put(id, API.vm, { location: 'westeurope', identity, tags, properties: {} });
  const userAssigned = (...ids: string[]) => ({
    type: 'UserAssigned',
    userAssignedIdentities: Object.fromEntries(ids.map((i) => [i, {}])),
  });
  const heldBy = async (principalId: string) => (await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId);
  /** Two tagged VMs sharing one user-assigned identity, each settled by its event: the assignment names `a`. */
  const aFleet = async (name: string) => {
    const fleet = await shared(`id-${name}`);
    const [a, b] = [vmId(`vm-${name}-a`), vmId(`vm-${name}-b`)];
    for (const vm of [a, b]) {
      await vmWith(vm, userAssigned(fleet.id));
      await reconcile(vm);
    }
    return { fleet, a, b };
  };

  it('keeps ours when the shared identity is detached from the VM it names while another VM still asks', async () => {
    const { fleet, a, b } = await aFleet('detach');
    expect((await heldBy(fleet.principalId))[0]?.description).toContain(a);

    await vmWith(a, { type: 'SystemAssigned' }); // the fleet identity detached from the VM the assignment names
    const result = await reconcile(a);
    const kept = result.decisions.filter((d) => d.principalId === fleet.principalId);
    expect(kept.map((d) => d.outcome)).toEqual(['kept']);
    expect(kept[0]!.details).toMatchObject({ stillAskedBy: b });
    expect((await heldBy(fleet.principalId)).map((x) => x.description)).toEqual([`Managed by acr-pull-automation: acr-pull on ${b}`]);
  });

  it('keeps ours on a registry event when the consumer it names is gone and the one that still asks could not be settled', async () => {
    const { fleet, a, b } = await aFleet('orphan');
    await h.del(a, API.vm); // its delete event is lost: the assignment still names it

    // Reading b's grant index rows fails once (a Table Storage hiccup), so the registry event cannot
    // settle b, and its principal is not among those it found entitled: the orphan step decides.
    let failures = 0;
    const deps = {
      ...h.deps,
      grantIndex: {
        ...h.deps.grantIndex,
        listForConsumer: (id: string) =>
          id === b && failures++ === 0
            ? Promise.reject(new TransientAzureError('ServiceUnavailable', 'table unavailable'))
            : h.deps.grantIndex.listForConsumer(id),
      },
    };
    await reconcileResource(deps, acr, { log: h.log, trigger: { eventId: 'evt-registry' } }).catch((error: unknown) => {
      if (!(error instanceof TransientAzureError)) throw error; // Event Grid redelivers; what was decided is in the audit rows
    });
    expect(await heldBy(fleet.principalId)).toHaveLength(1);
    const rows = (await h.deps.audit.query({ resourceId: a, top: 50 })).items.filter((r) => r.principalId === fleet.principalId);
    expect(rows.map((r) => r.outcome)).toContain('kept');
    expect(rows.map((r) => r.outcome)).not.toContain('revoked');
  });
});

describe('resilience', () => {
  it('reaches the same state with 20% 5xx injected on ARM and authorization (the SDK retry policy absorbs them)', async () => {
    expect((await h.emu.admin('PUT', '/faults', { errorRate: { arm: 0.2, authorization: 0.2, resourceGraph: 0.2 } })).status).toBe(200);
    try {
      const vm = vmId('vm-faulty');
      const body = await h
        .put(vm, API.vm, {
          location: 'westeurope',
          identity: { type: 'SystemAssigned' },
          tags: { 'acr-pull': 'contosoacr' },
          properties: {},
        })
        .catch(async () =>
          h.put(vm, API.vm, {
            location: 'westeurope',
            identity: { type: 'SystemAssigned' },
            tags: { 'acr-pull': 'contosoacr' },
            properties: {},
          }),
        );
      let result;
      for (let attempt = 0; attempt < 3 && !result; attempt++) result = await reconcile(vm).catch(() => undefined); // Event Grid would redeliver
      expect(result).toBeDefined();
      await h.emu.admin('PUT', '/faults', { errorRate: { arm: 0, authorization: 0, resourceGraph: 0 } });
      expect((await h.assignmentsAt(acr)).filter((a) => a.principalId === body.identity.principalId)).toHaveLength(1);
    } finally {
      await h.emu.admin('PUT', '/faults', { errorRate: { arm: 0, authorization: 0, resourceGraph: 0 } });
    }
  });
});
