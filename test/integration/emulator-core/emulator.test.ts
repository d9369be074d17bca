import { ManagedIdentityCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEmulator, type TestEmulator } from '../../support/emulator.js';

let emu: TestEmulator;
beforeAll(async () => {
  emu = await startTestEmulator();
});
afterAll(async () => {
  await emu?.stop();
});

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
/** The operator's access token through the real ClientSecretCredential. */
async function tokenOf(scope: string): Promise<string> {
  const t = await emu.operatorCredential().getToken(scope);
  if (!t) throw new Error('no token');
  return t.token;
}

describe('emulator core', () => {
  it('starts in under two seconds', () => {
    expect(emu.startupMs).toBeLessThan(2000);
  });

  it('issues managed-identity tokens through the App Service protocol', async () => {
    process.env.IDENTITY_ENDPOINT = emu.endpoints.identityEndpoint;
    process.env.IDENTITY_HEADER = emu.endpoints.identityHeader;
    const credential = new ManagedIdentityCredential({ ...emu.clientOptions });
    const token = await credential.getToken('https://management.azure.com/.default');
    expect(token.token.split('.')).toHaveLength(3);
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now());
    // Wire: expires_on is a string (App Service REST endpoint reference).
    const raw = await emu.fetch(`${emu.endpoints.identityEndpoint}?api-version=2019-08-01&resource=https://vault.localhost`, {
      headers: { 'X-IDENTITY-HEADER': emu.endpoints.identityHeader },
    });
    const body = raw.json<Record<string, unknown>>();
    expect(typeof body.expires_on).toBe('string');
    expect(body).toMatchObject({ token_type: 'Bearer', resource: 'https://vault.localhost', client_id: emu.endpoints.app.clientId });
  });

  it('signs the operator in with client credentials and rejects a bad secret with AADSTS7000215', async () => {
    expect(await tokenOf(GRAPH_SCOPE)).toBeTruthy();
    await expect(emu.credentialFor(emu.endpoints.operator.clientId, 'wrong').getToken(GRAPH_SCOPE)).rejects.toThrow(/AADSTS7000215/);
  });

  it('rotates an application password: the new one works, the removed one fails', async () => {
    const token = await tokenOf(GRAPH_SCOPE);
    const call = (method: string, path: string, body?: unknown) =>
      emu.fetch(`${emu.endpoints.graph}/v1.0${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const app = (await call('POST', '/applications', { displayName: 'pull-sp-test' })).json<{ id: string; appId: string }>();
    expect((await call('POST', '/servicePrincipals', { appId: app.appId })).status).toBe(201);
    const found = (await call('GET', `/applications?$filter=appId eq '${app.appId}'`)).json<{ value: Array<{ id: string }> }>();
    expect(found.value.map((a) => a.id)).toEqual([app.id]);
    // https://learn.microsoft.com/graph/api/application-addpassword (response: passwordCredential with secretText)
    const p1 = (
      await call('POST', `/applications/${app.id}/addPassword`, {
        passwordCredential: { displayName: 'one', endDateTime: '2099-01-01T00:00:00Z' },
      })
    ).json<{ keyId: string; secretText: string; hint: string }>();
    expect(p1.hint).toBe(p1.secretText.slice(0, 3));
    const p2 = (
      await call('POST', `/applications(appId='${app.appId}')/addPassword`, { passwordCredential: { displayName: 'two' } })
    ).json<{ keyId: string; secretText: string }>();
    const listed = (await call('GET', `/applications/${app.id}`)).json<{ passwordCredentials: Array<{ secretText: unknown }> }>();
    expect(listed.passwordCredentials.every((p) => p.secretText === null)).toBe(true);
    expect((await call('POST', `/applications/${app.id}/removePassword`, { keyId: p1.keyId })).status).toBe(204);
    await expect(emu.credentialFor(app.appId, p2.secretText).getToken(GRAPH_SCOPE)).resolves.toBeTruthy();
    await expect(emu.credentialFor(app.appId, p1.secretText).getToken(GRAPH_SCOPE)).rejects.toThrow(/AADSTS7000215/);
  });

  it('answers Graph 403 Authorization_RequestDenied for an app it does not own (OwnedBy)', async () => {
    process.env.IDENTITY_ENDPOINT = emu.endpoints.identityEndpoint;
    process.env.IDENTITY_HEADER = emu.endpoints.identityHeader;
    const mi = new ManagedIdentityCredential({ ...emu.clientOptions });
    const { token } = await mi.getToken(GRAPH_SCOPE);
    const res = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications/${'0a000000-0000-4000-8000-0000000000b1'}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
    expect(res.json<{ error: { code: string; innerError: object } }>().error).toMatchObject({
      code: 'Authorization_RequestDenied',
      innerError: expect.any(Object),
    });
  });

  it('answers malformed requests in each API shape', async () => {
    const token = await tokenOf(GRAPH_SCOPE);
    const bad = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: { code: string } }>().error.code).toBe('BadRequest');
    const unknown = await emu.fetch(`${emu.endpoints.arm}/subscriptions/x/nothing-here?api-version=2022-01-01`);
    expect(unknown.status).toBe(404);
    expect(unknown.json<{ error: { code: string } }>().error.code).toBeTruthy();
    const noToken = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications`);
    expect(noToken.status).toBe(401);
  });

  it('stores, versions, updates, deletes and recovers secrets with the real SecretClient', async () => {
    process.env.IDENTITY_ENDPOINT = emu.endpoints.identityEndpoint;
    process.env.IDENTITY_HEADER = emu.endpoints.identityHeader;
    const credential = new ManagedIdentityCredential({ ...emu.clientOptions });
    const client = new SecretClient(emu.endpoints.keyVault, credential, { ...emu.clientOptions });
    // Unauthorized first: 403 Forbidden in Key Vault's shape.
    await expect(client.setSecret('acr-pull-pwd', 'v1')).rejects.toMatchObject({ statusCode: 403, code: 'Forbidden' });
    emu.authorizer.grant(emu.endpoints.app.objectId, 'Microsoft.KeyVault/vaults/secrets/*');
    const exp = new Date(Date.now() + 40 * 86_400_000);
    const v1 = await client.setSecret('acr-pull-pwd', 'v1', { expiresOn: exp, contentType: 'password', tags: { keyId: 'k1' } });
    const v2 = await client.setSecret('acr-pull-pwd', 'v2');
    expect((await client.getSecret('acr-pull-pwd')).value).toBe('v2');
    expect((await client.getSecret('acr-pull-pwd', { version: v1.properties.version! })).value).toBe('v1');
    const versions = [];
    for await (const p of client.listPropertiesOfSecretVersions('acr-pull-pwd')) versions.push(p.version);
    expect(versions.sort()).toEqual([v1.properties.version, v2.properties.version].sort());
    const updated = await client.updateSecretProperties('acr-pull-pwd', v2.properties.version!, { expiresOn: exp, tags: { keyId: 'k2' } });
    expect(updated.expiresOn?.getTime()).toBe(Math.floor(exp.getTime() / 1000) * 1000);
    const poller = await client.beginDeleteSecret('acr-pull-pwd', { intervalInMs: 10 });
    await poller.pollUntilDone();
    await expect(client.getSecret('acr-pull-pwd')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
    const recover = await client.beginRecoverDeletedSecret('acr-pull-pwd', { intervalInMs: 10 });
    await recover.pollUntilDone();
    expect((await client.getSecret('acr-pull-pwd')).value).toBe('v2');

    // Near expiry: advance 11 days → within 30 days of exp → one event for the current version.
    await emu.admin('POST', '/clock/advance', { days: 11 });
    await emu.admin('POST', '/clock/advance', { days: 1 });
    const state = await emu.admin<{ events: Array<{ eventType: string; subject: string; data: Record<string, unknown> }> }>(
      'GET',
      '/state',
    );
    const near = state.body.events.filter((e) => e.eventType === 'Microsoft.KeyVault.SecretNearExpiry');
    expect(near).toHaveLength(1);
    expect(near[0]).toMatchObject({
      subject: 'acr-pull-pwd',
      data: { ObjectType: 'Secret', ObjectName: 'acr-pull-pwd', VaultName: 'demo-vault', Version: v2.properties.version },
    });
  });

  it('throttles ARM writes per principal with 429 and Retry-After', async () => {
    await emu.admin('PUT', '/faults', { throttle: { burst: 2, refillPerSecond: 0.5 } });
    const token = await tokenOf('https://management.azure.com/.default');
    const put = () =>
      emu.fetch(`${emu.endpoints.arm}/subscriptions/${emu.endpoints.subscriptionId}/resourcegroups/x?api-version=2021-04-01`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: '{"location":"westeurope"}',
      });
    const statuses = [(await put()).status, (await put()).status];
    const third = await put();
    expect(statuses).not.toContain(429);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('2');
    expect(third.headers['x-ms-ratelimit-remaining-subscription-writes']).toBe('0');
    await emu.admin('PUT', '/faults', { throttle: { burst: 200, refillPerSecond: 10 } });
  });

  it('adds latency per API and counts calls per path template', async () => {
    await emu.admin('DELETE', '/calls');
    await emu.admin('PUT', '/faults', { latencyMs: { managedIdentity: 150 } });
    const t0 = Date.now();
    await emu.fetch(`${emu.endpoints.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com/`, {
      headers: { 'X-IDENTITY-HEADER': emu.endpoints.identityHeader },
    });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await emu.admin('PUT', '/faults', { latencyMs: { managedIdentity: 0 } });
    const calls = await emu.admin<{ calls: Array<{ api: string; route: string; status: number; count: number }> }>('GET', '/calls');
    expect(calls.body.calls).toContainEqual(
      expect.objectContaining({ api: 'managedIdentity', route: '/msi/token', status: 200, count: 1 }),
    );
  });
});

describe('emulator request handling', () => {
  it("reads a request target that starts with '//' as a path, as ARM does (the SDKs send one for a scope with a leading slash)", async () => {
    const withArm = await startTestEmulator({ arm: true });
    try {
      const token = (await withArm.operatorCredential().getToken('https://management.azure.com/.default'))?.token;
      const path = `//subscriptions/${withArm.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01`;
      const response = await withArm.fetch(`${withArm.endpoints.arm}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(response.json<{ value: unknown[] }>()).toHaveProperty('value');
    } finally {
      await withArm.stop();
    }
  });

  it('accepts Graph tokens issued for its own URL, the audience a client asks for when GRAPH_ENDPOINT points at it', async () => {
    const token = await tokenOf(`${emu.endpoints.graph}/.default`);
    const response = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
  });
});
