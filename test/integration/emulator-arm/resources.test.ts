/**
 * ARM resources through their REST contract, with `@azure-rest/core-client` (the pipeline the
 * product's thin ARM adapter uses) and raw HTTPS for the statuses a client hides.
 * Bodies follow azure-rest-api-specs examples:
 * - compute/.../virtualMachineExamples/VirtualMachine_Create_WithSystemAssignedIdentity.json and
 *   VirtualMachine_Create_WithUserAssignedIdentity (identity.userAssignedIdentities.{principalId, clientId});
 * - containerservice/.../ManagedClustersCreate_*.json (identityProfile.kubeletidentity, oidcIssuerProfile.issuerURL);
 * - containerregistry/.../RegistryCreate.json (properties.roleAssignmentMode, api-version 2025-11-01),
 *   TasksCreate_WithUserIdentities.json and TasksGet.json (credentials.customRegistries echoed by login server, values null);
 * - resources/.../PatchTagsResource.json (tags API, operation Merge / Delete);
 * - keyvault/.../createVault.json (properties.vaultUri);
 * - resourcegraph/.../2022-10-01/examples/ResourcesFirstPageQuery.json / ResourcesNextPageQuery.json ($skipToken).
 * Errors: https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
 */
import { getClient, type Client } from '@azure-rest/core-client';
import { SecretClient } from '@azure/keyvault-secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLE_IDS } from '../../../emulator/arm/roles.js';
import { APP, DEFAULT_RESOURCE_GROUP, DEMO_VAULT, OPERATOR } from '../../../emulator/core/wellKnown.js';
import { CONSUMER_PULL_CONFIG_ROLE, TASK_CREDENTIAL_ROLE } from '../../../emulator/index.js';
import type { TestEmulator } from '../../support/emulator.js';
import { ARM_SCOPE, aServicePrincipal, armCaller, rgId, startArmEmulator, type ArmCall } from './armSupport.js';

let emu: TestEmulator;
let arm: Client;
let call: ArmCall;
let rg: string;
const API = {
  vm: '2024-07-01',
  vmss: '2024-07-01',
  aks: '2024-09-01',
  acr: '2025-11-01',
  task: '2019-06-01-preview',
  msi: '2024-11-30',
  apps: '2024-03-01',
  web: '2023-12-01',
  kv: '2023-07-01',
  tags: '2021-04-01',
  graph: '2022-10-01',
} as const;
const STRANGER = {
  objectId: '0d000000-0000-4000-8000-0000000000a1',
  appId: '0d000000-0000-4000-8000-0000000000c1',
  secret: 'stranger-secret',
};

beforeAll(async () => {
  emu = await startArmEmulator({
    graph: { applications: [aServicePrincipal(STRANGER.objectId, STRANGER.appId, STRANGER.secret, 'stranger')] },
  });
  arm = getClient(emu.endpoints.arm, emu.operatorCredential(), { credentials: { scopes: [ARM_SCOPE] }, ...emu.clientOptions });
  call = armCaller(emu);
  rg = rgId(emu);
});
afterAll(async () => {
  await emu?.stop();
});

