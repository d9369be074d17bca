/**
 * The event-driven entry points of pull credentials and the enrolment variants, against the
 * emulator and Azurite with the real adapters:
 *   - onRegistryChanged: what the resource-event handler calls with the registry it read from ARM;
 *   - onSecretNearExpiry: Key Vault's `Microsoft.KeyVault.SecretNearExpiry` for secrets we manage
 *     and for everything else;
 *   - adopting an existing application (appId);
 *   - re-enrolment into another vault (docs/pull-credentials.md, "Change the vault").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP } from '../../../emulator/index.js';
import { applicationDisplayName, passwordSecretName, usernameSecretName } from '../../../src/credentials/enrolment.js';
import {
  enrolRegistry,
  onRegistryChanged,
  onSecretNearExpiry,
  rotateIfDue,
  rotateNow,
  unenrolRegistry,
} from '../../../src/credentials/useCases.js';
import { Secret } from '../../../src/secret.js';
import { startWorld, type World } from './world.js';

const HOUR_MS = 3_600_000;
const VAULT_TAG = 'acr-pull-credential';
const DAYS_TAG = 'acr-pull-credential-days';

let world: World;
beforeAll(async () => {
  world = await startWorld({ ROTATION_GRACE_HOURS: '24' });
});
afterAll(async () => world?.stop());

/** A registry created with these tags, as the resource-event handler reads it from ARM. */
async function registryWithTags(tags: (vaultName: string) => Record<string, string>) {
  const created = await world.newRegistry();
  const read = async (t: Record<string, string>) => ({ ...(await world.deps().arm.getResource(created.registryId))!, tags: t });
  return { ...created, resource: await read(tags(created.vaultName)), read };
}

describe('onRegistryChanged', () => {
  it('enrols a registry tagged acr-pull-credential=<vault>, with the period from acr-pull-credential-days, once', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault, [DAYS_TAG]: '45' }));
    const deps = world.deps();
    expect(await onRegistryChanged(deps, r.resource, { trigger: { eventId: 'ev-1' } })).toEqual({ outcome: 'enrolled' });
    const row = (await deps.store.get(r.registryId))!;
    expect(row).toMatchObject({ status: 'active', vaultName: r.vaultName, periodDays: 45, phase: 'idle' });
    expect((await world.servedPassword(r.registryName, r.vaultName, row.appId!)).works).toBe(true);
    const pwd = await deps.vaults.getSecret(r.vaultName, passwordSecretName(r.registryName));
    expect(pwd!.expiresOn!.getTime() - Date.now()).toBeGreaterThan(44.9 * 24 * HOUR_MS);
    expect((await world.audit.query({ registry: r.registryId })).items.find((a) => a.outcome === 'enrolled')?.eventId).toBe('ev-1');

    // The same registry event again (Event Grid delivers at least once): nothing changes.
    expect(await onRegistryChanged(deps, r.resource)).toEqual({ outcome: 'already-enrolled' });
    expect(await world.passwordsOnApp(row.appId!)).toHaveLength(1);
  });

  it('un-enrols when the tag is removed: rotation stops, the application and the secrets stay', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault }));
    const deps = world.deps();
    await onRegistryChanged(deps, r.resource);
    const appId = (await deps.store.get(r.registryId))!.appId!;

    expect(await onRegistryChanged(deps, await r.read({ team: 'platform' }))).toEqual({ outcome: 'unenrolled' });
    expect((await deps.store.get(r.registryId))!.status).toBe('unenrolled');
    expect((await rotateNow(deps, r.registryId)).outcome).toBe('not-enrolled');
    expect((await rotateIfDue(world.deps({ now: () => new Date(Date.now() + 365 * 24 * HOUR_MS) }), r.registryId)).outcome).toBe(
      'not-enrolled',
    );
    expect(await deps.graph.getApplicationByAppId(appId)).toBeDefined();
    expect((await world.servedPassword(r.registryName, r.vaultName, appId)).works).toBe(true);
    const unenrolled = (await world.audit.query({ registry: r.registryId })).items.find((a) => a.outcome === 'unenrolled');
    expect(unenrolled?.reason).toMatch(/tag acr-pull-credential removed/);

    // Further writes of the untagged registry are no-ops; tagging it again enrols it again, same application.
    expect(await onRegistryChanged(deps, await r.read({}))).toEqual({ outcome: 'not-enrolled' });
    expect(await onRegistryChanged(deps, await r.read({ [VAULT_TAG]: r.vaultName }))).toEqual({ outcome: 'enrolled' });
    expect((await deps.store.get(r.registryId))!).toMatchObject({ status: 'active', appId });
  });

  it.each([
    ['a vault name Key Vault would refuse', { [VAULT_TAG]: 'x' }],
    ['a period that is not a whole number of days', { [VAULT_TAG]: 'kv-valid', [DAYS_TAG]: 'soon' }],
  ])('records an audit row for invalid tags (%s) and changes nothing', async (_what, tags) => {
    const r = await registryWithTags(() => tags);
    const deps = world.deps();
    expect(await onRegistryChanged(deps, r.resource, { trigger: { eventId: 'ev-bad', caller: 'someone' } })).toEqual({
      outcome: 'invalid-tags',
    });
    expect(await deps.store.get(r.registryId)).toBeUndefined();
    const rows = (await world.audit.query({ registry: r.registryId })).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'enrol',
      outcome: 'rejected-input',
      errorCode: 'InvalidTag',
      eventId: 'ev-bad',
      caller: 'someone',
      resourceId: r.registryId,
    });
    expect(rows[0]!.reason).toMatch(/acr-pull-credential/);
  });

  it('leaves an enrolled registry as it is when its tags become invalid', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault }));
    const deps = world.deps();
    await onRegistryChanged(deps, r.resource);
    const before = (await deps.store.get(r.registryId))!;
    expect(await onRegistryChanged(deps, await r.read({ [VAULT_TAG]: r.vaultName, [DAYS_TAG]: '-1' }))).toEqual({
      outcome: 'invalid-tags',
    });
    expect((await deps.store.get(r.registryId))!).toMatchObject({
      status: 'active',
      currentKeyId: before.currentKeyId,
      vaultName: r.vaultName,
    });
  });

  it('un-enrols a deleted registry, and a registry it never enrolled is not-enrolled', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault }));
    const deps = world.deps();
    await onRegistryChanged(deps, r.resource);
    expect(await onRegistryChanged(deps, { id: r.registryId, deleted: true })).toEqual({ outcome: 'unenrolled' });
    expect((await world.audit.query({ registry: r.registryId })).items.find((a) => a.outcome === 'unenrolled')?.reason).toMatch(
      /registry deleted/,
    );
    const never = await world.newRegistry();
    expect(await onRegistryChanged(deps, { id: never.registryId, deleted: true })).toEqual({ outcome: 'not-enrolled' });
  });
});

