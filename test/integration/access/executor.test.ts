/**
 * The role-assignment executor's own promises (issue #14), with the real role-assignment adapter
 * against the emulator: it creates only what it will later recognise as its own, deletes only what
 * is its own (deterministic name AND our description), and never deletes while the "who still
 * asks" lookup cannot answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantAssignment, revokeAssignment } from '../../../src/assignments/executor.js';
import { DecisionRecorder } from '../../../src/audit/decisionRecorder.js';
import { TransientAzureError } from '../../../src/errors.js';
import { describeOwnership, roleAssignmentName } from '../../../src/policy/ownership.js';
import { ROLES } from '../../../src/policy/roles.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let acr: string;
let vm: string;
let principalId: string;

beforeAll(async () => {
  h = await startAccessHarness();
  const rg = await h.rg('rg-executor');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/executoracr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
    properties: {},
  });
  vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-executor`;
  principalId = String(
    (await h.put(vm, API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, tags: {}, properties: {} })).identity
      .principalId,
  );
});
afterAll(async () => h?.stop());

const run = () => new DecisionRecorder(h.deps.audit, { log: h.log, trigger: { caller: 'executor-test' } });
const ours = () => describeOwnership({ kind: 'tag-policy', tag: 'acr-pull', consumerId: vm });
const ourName = () => {
  const name = roleAssignmentName({ scope: acr, principalId, roleDefinitionId: ROLES.acrPull.roleDefinitionId });
  if (!name.ok) throw new Error(name.error);
  return name.value;
};
const grant = (r: DecisionRecorder, name: string, description: string) =>
  grantAssignment(
    h.deps,
    r,
    { name, scope: acr, scopeName: 'executoracr', principalId, principalType: 'ServicePrincipal', role: ROLES.acrPull, description },
    { resourceId: vm, reason: 'test' },
  );
const listed = async () =>
  (await h.deps.roleAssignments.listAtScope(acr, { principalId })).filter((a) => a.roleDefinitionGuid === ROLES.acrPull.roleDefinitionId);

describe('assignment executor', () => {
  it.each([
    ['a name that is not the deterministic one', () => '0c0b0a09-0000-4000-8000-0000000e0e01', ours],
    ['a description that is not ours', ourName, () => 'granted by hand'],
  ])('refuses to create an assignment with %s: it could never recognise it as its own', async (_what, name, description) => {
    const r = run();
    expect(await grant(r, name(), description())).toBe(false);
    expect(r.decisions.map((d) => [d.outcome, d.errorCode])).toEqual([['failed', 'InvalidAssignment']]);
    expect(await listed()).toEqual([]);
  });

  it('leaves an assignment whose description was copied onto another name, and says why', async () => {
    const name = '0c0b0a09-0000-4000-8000-0000000e0e02';
    await h.put(`${acr}/providers/Microsoft.Authorization/roleAssignments/${name}`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.acrPull.roleDefinitionId}`,
        principalId,
        principalType: 'ServicePrincipal',
        description: ours(),
      },
    });
    const [copied] = await listed();
    const r = run();
    expect(await revokeAssignment(h.deps, r, copied!, { resourceId: vm, reason: 'test', scopeName: 'executoracr' })).toBe('not-ours');
    expect(r.decisions[0]).toMatchObject({ outcome: 'skipped', errorCode: 'NotOwnedByAutomation' });
    expect(r.decisions[0]!.reason).toMatch(/not our deterministic name/);
    expect((await listed()).map((a) => a.name)).toEqual([name]);
    await h.deps.roleAssignments.delete(acr, name);
  });

  it('keeps ours when who still asks cannot be looked up, and asks for a retry', async () => {
    const r = run();
    expect(await grant(r, ourName(), ours())).toBe(true);
    const [assignment] = await listed();
    const unavailable = async (): Promise<never> => {
      throw new TransientAzureError('ServiceUnavailable', 'Resource Graph is unavailable');
    };
    expect(
      await revokeAssignment(h.deps, r, assignment!, { resourceId: vm, reason: 'test', scopeName: 'executoracr', askers: unavailable }),
    ).toBe('failed');
    expect(r.decisions.at(-1)).toMatchObject({ outcome: 'failed', errorCode: 'ServiceUnavailable' });
    expect(() => r.throwIfRetryNeeded()).toThrow(TransientAzureError);
    expect(await listed()).toHaveLength(1);

    // With an answer that nobody else asks, it goes.
    expect(
      await revokeAssignment(h.deps, run(), assignment!, {
        resourceId: vm,
        reason: 'test',
        scopeName: 'executoracr',
        askers: async () => [],
      }),
    ).toBe('revoked');
    expect(await listed()).toEqual([]);
  });
});
