import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createArmClient } from '../../../src/azure/arm.js';
import { enrolRegistry, listEnrolments, rotateNow, unenrolRegistry } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => world?.stop());

describe('enrolment', () => {
  it('creates the application, grants AcrPull on the registry only and stores proven credentials in Key Vault', async () => {
    const { registryId, registryName, vaultName } = await world.newRegistry();
    const deps = world.deps();
    const result = await enrolRegistry(deps, { registryId, vaultName });
    expect(result.outcome).toBe('enrolled');
    expect(result.rotation?.outcome).toBe('rotated');
    const appId = result.enrolment.appId!;
    expect(appId).toMatch(/^[0-9a-f-]{36}$/);

    const served = await world.servedPassword(registryName, vaultName, appId);
    expect(served.works).toBe(true);
    expect(served.keyId).toBe(result.enrolment.currentKeyId);

    const usr = await deps.vaults.getSecret(vaultName, `${registryName}-pull-usr`);
    expect(usr?.value.reveal()).toBe(appId);
    const pwd = await deps.vaults.getSecret(vaultName, `${registryName}-pull-pwd`);
    expect(pwd?.contentType).toBe('text/plain; acr-pull-password');
    expect(pwd?.tags).toMatchObject({ appId, keyId: result.enrolment.currentKeyId });
    expect(pwd?.tags['rotatedAt']).toMatch(/^\d{4}-/);
    expect(pwd?.expiresOn?.getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);

    const audit = await world.audit.query({ registry: registryId });
    expect(audit.items.map((r) => r.outcome)).toEqual(expect.arrayContaining(['enrolled', 'granted', 'rotated']));
    expect(audit.items.find((r) => r.outcome === 'granted')?.role).toMatch(/^AcrPull/);

    // A repeated enrolment changes nothing.
    const again = await enrolRegistry(deps, { registryId, vaultName });
    expect(again.outcome).toBe('already-enrolled');
    expect(await world.passwordsOnApp(appId)).toHaveLength(1);
    expect((await listEnrolments(deps)).map((e) => e.registryId)).toContain(registryId);
  });

  it('grants Container Registry Repository Reader on a registry in ABAC repository mode', async () => {
    const { registryId, vaultName } = await world.newRegistry({ roleAssignmentMode: 'AbacRepositoryPermissions' });
    await enrolRegistry(world.deps(), { registryId, vaultName });
    const audit = await world.audit.query({ registry: registryId });
    const grant = audit.items.find((r) => r.action === 'grant');
    expect(grant?.role).toMatch(/^Container Registry Repository Reader/);
    expect(grant?.reason).toMatch(/AbacRepositoryPermissions/);
  });

  it('stops rotating after un-enrolment and keeps the application by default', async () => {
    const { registryId, registryName, vaultName } = await world.newRegistry();
    const deps = world.deps();
    const enrolled = await enrolRegistry(deps, { registryId, vaultName });
    const result = await unenrolRegistry(deps, registryId);
    expect(result).toEqual({ outcome: 'unenrolled', applicationDeleted: false });
    expect((await rotateNow(deps, registryId)).outcome).toBe('not-enrolled');
    expect((await world.servedPassword(registryName, vaultName, enrolled.enrolment.appId!)).works).toBe(true);
  });

  it('deletes the application on un-enrolment when CREDENTIALS_DELETE_APP_ON_UNENROL is true, and its pull role first', async () => {
    const { registryId, vaultName } = await world.newRegistry();
    const deps = world.deps({ config: { ...world.config, deleteApplicationOnUnenrol: true } });
    const enrolled = await enrolRegistry(deps, { registryId, vaultName });
    const principalId = enrolled.enrolment.servicePrincipalId!;
    expect(await deps.roleAssignments.listAtScope(registryId, { principalId })).toHaveLength(1);
    const result = await unenrolRegistry(deps, registryId);
    expect(result).toEqual({ outcome: 'unenrolled', applicationDeleted: true });
    expect(await deps.graph.getApplicationByAppId(enrolled.enrolment.appId!)).toBeUndefined();
    expect(await deps.roleAssignments.listAtScope(registryId, { principalId })).toEqual([]);
    const audit = await world.audit.query({ registry: registryId });
    expect(audit.items.filter((r) => r.action === 'revoke').map((r) => r.outcome)).toEqual(['revoked']);
  });

  // Issue 14: the pull role is revoked through the executor, which deletes only what is ours — the
  // deterministic name AND our description. An owner who took the assignment over by rewriting its
  // description (ARM updates it in place under the same name) keeps it; the old code deleted by name.
  it('leaves a pull role whose description an owner rewrote, and records that it is not ours', async () => {
    const { registryId, vaultName } = await world.newRegistry();
    const deps = world.deps({ config: { ...world.config, deleteApplicationOnUnenrol: true } });
    const enrolled = await enrolRegistry(deps, { registryId, vaultName });
    const principalId = enrolled.enrolment.servicePrincipalId!;
    const [ours] = await deps.roleAssignments.listAtScope(registryId, { principalId });
    expect(ours?.description).toMatch(/^Managed by acr-pull-automation: pull credentials for /);

    // As the operator: the same assignment (name, principal, role), another description.
    const operatorArm = createArmClient(world.config, world.operator, world.emulator.clientOptions);
    const taken = await operatorArm.pathUnchecked(`${registryId}/providers/Microsoft.Authorization/roleAssignments/${ours!.name}`).put({
      queryParameters: { 'api-version': '2022-04-01' },
      body: {
        properties: {
          roleDefinitionId: `/subscriptions/${world.config.watchedSubscriptions[0]}/providers/Microsoft.Authorization/roleDefinitions/${ours!.roleDefinitionGuid}`,
          principalId,
          principalType: 'ServicePrincipal',
          description: 'pull for the legacy build agents, kept by the platform team',
        },
      },
    });
    expect(taken.status).toBe('200');

    const result = await unenrolRegistry(deps, registryId);
    expect(result).toEqual({ outcome: 'unenrolled', applicationDeleted: true });
    expect(await deps.roleAssignments.listAtScope(registryId, { principalId })).toMatchObject([
      { name: ours!.name, description: 'pull for the legacy build agents, kept by the platform team' },
    ]);
    const audit = await world.audit.query({ registry: registryId });
    const revokes = audit.items.filter((r) => r.action === 'revoke');
    expect(revokes).toMatchObject([{ outcome: 'skipped', errorCode: 'NotOwnedByAutomation', principalId }]);
    expect(revokes[0]!.reason).toMatch(/was not made by the automation; it is left as it is/);
  });

  it('stops the enrolment where a platform policy refuses the pull role, records why, and enrols once it is lifted', async () => {
    const { registryId, vaultName } = await world.newRegistry();
    const deps = world.deps();
    await world.emulator.admin('PUT', '/arm/policies/no-pull-credentials', {
      scopePrefix: registryId,
      roleDefinitionId: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
      displayName: 'No AcrPull for service principals here',
    });
    try {
      await expect(enrolRegistry(deps, { registryId, vaultName })).rejects.toMatchObject({ code: 'RequestDisallowedByPolicy' });
    } finally {
      await world.emulator.admin('DELETE', '/arm/policies/no-pull-credentials');
    }
    const row = await deps.store.get(registryId);
    expect(row).toMatchObject({ status: 'enrolling', lastErrorCode: 'RequestDisallowedByPolicy' });
    expect(row?.role).toBeUndefined();
    expect(await deps.vaults.getSecret(vaultName, `${row!.registryName}-pull-pwd`)).toBeUndefined();
    const audit = await world.audit.query({ registry: registryId });
    expect(audit.items.filter((r) => r.action === 'grant')).toMatchObject([
      { outcome: 'denied-by-platform-policy', errorCode: 'RequestDisallowedByPolicy' },
    ]);

    expect((await enrolRegistry(deps, { registryId, vaultName })).outcome).toBe('enrolled');
  });

  it('refuses a vault that does not exist', async () => {
    const { registryId } = await world.newRegistry();
    await expect(enrolRegistry(world.deps(), { registryId, vaultName: 'kv-missing' })).rejects.toMatchObject({ code: 'VaultNotFound' });
  });
});
