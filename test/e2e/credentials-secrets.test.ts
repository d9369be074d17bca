/**
 * Issue #5, "Done when": a test captures every log line, audit row and response of a full
 * enrol-and-rotate run through the local host and finds no secret value in them.
 *
 * The run: enrol by tag (ARM PUT → Event Grid → resourceEvents), enrol by HTTP, list, rotate now
 * over HTTP (once with Key Vault failing, so an error response and error logs are in the haystack),
 * rotation on SecretNearExpiry and on the timer, the previous password removed after the grace
 * period, un-enrol by HTTP and by removing the tag. Every password Key Vault ever stored (each
 * version of `<registry>-pull-pwd`, read as a principal with Key Vault Secrets User) is a needle,
 * and so is its first 8 characters.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { aRegistryBody, API_VERSIONS, CREDENTIAL_TAGS, startCredentialsStack, type CredentialsStack } from '../support/e2eCredentials.js';

let s: CredentialsStack;
beforeAll(async () => {
  s = await startCredentialsStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

it('writes no secret value to host logs, audit rows, HTTP responses or the status page during a full enrol-and-rotate run', {
  timeout: 180_000,
}, async () => {
  const rg = s.rgId('rg-secrets');
  await s.put(rg, API_VERSIONS.resourceGroup, { location: 'westeurope' });
  const byTag = `${rg}/providers/Microsoft.ContainerRegistry/registries/acrsecretstag`;
  const byApi = `${rg}/providers/Microsoft.ContainerRegistry/registries/acrsecretsapi`;

  // Enrol by tag, through the resource event.
  await s.put(byTag, API_VERSIONS.registry, aRegistryBody({ [CREDENTIAL_TAGS.vault]: s.vaultName }));
  await s.idle();
  // Enrol by HTTP.
  await s.put(byApi, API_VERSIONS.registry, aRegistryBody({}));
  await s.idle();
  expect((await s.api('POST', 'credentials', { registryId: byApi, vaultName: s.vaultName })).status).toBe(201);
  expect((await s.api('POST', 'credentials', { registryId: byApi, vaultName: s.vaultName })).status).toBe(200);
  expect((await s.api('POST', 'credentials', { registryId: byApi, vaultName: 'kv-missing' })).status).toBe(400);
  expect((await s.api('GET', 'credentials')).status).toBe(200);

  // Rotate now, twice at once (one new password), then with Key Vault failing (an error response).
  const both = await Promise.all([s.api('POST', 'credentials/acrsecretstag/rotate'), s.api('POST', 'credentials/acrsecretstag/rotate')]);
  expect(both.map((r) => r.status).sort()).toEqual([200, 202]);
  await s.admin('PUT', '/faults', { errorRate: { keyVault: 1 }, retryAfterSeconds: 0 });
  const failed = await s.api('POST', 'credentials/acrsecretsapi/rotate');
  await s.admin('PUT', '/faults', { errorRate: { keyVault: 0 } });
  expect(failed.status).toBeGreaterThanOrEqual(500);
  expect((await s.api('POST', 'credentials/acrsecretsapi/rotate')).status).toBe(200);

  // Near expiry (61 of 90 days) rotates both; the timer then retires their previous passwords.
  await s.advanceDays(61);
  await s.fireRotationTimer();
  await s.advanceDays(2);
  await s.fireRotationTimer();

  // Un-enrol by HTTP and by removing the tag.
  expect((await s.api('DELETE', 'credentials/acrsecretsapi')).status).toBe(200);
  await s.tag(byTag, { [CREDENTIAL_TAGS.vault]: s.vaultName }, 'Delete');
  await s.idle();

  // The status page (issue 18) lists both registries' credentials; it joins the haystack.
  const page = await s.api('GET', 'status');
  expect(page.status).toBe(200);
  expect(page.text).toContain('acrsecretstag-pull-pwd');

  // The needles: every password Key Vault ever held for these registries.
  const secrets = [...(await s.allPasswordVersions('acrsecretstag')), ...(await s.allPasswordVersions('acrsecretsapi'))];
  expect(secrets.length).toBeGreaterThanOrEqual(6);
  const audit = await s.audit();
  const rotated = audit.filter((r) => r.outcome === 'rotated');
  expect(rotated.length).toBeGreaterThanOrEqual(6);
  expect(failed.json).toMatchObject({ status: failed.status });

  // The haystack: every line the host printed (structured or not), every audit row, every response.
  const hostLines = s.stack.host.child.output;
  expect(hostLines.some((l) => /rotation step/.test(l))).toBe(true);
  expect(hostLines.some((l) => /secret near expiry handled/.test(l))).toBe(true);
  const haystack = [
    ...hostLines,
    ...s.stack.host.logs().map((l) => JSON.stringify(l)),
    ...audit.map((r) => JSON.stringify(r)),
    ...s.responses,
  ].join('\n');
  for (const secret of secrets) {
    expect(haystack.includes(secret), 'a password appears in the output').toBe(false);
    // Graph's `hint` is the first three characters; eight would already narrow a guess.
    expect(haystack.includes(secret.slice(0, 8)), 'a password prefix appears in the output').toBe(false);
  }
});
