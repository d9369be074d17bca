/**
 * Manual grant and revoke (issue #6, POST / DELETE /api/access/grants) with the real adapters
 * against the emulator and Azurite: registry consent, the override setting, the role by registry
 * mode, ownership, and how manual grants live beside the tag policy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantManually, revokeManually } from '../../../src/access/manualGrants.js';
import type { ManualGrantRequest } from '../../../src/access/manualRequests.js';
import { reconcileResource } from '../../../src/access/reconcile.js';
import type { Deps } from '../../../src/deps.js';
import { healthProbes } from '../../../src/api/wiring.js';
import { PolicyDeniedError } from '../../../src/errors.js';
import { isOurs, parseOwnership, roleAssignmentName, subjectOf } from '../../../src/policy/ownership.js';
import { sweepSubscriptions } from '../../../src/resources/sweep.js';
import { recordSweep } from '../../../src/state/recordSweep.js';
import { ROLES } from '../../../src/policy/roles.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let rg: string;
let otherRg: string;
let acr: string;
let openAcr: string;
let abacAcr: string;
const CALLER = '11111111-2222-3333-4444-555555555555 (alice@contoso.com)';

const vmId = (group: string, name: string) => `${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
const newVm = async (group: string, name: string, tags: Record<string, string> = {}): Promise<{ id: string; principalId: string }> => {
  const id = vmId(group, name);
  const body = await h.put(id, API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, tags, properties: {} });
  return { id, principalId: body.identity.principalId as string };
};
type WithoutCaller<T> = T extends unknown ? Omit<T, 'caller'> : never;
const grant = (request: WithoutCaller<ManualGrantRequest>, deps: Deps = h.deps) =>
  grantManually(deps, { caller: CALLER, ...request } as ManualGrantRequest, { log: h.log, correlationId: 'corr-1' });
const withOverride = (): Deps => ({ ...h.deps, config: { ...h.deps.config, allowConsentOverride: true } });
const rejection = async (promise: Promise<unknown>): Promise<PolicyDeniedError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PolicyDeniedError);
  return error as PolicyDeniedError;
};

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-man');
  otherRg = await h.rg('rg-elsewhere');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/manualacr`;
  openAcr = `${rg}/providers/Microsoft.ContainerRegistry/registries/openacr`;
  abacAcr = `${rg}/providers/Microsoft.ContainerRegistry/registries/abacmanualacr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group', 'acr-push-allow': 'same-resource-group' },
    properties: {},
  });
  await h.put(openAcr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': '*', 'acr-push-allow': '*' },
    properties: {},
  });
  await h.put(abacAcr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': '*', 'acr-push-allow': '*' },
    properties: { roleAssignmentMode: 'AbacRepositoryPermissions' },
  });
});
afterAll(async () => h?.stop());

describe('grantManually', () => {
  it('grants AcrPull within consent under the deterministic name, marked as manual and by whom, with an audit row naming the caller', async () => {
    const vm = await newVm(rg, 'vm-man-1');
    const result = await grant({ resourceId: vm.id, registry: 'manualacr', access: 'pull' });
    expect(result).toMatchObject({
      outcome: 'granted',
      override: false,
      role: ROLES.acrPull,
      resourceId: vm.id,
      principalIds: [vm.principalId],
    });
    expect(result.consent.reason).toMatch(/same-resource-group/);

    const [assignment, ...more] = (await h.assignmentsAt(acr)).filter((a) => a.principalId === vm.principalId);
    expect(more).toEqual([]);
    const name = roleAssignmentName({ scope: acr, principalId: vm.principalId, roleDefinitionId: ROLES.acrPull.roleDefinitionId });
    expect(name.ok && assignment!.name).toBe(name.ok ? name.value : '');
    expect(assignment!.roleDefinitionId).toBe(ROLES.acrPull.roleDefinitionId);
    expect(assignment!.description).toBe(`Managed by acr-pull-automation: manual acr-pull by ${CALLER} on ${vm.id}`);
    expect(subjectOf(parseOwnership(assignment!.description))).toBe(vm.id);

    const page = await h.deps.audit.query({ resourceId: vm.id });
    expect(page.items.map((r) => [r.action, r.outcome, r.caller, r.correlationId, r.details?.['manual']])).toEqual([
      ['grant', 'granted', CALLER, 'corr-1', true],
    ]);
    expect(page.items[0]!.reason).toMatch(/by hand.*propagation pending/);

    await h.clearCalls();
    const again = await grant({ resourceId: vm.id, registry: 'manualacr.azurecr.io', access: 'pull' });
    expect(again.outcome).toBe('already-present');
    expect((await h.calls()).filter((c) => c.api !== 'admin' && (c.method === 'PUT' || c.method === 'DELETE'))).toEqual([]);
  });

  it('refuses a consumer the registry does not consent to, with a 403-class error and an audit row, and writes nothing', async () => {
    const vm = await newVm(otherRg, 'vm-man-out');
    const error = await rejection(grant({ resourceId: vm.id, registry: acr, access: 'pull' }));
    expect(error.code).toBe('ConsentDenied');
    expect(error.message).toMatch(/same-resource-group/);
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
    const page = await h.deps.audit.query({ resourceId: vm.id });
    expect(page.items.map((r) => [r.outcome, r.errorCode, r.caller])).toEqual([['denied-by-consent', 'ConsentDenied', CALLER]]);
  });

  it('refuses an override while ACCESS_ALLOW_CONSENT_OVERRIDE is off', async () => {
    expect(h.deps.config.allowConsentOverride).toBe(false);
    const vm = await newVm(otherRg, 'vm-man-override-off');
    const error = await rejection(grant({ resourceId: vm.id, registry: 'manualacr', access: 'pull', override: true }));
    expect(error.code).toBe('ConsentOverrideDisabled');
    expect(error.message).toMatch(/ACCESS_ALLOW_CONSENT_OVERRIDE is off/);
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
    const page = await h.deps.audit.query({ resourceId: vm.id });
    expect(page.items.map((r) => [r.outcome, r.errorCode])).toEqual([['denied-by-consent', 'ConsentOverrideDisabled']]);
  });

  it('grants over consent when the setting allows it, and records it as an override', async () => {
    const vm = await newVm(otherRg, 'vm-man-override-on');
    const result = await grant({ resourceId: vm.id, registry: 'manualacr', access: 'pull', override: true }, withOverride());
    expect(result).toMatchObject({ outcome: 'granted', override: true, consent: { allowed: false } });
    const assignment = (await h.assignmentsAt(acr)).find((a) => a.principalId === vm.principalId);
    expect(assignment?.description).toBe(`Managed by acr-pull-automation: manual acr-pull (consent override) by ${CALLER} on ${vm.id}`);
    const page = await h.deps.audit.query({ resourceId: vm.id });
    expect(page.items.map((r) => [r.outcome, r.details?.['consentOverride']])).toEqual([['granted', true]]);
    expect(page.items[0]!.reason).toMatch(/overrode registry consent.*same-resource-group/);
  });

  it('does not call an override one when consent already allows the grant', async () => {
    const vm = await newVm(rg, 'vm-man-override-unneeded');
    const result = await grant({ resourceId: vm.id, registry: 'manualacr', access: 'pull', override: true }, withOverride());
    expect(result).toMatchObject({ outcome: 'granted', override: false });
  });

  it.each([
    ['pull', 'a legacy registry', 'openacr', ROLES.acrPull],
    ['push', 'a legacy registry', 'openacr', ROLES.acrPush],
    ['pull', 'an ABAC registry', 'abacmanualacr', ROLES.repositoryReader],
    ['push', 'an ABAC registry', 'abacmanualacr', ROLES.repositoryWriter],
  ] as const)('grants %s on %s with %s', async (access, _what, registry, role) => {
    const vm = await newVm(rg, `vm-man-${access}-${registry}`);
    const result = await grant({ resourceId: vm.id, registry, access });
    expect(result.role).toEqual(role);
    const scope = registry === 'openacr' ? openAcr : abacAcr;
    expect((await h.assignmentsAt(scope)).filter((a) => a.principalId === vm.principalId).map((a) => a.roleDefinitionId)).toEqual([
      role.roleDefinitionId,
    ]);
  });

  it('grants a bare principal only where the registry allows *, and an override covers the rest', async () => {
    const principalId = '6a1b2c3d-0000-4000-8000-00000000abcd';
    const granted = await grant({ principalId, principalType: 'ServicePrincipal', registry: openAcr, access: 'pull' });
    expect(granted.outcome).toBe('granted');
    const assignment = (await h.assignmentsAt(openAcr)).find((a) => a.principalId === principalId);
    expect(assignment?.description).toBe(`Managed by acr-pull-automation: manual acr-pull by ${CALLER} for principal ${principalId}`);
    expect(subjectOf(parseOwnership(assignment?.description))).toBeUndefined();

    const error = await rejection(grant({ principalId, principalType: 'ServicePrincipal', registry: 'manualacr', access: 'pull' }));
    expect(error.code).toBe('ConsentDenied');
    expect(error.message).toMatch(/only acr-pull-allow=\* covers it/);
    const over = await grant(
      { principalId, principalType: 'ServicePrincipal', registry: 'manualacr', access: 'pull', override: true },
      withOverride(),
    );
    expect(over).toMatchObject({ outcome: 'granted', override: true });
  });

  it('previews a grant by principal without writing anything (the same code path, writes off)', async () => {
    const principalId = '6a1b2c3d-0000-4000-8000-00000000beef';
    await h.clearCalls();
    const before = await h.deps.audit.query({ registry: openAcr });
    const preview = await grantManually(
      h.deps,
      { principalId, principalType: 'ServicePrincipal', registry: 'openacr', access: 'push', caller: CALLER },
      { log: h.log, dryRun: true },
    );
    expect(preview.outcome).toBe('would-grant');
    expect(preview.decisions.map((d) => [d.action, d.outcome, d.role])).toEqual([
      ['grant (dry run)', 'would-grant', `AcrPush (${ROLES.acrPush.roleDefinitionId})`],
    ]);
    expect(preview.plan?.grants.map((g) => g.principalId)).toEqual([principalId]);
    const denied = await grantManually(
      h.deps,
      { principalId, principalType: 'ServicePrincipal', registry: 'manualacr', access: 'pull', caller: CALLER },
      { log: h.log, dryRun: true },
    );
    expect(denied.outcome).toBe('denied-by-consent');
    expect((await h.calls()).filter((c) => c.api !== 'admin' && (c.method === 'PUT' || c.method === 'DELETE'))).toEqual([]);
    expect((await h.deps.audit.query({ registry: openAcr })).items.length).toBe(before.items.length);
  });

  // Issue 13: push through pull consent. acr-pull-allow (even *) and ACCESS_DEFAULT_CONSENT cover pull only.
  it('refuses push by hand where the registry consents to pull only, for a resource, a bare principal and in preview', async () => {
    const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/pullonlyacr`;
    await h.put(registry, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*' },
      properties: {},
    });
    const anyDefault: Deps = { ...h.deps, config: { ...h.deps.config, defaultConsent: 'any' } };
    const vm = await newVm(rg, 'vm-man-push-pullonly');
    const forResource = await rejection(grant({ resourceId: vm.id, registry: 'pullonlyacr', access: 'push' }, anyDefault));
    expect(forResource.code).toBe('ConsentDenied');
    expect(forResource.message).toMatch(/has no acr-push-allow tag; push needs the registry's own acr-push-allow consent/);
    const principalId = '6a1b2c3d-0000-4000-8000-00000000d00d';
    const forPrincipal = await rejection(
      grant({ principalId, principalType: 'ServicePrincipal', registry: 'pullonlyacr', access: 'push' }, anyDefault),
    );
    expect(forPrincipal.message).toMatch(/acr-push-allow/);
    const preview = await grantManually(
      anyDefault,
      { resourceId: vm.id, registry: 'pullonlyacr', access: 'push', caller: CALLER },
      { log: h.log, dryRun: true },
    );
    expect(preview.outcome).toBe('denied-by-consent');
    expect(preview.consent.reason).toMatch(/acr-push-allow/);
    expect(await h.assignmentsAt(registry)).toEqual([]);
    // Pull on the same registry is unaffected.
    expect((await grant({ resourceId: vm.id, registry: 'pullonlyacr', access: 'pull' })).outcome).toBe('granted');
  });

  it('answers RegistryNotFound for a registry that does not exist', async () => {
    const vm = await newVm(rg, 'vm-man-nowhere');
    await expect(grant({ resourceId: vm.id, registry: 'nosuchacr', access: 'pull' })).rejects.toMatchObject({ code: 'RegistryNotFound' });
  });

  it('refuses a resource without a managed identity', async () => {
    const id = vmId(rg, 'vm-man-noid');
    await h.put(id, API.vm, { location: 'westeurope', properties: {} });
    await expect(grant({ resourceId: id, registry: 'manualacr', access: 'pull' })).rejects.toMatchObject({ code: 'NoManagedIdentity' });
  });
});

describe('manual grants beside the tag policy', () => {
  it('keeps a manual grant through the consumer’s and the registry’s reconciliation, and revokes it when the consumer is deleted', async () => {
    const vm = await newVm(rg, 'vm-man-kept');
    await grant({ resourceId: vm.id, registry: 'manualacr', access: 'pull' });
    const onConsumer = await reconcileResource(h.deps, vm.id, { log: h.log, trigger: { eventId: 'evt-c' } });
    expect(onConsumer.decisions.map((d) => d.outcome)).not.toContain('revoked');
    const onRegistry = await reconcileResource(h.deps, acr, { log: h.log, trigger: { eventId: 'evt-r' } });
    expect(onRegistry.decisions.filter((d) => d.principalId === vm.principalId).map((d) => d.outcome)).not.toContain('revoked');
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(true);

    await h.del(vm.id, API.vm);
    const deleted = await reconcileResource(h.deps, vm.id, { log: h.log, trigger: { eventId: 'evt-d' } });
    expect(deleted.decisions.map((d) => d.outcome)).toEqual(['revoked']);
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
  });
});

describe('manual grants and registry consent', () => {
  it('revokes manual grants made within consent when the registry narrows it, keeping an override and any grant still allowed', async () => {
    const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/narrowingacr`;
    await h.put(registry, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*' },
      properties: {},
    });
    const inRg = await newVm(rg, 'vm-man-narrow-in');
    const elsewhere = await newVm(otherRg, 'vm-man-narrow-out');
    const overridden = await newVm(otherRg, 'vm-man-narrow-override');
    const principal = 'a1b2c3d4-0000-4000-8000-00000000f00d';
    await grant({ resourceId: inRg.id, registry: 'narrowingacr', access: 'pull' });
    await grant({ resourceId: elsewhere.id, registry: 'narrowingacr', access: 'pull' });
    await grant({ principalId: principal, principalType: 'ServicePrincipal', registry: 'narrowingacr', access: 'pull' });

    // Narrowed to its own resource group: the VM elsewhere and the bare principal are no longer allowed.
    await h.put(registry, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': 'same-resource-group' },
      properties: {},
    });
    await grant({ resourceId: overridden.id, registry: 'narrowingacr', access: 'pull', override: true }, withOverride());
    const result = await reconcileResource(h.deps, registry, { log: h.log, trigger: { eventId: 'evt-narrow' } });

    const revoked = result.decisions.filter((d) => d.outcome === 'revoked');
    expect(revoked.map((d) => d.principalId).sort()).toEqual([elsewhere.principalId, principal].sort());
    expect(revoked.every((d) => /no longer allows this manual grant/.test(d.reason))).toBe(true);
    const left = (await h.assignmentsAt(registry)).map((a) => a.principalId).sort();
    expect(left).toEqual([inRg.principalId, overridden.principalId].sort());
  });

  it('revokes manual push grants when the registry removes acr-push-allow, and keeps pull', async () => {
    const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/pushwithdrawnacr`;
    await h.put(registry, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*', 'acr-push-allow': '*' },
      properties: {},
    });
    const vm = await newVm(rg, 'vm-man-push-withdrawn');
    const principal = 'a1b2c3d4-0000-4000-8000-00000000beef';
    await grant({ resourceId: vm.id, registry: 'pushwithdrawnacr', access: 'pull' });
    await grant({ resourceId: vm.id, registry: 'pushwithdrawnacr', access: 'push' });
    await grant({ principalId: principal, principalType: 'ServicePrincipal', registry: 'pushwithdrawnacr', access: 'push' });

    await h.put(registry, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-allow': '*' },
      properties: {},
    });
    const result = await reconcileResource(h.deps, registry, { log: h.log, trigger: { eventId: 'evt-push-withdrawn' } });
    const revoked = result.decisions.filter((d) => d.outcome === 'revoked');
    expect(revoked.map((d) => d.principalId).sort()).toEqual([vm.principalId, principal].sort());
    expect(revoked.every((d) => d.role?.startsWith('AcrPush') && /has no acr-push-allow tag/.test(d.reason))).toBe(true);
    expect((await h.assignmentsAt(registry)).map((a) => `${a.principalId} ${a.roleDefinitionId}`)).toEqual([
      `${vm.principalId} ${ROLES.acrPull.roleDefinitionId}`,
    ]);
  });
});

describe('revokeManually', () => {
  it('revokes only assignments it created: one made by hand stays and is refused as not ours', async () => {
    const vm = await newVm(rg, 'vm-man-revoke');
    await grant({ resourceId: vm.id, registry: 'manualacr', access: 'push' });
    await h.put(`${acr}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000aa`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.acrPull.roleDefinitionId}`,
        principalId: vm.principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });

    const pushed = await revokeManually(
      h.deps,
      { resourceId: vm.id, registry: 'manualacr', access: 'push', caller: CALLER },
      { log: h.log },
    );
    expect(pushed.outcome).toBe('revoked');
    expect(pushed.decisions.map((d) => [d.outcome, d.caller])).toEqual([['revoked', CALLER]]);

    const pulled = revokeManually(h.deps, { resourceId: vm.id, registry: 'manualacr', access: 'pull', caller: CALLER }, { log: h.log });
    expect((await rejection(pulled)).code).toBe('NotOwnedByAutomation');
    expect((await h.assignmentsAt(acr)).filter((a) => a.principalId === vm.principalId).map((a) => a.description)).toEqual([
      'made by hand',
    ]);

    const none = await revokeManually(h.deps, { resourceId: vm.id, registry: 'manualacr', access: 'push', caller: CALLER }, { log: h.log });
    expect(none.outcome).toBe('nothing-to-revoke');
  });

  it('revokes a tag-policy grant of ours too, and says the tag will bring it back', async () => {
    const vm = await newVm(rg, 'vm-man-tagged', { 'acr-pull': 'manualacr' });
    await reconcileResource(h.deps, vm.id, { log: h.log, trigger: { eventId: 'evt-t' } });
    const result = await revokeManually(
      h.deps,
      { resourceId: vm.id, registry: 'manualacr', access: 'pull', caller: CALLER },
      { log: h.log },
    );
    expect(result.outcome).toBe('revoked');
    expect(result.decisions[0]!.reason).toMatch(/grants it again/);
  });

  // Issue #14, point 1: a manual revoke for one VM of a fleet sharing an identity keeps what another VM still asks for.
  it('keeps a shared identity’s grant that another consumer still asks for, and names it', async () => {
    const fleet = await h.put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-man-fleet`, API.identity, {
      location: 'westeurope',
    });
    const principalId = String(fleet.properties.principalId);
    const vmIds = [vmId(rg, 'vm-man-fleet-1'), vmId(rg, 'vm-man-fleet-2')];
    await h.put(vmIds[0]!, API.vm, {
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [fleet.id]: {} } },
      tags: {},
      properties: {},
    });
    await h.put(vmIds[1]!, API.vm, {
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [fleet.id]: {} } },
      tags: { 'acr-pull': 'manualacr' },
      properties: {},
    });
    await reconcileResource(h.deps, vmIds[1]!, { log: h.log, trigger: { eventId: 'evt-fleet' } });

    const result = await revokeManually(
      h.deps,
      { resourceId: vmIds[0]!, registry: 'manualacr', access: 'pull', caller: CALLER },
      { log: h.log },
    );
    expect(result.outcome).toBe('kept');
    expect(result.decisions.map((d) => d.outcome)).toEqual(['kept']);
    expect(result.decisions[0]!.reason).toContain('vm-man-fleet-2');
    expect(result.decisions[0]!.details).toMatchObject({ manual: true, stillAskedBy: vmIds[1] });
    expect((await h.assignmentsAt(acr)).filter((a) => a.principalId === principalId)).toHaveLength(1);
  });

  it('revokes a bare principal’s manual grant', async () => {
    const principalId = '6a1b2c3d-0000-4000-8000-00000000c0de';
    await grant({ principalId, principalType: 'ServicePrincipal', registry: 'openacr', access: 'pull' });
    const result = await revokeManually(
      h.deps,
      { principalId, principalType: 'ServicePrincipal', registry: 'openacr', access: 'pull', caller: CALLER },
      { log: h.log },
    );
    expect(result.outcome).toBe('revoked');
    expect((await h.assignmentsAt(openAcr)).some((a) => a.principalId === principalId)).toBe(false);
  });
});

describe('role assignments per subscription (health)', () => {
  it('lists every assignment in the subscription, ours carrying the marker', async () => {
    const all = await h.deps.roleAssignments.listInSubscription(h.sub);
    const atRegistry = await h.assignmentsAt(acr);
    expect(all.length).toBeGreaterThanOrEqual(atRegistry.length);
    expect(all.every((a) => a.scope.toLowerCase().startsWith(`/subscriptions/${h.sub.toLowerCase()}`))).toBe(true);
    expect(all.filter((a) => a.description === 'made by hand').length).toBeGreaterThan(0);
    expect(all.filter((a) => a.description?.startsWith('Managed by acr-pull-automation')).length).toBeGreaterThan(0);
  });

  it('gives GET /api/health the total from one Resource Graph count, without listing, and ours as the last sweep found them', async () => {
    const probes = healthProbes(h.deps, { getApplicationByAppId: async () => undefined });
    const all = await h.deps.roleAssignments.listInSubscription(h.sub);
    await h.clearCalls();
    const counts = await probes.roleAssignments(h.sub);
    expect(counts.total).toBe(all.length);
    // O(1) in the estate: one Resource Graph request (one row), no role-assignment listing.
    const calls = (await h.calls()) as Array<{ api: string; count: number; rows?: number }>;
    expect(calls.filter((c) => c.api === 'authorization')).toEqual([]);
    expect(calls.filter((c) => c.api === 'resourceGraph').map((c) => [c.count, c.rows])).toEqual([[1, 1]]);

    // Ours come from the last sweep, which lists them anyway.
    await recordSweep(h.deps.sweepRecords, h.log, () => sweepSubscriptions(h.deps, { log: h.log, sweepId: 'health-sweep' }));
    const ours = (await h.deps.roleAssignments.listInSubscription(h.sub)).filter((a) =>
      isOurs({ ...a, roleDefinitionId: a.roleDefinitionGuid }),
    );
    const after = await probes.roleAssignments(h.sub);
    expect(ours.length).toBeGreaterThan(0);
    expect(after.owned).toBe(ours.length);
    expect(after.owned).toBeLessThan(after.total);
  });
});
