/**
 * Issue #5, "Done when", end to end: a registry created with `acr-pull-credential` by a real ARM
 * PUT on the emulator reaches the app's `resourceEvents` function through Event Grid delivery to
 * the local Functions host; the outcome is read back as a pull client would: Key Vault (as a
 * principal with Key Vault Secrets User), an Entra client-credentials sign-in with the password,
 * role assignments through ARM, and the audit trail through GET /api/audit.
 *
 * Time moves with the emulator's clock (test/support/e2eCredentials.ts): rotation on the timer
 * (two thirds of the period), on Key Vault SecretNearExpiry (30 days before expiry), and the
 * previous password removed after ROTATION_GRACE_HOURS (24 h here, the default).
 *
 * One stack for the file; the tests run in order on one clock that only moves forward:
 *   day 0    A (90 days) and B (180 days) enrolled by tag; A's tag removed again
 *   day 121  timer: B rotated (two thirds of 180 = 120); A's near-expiry is not ours any more
 *   day 123  timer: B's previous password removed
 *   day 123  C (60 days) enrolled; day 154 (within 30 days of expiry, before two thirds = 40)
 *            SecretNearExpiry rotates C; day 156 timer removes C's previous password
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import {
  aRegistryBody,
  API_VERSIONS,
  CREDENTIAL_TAGS,
  DAY_MS,
  ROLE_IDS,
  startCredentialsStack,
  type CredentialsStack,
} from '../support/e2eCredentials.js';

let s: CredentialsStack;
let rg: string;

beforeAll(async () => {
  s = await startCredentialsStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
  rg = s.rgId('rg-credentials');
  await s.put(rg, API_VERSIONS.resourceGroup, { location: 'westeurope' });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;

/** Creates a registry by ARM PUT and waits until the app has answered every event. */
async function createRegistry(name: string, tags: Record<string, string>): Promise<string> {
  const id = registryId(name);
  await s.put(id, API_VERSIONS.registry, aRegistryBody(tags));
  await s.idle();
  return id;
}

const outcomes = (rows: readonly AuditRecord[]) => rows.map((r) => r.outcome);

interface Enrolled {
  readonly id: string;
  readonly name: string;
  readonly appId: string;
  readonly servicePrincipalId: string;
}
const enrolled: Record<'a' | 'b' | 'c', Enrolled | undefined> = { a: undefined, b: undefined, c: undefined };

async function enrolmentOf(name: string) {
  const list = await s.api('GET', 'credentials');
  expect(list.status).toBe(200);
  return (list.json.items as Array<Record<string, string>>).find((e) => e['registryName'] === name);
}

/** Key Vault serves a password that signs in, and the application holds it and at most one other. */
async function expectWorkingCredentials(r: Enrolled) {
  const served = await s.served(r.name);
  expect(served.username).toBe(r.appId);
  expect(await s.signIn(r.appId, served.password)).toEqual({ ok: true });
  const passwords = (await s.passwordsOnApp(r.appId))!;
  expect(passwords.map((p) => p.keyId)).toContain(served.keyId);
  expect(passwords.length).toBeLessThanOrEqual(2);
  return { served, passwords };
}

