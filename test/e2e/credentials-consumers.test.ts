/**
 * Issue 19.4 end to end: who still uses a pull password by value. A registry is enrolled for pull
 * credentials by its tag; a container group is created, as the pull-credential seed would, with the
 * pull application's id and a password in `imageRegistryCredentials` (containerinstance/.../stable/
 * 2021-10-01/examples/ContainerGroupsCreateOrUpdate.json). GET /api/credentials/{registry} lists it,
 * GET /api/health too, and a rotation writes an audit row naming it and the time the previous password
 * is removed.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aRegistryBody, API_VERSIONS, CREDENTIAL_TAGS, startCredentialsStack, type CredentialsStack } from '../support/e2eCredentials.js';

const GROUP_API = '2023-05-01';
let s: CredentialsStack;
let rg: string;

beforeAll(async () => {
  s = await startCredentialsStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
  rg = s.rgId('rg-by-value');
  await s.put(rg, API_VERSIONS.resourceGroup, { location: 'westeurope' });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

/** A container group that pulls with a user name and password (no managed identity). */
const aGroupWithPassword = (server: string, username: string) => ({
  location: 'westeurope',
  properties: {
    containers: [{ name: 'job', properties: { image: `${server}/job:1`, resources: { requests: { cpu: 1, memoryInGB: 1.5 } } } }],
    osType: 'Linux',
    imageRegistryCredentials: [{ server, username, password: 'e2e-not-a-real-password' }],
  },
});

describe('who still uses a pull password by value', () => {
  it('lists the container groups that name the pull application by value, in GET /api/credentials/{registry} and on rotation with the removal time', async () => {
    const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/acrbyvalue`;
    await s.put(registry, API_VERSIONS.registry, aRegistryBody({ [CREDENTIAL_TAGS.vault]: s.vaultName }));
    await s.idle();
    const list = await s.api('GET', 'credentials');
    const appId = (list.json.items as Array<Record<string, string>>).find((e) => e['registryName'] === 'acrbyvalue')!['appId']!;
    expect(appId).toMatch(/^[0-9a-f-]{36}$/);

    const byValue = `${rg}/providers/Microsoft.ContainerInstance/containerGroups/ci-by-value`;
    await s.put(byValue, GROUP_API, aGroupWithPassword('acrbyvalue.azurecr.io', appId));
    // Another application's user name, and no registry credentials at all: not listed.
    await s.put(
      `${rg}/providers/Microsoft.ContainerInstance/containerGroups/ci-other-user`,
      GROUP_API,
      aGroupWithPassword('acrbyvalue.azurecr.io', '00000000-0000-4000-8000-000000000000'),
    );
    await s.idle();

    const detail = await s.api('GET', 'credentials/acrbyvalue');
    expect(detail.status).toBe(200);
    expect(detail.json.passwordConsumers).toEqual([
      { resourceId: expect.stringMatching(/containerGroups\/ci-by-value$/i), name: 'ci-by-value', server: 'acrbyvalue.azurecr.io' },
    ]);
    expect(detail.json.appId).toBe(appId);

    const rotated = await s.api('POST', 'credentials/acrbyvalue/rotate');
    expect(rotated.json).toMatchObject({ outcome: 'rotated' });
    const after = await s.api('GET', 'credentials/acrbyvalue');
    const removeAfter = after.json.previousRemoveAfter as string;
    expect(removeAfter).toMatch(/^\d{4}-\d\d-\d\dT/);

    const rows = (await s.audit(registry)).filter((r) => r.action === 'password consumers');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toMatch(
      new RegExp(
        `ci-by-value uses acrbyvalue's pull password by value .*removed at ${removeAfter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}; redeploy it before then`,
      ),
    );
    expect(rows[0]!.details?.['passwordConsumers']).toMatch(/containerGroups\/ci-by-value$/i);
    // Health lists it too, with the removal time, as information (the status does not change for it).
    const health = await s.api('GET', 'health');
    expect(health.json.passwordConsumers).toEqual([
      {
        registryName: 'acrbyvalue',
        previousRemoveAfter: removeAfter,
        consumers: [expect.stringMatching(/containerGroups\/ci-by-value$/i)],
      },
    ]);
    expect(JSON.stringify([detail.json, after.json, rows, health.json])).not.toContain('e2e-not-a-real-password');
  });
});
