/**
 * Issue 14, points 2-4, end to end through the local stack (ARM writes on the emulator, Event Grid
 * delivery to the local Functions host, the HTTP API, the timers fired through the host's admin API):
 *
 *   2. Rotation grace — a password Key Vault has served stays valid for at least
 *      ROTATION_GRACE_HOURS after it stopped being served; a rotation that would break that is
 *      deferred (202, deferredUntil, an audit row). A period inside Key Vault's 30-day near-expiry
 *      window is refused (tag: audit row; API: 400 problem).
 *   3. Stale runs — a Key Vault call that stalls past CREDENTIALS_CALL_TIMEOUT_SECONDS is given up
 *      and the lease released; a run that finds nothing due still makes Key Vault serve the current
 *      password again when another version landed there (the late write of a stalled run).
 *   4. Two sources of truth — an API enrolment survives registry events and the sweep; an API
 *      enrolment into another vault than the registry's tag names is refused (409), so nothing flips.
 *
 * One stack for the file, one clock that only moves forward (test/support/e2eCredentials.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP } from '../../emulator/index.js';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import {
  aRegistryBody,
  API_VERSIONS,
  CREDENTIAL_TAGS,
  DAY_MS,
  HOUR_MS,
  ROLE_IDS,
  startCredentialsStack,
  type CredentialsStack,
} from '../support/e2eCredentials.js';

const GRACE_HOURS = 24; // ROTATION_GRACE_HOURS, the default
const CALL_TIMEOUT_SECONDS = 3;

let s: CredentialsStack;
let rg: string;
const used: string[] = [];

beforeAll(async () => {
  s = await startCredentialsStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
    appSettings: { CREDENTIALS_CALL_TIMEOUT_SECONDS: String(CALL_TIMEOUT_SECONDS) },
  });
  rg = s.rgId('rg-promise');
  await s.put(rg, API_VERSIONS.resourceGroup, { location: 'westeurope' });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;

async function createRegistry(name: string, tags: Record<string, string>): Promise<string> {
  const id = registryId(name);
  await s.put(id, API_VERSIONS.registry, aRegistryBody(tags));
  await s.idle();
  used.push(name);
  return id;
}

async function enrolmentOf(name: string): Promise<Record<string, string> | undefined> {
  const list = await s.api('GET', 'credentials');
  expect(list.status).toBe(200);
  return (list.json.items as Array<Record<string, string>>).find((e) => e['registryName'] === name);
}

/** The emulator's (and the host's) now. */
const now = () => Date.now() + s.offsetDays() * DAY_MS;
const hours = (h: number) => s.advanceDays(h / 24);

/**
 * The promise, checked over every version Key Vault ever held for the registry: a version stopped
 * being served when the next one was created; until ROTATION_GRACE_HOURS after that (and while it
 * is still served) its password signs in, as a pull client would (client credentials against Entra).
 */
async function expectEveryServedPasswordWithinGraceSignsIn(name: string, appId: string): Promise<number> {
  const history = await s.passwordHistory(name);
  let checked = 0;
  for (const [i, version] of history.entries()) {
    const stoppedAt = history[i + 1]?.createdOn.getTime();
    if (stoppedAt !== undefined && now() >= stoppedAt + GRACE_HOURS * HOUR_MS) continue;
    const when = stoppedAt === undefined ? 'served now' : `stopped being served ${((now() - stoppedAt) / HOUR_MS).toFixed(1)} h ago`;
    expect(await s.signIn(appId, version.value), `version ${i + 1} of ${history.length} (${version.keyId}), ${when}`).toEqual({ ok: true });
    checked++;
  }
  return checked;
}

const rows = async (id: string, outcome: string): Promise<AuditRecord[]> => (await s.audit(id)).filter((r) => r.outcome === outcome);