describe('onSecretNearExpiry', () => {
  it('rotates a -pull-pwd secret it manages when Key Vault warns about the version it serves', async () => {
    const r = await world.newRegistry();
    const deps = world.deps();
    const enrolled = await enrolRegistry(deps, { registryId: r.registryId, vaultName: r.vaultName });
    const appId = enrolled.enrolment.appId!;
    const served = await deps.vaults.getSecret(r.vaultName, passwordSecretName(r.registryName));

    // Event data as on the wire: PascalCase, names as Key Vault has them.
    const result = await onSecretNearExpiry(
      deps,
      { VaultName: r.vaultName.toUpperCase(), ObjectName: passwordSecretName(r.registryName), Version: served!.version },
      { trigger: { eventId: 'kv-1' } },
    );
    expect(result.outcome).toBe('rotated');
    const after = await world.servedPassword(r.registryName, r.vaultName, appId);
    expect(after.works).toBe(true);
    expect(after.keyId).not.toBe(enrolled.enrolment.currentKeyId);
    const rotated = (await world.audit.query({ registry: r.registryId })).items.find(
      (a) => a.outcome === 'rotated' && a.details?.['previousKeyId'],
    );
    expect(rotated).toMatchObject({ eventId: 'kv-1' });

    // The same warning delivered again names a version we no longer serve: nothing more happens.
    expect(
      await onSecretNearExpiry(deps, { VaultName: r.vaultName, ObjectName: passwordSecretName(r.registryName), Version: served!.version }),
    ).toEqual({ outcome: 'already-replaced' });
    expect(await world.passwordsOnApp(appId)).toHaveLength(2);
    // A warning without a version is taken to mean the current one. The password served until a
    // moment ago is in its grace period (ROTATION_GRACE_HOURS=24), so the rotation is deferred, never forced.
    const again = await onSecretNearExpiry(deps, { VaultName: r.vaultName, ObjectName: passwordSecretName(r.registryName), Version: null });
    expect(again).toMatchObject({ outcome: 'deferred', deferredUntil: (await deps.store.get(r.registryId))!.previousRemoveAfter });
    expect(await world.passwordsOnApp(appId)).toHaveLength(2);
    expect((await deps.proof.prove(appId, served!.value)).ok).toBe(true);
  });

  it('ignores secrets it does not manage: other secrets, the username, other vaults, un-enrolled registries', async () => {
    const r = await world.newRegistry();
    const deps = world.deps();
    const enrolled = await enrolRegistry(deps, { registryId: r.registryId, vaultName: r.vaultName });
    await deps.vaults.setSecret(r.vaultName, 'db-password', new Secret('not ours'), { contentType: 'text/plain', tags: {} });
    const otherVault = await world.newVault(r.registryId);

    const events = [
      { VaultName: r.vaultName, ObjectName: 'db-password' },
      { VaultName: r.vaultName, ObjectName: usernameSecretName(r.registryName) },
      { VaultName: otherVault, ObjectName: passwordSecretName(r.registryName) },
      { VaultName: r.vaultName, ObjectName: 'someoneelse-pull-pwd' },
    ];
    for (const event of events) expect(await onSecretNearExpiry(deps, event)).toEqual({ outcome: 'not-ours' });

    await unenrolRegistry(deps, r.registryId);
    expect(await onSecretNearExpiry(deps, { VaultName: r.vaultName, ObjectName: passwordSecretName(r.registryName) })).toEqual({
      outcome: 'not-ours',
    });
    expect((await world.passwordsOnApp(enrolled.enrolment.appId!)).map((p) => p.keyId)).toEqual([enrolled.enrolment.currentKeyId]);
  });
});

