/**
 * Issue 13 (points 2, 4 and 7) and issue 14 (point 5), end to end: resources are written by real
 * ARM requests on the emulator, ARM's events reach the app's `resourceEvents` function through
 * Event Grid delivery to the local Functions host, and the outcome is read back through ARM role
 * assignments, the emulator's record of what was written to ACR tasks, and the audit table.
 *
 *   - push needs the registry's own `acr-push-allow`; pull consent and the default never give it;
 *   - a grant is decided on consent read from ARM at that moment, never on a cached copy;
 *   - an ACR task's custom-registry credential follows what the task asks for, whoever assigned
 *     the role, and an entry the automation did not write is never changed or removed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { describeOwnership, roleAssignmentName } from '../../src/policy/ownership.js';
import { ROLES } from '../../src/policy/roles.js';
import { aHandMadeAssignment, anAcrTask, aRegistry, aVirtualMachine, startAccessStack, type AccessStack } from '../support/e2eAccess.js';

let s: AccessStack;
let rg: string;

const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const vmId = (name: string) => `${rg}/providers/Microsoft.Compute/virtualMachines/${name}`;
const roleNames: Readonly<Record<string, string>> = Object.fromEntries(Object.values(ROLES).map((r) => [r.roleDefinitionId, r.name]));
/** The roles a principal holds at exactly this registry, by name, sorted. */
const rolesOf = async (registry: string, principalId: string) =>
  (await s.assignmentsAt(registry))
    .filter((a) => a.principalId.toLowerCase() === principalId.toLowerCase())
    .map((a) => roleNames[a.roleDefinitionGuid] ?? a.roleDefinitionGuid)
    .sort();
const rows = (all: readonly AuditRecord[], action: string, outcome: string) =>
  all.filter((r) => r.action === action && r.outcome === outcome);
/** What the emulator holds as written to a task's credentials.customRegistries (ARM never echoes the values). */
const writtenCustomRegistries = async (taskId: string) => {
  const state = await s.admin<{ modules: { arm: { resources: Array<{ id: string; written?: { customRegistries?: unknown } }> } } }>(
    'GET',
    '/state',
  );
  return state.modules.arm.resources.find((r) => r.id.toLowerCase() === taskId.toLowerCase())?.written?.customRegistries;
};

beforeAll(async () => {
  // The default consent at its most open: push must still need the registry's own acr-push-allow.
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
    appSettings: { ACCESS_DEFAULT_CONSENT: 'any' },
  });
  rg = await s.resourceGroup('rg-consent');
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