describe('issue 14.4: one rule for the enrolment, whichever path asks', () => {
  it('keeps an enrolment made through the API when a registry event and the sweep see the registry without the tag', {
    timeout: 120_000,
  }, async () => {
    const id = await createRegistry('acrpromiseapi', {});
    const enrol = await s.api('POST', 'credentials', { registryId: id, vaultName: s.vaultName });
    expect(enrol.status, enrol.text).toBe(201);
    expect(enrol.json.enrolment).toMatchObject({ status: 'active', source: 'api', vaultName: s.vaultName });
    const first = await s.served('acrpromiseapi');

    // A registry event: someone tags the registry with something else (Microsoft.Resources/tags/write).
    await s.tag(id, { team: 'platform' }, 'Merge');
    await s.idle();
    expect(await enrolmentOf('acrpromiseapi')).toMatchObject({ status: 'active', source: 'api', vaultName: s.vaultName });

    // The reconciliation sweep, which lists enrolled registries and runs the event path for each.
    expect(await s.fireSweep()).toMatch(/reconciliation sweep finished/);
    expect(await enrolmentOf('acrpromiseapi')).toMatchObject({ status: 'active', source: 'api' });

    // Nothing churned: the same password is served and still signs in; nothing was un-enrolled.
    const after = await s.served('acrpromiseapi');
    expect(after.version).toBe(first.version);
    expect(await s.signIn(after.username, after.password)).toEqual({ ok: true });
    expect(await rows(id, 'unenrolled')).toEqual([]);

    // Only the API ends an API enrolment.
    const gone = await s.api('DELETE', 'credentials/acrpromiseapi');
    expect(gone.status, gone.text).toBe(200);
    expect(await enrolmentOf('acrpromiseapi')).toMatchObject({ status: 'unenrolled' });
  });

  it('refuses an API enrolment into another vault than the registry tag names (409), and the tag’s enrolment never flips', {
    timeout: 120_000,
  }, async () => {
    // A second vault the app could write to (Key Vault Secrets Officer), as the demo vault: without
    // the rule, the API would move the enrolment there and the next registry event would move it back.
    const otherVault = 'kv-promise-other';
    const otherVaultId = `${rg}/providers/Microsoft.KeyVault/vaults/${otherVault}`;
    await s.put(otherVaultId, '2023-07-01', {
      location: 'westeurope',
      properties: { tenantId: s.stack.emulator!.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
    });
    await s.put(`${otherVaultId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}`, API_VERSIONS.roleAssignments, {
      properties: {
        roleDefinitionId: `/subscriptions/${s.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS.keyVaultSecretsOfficer}`,
        principalId: APP.objectId,
        principalType: 'ServicePrincipal',
      },
    });
    await s.idle();
    const id = await createRegistry('acrpromisetag', { [CREDENTIAL_TAGS.vault]: s.vaultName });
    expect(await enrolmentOf('acrpromisetag')).toMatchObject({ status: 'active', vaultName: s.vaultName });
    const first = await s.served('acrpromisetag');

    const refused = await s.api('POST', 'credentials', { registryId: id, vaultName: otherVault });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.json).toMatchObject({
      code: 'EnrolmentManagedByTag',
      status: 409,
      type: 'urn:acr-pull-automation:problem:enrolment-managed-by-tag',
    });
    expect(refused.json.detail).toMatch(new RegExp(`carries acr-pull-credential=${s.vaultName}.*asks for vault ${otherVault}`));
    const rejected = await rows(id, 'rejected-input');
    expect(rejected.map((r) => r.errorCode)).toContain('EnrolmentManagedByTag');

    // Registry events and the sweep keep deciding the same: the tag's vault, no rotation churn.
    await s.tag(id, { team: 'platform' }, 'Merge');
    await s.idle();
    await s.fireSweep();
    expect(await enrolmentOf('acrpromisetag')).toMatchObject({ status: 'active', source: 'tag', vaultName: s.vaultName });
    expect((await s.served('acrpromisetag')).version).toBe(first.version);
    expect(await rows(id, 'rotated')).toHaveLength(1);

    // Un-enrolling through the API while the tag is there would be undone by the next event: refused.
    const unenrol = await s.api('DELETE', 'credentials/acrpromisetag');
    expect(unenrol.status, unenrol.text).toBe(409);
    expect(unenrol.json).toMatchObject({ code: 'EnrolmentManagedByTag' });
    expect(await enrolmentOf('acrpromisetag')).toMatchObject({ status: 'active' });
  });
});