/** PUT through @azure-rest/core-client; answers status and body. */
async function put(id: string, apiVersion: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await arm.pathUnchecked(id).put({ body, queryParameters: { 'api-version': apiVersion } });
  return { status: Number(res.status), body: res.body };
}
async function get(id: string, apiVersion: string): Promise<{ status: number; body: any }> {
  const res = await arm.pathUnchecked(id).get({ queryParameters: { 'api-version': apiVersion } });
  return { status: Number(res.status), body: res.body };
}
async function graphQuery(query: string, options: Record<string, unknown> = {}): Promise<any> {
  const res = await arm
    .pathUnchecked('/providers/Microsoft.ResourceGraph/resources')
    .post({ body: { subscriptions: [emu.endpoints.subscriptionId], query, options }, queryParameters: { 'api-version': API.graph } });
  expect(res.status).toBe('200');
  return res.body;
}
const uami = async (name: string) =>
  (await put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`, API.msi, { location: 'westeurope' })).body;

describe('the default scenario', () => {
  it('has demo-rg and the demo vault as an ARM resource whose vaultUri is its data plane', async () => {
    expect((await get(rg, '2021-04-01')).body).toMatchObject({ name: DEFAULT_RESOURCE_GROUP, type: 'Microsoft.Resources/resourceGroups' });
    const vault = await get(DEMO_VAULT.resourceId, API.kv);
    expect(vault.status).toBe(200);
    expect(vault.body).toMatchObject({
      name: 'demo-vault',
      type: 'Microsoft.KeyVault/vaults',
      properties: { vaultUri: emu.endpoints.keyVault, tenantId: emu.endpoints.tenantId },
    });
    expect(emu.endpoints.keyVault).toMatch(/^https:\/\/demo-vault\.vault\.localhost:\d+\/$/);
  });

  it("finds the vault's URI by name through Resource Graph", async () => {
    const res = await graphQuery(
      "resources | where type =~ 'microsoft.keyvault/vaults' and name =~ 'demo-vault' | project id, name, properties",
    );
    expect(res).toMatchObject({ totalRecords: 1, count: 1, resultTruncated: 'false' });
    expect(res.data[0]).toMatchObject({ id: DEMO_VAULT.resourceId, name: 'demo-vault', properties: { vaultUri: emu.endpoints.keyVault } });
  });

  it("gives the operator Owner on the subscription and the app's identity its roles", async () => {
    const sub = `/subscriptions/${emu.endpoints.subscriptionId}`;
    const at = async (scope: string, principalId: string) => {
      const res = await call(
        'GET',
        `${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=${encodeURIComponent(`atScope() and principalId eq '${principalId}'`)}`,
        undefined,
        '2022-04-01',
      );
      return res
        .json<{ value: Array<{ properties: { scope: string; roleDefinitionId: string } }> }>()
        .value.map(
          (a) =>
            `${a.properties.scope === sub ? 'sub' : a.properties.scope === DEMO_VAULT.resourceId ? 'vault' : a.properties.scope}:${a.properties.roleDefinitionId.split('/').pop()}`,
        );
    };
    expect(await at(sub, OPERATOR.objectId)).toEqual([`sub:${BUILT_IN_ROLE_IDS.Owner}`]);
    expect((await at(DEMO_VAULT.resourceId, APP.objectId)).sort()).toEqual(
      [
        `sub:${BUILT_IN_ROLE_IDS.Reader}`,
        `sub:${BUILT_IN_ROLE_IDS.RoleBasedAccessControlAdministrator}`,
        `sub:${BUILT_IN_ROLE_IDS.ManagedIdentityContributor}`,
        // The custom role that lets the app point an ACR task's registry credential at its identity (infra/app/taskCredentialRole.bicep).
        `sub:${TASK_CREDENTIAL_ROLE.name}`,
        // The custom role for a Container App's registry entry and a site's acrUseManagedIdentityCreds (infra/app/consumerPullConfigRole.bicep).
        `sub:${CONSUMER_PULL_CONFIG_ROLE.name}`,
        `vault:${BUILT_IN_ROLE_IDS.KeyVaultSecretsOfficer}`,
      ].sort(),
    );
    // Secrets Officer is on the demo vault only, not on the subscription.
    expect(await at(sub, APP.objectId)).not.toContain(`sub:${BUILT_IN_ROLE_IDS.KeyVaultSecretsOfficer}`);
  });

  it("reuses the Function App's directory principal when its site is written through ARM", async () => {
    const site = await put(APP.resourceId, API.web, {
      location: 'westeurope',
      kind: 'functionapp',
      identity: { type: 'SystemAssigned' },
      properties: {},
    });
    expect(site.status).toBe(201);
    expect(site.body.identity).toMatchObject({ type: 'SystemAssigned', principalId: APP.objectId, tenantId: emu.endpoints.tenantId });
    const state = await emu.admin<{ directory: Array<{ objectId: string; resourceId?: string }> }>('GET', '/state');
    expect(state.body.directory.filter((p) => p.resourceId?.toLowerCase() === APP.resourceId.toLowerCase()).map((p) => p.objectId)).toEqual(
      [APP.objectId],
    );
  });
});

describe('Key Vault through ARM', () => {
  // The permission model: `"default": false` up to 2025-05-01, `"default": true` from 2026-02-01
  // (keyvault/.../stable/2025-05-01/openapi.json and …/stable/2026-02-01/openapi.json, VaultProperties.enableRbacAuthorization).
  it.each([
    { apiVersion: '2023-07-01', given: undefined, rbac: false },
    { apiVersion: '2025-05-01', given: undefined, rbac: false },
    { apiVersion: '2026-02-01', given: undefined, rbac: true },
    { apiVersion: '2023-07-01', given: true, rbac: true },
    { apiVersion: '2026-02-01', given: false, rbac: false },
  ])(
    'answers enableRbacAuthorization=$rbac for a vault created with api-version $apiVersion and $given',
    async ({ apiVersion, given, rbac }) => {
      const id = `${rg}/providers/Microsoft.KeyVault/vaults/kv-model-${apiVersion.slice(0, 4)}-${String(given)}`;
      const created = await put(id, apiVersion, {
        location: 'westeurope',
        properties: {
          tenantId: emu.endpoints.tenantId,
          sku: { family: 'A', name: 'standard' },
          ...(given === undefined ? {} : { enableRbacAuthorization: given }),
        },
      });
      expect(created.status).toBe(201);
      expect(created.body.properties.enableRbacAuthorization).toBe(rbac);
      // A later PUT without the property keeps the model (VaultPatchProperties: "the value of this property will not change").
      const again = await put(id, '2026-02-01', {
        location: 'westeurope',
        properties: { tenantId: emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' } },
      });
      expect(again.body.properties.enableRbacAuthorization).toBe(rbac);
    },
  );

  it('creates the data plane on PUT and answers its vaultUri; the secrets client then works with a data role', async () => {
    const id = `${rg}/providers/Microsoft.KeyVault/vaults/kv-team`;
    const created = await put(id, API.kv, {
      location: 'westeurope',
      properties: { tenantId: emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
    });
    expect(created.status).toBe(201);
    const vaultUri = created.body.properties.vaultUri as string;
    expect(vaultUri).toMatch(/^https:\/\/kv-team\.vault\.localhost:\d+\/$/);
    // Owner has no data actions: Key Vault Secrets Officer on the vault, as in Azure.
    const ra = await call(
      'PUT',
      `${id}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-00000000ee01`,
      {
        properties: {
          roleDefinitionId: `/subscriptions/${emu.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.KeyVaultSecretsOfficer}`,
          principalId: OPERATOR.objectId,
          principalType: 'ServicePrincipal',
        },
      },
      '2022-04-01',
    );
    expect(ra.status).toBe(201);
    const secrets = new SecretClient(vaultUri, emu.operatorCredential(), { ...emu.clientOptions });
    await secrets.setSecret('hello', 'world');
    expect((await secrets.getSecret('hello')).value).toBe('world');

    // DELETE through ARM removes the data plane too.
    expect((await call('DELETE', id, undefined, API.kv)).status).toBe(200);
    expect((await get(id, API.kv)).status).toBe(404);
    const state = await emu.admin<{ modules: { keyVault: Record<string, unknown> } }>('GET', '/state');
    expect(Object.keys(state.body.modules.keyVault)).not.toContain('kv-team');
  });
});

describe('compute and container resources', () => {
  it('PUTs a VM with SystemAssigned and two user-assigned identities, answering every principal id', async () => {
    const one = await uami('vm-id-one');
    const two = await uami('vm-id-two');
    const vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
    const res = await put(vm, API.vm, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [one.id]: {}, [two.id]: {} } },
      properties: { hardwareProfile: { vmSize: 'Standard_B2s' } },
    });
    expect(res.status).toBe(201);
    expect(res.body.identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.identity.tenantId).toBe(emu.endpoints.tenantId);
    expect(res.body.identity.userAssignedIdentities[one.id]).toEqual({
      principalId: one.properties.principalId,
      clientId: one.properties.clientId,
    });
    expect(res.body.identity.userAssignedIdentities[two.id]).toEqual({
      principalId: two.properties.principalId,
      clientId: two.properties.clientId,
    });
    expect(res.body.properties).toMatchObject({ provisioningState: 'Succeeded', hardwareProfile: { vmSize: 'Standard_B2s' } });

    // PATCH tags keeps the identity (and its principal).
    const patched = await arm
      .pathUnchecked(vm)
      .patch({ body: { tags: { 'acr-pull': 'contosoacr' } }, queryParameters: { 'api-version': API.vm } });
    expect(patched.status).toBe('200');
    expect((patched.body as any).tags).toEqual({ 'acr-pull': 'contosoacr' });
    expect((patched.body as any).identity.principalId).toBe(res.body.identity.principalId);
  });

  it('answers 400 FailedIdentityOperation for a user-assigned identity that does not exist', async () => {
    const missing = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nope`;
    const res = await put(`${rg}/providers/Microsoft.Compute/virtualMachines/vm-bad`, API.vm, {
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [missing]: {} } },
      properties: {},
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('FailedIdentityOperation');
  });

  it('merges and deletes tags through the tags API (Microsoft.Resources/tags/default)', async () => {
    const vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-tags`;
    await put(vm, API.vm, { location: 'westeurope', tags: { env: 'dev' }, properties: {} });
    const tagsPath = `${vm}/providers/Microsoft.Resources/tags/default`;
    const merged = await arm.pathUnchecked(tagsPath).patch({
      body: { operation: 'Merge', properties: { tags: { 'acr-pull': 'contosoacr' } } },
      queryParameters: { 'api-version': API.tags },
    });
    expect(merged.status).toBe('200');
    expect(merged.body).toMatchObject({
      id: tagsPath,
      name: 'default',
      type: 'Microsoft.Resources/tags',
      properties: { tags: { env: 'dev', 'acr-pull': 'contosoacr' } },
    });
    const deleted = await arm.pathUnchecked(tagsPath).patch({
      body: { operation: 'Delete', properties: { tags: { 'acr-pull': 'contosoacr' } } },
      queryParameters: { 'api-version': API.tags },
    });
    expect((deleted.body as any).properties.tags).toEqual({ env: 'dev' });
    expect((await get(vm, API.vm)).body.tags).toEqual({ env: 'dev' });
  });

  it('PUTs an AKS cluster with a kubelet identity and an OIDC issuer whose URL ends in a slash', async () => {
    const aks = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-one`;
    const res = await put(aks, API.aks, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: { dnsPrefix: 'aks-one', oidcIssuerProfile: { enabled: true }, securityProfile: { workloadIdentity: { enabled: true } } },
    });
    expect(res.status).toBe(201);
    const kubelet = res.body.properties.identityProfile.kubeletidentity;
    expect(kubelet).toEqual({
      resourceId: expect.stringMatching(/\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/aks-one-agentpool$/),
      clientId: expect.any(String),
      objectId: expect.any(String),
    });
    expect(res.body.properties.oidcIssuerProfile.issuerURL).toMatch(/^https:\/\/.+\/$/);
    // The kubelet identity is a real user-assigned identity in the node resource group.
    const identity = await get(kubelet.resourceId, API.msi);
    expect(identity.body.properties.principalId).toBe(kubelet.objectId);
    // A second PUT keeps the issuer and the kubelet identity.
    const again = await put(aks, API.aks, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: { dnsPrefix: 'aks-one', oidcIssuerProfile: { enabled: true } },
    });
    expect(again.status).toBe(200);
    expect(again.body.properties.oidcIssuerProfile.issuerURL).toBe(res.body.properties.oidcIssuerProfile.issuerURL);
    expect(again.body.properties.identityProfile.kubeletidentity).toEqual(kubelet);
  });

  // ManagedClusterProperties.identityProfile (containerservice/.../aks/stable/2025-05-01/managedClusters.json):
  // "The only accepted key is kubeletidentity, with value of resourceId"; ARM fills clientId and objectId.
  it('PUTs AKS clusters that bring their own kubelet identity, one identity for two clusters', async () => {
    const control = (
      await put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aks-control`, API.msi, { location: 'westeurope' })
    ).body;
    const kubelet = (
      await put(`${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aks-kubelet`, API.msi, { location: 'westeurope' })
    ).body;
    const body = (name: string, kubeletId: string) => ({
      location: 'westeurope',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [control.id]: {} } },
      properties: { dnsPrefix: name, identityProfile: { kubeletidentity: { resourceId: kubeletId } } },
    });
    for (const name of ['aks-byo-1', 'aks-byo-2']) {
      const res = await put(`${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`, API.aks, body(name, kubelet.id));
      expect(res.body.properties.identityProfile.kubeletidentity).toEqual({
        resourceId: kubelet.id,
        clientId: kubelet.properties.clientId,
        objectId: kubelet.properties.principalId,
      });
    }
    const missing = await arm.pathUnchecked(`${rg}/providers/Microsoft.ContainerService/managedClusters/aks-byo-3`).put({
      body: body('aks-byo-3', `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-nowhere`),
      queryParameters: { 'api-version': API.aks },
    });
    expect(missing.status).toBe('400');
  });

  it('PUTs registries with their role-assignment mode (LegacyRegistryPermissions by default)', async () => {
    const legacy = await put(`${rg}/providers/Microsoft.ContainerRegistry/registries/contosoacr`, API.acr, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      properties: {},
    });
    expect(legacy.body.properties).toMatchObject({ loginServer: 'contosoacr.azurecr.io', roleAssignmentMode: 'LegacyRegistryPermissions' });
    const abac = await put(`${rg}/providers/Microsoft.ContainerRegistry/registries/fabrikamacr`, API.acr, {
      location: 'westeurope',
      sku: { name: 'Premium' },
      properties: { roleAssignmentMode: 'AbacRepositoryPermissions' },
    });
    expect(abac.body.properties).toMatchObject({ loginServer: 'fabrikamacr.azurecr.io', roleAssignmentMode: 'AbacRepositoryPermissions' });
  });

  it('PUTs an ACR task with a custom registry credential that the response echoes by login server only', async () => {
    const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/taskacr`;
    await put(registry, API.acr, { location: 'westeurope', sku: { name: 'Standard' }, properties: {} });
    const task = await put(`${registry}/tasks/build`, API.task, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: {
        platform: { os: 'Linux' },
        step: { type: 'Docker', dockerFilePath: 'Dockerfile', contextPath: 'https://github.com/contoso/app' },
        credentials: { customRegistries: { 'baseimages.azurecr.io': { identity: '[system]' } } },
      },
    });
    expect(task.status).toBe(201);
    expect(task.body.identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
    // TasksGet.json: the entry's key, never its value.
    expect(task.body.properties.credentials.customRegistries).toEqual({ 'baseimages.azurecr.io': null });
    expect((await get(`${registry}/tasks/build`, API.task)).body.properties.credentials.customRegistries).toEqual({
      'baseimages.azurecr.io': null,
    });
  });

  it.each([
    ['VM scale set', 'Microsoft.Compute/virtualMachineScaleSets/vmss-web', API.vmss],
    ['container app', 'Microsoft.App/containerApps/app-web', API.apps],
    ['web app', 'Microsoft.Web/sites/site-web', API.web],
  ])('PUTs a %s with a system-assigned identity', async (_kind, path, apiVersion) => {
    const res = await put(`${rg}/providers/${path}`, apiVersion, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: {},
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      type: path.split('/').slice(0, 2).join('/'),
      identity: { type: 'SystemAssigned', principalId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
  });
});

describe('ARM front door errors', () => {
  const vm = () => `${rg}/providers/Microsoft.Compute/virtualMachines/vm-web-1`;

  it('answers 400 MissingApiVersionParameter without api-version', async () => {
    const res = await call('GET', vm(), undefined, null);
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'MissingApiVersionParameter', message: expect.any(String) } });
  });

  it('answers 401 AuthenticationFailed with a Bearer challenge without a token', async () => {
    const res = await call('GET', vm(), undefined, API.vm, null);
    expect(res.status).toBe(401);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('AuthenticationFailed');
    expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer /);
  });

  it('answers 403 AuthorizationFailed to a principal without a role', async () => {
    const res = await call(
      'PUT',
      `${rg}/providers/Microsoft.Compute/virtualMachines/vm-stranger`,
      { location: 'westeurope', properties: {} },
      API.vm,
      emu.credentialFor(STRANGER.appId, STRANGER.secret),
    );
    expect(res.status).toBe(403);
    const error = res.json<{ error: { code: string; message: string } }>().error;
    expect(error.code).toBe('AuthorizationFailed');
    expect(error.message).toContain(`'Microsoft.Compute/virtualMachines/write'`);
  });

  it("answers 404 ResourceNotFound in ARM's error shape", async () => {
    const res = await get(`${rg}/providers/Microsoft.Compute/virtualMachines/vm-nowhere`, API.vm);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: {
        code: 'ResourceNotFound',
        message: expect.stringContaining("'Microsoft.Compute/virtualMachines/vm-nowhere' under resource group 'demo-rg' was not found"),
      },
    });
    const noRg = await get(
      `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/rg-nowhere/providers/Microsoft.Compute/virtualMachines/vm`,
      API.vm,
    );
    expect(noRg.body.error.code).toBe('ResourceGroupNotFound');
  });
});