describe('push needs the registry’s own consent (acr-push-allow)', () => {
  it('grants pull but not push on a registry tagged only acr-pull-allow, and says why', async () => {
    await s.put(registryId('pullonlyacr'), aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const vm = await s.put(vmId('vm-asks-push'), aVirtualMachine({ tags: { 'acr-pull': 'pullonlyacr', 'acr-push': 'pullonlyacr' } }));
    await s.idle();
    expect(await rolesOf(registryId('pullonlyacr'), vm.identity.principalId)).toEqual(['AcrPull']);
    const denied = rows(await s.audit(vmId('vm-asks-push')), 'grant', 'denied-by-consent');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]!.reason).toMatch(
      /\(acr-push\), but registry pullonlyacr has no acr-push-allow tag; push needs the registry's own acr-push-allow consent/,
    );
  });

  it('never gives push through ACCESS_DEFAULT_CONSENT: a registry with no consent tag gets pull from the default, not push', async () => {
    await s.put(registryId('untaggedacr'), aRegistry());
    const vm = await s.put(vmId('vm-default'), aVirtualMachine({ tags: { 'acr-pull': 'untaggedacr', 'acr-push': 'untaggedacr' } }));
    await s.idle();
    expect(await rolesOf(registryId('untaggedacr'), vm.identity.principalId)).toEqual(['AcrPull']);
    const audit = await s.audit(vmId('vm-default'));
    expect(rows(audit, 'grant', 'granted')[0]?.reason).toMatch(/has no acr-pull-allow tag and the default is any/);
    expect(rows(audit, 'grant', 'denied-by-consent')[0]?.reason).toMatch(/untaggedacr has no acr-push-allow tag; push needs/);
  });

  it('revokes a push grant of ours that was made without push consent, with a row saying why, and keeps pull', async () => {
    const vm = vmId('vm-old-push');
    const body = await s.put(vm, aVirtualMachine({ tags: { 'acr-pull': 'pullonlyacr' } }));
    await s.idle();
    const principalId = body.identity.principalId as string;
    // What an earlier version granted through pull consent alone: our name, our marker, naming the consumer.
    const name = roleAssignmentName({ scope: registryId('pullonlyacr'), principalId, roleDefinitionId: ROLES.acrPush.roleDefinitionId });
    if (!name.ok) throw new Error(name.error);
    const earlier = aHandMadeAssignment(s.subscriptionId, ROLES.acrPush.roleDefinitionId, principalId);
    (earlier.body['properties'] as Record<string, unknown>)['description'] = describeOwnership({
      kind: 'tag-policy',
      tag: 'acr-push',
      consumerId: vm,
    });
    await s.put(`${registryId('pullonlyacr')}/providers/Microsoft.Authorization/roleAssignments/${name.value}`, earlier);
    expect(await rolesOf(registryId('pullonlyacr'), principalId)).toEqual(['AcrPull', 'AcrPush']);

    await s.tag(vm, { 'acr-push': 'pullonlyacr' });
    await s.idle();
    expect(await rolesOf(registryId('pullonlyacr'), principalId)).toEqual(['AcrPull']);
    const revoked = rows(await s.audit(vm), 'revoke', 'revoked');
    expect(revoked.map((r) => r.role)).toEqual([`AcrPush (${ROLES.acrPush.roleDefinitionId})`]);
    expect(revoked[0]!.reason).toMatch(
      /registry pullonlyacr does not allow vm-old-push to push \(AcrPush is revoked\): .*has no acr-push-allow tag/,
    );
  });

  it('grants push where the registry consents with acr-push-allow, and revokes only push when the registry removes it', async () => {
    const registry = registryId('pushableacr');
    await s.put(registry, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group', 'acr-push-allow': 'same-resource-group' } }));
    const vm = vmId('vm-ci');
    const body = await s.put(vm, aVirtualMachine({ tags: { 'acr-pull': 'pushableacr', 'acr-push': 'pushableacr' } }));
    await s.idle();
    const principalId = body.identity.principalId as string;
    expect(await rolesOf(registry, principalId)).toEqual(['AcrPull', 'AcrPush']);
    expect(rows(await s.audit(vm), 'grant', 'granted').find((r) => r.role?.startsWith('AcrPush'))?.reason).toMatch(
      /registry pushableacr allows push by same-resource-group; vm-ci is in rg-consent/,
    );

    // The registry's own event: acr-push-allow removed (pull consent kept).
    await s.tag(registry, { 'acr-pull-allow': 'same-resource-group' }, 'Replace');
    await s.idle();
    expect(await rolesOf(registry, principalId)).toEqual(['AcrPull']);
    const revoked = rows(await s.auditForRegistry(registry), 'revoke', 'revoked');
    expect(revoked.map((r) => [r.principalId?.toLowerCase(), r.role])).toEqual([
      [principalId.toLowerCase(), `AcrPush (${ROLES.acrPush.roleDefinitionId})`],
    ]);
    expect(revoked[0]!.reason).toMatch(/has no acr-push-allow tag/);
  });
});