describe('enrolment by tag, through the host', () => {
  it('gives a registry created with acr-pull-credential=demo-vault working credentials in Key Vault and AcrPull on that registry only', async () => {
    const other = await createRegistry('acrcredother', {});
    const id = await createRegistry('acrcreda', { [CREDENTIAL_TAGS.vault]: s.vaultName });

    const enrolment = await enrolmentOf('acrcreda');
    expect(enrolment).toMatchObject({
      registryId: expect.stringMatching(/acrcreda$/i),
      status: 'active',
      vaultName: s.vaultName,
      periodDays: 90,
      phase: 'idle',
    });
    const a: Enrolled = { id, name: 'acrcreda', appId: enrolment!['appId']!, servicePrincipalId: enrolment!['servicePrincipalId']! };
    enrolled.a = a;

    // As a pull client reads them: username = appId, password proven by a client-credentials sign-in.
    const { served, passwords } = await expectWorkingCredentials(a);
    expect(passwords).toHaveLength(1);
    expect(served.contentType).toBe('text/plain; acr-pull-password');
    expect(served.tags).toMatchObject({ appId: a.appId, keyId: enrolment!['currentKeyId'], managedBy: 'acr-pull-automation' });
    expect(served.tags['rotatedAt']).toMatch(/^\d{4}-\d\d-\d\dT/);
    const lifetimeDays = (served.expiresOn!.getTime() - Date.now()) / DAY_MS;
    expect(lifetimeDays).toBeGreaterThan(89.9);
    expect(lifetimeDays).toBeLessThan(90.1);

    // AcrPull on this registry, and nothing anywhere else (not on the untagged registry beside it).
    const assignments = await s.assignmentsOf(a.servicePrincipalId);
    expect(assignments).toHaveLength(1);
    expect(assignments[0]!.scope.toLowerCase()).toBe(id.toLowerCase());
    expect(assignments[0]!.roleDefinitionGuid).toBe(ROLE_IDS.acrPull);
    expect(assignments[0]!.scope.toLowerCase()).not.toBe(other.toLowerCase());

    const audit = await s.audit(id);
    expect(outcomes(audit)).toEqual(expect.arrayContaining(['enrolled', 'granted', 'rotated']));
    expect(audit.find((r) => r.outcome === 'granted')?.role).toMatch(/^AcrPull/);
    // Each row carries the ARM event that caused it.
    expect(audit.find((r) => r.outcome === 'enrolled')?.eventId).toBeTruthy();
  });

  it('enrols a registry with acr-pull-credential-days, whose password lives that long', async () => {
    const id = await createRegistry('acrcredb', { [CREDENTIAL_TAGS.vault]: s.vaultName, [CREDENTIAL_TAGS.days]: '180' });
    const enrolment = await enrolmentOf('acrcredb');
    expect(enrolment).toMatchObject({ status: 'active', periodDays: 180 });
    const b: Enrolled = { id, name: 'acrcredb', appId: enrolment!['appId']!, servicePrincipalId: enrolment!['servicePrincipalId']! };
    enrolled.b = b;
    const { served } = await expectWorkingCredentials(b);
    expect((served.expiresOn!.getTime() - Date.now()) / DAY_MS).toBeGreaterThan(179.9);
  });

  it('keeps the pull role of an enrolled registry when its other tags change', async () => {
    const b = enrolled.b!;
    await s.tag(b.id, { team: 'platform' }, 'Merge');
    await s.idle();
    const audit = await s.audit(b.id);
    expect(await s.assignmentsOf(b.servicePrincipalId), JSON.stringify(audit.filter((r) => r.action === 'revoke'))).toHaveLength(1);
    expect(await enrolmentOf(b.name)).toMatchObject({ status: 'active' });
  });

  it('stops rotating when the tag is removed and keeps the application (CREDENTIALS_DELETE_APP_ON_UNENROL defaults to false)', async () => {
    const a = enrolled.a!;
    await s.tag(a.id, { [CREDENTIAL_TAGS.vault]: s.vaultName }, 'Delete');
    await s.idle();

    expect(await enrolmentOf(a.name)).toMatchObject({ status: 'unenrolled' });
    const audit = await s.audit(a.id);
    expect(audit.find((r) => r.outcome === 'unenrolled')?.reason).toMatch(
      /tag acr-pull-credential removed.*application and the Key Vault secrets are kept/,
    );
    // The application, its role assignment and the credentials stay, and still work.
    await expectWorkingCredentials(a);
    expect(await s.assignmentsOf(a.servicePrincipalId), JSON.stringify(audit.filter((r) => r.action === 'revoke'))).toHaveLength(1);
    // Un-enrolled means the HTTP API no longer rotates it either.
    expect((await s.api('POST', `credentials/${a.name}/rotate`)).status).toBe(404);
  });
});