describe('adopting an existing application', () => {
  /** An application someone made by hand, with one password of their own, owned by the app's identity. */
  async function handMadeApplication(displayName: string) {
    const appId = crypto.randomUUID();
    const seeded = await world.emulator.admin('POST', '/seed', {
      graph: {
        applications: [
          { appId, displayName, owners: [APP.objectId], passwords: [{ secretText: `hand-made-${appId}`, displayName: 'made by hand' }] },
        ],
      },
    });
    expect(seeded.status).toBeLessThan(300);
    return appId;
  }

  it('adopts the given appId: its service principal gets the pull role, Key Vault a proven password, and passwords it did not create stay', async () => {
    const r = await world.newRegistry();
    const appId = await handMadeApplication('contoso-ci-pull');
    const deps = world.deps({ config: { ...world.config, rotationGraceHours: 0, deleteApplicationOnUnenrol: true } });
    const result = await enrolRegistry(deps, { registryId: r.registryId, vaultName: r.vaultName, appId });
    expect(result.outcome).toBe('enrolled');
    expect(result.enrolment.appId).toBe(appId);
    expect(result.enrolment.servicePrincipalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await deps.graph.findApplicationsByDisplayName(applicationDisplayName(r.registryName))).toEqual([]);
    expect((await world.servedPassword(r.registryName, r.vaultName, appId)).works).toBe(true);
    const usr = await deps.vaults.getSecret(r.vaultName, usernameSecretName(r.registryName));
    expect(usr!.value.reveal()).toBe(appId);
    const audit = (await world.audit.query({ registry: r.registryId })).items;
    expect(audit.some((a) => /adopted existing application/.test(a.reason))).toBe(true);
    expect(audit.find((a) => a.action === 'grant')?.role).toMatch(/^AcrPull/);

    // Rotations replace only our passwords; the hand-made one is not ours to remove.
    await rotateNow(deps, r.registryId);
    await rotateNow(deps, r.registryId);
    const passwords = await world.passwordsOnApp(appId);
    expect(passwords.map((p) => p.displayName)).toContain('made by hand');
    expect(passwords.filter((p) => p.displayName !== 'made by hand')).toHaveLength(1);

    // Un-enrolment never deletes an application it was given, even with CREDENTIALS_DELETE_APP_ON_UNENROL.
    expect(await unenrolRegistry(deps, r.registryId)).toEqual({ outcome: 'unenrolled', applicationDeleted: false });
    expect(await deps.graph.getApplicationByAppId(appId)).toBeDefined();
  });

  it('refuses an appId the app cannot see (it owns only what it created or was made owner of)', async () => {
    const r = await world.newRegistry();
    await expect(
      enrolRegistry(world.deps(), { registryId: r.registryId, vaultName: r.vaultName, appId: crypto.randomUUID() }),
    ).rejects.toMatchObject({ code: 'ApplicationNotFound' });
  });
});