describe('consent for a grant is read from ARM, never from a cache', () => {
  it('denies a consumer tagged after the registry withdrew consent in an event this instance never got', async () => {
    const registry = registryId('staleacr');
    await s.put(registry, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    // A first consumer: the app looks the registry up and caches what it found (consent: same-resource-group).
    const first = await s.put(vmId('vm-stale-1'), aVirtualMachine({ tags: { 'acr-pull': 'staleacr' } }));
    await s.idle();
    expect(await rolesOf(registry, first.identity.principalId)).toEqual(['AcrPull']);

    // The registry withdraws consent, and Event Grid loses that event (as after its retry window).
    await s.admin('PUT', '/faults', { events: { dropRate: 1 } });
    try {
      await s.tag(registry, { 'acr-pull-allow': 'none' });
    } finally {
      await s.admin('PUT', '/faults', { events: { dropRate: 0 } });
    }
    await s.idle();
    const lost = (await s.admin<{ value: Array<{ event: { subject: string } }> }>('GET', '/eventgrid/deadletters')).value;
    expect(lost.some((d) => d.event.subject.toLowerCase() === registry.toLowerCase())).toBe(true);

    // Another consumer asks: the cached copy still says same-resource-group; ARM says none.
    const second = await s.put(vmId('vm-stale-2'), aVirtualMachine({ tags: { 'acr-pull': 'staleacr' } }));
    await s.idle();
    expect(await rolesOf(registry, second.identity.principalId)).toEqual([]);
    const audit = await s.audit(vmId('vm-stale-2'));
    expect(rows(audit, 'grant', 'granted')).toEqual([]);
    expect(rows(audit, 'grant', 'denied-by-consent')[0]?.reason).toMatch(/registry staleacr allows none \(acr-pull-allow=none\)/);
  });
});

describe('ACR task registry credentials', () => {
  it('sets the credential for a registry the task identity already holds AcrPull on by hand, and removes it when the task stops asking', async () => {
    const registry = registryId('handpullacr');
    await s.put(registry, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    await s.put(registryId('buildhostacr'), aRegistry());
    const task = `${registryId('buildhostacr')}/tasks/hand-pull`;
    const body = await s.put(task, anAcrTask());
    await s.idle();
    const principalId = body.identity.principalId as string;
    await s.put(
      `${registry}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000e1`,
      aHandMadeAssignment(s.subscriptionId, ROLES.acrPull.roleDefinitionId, principalId),
    );

    await s.tag(task, { 'acr-pull': 'handpullacr' });
    await s.idle();
    expect(await writtenCustomRegistries(task)).toEqual({ 'handpullacr.azurecr.io': { identity: '[system]' } });
    const audit = await s.audit(task);
    expect(rows(audit, 'task-credential', 'granted')).toHaveLength(1);
    // The role stays the one made by hand: nothing of ours is added beside it.
    expect((await s.assignmentsAt(registry)).map((a) => a.description)).toEqual(['granted by hand for the build team']);

    await s.tag(task, {}, 'Replace');
    await s.idle();
    expect(await writtenCustomRegistries(task)).toEqual({});
    expect((await s.assignmentsAt(registry)).map((a) => a.description)).toEqual(['granted by hand for the build team']);
  });

  it('never changes or removes a credential entry the automation did not add, and says so', async () => {
    const registry = registryId('pwdpullacr');
    await s.put(registry, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    await s.put(registryId('buildhostacr'), aRegistry());
    const task = `${registryId('buildhostacr')}/tasks/by-password`;
    // Set by hand with a user name and password. Follows containerregistry/.../2019-06-01-preview/
    // examples/TasksUpdate_WithOpaqueCustomCredentials.json.
    const theirs = { userName: { type: 'Opaque', value: 'builder' }, password: { type: 'Opaque', value: 'e2e-not-a-real-password' } };
    const write = anAcrTask();
    (write.body['properties'] as Record<string, unknown>)['credentials'] = { customRegistries: { 'pwdpullacr.azurecr.io': theirs } };
    const body = await s.put(task, write);
    await s.idle();
    expect(body.properties.credentials.customRegistries).toEqual({ 'pwdpullacr.azurecr.io': null });

    await s.tag(task, { 'acr-pull': 'pwdpullacr' });
    await s.idle();
    expect(await rolesOf(registry, body.identity.principalId)).toEqual(['AcrPull']);
    expect(await writtenCustomRegistries(task)).toEqual({ 'pwdpullacr.azurecr.io': theirs });
    const audit = await s.audit(task);
    const left = rows(audit, 'task-credential', 'skipped');
    expect(left.length).toBeGreaterThanOrEqual(1);
    expect(left[0]!.reason).toMatch(
      /already has a credential for pwdpullacr\.azurecr\.io that the automation did not set .* left as it is/,
    );
    expect(rows(audit, 'task-credential', 'granted')).toEqual([]);
    expect(JSON.stringify(audit)).not.toContain('e2e-not-a-real-password');

    // The task stops asking: our role goes, their entry stays.
    await s.tag(task, {}, 'Replace');
    await s.idle();
    expect(await rolesOf(registry, body.identity.principalId)).toEqual([]);
    expect(await writtenCustomRegistries(task)).toEqual({ 'pwdpullacr.azurecr.io': theirs });
  });
});
