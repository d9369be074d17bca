/**
 * Issue 21 items 7–10 and 12: the emulator answers what real clients ask ARM, as ARM does, driven by
 * the real SDK clients (`@azure/arm-msi`, `@azure/arm-authorization`, and `@azure-rest/core-client`
 * for the calls no installed `@azure/arm-*` package makes). Each block cites what it follows.
 */
import { getClient, type Client } from '@azure-rest/core-client';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCE_GROUP } from '../../../emulator/core/wellKnown.js';
import type { TestEmulator } from '../../support/emulator.js';
import { ARM_SCOPE, aServicePrincipal, armCaller, armClientOptions, startArmEmulator } from './armSupport.js';

let emu: TestEmulator;
let arm: Client;
let stranger: Client;
let msi: ManagedServiceIdentityClient;
let sub: string;
const STRANGER = {
  objectId: '0d000000-0000-4000-8000-0000000021a1',
  appId: '0d000000-0000-4000-8000-0000000021c1',
  secret: 'stranger-secret-21',
};
const V = { rg: '2021-04-01', acr: '2025-11-01', kv: '2023-07-01', vm: '2024-07-01' } as const;

beforeAll(async () => {
  emu = await startArmEmulator({
    graph: { applications: [aServicePrincipal(STRANGER.objectId, STRANGER.appId, STRANGER.secret, 'stranger')] },
  });
  arm = getClient(emu.endpoints.arm, emu.operatorCredential(), { credentials: { scopes: [ARM_SCOPE] }, ...emu.clientOptions });
  stranger = getClient(emu.endpoints.arm, emu.credentialFor(STRANGER.appId, STRANGER.secret), {
    credentials: { scopes: [ARM_SCOPE] },
    ...emu.clientOptions,
  });
  msi = new ManagedServiceIdentityClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
  sub = `/subscriptions/${emu.endpoints.subscriptionId}`;
});
afterAll(async () => {
  await emu?.stop();
});

const get = async (c: Client, path: string, query: Record<string, string> = {}) => {
  const res = await c.pathUnchecked(path).get({ queryParameters: query });
  return { status: Number(res.status), body: res.body as any, headers: res.headers as Record<string, string | undefined> };
};
const put = async (path: string, apiVersion: string, body: unknown) => {
  const res = await arm.pathUnchecked(path).put({ body, queryParameters: { 'api-version': apiVersion } });
  return { status: Number(res.status), body: res.body as any, headers: res.headers as Record<string, string | undefined> };
};