describe('Resource Graph', () => {
  it('pages with $skipToken until every row is read', async () => {
    for (let i = 0; i < 5; i++)
      await put(`${rg}/providers/Microsoft.ContainerRegistry/registries/pageacr${i}`, API.acr, {
        location: 'westeurope',
        sku: { name: 'Basic' },
        tags: { 'acr-pull-allow': 'same-subscription' },
        properties: {},
      });
    const q =
      "resources | where type =~ 'microsoft.containerregistry/registries' | where isnotempty(tags['acr-pull-allow']) | project id, name, tags";
    const names: string[] = [];
    let skipToken: string | undefined;
    let pages = 0;
    do {
      const res = await graphQuery(q, { $top: 2, ...(skipToken ? { $skipToken: skipToken } : {}) });
      expect(res.totalRecords).toBe(5);
      names.push(...res.data.map((r: { name: string }) => r.name));
      skipToken = res.$skipToken;
      pages++;
    } while (skipToken);
    expect(pages).toBe(3);
    expect(names.sort()).toEqual(['pageacr0', 'pageacr1', 'pageacr2', 'pageacr3', 'pageacr4']);
  });

  it('answers 400 for a query outside the supported subset', async () => {
    const res = await arm
      .pathUnchecked('/providers/Microsoft.ResourceGraph/resources')
      .post({ body: { query: 'resources | summarize count() by type' }, queryParameters: { 'api-version': API.graph } });
    expect(res.status).toBe('400');
    expect((res.body as any).error.code).toBe('BadRequest');
  });
});