describe('issue 14.2: a period inside Key Vault’s near-expiry window', () => {
  it('is refused from the acr-pull-credential-days tag, with an audit row, and from the API, with a 400 problem', {
    timeout: 60_000,
  }, async () => {
    // Key Vault publishes SecretNearExpiry 30 days before expiry: a 20-day password is near expiry when written.
    const id = await createRegistry('acrpromiseshort', { [CREDENTIAL_TAGS.vault]: s.vaultName, [CREDENTIAL_TAGS.days]: '20' });
    expect(await enrolmentOf('acrpromiseshort')).toBeUndefined();
    const [row] = await rows(id, 'rejected-input');
    expect(row).toMatchObject({ errorCode: 'InvalidPeriod' });
    expect(row!.reason).toMatch(
      /acr-pull-credential-days: a password lifetime of 20 days is too short: Key Vault announces SecretNearExpiry 30 days before .* use at least 32 days/,
    );
    expect(row!.eventId).toBeTruthy();

    // An enrolled registry whose tag changes to a short period keeps its enrolment as it was.
    await s.tag(id, { [CREDENTIAL_TAGS.days]: '45' }, 'Merge');
    await s.idle();
    expect(await enrolmentOf('acrpromiseshort')).toMatchObject({ status: 'active', periodDays: 45 });
    await s.tag(id, { [CREDENTIAL_TAGS.days]: '31' }, 'Merge');
    await s.idle();
    expect(await enrolmentOf('acrpromiseshort')).toMatchObject({ status: 'active', periodDays: 45 });
    expect((await rows(id, 'rejected-input')).filter((r) => r.errorCode === 'InvalidPeriod')).toHaveLength(2);

    const untagged = await createRegistry('acrpromiseshortapi', {});
    const res = await s.api('POST', 'credentials', { registryId: untagged, vaultName: s.vaultName, periodDays: 30 });
    expect(res.status, res.text).toBe(400);
    expect(res.json).toMatchObject({ code: 'InvalidPeriod', status: 400 });
    expect(res.json.detail).toMatch(/periodDays: a password lifetime of 30 days is too short.*use at least 32 days/);
    expect(await enrolmentOf('acrpromiseshortapi')).toBeUndefined();
  });
});