// https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
// ("Remaining requests": x-ms-ratelimit-remaining-subscription-reads|writes|deletes, -tenant-reads,
// -subscription-resource-requests, -subscription-resource-entities-read; "Regional throttling and token
// bucket algorithm": reads 250 / 25 per second, writes and deletes 200 / 10 per second, a global limit 15 times that).
describe('remaining-request headers (item 7)', () => {
  it('answers every read with the reads left in the caller’s subscription bucket, counting down', async () => {
    const rg = `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}`;
    const first = await get(arm, rg, { 'api-version': V.rg });
    const second = await get(arm, rg, { 'api-version': V.rg });
    const a = Number(first.headers['x-ms-ratelimit-remaining-subscription-reads']);
    const b = Number(second.headers['x-ms-ratelimit-remaining-subscription-reads']);
    expect(a).toBeGreaterThan(200);
    expect(a).toBeLessThanOrEqual(250);
    expect(b).toBeLessThanOrEqual(a);
    expect(Number(second.headers['x-ms-ratelimit-remaining-subscription-global-reads'])).toBeGreaterThan(250);
    // A request without a subscription id is tenant-scoped.
    const subs = await get(arm, '/subscriptions', { 'api-version': '2022-12-01' });
    expect(Number(subs.headers['x-ms-ratelimit-remaining-tenant-reads'])).toBeGreaterThan(0);
  });

  it('answers writes and deletes through the SDK with their own remaining counts, and resource-level counts on provider requests', async () => {
    const seen: Array<Record<string, string | undefined>> = [];
    const onResponse = (raw: { headers: { toJSON(): Record<string, string> } }) => void seen.push(raw.headers.toJSON());
    await msi.userAssignedIdentities.createOrUpdate(DEFAULT_RESOURCE_GROUP, 'id-headers', { location: 'westeurope' }, { onResponse });
    await msi.userAssignedIdentities.delete(DEFAULT_RESOURCE_GROUP, 'id-headers', { onResponse });
    const [write, del] = seen;
    expect(Number(write!['x-ms-ratelimit-remaining-subscription-writes'])).toBeGreaterThan(0);
    expect(Number(write!['x-ms-ratelimit-remaining-subscription-resource-requests'])).toBeGreaterThan(0);
    expect(write!['x-ms-ratelimit-remaining-subscription-reads']).toBeUndefined();
    expect(Number(del!['x-ms-ratelimit-remaining-subscription-deletes'])).toBeGreaterThan(0);
    expect(del!['x-ms-ratelimit-remaining-subscription-writes']).toBeUndefined();
    // A collection read a provider serves.
    const list = await get(arm, `${sub}/providers/Microsoft.ManagedIdentity/userAssignedIdentities`, { 'api-version': '2024-11-30' });
    expect(Number(list.headers['x-ms-ratelimit-remaining-subscription-resource-entities-read'])).toBeGreaterThan(0);
  });

  // https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests:
  // every query response carries x-ms-user-quota-remaining and x-ms-user-quota-resets-after (15 per 5 s).
  it('answers every Resource Graph query with the user quota left in its window', async () => {
    const query = () =>
      arm.pathUnchecked('/providers/Microsoft.ResourceGraph/resources').post({
        body: { subscriptions: [emu.endpoints.subscriptionId], query: "resources | where type =~ 'microsoft.keyvault/vaults'" },
        queryParameters: { 'api-version': '2022-10-01' },
      });
    const first = await query();
    const second = await query();
    const left = [first, second].map((r) => Number((r.headers as Record<string, string>)['x-ms-user-quota-remaining']));
    expect(left[0]).toBeLessThan(15);
    expect(left[1]).toBe(left[0]! - 1);
    expect((second.headers as Record<string, string>)['x-ms-user-quota-resets-after']).toMatch(/^00:00:0[0-5]$/);
  });

  it('counts writes down to the 429 the bucket answers when empty', async () => {
    await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 3, refillPerSecond: 0.5 } });
    try {
      const left: string[] = [];
      for (const n of [1, 2, 3])
        left.push(
          String(
            (await put(`${sub}/resourceGroups/rg-left-${n}`, V.rg, { location: 'westeurope' })).headers[
              'x-ms-ratelimit-remaining-subscription-writes'
            ],
          ),
        );
      expect(left).toEqual(['2', '1', '0']);
      // Raw, so the SDK's throttling policy does not wait and retry.
      const refused = await armCaller(emu)('PUT', `${sub}/resourceGroups/rg-left-4`, { location: 'westeurope' }, V.rg);
      expect([refused.status, refused.headers['x-ms-ratelimit-remaining-subscription-writes']]).toEqual([429, '0']);
      // Deletes draw on a bucket of their own, and reads are counted but not refused by default.
      const del = await arm.pathUnchecked(`${sub}/resourceGroups/rg-left-1`).delete({ queryParameters: { 'api-version': V.rg } });
      expect([del.status, (del.headers as Record<string, string>)['x-ms-ratelimit-remaining-subscription-deletes']]).toEqual(['200', '2']);
    } finally {
      await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 200, refillPerSecond: 10 } });
    }
  });
});

