/**
 * The /api/access routes over the real adapters (emulator + Azurite), through the same request
 * handling the local host and Azure Functions use: statuses and problem types of manual grants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../../src/api/http.js';
import { accessRoutes } from '../../../src/api/routes/access.js';
import type { Deps } from '../../../src/deps.js';
import { API, startAccessHarness, type AccessHarness } from './harness.js';

let h: AccessHarness;
let rg: string;
let acr: string;
let overrideOn = false;
/** `x-ms-client-principal` of a caller holding Access.Write (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities). */
const WRITER = Buffer.from(
  JSON.stringify({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'Access.Write' }], name_typ: 'name', role_typ: 'roles' }),
).toString('base64');
const context = { invocationId: '22222222-2222-2222-2222-222222222222', functionName: 'accessApi', log() {}, warn() {}, error() {} };

async function send(route: 'access/grants' | 'access/preview', method: string, body: unknown) {
  const deps = (): Deps => (overrideOn ? { ...h.deps, config: { ...h.deps.config, allowConsentOverride: true } } : h.deps);
  const table = accessRoutes(deps).find((r) => r.route === route)!;
  const request: ApiRequest = {
    method,
    url: `http://localhost/api/${route}`,
    // As App Service injects them with authentication on: the caller and its app roles.
    headers: new Headers({
      'content-type': 'application/json',
      'x-ms-client-principal-id': 'aaaaaaaa-0000-4000-8000-000000000001',
      'x-ms-client-principal-name': 'alice@contoso.com',
      'x-ms-client-principal': WRITER,
    }),
    params: {},
    arrayBuffer: async () => new TextEncoder().encode(JSON.stringify(body)).buffer as ArrayBuffer,
  };
  const response = await handleApiRequest(table, request, context, { appServiceAuthEnabled: true });
  return {
    status: response.status,
    contentType: response.headers['content-type'],
    json: JSON.parse(response.body ?? '{}') as Record<string, any>,
  };
}

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-api');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/apiacr`;
  await h.put(acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group', 'acr-push-allow': 'same-resource-group' },
    properties: {},
  });
});
afterAll(async () => h?.stop());

const newVm = async (group: string, name: string) => {
  const id = `${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const body = await h.put(id, API.vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: {} });
  return { id, principalId: body.identity.principalId as string };
};

describe('POST /api/access/grants', () => {
  it('answers 201 when it grants, 200 when already granted, and records the caller', async () => {
    const vm = await newVm(rg, 'vm-api-1');
    const first = await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'pull' });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ outcome: 'granted', role: { name: 'AcrPull' }, principalIds: [vm.principalId] });
    expect(first.json['decisions'][0].caller).toBe('aaaaaaaa-0000-4000-8000-000000000001 (alice@contoso.com)');
    const second = await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'pull' });
    expect(second.status).toBe(200);
    expect(second.json['outcome']).toBe('already-present');
  });

  it('answers 403 ConsentDenied outside consent, 403 ConsentOverrideDisabled for an override without the setting, 201 with it', async () => {
    const other = await h.rg('rg-api-other');
    const vm = await newVm(other, 'vm-api-out');
    const denied = await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'pull' });
    expect([denied.status, denied.contentType, denied.json['code'], denied.json['type']]).toEqual([
      403,
      'application/problem+json',
      'ConsentDenied',
      'urn:acr-pull-automation:problem:consent-denied',
    ]);
    const off = await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'pull', override: true });
    expect([off.status, off.json['code']]).toEqual([403, 'ConsentOverrideDisabled']);
    overrideOn = true;
    try {
      const on = await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'pull', override: true });
      expect([on.status, on.json['override']]).toEqual([201, true]);
    } finally {
      overrideOn = false;
    }
  });

  it('answers 404 RegistryNotFound and 404 ResourceNotFound', async () => {
    const vm = await newVm(rg, 'vm-api-2');
    expect((await send('access/grants', 'POST', { resourceId: vm.id, registry: 'missingacr', access: 'pull' })).json).toMatchObject({
      status: 404,
      code: 'RegistryNotFound',
    });
    const ghost = `${rg}/providers/Microsoft.Compute/virtualMachines/ghost`;
    expect((await send('access/grants', 'POST', { resourceId: ghost, registry: 'apiacr', access: 'pull' })).json).toMatchObject({
      status: 404,
      code: 'ResourceNotFound',
    });
  });
});

describe('DELETE /api/access/grants', () => {
  it('revokes ours (200) and refuses one made by hand with 403 NotOwnedByAutomation', async () => {
    const vm = await newVm(rg, 'vm-api-3');
    await send('access/grants', 'POST', { resourceId: vm.id, registry: 'apiacr', access: 'push' });
    const revoked = await send('access/grants', 'DELETE', { resourceId: vm.id, registry: 'apiacr', access: 'push' });
    expect([revoked.status, revoked.json['outcome']]).toEqual([200, 'revoked']);
    await h.put(`${acr}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000bb`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d`,
        principalId: vm.principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });
    const refused = await send('access/grants', 'DELETE', { resourceId: vm.id, registry: 'apiacr', access: 'pull' });
    expect([refused.status, refused.json['code']]).toEqual([403, 'NotOwnedByAutomation']);
  });
});

describe('POST /api/access/preview by principal and registry', () => {
  it('says what would be granted or refused and why, writing nothing', async () => {
    const principalId = '6a1b2c3d-0000-4000-8000-0000000000ff';
    const refused = await send('access/preview', 'POST', { principalId, registry: 'apiacr', access: 'pull' });
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({ principalId, dryRun: true, outcome: 'denied-by-consent' });
    expect(refused.json['decisions'][0].reason).toMatch(/only acr-pull-allow=\* covers it/);
    const vm = await newVm(rg, 'vm-api-preview');
    const wouldGrant = await send('access/preview', 'POST', { resourceId: vm.id, registry: 'apiacr.azurecr.io', access: 'push' });
    expect(wouldGrant.json).toMatchObject({ resourceId: vm.id, dryRun: true, outcome: 'would-grant' });
    expect(wouldGrant.json['plans'][0].plan.grants[0].role.name).toBe('AcrPush');
    expect((await h.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
  });
});
