/**
 * The ARM module's handlers driven through an in-test context (no HTTPS server).
 * Shapes follow azure-rest-api-specs examples:
 *  - authorization/.../stable/2022-04-01/examples/RoleAssignments_CreateForResource.json, RoleAssignments_ListForScope.json
 *  - msi/.../stable/2024-11-30/examples/FederatedIdentityCredentialCreate.json, IdentityCreate.json
 *  - containerservice/.../examples/ManagedClustersCreate_*.json (identityProfile.kubeletidentity, oidcIssuerProfile.issuerURL)
 *  - resources/.../examples/PatchTagsResource.json; events: https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { registerArm } from '../../../emulator/arm/index.js';
import { BUILT_IN_ROLE_IDS } from '../../../emulator/arm/roles.js';
import type { EmulatorModule } from '../../../emulator/core/contract.js';
import { APP, NOBODY, OPERATOR, SUB, TENANT, createHarness } from './harness.js';

const RG = `/subscriptions/${SUB}/resourceGroups/rg1`;
const VM = `${RG}/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const ACR = `${RG}/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const UAMI = `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1`;
const guid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

let h: ReturnType<typeof createHarness>;
let arm: EmulatorModule;

beforeEach(async () => {
  h = createHarness({ replicationDelayMs: 30_000 });
  h.ctx.directory.add({ objectId: OPERATOR, displayName: 'operator', principalType: 'User', createdAt: new Date(0) });
  h.ctx.directory.add({
    objectId: APP,
    appId: 'app-client-id',
    displayName: 'app',
    principalType: 'ServicePrincipal',
    servicePrincipalType: 'Application',
    createdAt: new Date(0),
  });
  arm = await registerArm(h.ctx);
  await arm.seed!({ arm: { operatorObjectId: OPERATOR, appObjectId: APP, options: { ficWriteDurationMs: 20 } } });
  expect((await h.call('PUT', RG, { body: { location: 'eastus' }, apiVersion: '2021-04-01' })).status).toBe(201);
});

describe('ARM front door', () => {
  it('requires api-version, a token and authorization, with ARM error codes', async () => {
    expect((await h.call('GET', RG, { apiVersion: null })).body.error.code).toBe('MissingApiVersionParameter');
    const noToken = await h.call('GET', RG, { as: null });
    expect([noToken.status, noToken.body.error.code]).toEqual([401, 'AuthenticationFailed']);
    const forbidden = await h.call('PUT', VM, { as: NOBODY, body: { location: 'eastus' } });
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'AuthorizationFailed']);
    expect((await h.call('GET', `/subscriptions/${SUB}`)).body).toMatchObject({ subscriptionId: SUB, tenantId: TENANT, state: 'Enabled' });
  });

  it('reader app can read but not write compute', async () => {
    expect((await h.call('GET', RG, { as: APP })).status).toBe(200);
    expect((await h.call('PUT', VM, { as: APP, body: { location: 'eastus' } })).status).toBe(403);
  });
});

describe('resources', () => {
  it('creates 201 then replaces 200, system-assigned identity lands in the directory and leaves on delete', async () => {
    const created = await h.call('PUT', VM, {
      body: { location: 'eastus', identity: { type: 'SystemAssigned' }, properties: { hardwareProfile: { vmSize: 'Standard_B1s' } } },
    });
    expect(created.status).toBe(201);
    const principalId = created.body.identity.principalId as string;
    expect(created.body.identity.tenantId).toBe(TENANT);
    expect(h.principals.get(principalId)).toMatchObject({ servicePrincipalType: 'ManagedIdentity', resourceId: VM });
    const again = await h.call('PUT', VM, { body: { location: 'eastus', identity: { type: 'SystemAssigned' } } });
    expect([again.status, again.body.identity.principalId]).toEqual([200, principalId]);
    const upper = await h.call('GET', VM.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'));
    expect(upper.body.id).toBe(VM);
    expect((await h.call('DELETE', VM)).status).toBe(200);
    expect(h.principals.has(principalId)).toBe(false);
    expect((await h.call('DELETE', VM)).status).toBe(204);
  });

  it('resolves user-assigned identities and refuses unknown ones', async () => {
    const id = await h.call('PUT', UAMI, { body: { location: 'eastus' }, apiVersion: '2024-11-30' });
    expect(id.status).toBe(201);
    expect(id.body.properties).toMatchObject({ tenantId: TENANT, principalId: expect.any(String), clientId: expect.any(String) });
    const vm = await h.call('PUT', VM, {
      body: { location: 'eastus', identity: { type: 'UserAssigned', userAssignedIdentities: { [UAMI]: {} } } },
    });
    expect(vm.body.identity.userAssignedIdentities[UAMI]).toEqual({
      principalId: id.body.properties.principalId,
      clientId: id.body.properties.clientId,
    });
    const bad = await h.call('PUT', VM, {
      body: { location: 'eastus', identity: { type: 'UserAssigned', userAssignedIdentities: { [`${UAMI}x`]: {} } } },
    });
    expect(bad.status).toBe(400);
  });

  it('fills AKS kubelet identity in the node resource group and the OIDC issuer URL', async () => {
    const aks = await h.call('PUT', `${RG}/providers/Microsoft.ContainerService/managedClusters/aks1`, {
      body: { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { oidcIssuerProfile: { enabled: true } } },
    });
    const kubelet = aks.body.properties.identityProfile.kubeletidentity;
    expect(kubelet.resourceId).toMatch(
      /\/resourcegroups\/MC_rg1_aks1_westeurope\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/aks1-agentpool$/,
    );
    expect(h.principals.get(kubelet.objectId)?.appId).toBe(kubelet.clientId);
    expect(aks.body.properties.oidcIssuerProfile.issuerURL).toMatch(/^https:\/\/.+\/$/);
    expect((await h.call('GET', kubelet.resourceId)).status).toBe(200);
  });

  // containerregistry/.../2019-06-01-preview/examples/TasksGet.json: customRegistries comes back by login server, each value null.
  it('registries answer loginServer and roleAssignmentMode; tasks echo customRegistries by login server only, never the values', async () => {
    const acr = await h.call('PUT', ACR, { body: { location: 'eastus', sku: { name: 'Standard' } } });
    expect(acr.body.properties).toMatchObject({ loginServer: 'contosoacr.azurecr.io', roleAssignmentMode: 'LegacyRegistryPermissions' });
    const task = await h.call('PUT', `${ACR}/tasks/base`, {
      body: {
        location: 'eastus',
        identity: { type: 'SystemAssigned' },
        properties: { credentials: { customRegistries: { 'other.azurecr.io': { identity: '[system]' } } } },
      },
    });
    expect(task.status).toBe(201);
    expect(task.body.properties.credentials).toEqual({ customRegistries: { 'other.azurecr.io': null } });
    const snap = arm.snapshot() as { resources: { id: string; written?: unknown }[] };
    expect(snap.resources.find((r) => r.id.endsWith('/tasks/base'))?.written).toEqual({
      customRegistries: { 'other.azurecr.io': { identity: '[system]' } },
    });
  });

  it('PATCH of a task merges custom registries by login server, removes one written as null, and keeps them through other PATCHes', async () => {
    await h.call('PUT', ACR, { body: { location: 'eastus', sku: { name: 'Standard' } } });
    const task = `${ACR}/tasks/merge`;
    await h.call('PUT', task, {
      body: {
        location: 'eastus',
        identity: { type: 'SystemAssigned' },
        properties: { credentials: { customRegistries: { 'a.azurecr.io': { identity: '[system]' } } } },
      },
    });
    const added = await h.call('PATCH', task, {
      body: {
        properties: {
          credentials: {
            customRegistries: { 'b.azurecr.io': { userName: { type: 'Opaque', value: 'u' }, password: { type: 'Opaque', value: 'p' } } },
          },
        },
      },
    });
    expect(added.body.properties.credentials.customRegistries).toEqual({ 'a.azurecr.io': null, 'b.azurecr.io': null });
    const tagged = await h.call('PATCH', task, { body: { tags: { team: 'build' } } });
    expect(tagged.body.properties.credentials.customRegistries).toEqual({ 'a.azurecr.io': null, 'b.azurecr.io': null });
    const removed = await h.call('PATCH', task, { body: { properties: { credentials: { customRegistries: { 'a.azurecr.io': null } } } } });
    expect(removed.body.properties.credentials.customRegistries).toEqual({ 'b.azurecr.io': null });
    const snap = arm.snapshot() as { resources: { id: string; written?: unknown }[] };
    expect(snap.resources.find((r) => r.id.endsWith('/tasks/merge'))?.written).toEqual({
      customRegistries: { 'b.azurecr.io': { userName: { type: 'Opaque', value: 'u' }, password: { type: 'Opaque', value: 'p' } } },
    });
  });

  it('PATCH merges properties and replaces tags; tags API publishes Microsoft.Resources/tags/write', async () => {
    await h.call('PUT', ACR, { body: { location: 'eastus', tags: { a: '1' } } });
    const patched = await h.call('PATCH', ACR, { body: { tags: { b: '2' }, properties: { adminUserEnabled: true } } });
    expect(patched.body.tags).toEqual({ b: '2' });
    expect(patched.body.properties.loginServer).toBe('contosoacr.azurecr.io');
    h.published.length = 0;
    const merged = await h.call('PATCH', `${ACR}/providers/Microsoft.Resources/tags/default`, {
      body: { operation: 'Merge', properties: { tags: { 'acr-pull-allow': '*' } } },
      apiVersion: '2021-04-01',
    });
    expect(merged.body.properties.tags).toEqual({ b: '2', 'acr-pull-allow': '*' });
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.data).toMatchObject({
      operationName: 'Microsoft.Resources/tags/write',
      resourceUri: ACR.replace('resourceGroups', 'resourcegroups'),
    });
    const deleted = await h.call('PATCH', `${ACR}/providers/Microsoft.Resources/tags/default`, {
      body: { operation: 'Delete', properties: { tags: { b: '2' } } },
    });
    expect(deleted.body.properties.tags).toEqual({ 'acr-pull-allow': '*' });
  });

  it('publishes ResourceWriteSuccess and ResourceDeleteSuccess in the documented schema', async () => {
    h.published.length = 0;
    await h.call('PUT', VM, { body: { location: 'eastus' } });
    await h.call('DELETE', VM);
    const [write, del] = h.published;
    expect(write).toMatchObject({
      topic: `/subscriptions/${SUB}`,
      subject: VM.replace('resourceGroups', 'resourcegroups'),
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      dataVersion: '2',
      metadataVersion: '1',
    });
    expect(write!.data).toMatchObject({
      operationName: 'Microsoft.Compute/virtualMachines/write',
      status: 'Succeeded',
      resourceProvider: 'Microsoft.Compute',
      subscriptionId: SUB,
      tenantId: TENANT,
      authorization: { action: 'Microsoft.Compute/virtualMachines/write', evidence: { role: 'Owner' } },
    });
    expect((write!.data as Record<string, unknown>).httpRequest).toBeUndefined();
    expect(
      (write!.data as { claims: Record<string, string> }).claims['http://schemas.microsoft.com/identity/claims/objectidentifier'],
    ).toBe(OPERATOR);
    expect(del).toMatchObject({
      eventType: 'Microsoft.Resources.ResourceDeleteSuccess',
      data: { operationName: 'Microsoft.Compute/virtualMachines/delete', httpRequest: { method: 'DELETE' } },
    });
  });

  it('lists by resource group and subscription with nextLink paging', async () => {
    await h.call('PUT', '/admin/arm/options', { body: { pageSize: 2 }, as: null });
    for (const n of [1, 2, 3])
      await h.call('PUT', `${RG}/providers/Microsoft.Compute/virtualMachines/vm${n}`, { body: { location: 'eastus' } });
    const page1 = await h.call('GET', `${RG}/providers/Microsoft.Compute/virtualMachines`);
    expect(page1.body.value).toHaveLength(2);
    const next = new URL(page1.body.nextLink);
    const page2 = await h.call('GET', next.pathname + next.search);
    expect(page2.body.value).toHaveLength(1);
    expect((await h.call('GET', `/subscriptions/${SUB}/providers/Microsoft.Compute/virtualMachines?$skipToken=0`)).body.value).toHaveLength(
      2,
    );
  });
});

describe('federated identity credentials', () => {
  const fic = (n: number) => `${UAMI}/federatedIdentityCredentials/fic${n}`;
  const body = (n: number) => ({
    properties: { issuer: 'https://oidc.example/', subject: `system:serviceaccount:ns:sa${n}`, audiences: ['api://AzureADTokenExchange'] },
  });

  it('answers 201 then 200, caps at 20 and refuses concurrent writes to one identity with 409', async () => {
    await h.call('PUT', UAMI, { body: { location: 'eastus' } });
    await h.call('PUT', '/admin/arm/options', { body: { ficWriteDurationMs: 0 }, as: null });
    expect((await h.call('PUT', fic(0), { body: body(0), apiVersion: '2024-11-30' })).status).toBe(201);
    expect((await h.call('PUT', fic(0), { body: body(0), apiVersion: '2024-11-30' })).status).toBe(200);
    for (let n = 1; n < 20; n++) expect((await h.call('PUT', fic(n), { body: body(n) })).status).toBe(201);
    const over = await h.call('PUT', fic(20), { body: body(20) });
    expect(over.status).toBe(400);
    await h.call('PUT', '/admin/arm/options', { body: { ficWriteDurationMs: 30 }, as: null });
    const [a, b] = await Promise.all([h.call('PUT', fic(1), { body: body(1) }), h.call('PUT', fic(2), { body: body(2) })]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect((a.status === 409 ? a : b).body.error.code).toBe('ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity');
  });
});

describe('role assignments', () => {
  const ra = (name: string, scope = ACR) => `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
  const acrPull = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`;

  beforeEach(async () => {
    await h.call('PUT', ACR, { body: { location: 'eastus' } });
    await h.call('PUT', VM, { body: { location: 'eastus', identity: { type: 'SystemAssigned' } } });
  });

  it('validates the name, the principal (with replication delay) and duplicates as ARM does', async () => {
    const vm = await h.call('GET', VM);
    const principalId = vm.body.identity.principalId as string;
    expect(
      (await h.call('PUT', ra('not-a-guid'), { body: { properties: { roleDefinitionId: acrPull, principalId } } })).body.error.code,
    ).toBe('InvalidRoleAssignmentId');
    const young = await h.call('PUT', ra(guid(1)), { as: APP, body: { properties: { roleDefinitionId: acrPull, principalId } } });
    expect([young.status, young.body.error.code]).toEqual([400, 'PrincipalNotFound']);
    const created = await h.call('PUT', ra(guid(1)), {
      as: APP,
      body: {
        properties: { roleDefinitionId: acrPull, principalId, principalType: 'ServicePrincipal', description: 'acr-pull-automation' },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: guid(1),
      type: 'Microsoft.Authorization/roleAssignments',
      properties: { roleDefinitionId: acrPull, principalId, scope: ACR, principalType: 'ServicePrincipal' },
    });
    expect(
      (
        await h.call('PUT', ra(guid(1)), {
          as: APP,
          body: { properties: { roleDefinitionId: acrPull, principalId, principalType: 'ServicePrincipal' } },
        })
      ).status,
    ).toBe(200);
    const dup = await h.call('PUT', ra(guid(2)), {
      as: APP,
      body: { properties: { roleDefinitionId: acrPull, principalId, principalType: 'ServicePrincipal' } },
    });
    expect([dup.status, dup.body.error.code]).toEqual([409, 'RoleAssignmentExists']);
    h.advance(60_000);
    expect(
      (await h.call('PUT', ra(guid(3)), { as: APP, body: { properties: { roleDefinitionId: BUILT_IN_ROLE_IDS.AcrPush, principalId } } }))
        .status,
    ).toBe(201);
  });

  it('refuses by deny policy with RequestDisallowedByPolicy and its details', async () => {
    await h.call('PUT', '/admin/arm/policies/no-acrpull-on-prod', {
      as: null,
      body: { scopePrefix: RG, roleDefinitionId: BUILT_IN_ROLE_IDS.AcrPull, displayName: 'No AcrPull in rg1' },
    });
    const res = await h.call('PUT', ra(guid(4)), { as: APP, body: { properties: { roleDefinitionId: acrPull, principalId: OPERATOR } } });
    expect([res.status, res.body.error.code]).toEqual([403, 'RequestDisallowedByPolicy']);
    expect(res.body.error.additionalInfo[0]).toMatchObject({
      type: 'PolicyViolation',
      info: { policyDefinitionDisplayName: 'No AcrPull in rg1' },
    });
  });

  it('lists atScope, by principal and for the subscription; deletes 200 then 204; publishes writes', async () => {
    h.published.length = 0;
    await h.call('PUT', ra(guid(5)), {
      as: APP,
      body: { properties: { roleDefinitionId: acrPull, principalId: NOBODY, principalType: 'User' } },
    });
    expect(h.published.map((e) => (e.data as { operationName: string }).operationName)).toEqual([
      'Microsoft.Authorization/roleAssignments/write',
    ]);
    const atScope = await h.call('GET', `${ACR}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`);
    expect(atScope.body.value.map((a: { name: string }) => a.name)).toContain(guid(5));
    const mine = await h.call(
      'GET',
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${NOBODY}'`)}`,
    );
    expect(mine.body.value).toHaveLength(1);
    const rgAtScope = await h.call('GET', `${RG}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`);
    expect(rgAtScope.body.value.map((a: { name: string }) => a.name)).not.toContain(guid(5));
    expect(h.ctx.services.get('authorizer').isAuthorized(NOBODY, 'Microsoft.ContainerRegistry/registries/pull/read', ACR)).toBe(true);
    expect(h.ctx.services.get('authorizer').isAuthorized(NOBODY, 'Microsoft.ContainerRegistry/registries/pull/read', RG)).toBe(false);
    const del = await h.call('DELETE', ra(guid(5)), { as: APP });
    expect([del.status, del.body.name]).toEqual([200, guid(5)]);
    expect((await h.call('DELETE', ra(guid(5)), { as: APP })).status).toBe(204);
  });

  it('serves built-in role definitions by id and by roleName filter', async () => {
    const def = await h.call(
      'GET',
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.ContainerRegistryRepositoryReader}`,
    );
    expect(def.body.properties).toMatchObject({ roleName: 'Container Registry Repository Reader', type: 'BuiltInRole' });
    const list = await h.call(
      'GET',
      `${ACR}/providers/Microsoft.Authorization/roleDefinitions?$filter=${encodeURIComponent("roleName eq 'AcrPull'")}`,
    );
    expect(list.body.value.map((d: { name: string }) => d.name)).toEqual([BUILT_IN_ROLE_IDS.AcrPull]);
  });
});

describe('Resource Graph', () => {
  it('answers objectArray rows with lower-case type, filtered by the caller’s read access, with $skipToken paging', async () => {
    await h.call('PUT', ACR, { body: { location: 'eastus', tags: { 'acr-pull-allow': '*' } } });
    for (const n of [1, 2, 3])
      await h.call('PUT', `${RG}/providers/Microsoft.Compute/virtualMachines/vm${n}`, {
        body: { location: 'eastus', tags: { 'acr-pull': 'contosoacr' } },
      });
    const q = {
      subscriptions: [SUB],
      query: "resources | where type =~ 'Microsoft.Compute/virtualMachines' and isnotempty(tags['acr-pull']) | project id, name, type",
      options: { $top: 2 },
    };
    const first = await h.call('POST', '/providers/Microsoft.ResourceGraph/resources', { body: q, apiVersion: '2022-10-01', as: APP });
    expect(first.body).toMatchObject({ totalRecords: 3, count: 2, resultTruncated: 'false', $skipToken: '2' });
    expect(first.body.data[0]).toEqual({
      id: `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`,
      name: 'vm1',
      type: 'microsoft.compute/virtualmachines',
    });
    const second = await h.call('POST', '/providers/Microsoft.ResourceGraph/resources', {
      body: { ...q, options: { $top: 2, $skipToken: '2' } },
      apiVersion: '2022-10-01',
    });
    expect(second.body.count).toBe(1);
    expect(
      (await h.call('POST', '/providers/Microsoft.ResourceGraph/resources', { body: q, apiVersion: '2022-10-01', as: NOBODY })).body
        .totalRecords,
    ).toBe(0);
    const bad = await h.call('POST', '/providers/Microsoft.ResourceGraph/resources', {
      body: { query: 'resources | summarize count() by type' },
      apiVersion: '2022-10-01',
    });
    expect(bad.status).toBe(400);
  });
});