describe('re-enrolment into another vault', () => {
  it('stores the username and a new proven password in the new vault; the old vault keeps its secrets, whose password is retired after the grace period', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault }));
    const deps = world.deps();
    await onRegistryChanged(deps, r.resource);
    const first = (await deps.store.get(r.registryId))!;
    const appId = first.appId!;
    const newVault = await world.newVault(r.registryId);

    expect(await onRegistryChanged(deps, await r.read({ [VAULT_TAG]: newVault }))).toEqual({ outcome: 'enrolled' });
    const row = (await deps.store.get(r.registryId))!;
    expect(row).toMatchObject({ status: 'active', vaultName: newVault, appId, previousKeyId: first.currentKeyId });
    expect(row.currentKeyId).not.toBe(first.currentKeyId);

    const inNew = await world.servedPassword(r.registryName, newVault, appId);
    expect(inNew).toMatchObject({ works: true, keyId: row.currentKeyId });
    expect((await deps.vaults.getSecret(newVault, usernameSecretName(r.registryName)))!.value.reveal()).toBe(appId);
    // The old vault still serves the old password, which keeps working for the grace period.
    const inOld = await world.servedPassword(r.registryName, r.vaultName, appId);
    expect(inOld).toMatchObject({ works: true, keyId: first.currentKeyId });
    expect(await world.passwordsOnApp(appId)).toHaveLength(2);
    const enrolledRow = (await world.audit.query({ registry: r.registryId })).items.find(
      (a) => a.outcome === 'enrolled' && a.details?.['vaultName'] === newVault,
    );
    expect(enrolledRow?.reason).toMatch(new RegExp(newVault));

    // After the grace period the timer removes it: only the new vault's password works.
    const later = world.deps({ now: () => new Date(Date.now() + 25 * HOUR_MS) });
    expect((await rotateIfDue(later, r.registryId)).outcome).toBe('maintained');
    expect((await world.passwordsOnApp(appId)).map((p) => p.keyId)).toEqual([row.currentKeyId]);
    expect((await world.servedPassword(r.registryName, r.vaultName, appId)).works).toBe(false);
    expect((await world.servedPassword(r.registryName, newVault, appId)).works).toBe(true);
    expect((await world.audit.query({ registry: r.registryId })).items.filter((a) => a.outcome === 'failed')).toEqual([]);
  });

  it('moves to a new vault during the previous password’s grace period: the new vault serves the current password at once, the rotation waits', async () => {
    const r = await registryWithTags((vault) => ({ [VAULT_TAG]: vault }));
    const deps = world.deps();
    await onRegistryChanged(deps, r.resource);
    const appId = (await deps.store.get(r.registryId))!.appId!;
    expect((await rotateNow(deps, r.registryId)).outcome).toBe('rotated');
    const rotated = (await deps.store.get(r.registryId))!;
    const newVault = await world.newVault(r.registryId);

    expect(await onRegistryChanged(deps, await r.read({ [VAULT_TAG]: newVault }))).toEqual({ outcome: 'enrolled' });
    const row = (await deps.store.get(r.registryId))!;
    // Issue 14: a new password now would remove the previous one, served until a moment ago.
    expect(row).toMatchObject({
      vaultName: newVault,
      currentKeyId: rotated.currentKeyId,
      previousKeyId: rotated.previousKeyId,
      rotationDeferredUntil: rotated.previousRemoveAfter,
    });
    expect(await world.servedPassword(r.registryName, newVault, appId)).toMatchObject({ works: true, keyId: rotated.currentKeyId });
    expect(await world.servedPassword(r.registryName, r.vaultName, appId)).toMatchObject({ works: true, keyId: rotated.currentKeyId });
    expect(await world.passwordsOnApp(appId)).toHaveLength(2);

    // After the grace period the deferred rotation runs: a new password in the new vault.
    const later = world.deps({ now: () => new Date(Date.now() + 25 * HOUR_MS) });
    expect((await rotateIfDue(later, r.registryId)).outcome).toBe('rotated');
    const after = (await deps.store.get(r.registryId))!;
    expect(after.rotationDeferredUntil).toBeUndefined();
    expect(await world.servedPassword(r.registryName, newVault, appId)).toMatchObject({ works: true, keyId: after.currentKeyId });
    expect(after.previousKeyId).toBe(rotated.currentKeyId);
  });
});