// Resources_List / Resources_ListByResourceGroup: resources/.../Microsoft.Resources/stable/2021-04-01/examples/ListResources.json,
// the `$filter` grammar in resources.json's parameter description, `$top` and `nextLink` (ResourceListResult).
describe('listing and finding resources (item 8)', () => {
  beforeAll(async () => {
    for (const rg of ['rg-list-a', 'rg-list-b'])
      expect((await put(`${sub}/resourceGroups/${rg}`, V.rg, { location: 'westeurope' })).status).toBe(201);
    await put(`${sub}/resourceGroups/rg-list-a/providers/Microsoft.ContainerRegistry/registries/findmeacr`, V.acr, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { team: 'blue' },
    });
    await put(`${sub}/resourceGroups/rg-list-b/providers/Microsoft.ContainerRegistry/registries/otheracr`, V.acr, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { team: 'red' },
    });
    await put(`${sub}/resourceGroups/rg-list-b/providers/Microsoft.KeyVault/vaults/findme-kv`, V.kv, {
      location: 'westeurope',
      properties: { tenantId: emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' } },
      tags: { team: 'blue' },
    });
  });

  it('finds a registry by type and name across the subscription, as `az acr show -n` does', async () => {
    const res = await get(arm, `${sub}/resources`, {
      'api-version': V.rg,
      $filter: "resourceType eq 'Microsoft.ContainerRegistry/registries' and name eq 'findmeacr'",
    });
    expect(res.status).toBe(200);
    expect(res.body.value).toEqual([
      expect.objectContaining({
        id: `${sub}/resourceGroups/rg-list-a/providers/Microsoft.ContainerRegistry/registries/findmeacr`,
        name: 'findmeacr',
        type: 'Microsoft.ContainerRegistry/registries',
        location: 'westeurope',
        tags: { team: 'blue' },
      }),
    ]);
    const vault = await get(arm, `${sub}/resources`, { 'api-version': V.rg, $filter: "resourceType eq 'microsoft.keyvault/vaults'" });
    expect(vault.body.value.map((r: { name: string }) => r.name).sort()).toEqual(['demo-vault', 'findme-kv']);
  });

  it('lists one resource group, filters by tag (leaving tags out, as ARM does) and by substring', async () => {
    const inB = await get(arm, `${sub}/resourceGroups/rg-list-b/resources`, { 'api-version': V.rg });
    expect(inB.body.value.map((r: { name: string }) => r.name).sort()).toEqual(['findme-kv', 'otheracr']);
    const blue = await get(arm, `${sub}/resources`, { 'api-version': V.rg, $filter: "tagName eq 'team' and tagValue eq 'blue'" });
    expect(blue.body.value.map((r: { name: string }) => r.name).sort()).toEqual(['findme-kv', 'findmeacr']);
    expect(blue.body.value.every((r: { tags?: unknown }) => r.tags === undefined)).toBe(true);
    const sub1 = await get(arm, `${sub}/resources`, {
      'api-version': V.rg,
      $filter: "substringof('findme', name) and resourceGroup eq 'rg-list-b'",
    });
    expect(sub1.body.value.map((r: { name: string }) => r.name)).toEqual(['findme-kv']);
    expect((await get(arm, `${sub}/resourceGroups/no-such-rg/resources`, { 'api-version': V.rg })).body.error.code).toBe(
      'ResourceGroupNotFound',
    );
  });

  it('pages with $top and nextLink until every resource is seen once', async () => {
    const names: string[] = [];
    let page = await get(arm, `${sub}/resources`, { 'api-version': V.rg, $top: '1' });
    for (;;) {
      expect(page.body.value.length).toBeLessThanOrEqual(1);
      names.push(...page.body.value.map((r: { name: string }) => r.name));
      if (!page.body.nextLink) break;
      page = await get(arm, page.body.nextLink);
    }
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['findmeacr', 'otheracr', 'findme-kv', 'demo-vault']));
  });

  it('refuses a filter it does not understand, and lists nothing a caller cannot read', async () => {
    const bad = await get(arm, `${sub}/resources`, { 'api-version': V.rg, $filter: "kind gt 'x'" });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'InvalidFilterInQueryString']);
    const none = await get(stranger, `${sub}/resources`, { 'api-version': V.rg });
    expect([none.status, none.body.value]).toEqual([200, []]);
  });
});