describe('rotation on the timer', () => {
  it('rotates at two thirds of the period, with a new password that works while the old one stays for the grace period', async () => {
    const b = enrolled.b!;
    const a = enrolled.a!;
    const first = await s.served(b.name);
    const aBefore = { served: await s.served(a.name), passwords: await s.passwordsOnApp(a.appId) };

    // Not due yet: the timer changes nothing.
    expect(await s.fireRotationTimer()).toMatch(/"rotated":0/);
    expect((await s.served(b.name)).version).toBe(first.version);

    await s.advanceDays(121); // two thirds of 180 days is 120
    expect(await s.fireRotationTimer()).toMatch(/rotation sweep finished/);

    const { served, passwords } = await expectWorkingCredentials(b);
    expect(served.keyId).not.toBe(first.keyId);
    expect(served.password).not.toBe(first.password);
    expect(passwords.map((p) => p.keyId).sort()).toEqual([first.keyId, served.keyId].sort());
    // The previous password still signs in during its grace period.
    expect(await s.signIn(b.appId, first.password)).toEqual({ ok: true });
    const lifetimeDays = (served.expiresOn!.getTime() - (Date.now() + s.offsetDays() * DAY_MS)) / DAY_MS;
    expect(lifetimeDays).toBeGreaterThan(179.9);

    const rotated = (await s.audit(b.id)).filter((r) => r.outcome === 'rotated');
    expect(rotated).toHaveLength(2);
    expect(rotated[0]!.reason).toMatch(/previous password .* removed after 24 h/);

    // A, un-enrolled at day 0: its password expired at day 90, Key Vault said so (SecretNearExpiry),
    // and neither that event nor the timer rotated it.
    expect((await s.served(a.name)).version).toBe(aBefore.served.version);
    expect(await s.passwordsOnApp(a.appId)).toEqual(aBefore.passwords);
    expect(outcomes(await s.audit(a.id)).filter((o) => o === 'rotated')).toHaveLength(1);
  });

  it('removes the previous password once the grace period is over', async () => {
    const b = enrolled.b!;
    const before = await s.served(b.name);
    const previous = (await s.passwordsOnApp(b.appId))!.find((p) => p.keyId !== before.keyId)!;

    await s.advanceDays(2); // ROTATION_GRACE_HOURS = 24
    await s.fireRotationTimer();

    const { served, passwords } = await expectWorkingCredentials(b);
    expect(served.version).toBe(before.version);
    expect(passwords.map((p) => p.keyId)).toEqual([served.keyId]);
    const audit = await s.audit(b.id);
    expect(audit.some((r) => r.details?.['keyId'] === previous.keyId && /removed previous password/.test(r.reason))).toBe(true);
  });
});

describe('rotation on Key Vault SecretNearExpiry', () => {
  it('rotates a password 30 days before it expires, through the keyVaultSecretEvents function, and removes the old one after the grace period', async () => {
    const id = await createRegistry('acrcredc', { [CREDENTIAL_TAGS.vault]: s.vaultName, [CREDENTIAL_TAGS.days]: '60' });
    const enrolment = await enrolmentOf('acrcredc');
    const c: Enrolled = { id, name: 'acrcredc', appId: enrolment!['appId']!, servicePrincipalId: enrolment!['servicePrincipalId']! };
    enrolled.c = c;
    const first = await s.served(c.name);
    const handled = () =>
      s.stack.host.logs().filter((l) => /secret near expiry handled/.test(l.message) && l.message.includes(`${c.name}-pull-pwd`));
    expect(handled()).toHaveLength(0);

    // 31 days into a 60-day password: within 30 days of expiry, before two thirds (40 days).
    await s.advanceDays(31);
    expect(handled().map((l) => l.message)).toEqual([expect.stringMatching(/"outcome":"rotated"/)]);

    const { served, passwords } = await expectWorkingCredentials(c);
    expect(served.keyId).not.toBe(first.keyId);
    expect(passwords).toHaveLength(2);
    const rotation = (await s.audit(id)).find((r) => r.outcome === 'rotated' && r.details?.['previousKeyId'] === first.keyId);
    expect(rotation?.eventId).toBeTruthy();

    // The timer before the grace period ends: nothing to do.
    await s.fireRotationTimer();
    expect((await s.passwordsOnApp(c.appId))!).toHaveLength(2);

    await s.advanceDays(2);
    await s.fireRotationTimer();
    const after = await expectWorkingCredentials(c);
    expect(after.served.version).toBe(served.version);
    expect(after.passwords.map((p) => p.keyId)).toEqual([served.keyId]);
    expect(await s.signIn(c.appId, first.password)).toMatchObject({ ok: false });
  });
});