describe('reset', () => {
  // Last in this file: it empties everything written above.
  it('re-applies the ARM defaults on /admin/reset', async () => {
    expect((await emu.admin('POST', '/reset')).status).toBe(200);
    expect((await get(`${rg}/providers/Microsoft.Compute/virtualMachines/vm-web-1`, API.vm)).status).toBe(404);
    const vault = await get(DEMO_VAULT.resourceId, API.kv);
    expect(vault.body.properties.vaultUri).toBe(emu.endpoints.keyVault);
  });
});

describe('consumers that need more than a role assignment (issue 19)', () => {
  // app/.../Microsoft.App/ContainerApps/stable/2025-01-01/examples/ContainerApps_CreateOrUpdate.json: configuration is
  // not versioned, so a registries change keeps latestRevisionName; a template change makes a new one.
  it('keeps a Container App revision on a registries PATCH and makes a new one on a template change', async () => {
    const id = `${rg}/providers/Microsoft.App/containerApps/app-revisions`;
    const template = { containers: [{ name: 'web', image: 'appsacr.azurecr.io/web:1' }] };
    const created = await put(id, API.apps, {
      location: 'westeurope',
      identity: { type: 'SystemAssigned' },
      properties: { configuration: { registries: [] }, template },
    });
    const revision = created.body.properties.latestRevisionName as string;
    expect(revision).toMatch(/^app-revisions--/);
    const patched = await call(
      'PATCH',
      id,
      { properties: { configuration: { registries: [{ server: 'appsacr.azurecr.io', identity: 'system' }] } } },
      API.apps,
    );
    expect(patched.json<{ properties: Record<string, unknown> }>().properties).toMatchObject({
      latestRevisionName: revision,
      configuration: { registries: [{ server: 'appsacr.azurecr.io', identity: 'system' }] },
    });
    const retemplated = await call(
      'PATCH',
      id,
      { properties: { template: { containers: [{ name: 'web', image: 'appsacr.azurecr.io/web:2' }] } } },
      API.apps,
    );
    expect(retemplated.json<{ properties: Record<string, unknown> }>().properties.latestRevisionName).not.toBe(revision);
  });

  // web/resource-manager/Microsoft.Web/stable/2024-04-01/examples/UpdateSiteConfig.json
  it('serves a site’s config/web from its siteConfig, with PATCH of the ACR identity settings', async () => {
    const id = `${rg}/providers/Microsoft.Web/sites/site-config`;
    await put(id, API.web, {
      location: 'westeurope',
      kind: 'app,linux,container',
      identity: { type: 'SystemAssigned' },
      properties: { siteConfig: { linuxFxVersion: 'DOCKER|appsacr.azurecr.io/web:1' } },
    });
    const config = await call('GET', `${id}/config/web`, undefined, API.web);
    expect(config.json<{ properties: Record<string, unknown> }>()).toMatchObject({
      name: 'web',
      type: 'Microsoft.Web/sites/config',
      properties: { linuxFxVersion: 'DOCKER|appsacr.azurecr.io/web:1', acrUseManagedIdentityCreds: false, acrUserManagedIdentityID: null },
    });
    const patched = await call('PATCH', `${id}/config/web`, { properties: { acrUseManagedIdentityCreds: true } }, API.web);
    expect(patched.json<{ properties: Record<string, unknown> }>().properties).toMatchObject({
      acrUseManagedIdentityCreds: true,
      linuxFxVersion: 'DOCKER|appsacr.azurecr.io/web:1',
    });
    expect((await call('GET', `${id}/config/appsettings`, undefined, API.web)).status).toBe(404);
  });

  // containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json: passwords are never echoed.
  it('answers a container group’s registry password as null', async () => {
    const id = `${rg}/providers/Microsoft.ContainerInstance/containerGroups/ci-password`;
    const created = await put(id, '2023-05-01', {
      location: 'westeurope',
      properties: {
        osType: 'Linux',
        containers: [{ name: 'c', properties: { image: 'appsacr.azurecr.io/job:1' } }],
        imageRegistryCredentials: [{ server: 'appsacr.azurecr.io', username: 'u', password: 'not-echoed' }],
      },
    });
    expect(created.body.properties.imageRegistryCredentials).toEqual([{ server: 'appsacr.azurecr.io', username: 'u', password: null }]);
    expect(JSON.stringify(created.body)).not.toContain('not-echoed');
  });
});