describe('what a client asks before it acts (item 9)', () => {
  // Subscriptions_List: resources/.../2021-04-01/examples/GetSubscriptions.json.
  it('lists the subscriptions a caller holds a role in, and none for a caller without', async () => {
    const mine = await get(arm, '/subscriptions', { 'api-version': '2022-12-01' });
    expect(mine.body.value).toEqual([
      expect.objectContaining({
        id: sub,
        subscriptionId: emu.endpoints.subscriptionId,
        tenantId: emu.endpoints.tenantId,
        state: 'Enabled',
      }),
    ]);
    expect((await get(stranger, '/subscriptions', { 'api-version': '2022-12-01' })).body.value).toEqual([]);
  });

  // Providers_Get: resources/.../2021-04-01/examples/GetProvider.json.
  it('answers a provider with its resource types and their api-versions, newest first', async () => {
    const res = await get(arm, `${sub}/providers/Microsoft.ContainerRegistry`, { 'api-version': V.rg });
    expect(res.body).toMatchObject({ namespace: 'Microsoft.ContainerRegistry', registrationState: 'Registered' });
    const registries = res.body.resourceTypes.find((t: { resourceType: string }) => t.resourceType === 'registries');
    expect(registries.apiVersions[0]).toBe('2025-11-01');
    expect(registries.apiVersions).toContain('2019-05-01');
    expect(res.body.resourceTypes.map((t: { resourceType: string }) => t.resourceType)).toContain('registries/tasks');
    expect((await get(arm, `${sub}/providers/Microsoft.Nothing`, { 'api-version': V.rg })).body.error.code).toBe(
      'InvalidResourceNamespace',
    );
  });

  // Tags_List: resources.json `TagsListResult` / `TagDetails` (tagName, count {type, value}, values[{tagValue, count}]).
  it('lists tag names with their values and counts', async () => {
    await put(`${sub}/resourceGroups/rg-tags`, V.rg, { location: 'westeurope', tags: { costcenter: '42' } });
    await put(`${sub}/resourceGroups/rg-tags/providers/Microsoft.ContainerRegistry/registries/tagsacr`, V.acr, {
      location: 'westeurope',
      sku: { name: 'Basic' },
      tags: { costcenter: '42', owner: 'ops' },
    });
    const res = await get(arm, `${sub}/tagNames`, { 'api-version': V.rg });
    const cc = res.body.value.find((t: { tagName: string }) => t.tagName === 'costcenter');
    expect(cc).toEqual({
      id: `${sub}/tagNames/costcenter`,
      tagName: 'costcenter',
      count: { type: 'Total', value: 2 },
      values: [{ id: `${sub}/tagNames/costcenter/tagValues/42`, tagValue: '42', count: { type: 'Total', value: 2 } }],
    });
  });

  // ResourceGroups_CheckExistence: resources/.../2021-04-01/examples/CheckExistenceResourceGroups.json (204, 404).
  it('answers HEAD on a resource group 204 when it exists and 404 when not, as `az group exists` reads it', async () => {
    const exists = await arm
      .pathUnchecked(`${sub}/resourcegroups/${DEFAULT_RESOURCE_GROUP}`)
      .head({ queryParameters: { 'api-version': V.rg } });
    const missing = await arm.pathUnchecked(`${sub}/resourcegroups/nope-rg`).head({ queryParameters: { 'api-version': V.rg } });
    expect([exists.status, missing.status]).toEqual(['204', '404']);
    // Resources_CheckExistence (examples/CheckExistenceResources.json) likewise, on a resource.
    const vault = await arm
      .pathUnchecked(`${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/demo-vault`)
      .head({ queryParameters: { 'api-version': V.kv } });
    const noVault = await arm
      .pathUnchecked(`${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/no-vault`)
      .head({ queryParameters: { 'api-version': V.kv } });
    expect([vault.status, noVault.status]).toEqual(['204', '404']);
  });

  // The cloud's endpoints: https://management.azure.com/metadata/endpoints?api-version=2022-09-01 (array) and
  // the 1.0 / 2015-01-01 object `az cloud register --endpoint-resource-manager` reads
  // (https://learn.microsoft.com/azure-stack/user/azure-stack-version-profiles-azurecli2).
  it('serves the cloud metadata endpoints without a token, in both formats', async () => {
    const anonymous = getClient(emu.endpoints.arm, { ...emu.clientOptions });
    const old = await get(anonymous, '/metadata/endpoints', { 'api-version': '2015-01-01' });
    expect(old.status).toBe(200);
    expect(old.body).toMatchObject({
      authentication: { loginEndpoint: `${emu.endpoints.login}/`, audiences: expect.arrayContaining(['https://management.azure.com/']) },
    });
    const clouds = await get(anonymous, '/metadata/endpoints', { 'api-version': '2022-09-01' });
    expect(clouds.body[0]).toMatchObject({
      resourceManager: `${emu.endpoints.arm}/`,
      authentication: { loginEndpoint: `${emu.endpoints.login}/` },
      suffixes: { keyVaultDns: 'vault.localhost', acrLoginServer: 'azurecr.io' },
    });
  });
});

describe('paths and versions as ARM treats them (item 10)', () => {
  it('ignores an empty path segment and answers ids in Azure’s casing whatever the request said', async () => {
    const created = await put(
      `${sub}/resourcegroups/${DEFAULT_RESOURCE_GROUP}/providers/microsoft.containerregistry/REGISTRIES/casedacr`,
      V.acr,
      { location: 'westeurope', sku: { name: 'Basic' } },
    );
    expect(created.status).toBe(201);
    expect(created.body.id).toBe(
      `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.ContainerRegistry/registries/casedacr`,
    );
    const doubled = await get(
      arm,
      `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.ContainerRegistry//registries/casedacr`,
      { 'api-version': V.acr },
    );
    expect([doubled.status, doubled.body.name]).toEqual([200, 'casedacr']);
    const rg = await put(`${sub}/resourcegroups/rg-lower`, V.rg, { location: 'westeurope' });
    expect(rg.body.id).toBe(`${sub}/resourceGroups/rg-lower`);
  });

  // https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-register-resource-provider (NoRegisteredProviderFound)
  // and …/error-invalid-api-version (InvalidApiVersionParameter): the message lists the versions the type has.
  it('refuses an api-version the type does not publish, naming the valid ones', async () => {
    const acr = await get(
      arm,
      `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.ContainerRegistry/registries/casedacr`,
      { 'api-version': '2024-03-01' },
    );
    expect([acr.status, acr.body.error.code]).toEqual([400, 'NoRegisteredProviderFound']);
    expect(acr.body.error.message).toContain("API version '2024-03-01' for type 'registries'");
    expect(acr.body.error.message).toContain('2025-11-01');
    const rg = await get(arm, `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}`, { 'api-version': '2099-01-01' });
    expect([rg.status, rg.body.error.code]).toEqual([400, 'InvalidApiVersionParameter']);
    expect(rg.body.error.message).toContain('2021-04-01');
  });

  it('accepts the versions the SDK packages pin (arm-authorization 2022-04-01, arm-msi 2024-11-30)', async () => {
    const authz = new AuthorizationManagementClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
    const assignments = [];
    for await (const a of authz.roleAssignments.listForSubscription()) assignments.push(a);
    expect(assignments.length).toBeGreaterThan(0);
    const identities = [];
    for await (const i of msi.userAssignedIdentities.listBySubscription()) identities.push(i);
    expect(Array.isArray(identities)).toBe(true);
  });
});