describe('issue 14.2: rotation grace', () => {
  it('keeps every password Key Vault served signing in until ROTATION_GRACE_HOURS after it stopped being served, however often rotation is forced', {
    timeout: 240_000,
  }, async () => {
    const id = await createRegistry('acrpromisegrace', { [CREDENTIAL_TAGS.vault]: s.vaultName });
    const appId = (await enrolmentOf('acrpromisegrace'))!['appId']!;
    const rotate = () => s.api('POST', 'credentials/acrpromisegrace/rotate');

    // Two forced rotations a second apart: the first rotates, the second would remove the password
    // Key Vault served a second ago, so it is deferred until that password's grace is over.
    const first = await rotate();
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({ outcome: 'rotated' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const second = await rotate();
    expect(second.status, second.text).toBe(202);
    expect(second.json).toMatchObject({
      outcome: 'deferred',
      reason: expect.stringMatching(/stays valid for ROTATION_GRACE_HOURS \(24 h\)/),
    });
    const deferredUntil = Date.parse(second.json.deferredUntil);
    expect(deferredUntil - now()).toBeGreaterThan((GRACE_HOURS - 0.1) * HOUR_MS);
    expect(deferredUntil - now()).toBeLessThanOrEqual(GRACE_HOURS * HOUR_MS);
    expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisegrace', appId)).toBe(2);
    const [deferred] = await rows(id, 'deferred');
    expect(deferred?.details).toMatchObject({ deferredUntil: second.json.deferredUntil });
    expect(deferred?.caller).toBeTruthy();
    expect(await enrolmentOf('acrpromisegrace')).toMatchObject({ rotationDeferredUntil: second.json.deferredUntil });

    // Forced again and again during the grace period: deferred each time; every password still signs in.
    for (const step of [6, 6, 11.5]) {
      await hours(step);
      const again = await rotate();
      expect(again.status, again.text).toBe(202);
      expect(again.json).toMatchObject({ outcome: 'deferred', deferredUntil: second.json.deferredUntil });
      expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisegrace', appId)).toBe(2);
      expect((await s.passwordsOnApp(appId))!.length).toBeLessThanOrEqual(2);
    }

    // Grace over: the first run after deferredUntil performs the deferred rotation.
    await hours(1);
    expect(now()).toBeGreaterThan(deferredUntil);
    expect(await s.fireRotationTimer()).toMatch(/"rotated":1/);
    expect(await s.passwordHistory('acrpromisegrace')).toHaveLength(3);
    expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisegrace', appId)).toBe(2);

    // And the promise holds for the password just replaced, too.
    const third = await rotate();
    expect(third.status, third.text).toBe(202);
    expect(third.json).toMatchObject({ outcome: 'deferred' });
    await hours(GRACE_HOURS - 1);
    expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisegrace', appId)).toBe(2);
    await hours(2);
    const fourth = await rotate();
    expect(fourth.status, fourth.text).toBe(200);
    expect(await s.passwordHistory('acrpromisegrace')).toHaveLength(4);
    expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisegrace', appId)).toBe(2);
    expect((await s.passwordsOnApp(appId))!.length).toBeLessThanOrEqual(2);
    expect((await rows(id, 'deferred')).length).toBeGreaterThanOrEqual(5);
  });
});

describe('issue 14.3: stale runs', () => {
  it('gives up a Key Vault call that stalls past CREDENTIALS_CALL_TIMEOUT_SECONDS, releases the registry and changes nothing', {
    timeout: 120_000,
  }, async () => {
    const id = await createRegistry('acrpromisestall', { [CREDENTIAL_TAGS.vault]: s.vaultName });
    const appId = (await enrolmentOf('acrpromisestall'))!['appId']!;
    const before = await s.served('acrpromisestall');
    const passwordsBefore = await s.passwordsOnApp(appId);

    await s.faults({ latencyMs: { keyVault: 30_000 } });
    let stalled;
    const started = Date.now();
    try {
      stalled = await s.api('POST', 'credentials/acrpromisestall/rotate');
    } finally {
      await s.faults({ latencyMs: { keyVault: 0 } });
    }
    // Given up at the call timeout, not after the 30 s the vault took.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(stalled.status, stalled.text).toBe(503);
    expect(stalled.json).toMatchObject({ code: 'OperationTimedOut' });
    expect(stalled.json.detail).toMatch(/did not answer within the call timeout/);

    // Nothing changed, and the lease is free: the next request rotates at once (not 202 in-progress).
    expect(await s.passwordsOnApp(appId)).toEqual(passwordsBefore);
    expect((await s.served('acrpromisestall')).version).toBe(before.version);
    const next = await s.api('POST', 'credentials/acrpromisestall/rotate');
    expect(next.status, next.text).toBe(200);
    expect(next.json).toMatchObject({ outcome: 'rotated' });
    expect(await expectEveryServedPasswordWithinGraceSignsIn('acrpromisestall', appId)).toBe(2);

    // The timer, too: the stalled registry is recorded as failed with the timeout and the sweep goes on.
    await s.faults({ latencyMs: { keyVault: 30_000 } });
    let line;
    try {
      line = await s.fireRotationTimer();
    } finally {
      await s.faults({ latencyMs: { keyVault: 0 } });
    }
    expect(line).toMatch(/rotation sweep finished/);
    expect(line).not.toMatch(/"failed":0/);
    const failed = await rows(id, 'failed');
    expect(failed.map((r) => r.errorCode)).toContain('OperationTimedOut');
  });

  it('serves the current password again, on a run that finds nothing due, when Key Vault serves another version (a stalled run’s late write)', {
    timeout: 120_000,
  }, async () => {
    const id = await createRegistry('acrpromiselate', { [CREDENTIAL_TAGS.vault]: s.vaultName });
    const appId = (await enrolmentOf('acrpromiselate'))!['appId']!;
    const [original] = await s.passwordHistory('acrpromiselate');
    expect((await s.api('POST', 'credentials/acrpromiselate/rotate')).status).toBe(200);
    await hours(GRACE_HOURS + 1);
    await s.fireRotationTimer(); // removes the original password: its grace is over
    expect(await s.signIn(appId, original!.value)).toMatchObject({ ok: false });
    const current = (await enrolmentOf('acrpromiselate'))!;

    // A run that stalled inside setSecret past its lease lands its write now: Key Vault serves a
    // password that was removed from the application.
    await s.writePasswordVersion('acrpromiselate', original!.value, { managedBy: 'acr-pull-automation', appId, keyId: original!.keyId });
    expect((await s.served('acrpromiselate')).keyId).toBe(original!.keyId);

    // The next timer run: nothing is due, yet it checks what Key Vault serves and repairs it.
    await s.fireRotationTimer();
    const served = await s.served('acrpromiselate');
    expect(served.keyId).toBe(current['currentKeyId']);
    expect(await s.signIn(appId, served.password)).toEqual({ ok: true });
    expect(await enrolmentOf('acrpromiselate')).toMatchObject({ currentKeyId: current['currentKeyId'], phase: 'idle' });
    const [repaired] = await rows(id, 'repaired');
    expect(repaired?.reason).toMatch(
      new RegExp(`served version .* \\(password ${original!.keyId}\\) instead of the current password ${current['currentKeyId']}`),
    );
    expect(await rows(id, 'rotated')).toHaveLength(2); // repaired, not rotated again
  });
});

describe('secrets', () => {
  it('puts no password of these runs in host logs, audit rows or responses', async () => {
    const secrets = (await Promise.all(used.map((name) => s.allPasswordVersions(name).catch(() => [])))).flat();
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    const audit = await s.audit();
    const haystack = [...s.stack.host.child.output, ...audit.map((r) => JSON.stringify(r)), ...s.responses].join('\n');
    for (const secret of secrets) {
      expect(haystack.includes(secret), 'a password appears in the output').toBe(false);
      expect(haystack.includes(secret.slice(0, 8)), 'a password prefix appears in the output').toBe(false);
    }
  });
});