// Deployments_CreateOrUpdate / Deployments_Validate: resources/.../2021-04-01/examples/PutDeploymentResourceGroup.json.
describe('template deployments (item 12)', () => {
  it('refuses PUT and validate with a clear "not supported by the emulator" error, never a 404', async () => {
    const deployment = `${sub}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.Resources/deployments/my-deployment`;
    const body = {
      properties: {
        mode: 'Incremental',
        template: {
          $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
          contentVersion: '1.0.0.0',
          resources: [],
        },
      },
    };
    const created = await put(deployment, V.rg, body);
    expect([created.status, created.body.error.code]).toEqual([400, 'DeploymentNotSupportedByEmulator']);
    expect(created.body.error.message).toMatch(/not supported by the emulator/);
    const validate = await arm.pathUnchecked(`${deployment}/validate`).post({ body, queryParameters: { 'api-version': V.rg } });
    expect([validate.status, (validate.body as any).error.code]).toEqual(['400', 'DeploymentNotSupportedByEmulator']);
    const atSubscription = await arm
      .pathUnchecked(`${sub}/providers/Microsoft.Resources/deployments/sub-deployment/validate`)
      .post({ body: { ...body, location: 'westeurope' }, queryParameters: { 'api-version': V.rg } });
    expect(atSubscription.status).toBe('400');
    expect((await get(arm, deployment, { 'api-version': V.rg })).body.error.code).toBe('DeploymentNotFound');
  });

  it('reads the JSONC body the Azure CLI sends (`template:{…}` unquoted), as ARM does, and still refuses the deployment clearly', async () => {
    const token = (await emu.operatorCredential().getToken(ARM_SCOPE))!.token;
    const body =
      '{"properties": {"parameters": {}, "mode": "Incremental", template:{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": []}}}';
    const res = await emu.fetch(
      `${emu.endpoints.arm}${sub}/resourcegroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.Resources/deployments/cli/validate?api-version=2021-04-01`,
      { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body },
    );
    expect([res.status, res.json<{ error: { code: string } }>().error.code]).toEqual([400, 'DeploymentNotSupportedByEmulator']);
  });
});

// How the Azure CLI signs in to a cloud registered from the emulator's metadata (scripts/conformance.ts):
// MSAL skips instance discovery (login.microsoftonline.com) only for an AD FS authority, so the emulator
// answers `adfs` as its tenant: OpenID configuration (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc)
// and the client-credentials token endpoint it names.
describe('an AD FS-style authority for the Azure CLI', () => {
  it('serves the OpenID configuration at /adfs and tokens from the endpoint it names', async () => {
    const config = await emu.fetch(`${emu.endpoints.login}/adfs/.well-known/openid-configuration`);
    expect(config.status).toBe(200);
    const tokenEndpoint = config.json<{ token_endpoint: string }>().token_endpoint;
    expect(tokenEndpoint).toBe(`${emu.endpoints.login}/${emu.endpoints.tenantId}/oauth2/v2.0/token`);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emu.endpoints.operator.clientId,
      client_secret: emu.endpoints.operator.clientSecret,
      scope: 'https://management.core.windows.net//.default',
    });
    const token = await emu.fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect([token.status, typeof token.json<{ access_token?: string }>().access_token]).toEqual([200, 'string']);
    expect((await emu.fetch(`${emu.endpoints.login}/not-a-tenant/.well-known/openid-configuration`)).status).toBe(400);
  });
});
