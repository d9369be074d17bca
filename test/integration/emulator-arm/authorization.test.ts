/**
 * Microsoft.Authorization through the real `@azure/arm-authorization` client (api-version 2022-04-01).
 * Each case follows an azure-rest-api-specs example under
 * specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/:
 * RoleAssignments_CreateForResource.json (201 with principalType), RoleAssignments_Get.json,
 * RoleAssignments_ListForScope.json (`$filter=atScope()` / `principalId eq`), RoleAssignments_Delete.json,
 * GetRoleDefinitionById.json. Error codes: https://learn.microsoft.com/azure/role-based-access-control/troubleshooting
 * (RoleAssignmentExists, PrincipalNotFound) and
 * https://learn.microsoft.com/azure/governance/policy/troubleshoot/general (RequestDisallowedByPolicy).
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { isRestError, type RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLE_IDS } from '../../../emulator/arm/roles.js';
import type { TestEmulator } from '../../support/emulator.js';
import { armCaller, armClientOptions, rgId, startArmEmulator } from './armSupport.js';

let emu: TestEmulator;
let client: AuthorizationManagementClient;
let registry: string;
let sub: string;
/** The SDK's `scope` path parameter has no leading slash (`/{scope}/providers/…`). */
const sdkScope = (id: string) => id.replace(/^\//, '');
const acrPullId = () =>
  `/subscriptions/${emu.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`;
let n = 0;
/** A fresh GUID-shaped assignment name per call. */
const nextName = () => `6f1d3c9e-0000-4000-8000-${String(++n).padStart(12, '0')}`;

beforeAll(async () => {
  emu = await startArmEmulator();
  client = new AuthorizationManagementClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
  sub = `/subscriptions/${emu.endpoints.subscriptionId}`;
  registry = `${rgId(emu)}/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
  const put = await armCaller(emu)('PUT', registry, { location: 'westeurope', sku: { name: 'Basic' }, properties: {} }, '2023-07-01');
  expect(put.status).toBe(201);
});
afterAll(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  await emu.admin('PUT', '/faults', { replicationDelayMs: 0 });
});

/** A managed identity through ARM: a new principal in the directory, as Azure creates one. */
async function aUserAssignedIdentity(name: string): Promise<string> {
  const res = await armCaller(emu)(
    'PUT',
    `${rgId(emu)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
    { location: 'westeurope' },
    '2024-11-30',
  );
  expect(res.status).toBe(201);
  return res.json<{ properties: { principalId: string } }>().properties.principalId;
}

describe('role assignments through @azure/arm-authorization', () => {
  it('creates (201) with principalType and description, reads it back, and deletes it', async () => {
    const principalId = await aUserAssignedIdentity('id-create');
    const name = nextName();
    const created = await client.roleAssignments.create(sdkScope(registry), name, {
      roleDefinitionId: acrPullId(),
      principalId,
      principalType: 'ServicePrincipal',
      description: 'acr-pull-automation',
    });
    expect(created).toMatchObject({
      name,
      type: 'Microsoft.Authorization/roleAssignments',
      principalId,
      principalType: 'ServicePrincipal',
      scope: registry,
      description: 'acr-pull-automation',
    });
    expect(created.id).toBe(`${registry}/providers/Microsoft.Authorization/roleAssignments/${name}`);
    expect(created.roleDefinitionId?.split('/').pop()).toBe(BUILT_IN_ROLE_IDS.AcrPull);

    const got = await client.roleAssignments.get(sdkScope(registry), name);
    expect(got).toMatchObject({ name, principalId, scope: registry, description: 'acr-pull-automation' });

    const deleted = await client.roleAssignments.delete(sdkScope(registry), name);
    expect(deleted.id).toBe(created.id);
    // Deleting what is gone answers 204 with no body (RoleAssignments_Delete.json).
    const again = await client.roleAssignments.delete(sdkScope(registry), name);
    expect(again?.id).toBeUndefined();
    await expect(client.roleAssignments.get(sdkScope(registry), name)).rejects.toMatchObject({
      statusCode: 404,
      code: 'RoleAssignmentNotFound',
    });
  });

  it('answers 201 on create with the raw status the SDK hides', async () => {
    const principalId = await aUserAssignedIdentity('id-raw');
    const name = nextName();
    const res = await armCaller(emu)(
      'PUT',
      `${registry}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      { properties: { roleDefinitionId: acrPullId(), principalId, principalType: 'ServicePrincipal' } },
      '2022-04-01',
    );
    expect(res.status).toBe(201);
    // The same name again is an idempotent 200 (RoleAssignments_CreateForResource.json, "200").
    const same = await armCaller(emu)(
      'PUT',
      `${registry}/providers/Microsoft.Authorization/roleAssignments/${name}`,
      { properties: { roleDefinitionId: acrPullId(), principalId, principalType: 'ServicePrincipal' } },
      '2022-04-01',
    );
    expect(same.status).toBe(200);
  });

  it('throws RestError 409 RoleAssignmentExists for the same scope, principal and role under another name', async () => {
    const principalId = await aUserAssignedIdentity('id-dup');
    await client.roleAssignments.create(sdkScope(registry), nextName(), {
      roleDefinitionId: acrPullId(),
      principalId,
      principalType: 'ServicePrincipal',
    });
    const error = await client.roleAssignments
      .create(sdkScope(registry), nextName(), { roleDefinitionId: acrPullId(), principalId, principalType: 'ServicePrincipal' })
      .catch((e: unknown) => e);
    // The client bundles its own core-rest-pipeline: check by name, as isRestError does.
    expect(isRestError(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 409, code: 'RoleAssignmentExists' });
  });

  it('compares role definitions by their trailing id: the tenant form is the same role', async () => {
    const principalId = await aUserAssignedIdentity('id-tenant-form');
    const tenantForm = `/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`;
    const name = nextName();
    const created = await client.roleAssignments.create(sdkScope(registry), name, {
      roleDefinitionId: tenantForm,
      principalId,
      principalType: 'ServicePrincipal',
    });
    expect(created.roleDefinitionId?.split('/').pop()).toBe(BUILT_IN_ROLE_IDS.AcrPull);
    // Subscription form for the same (scope, principal, role) under another name: already there.
    await expect(
      client.roleAssignments.create(sdkScope(registry), nextName(), {
        roleDefinitionId: acrPullId(),
        principalId,
        principalType: 'ServicePrincipal',
      }),
    ).rejects.toMatchObject({ code: 'RoleAssignmentExists' });
    // Subscription form under the same name: the same assignment, not an update of its role.
    await expect(
      client.roleAssignments.create(sdkScope(registry), name, {
        roleDefinitionId: acrPullId(),
        principalId,
        principalType: 'ServicePrincipal',
      }),
    ).resolves.toMatchObject({ name });
  });

  it('answers roleDefinitionId in the tenant form, as the spec examples do, when asked to', async () => {
    const principalId = await aUserAssignedIdentity('id-tenant-answer');
    await emu.admin('PUT', '/arm/options', { tenantFormRoleDefinitionIds: true });
    try {
      const name = nextName();
      // Request in the subscription form (RoleAssignments_CreateForResource.json), response in the tenant form.
      const created = await client.roleAssignments.create(sdkScope(registry), name, {
        roleDefinitionId: acrPullId(),
        principalId,
        principalType: 'ServicePrincipal',
      });
      expect(created.roleDefinitionId).toBe(`/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`);
      expect((await client.roleAssignments.get(sdkScope(registry), name)).roleDefinitionId).toBe(created.roleDefinitionId);
      const listed = [];
      for await (const a of client.roleAssignments.listForScope(sdkScope(registry), {
        filter: `atScope() and principalId eq '${principalId}'`,
      }))
        listed.push(a.roleDefinitionId);
      expect(listed).toEqual([created.roleDefinitionId]);
      await expect(
        client.roleAssignments.create(sdkScope(registry), nextName(), {
          roleDefinitionId: acrPullId(),
          principalId,
          principalType: 'ServicePrincipal',
        }),
      ).rejects.toMatchObject({ code: 'RoleAssignmentExists' });
    } finally {
      await emu.admin('PUT', '/arm/options', { tenantFormRoleDefinitionIds: false });
    }
  });

  it('answers 400 PrincipalNotFound for a principal still replicating, unless principalType is given', async () => {
    await emu.admin('PUT', '/faults', { replicationDelayMs: 60_000 });
    const principalId = await aUserAssignedIdentity('id-fresh');
    const withoutType = await client.roleAssignments
      .create(sdkScope(registry), nextName(), { roleDefinitionId: acrPullId(), principalId })
      .catch((e: unknown) => e);
    // The client bundles its own core-rest-pipeline: check by name, as isRestError does.
    expect(isRestError(withoutType)).toBe(true);
    expect(withoutType).toMatchObject({ statusCode: 400, code: 'PrincipalNotFound' });
    expect((withoutType as RestError).message).toMatch(/principalType/);
    await expect(
      client.roleAssignments.create(sdkScope(registry), nextName(), {
        roleDefinitionId: acrPullId(),
        principalId,
        principalType: 'ServicePrincipal',
      }),
    ).resolves.toMatchObject({ principalId });
  });

  it('answers 403 RequestDisallowedByPolicy when a deny rule matches, with the policy in additionalInfo', async () => {
    const principalId = await aUserAssignedIdentity('id-denied');
    await emu.admin('PUT', '/arm/policies/no-acrpull', {
      scopePrefix: registry,
      roleDefinitionId: BUILT_IN_ROLE_IDS.AcrPull,
      displayName: 'No AcrPull on contosoacr',
    });
    try {
      const error = await client.roleAssignments
        .create(sdkScope(registry), nextName(), { roleDefinitionId: acrPullId(), principalId, principalType: 'ServicePrincipal' })
        .catch((e: unknown) => e);
      // The client bundles its own core-rest-pipeline: check by name, as isRestError does.
      expect(isRestError(error)).toBe(true);
      expect(error).toMatchObject({ statusCode: 403, code: 'RequestDisallowedByPolicy' });
      const body = (error as RestError).response?.bodyAsText ?? '';
      expect(JSON.parse(body).error.additionalInfo[0]).toMatchObject({
        type: 'PolicyViolation',
        info: { policyAssignmentName: 'no-acrpull', policyDefinitionEffect: 'deny' },
      });
    } finally {
      await emu.admin('DELETE', '/arm/policies/no-acrpull');
    }
  });

  it('lists with atScope() and principalId eq, following nextLink across small pages', async () => {
    const principalId = await aUserAssignedIdentity('id-list');
    const roles = [BUILT_IN_ROLE_IDS.AcrPull, BUILT_IN_ROLE_IDS.AcrPush, BUILT_IN_ROLE_IDS.ContainerRegistryRepositoryReader];
    for (const role of roles)
      await client.roleAssignments.create(sdkScope(registry), nextName(), {
        roleDefinitionId: `${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
        principalId,
        principalType: 'ServicePrincipal',
      });
    await emu.admin('PUT', '/arm/options', { pageSize: 2 });
    try {
      const pages: number[] = [];
      for await (const page of client.roleAssignments
        .listForScope(sdkScope(registry), { filter: `principalId eq '${principalId}'` })
        .byPage())
        pages.push(page.length);
      expect(pages).toEqual([2, 1]);

      const atScope: string[] = [];
      for await (const a of client.roleAssignments.listForScope(sdkScope(registry), { filter: 'atScope()' })) atScope.push(a.scope!);
      // atScope(): at the registry and above it (the subscription's Owner, the app's roles), nothing below.
      expect(atScope).toContain(registry);
      expect(atScope).toContain(sub);
      expect(atScope.every((s) => registry.toLowerCase().startsWith(s.toLowerCase()))).toBe(true);

      const mine = [];
      for await (const a of client.roleAssignments.listForScope(sdkScope(registry), {
        filter: `atScope() and principalId eq '${principalId}'`,
      }))
        mine.push(a);
      expect(mine.map((a) => a.roleDefinitionId!.split('/').pop()).sort()).toEqual([...roles].sort());
    } finally {
      await emu.admin('PUT', '/arm/options', { pageSize: 100 });
    }
  });

  it('reads built-in role definitions by id (GetRoleDefinitionById.json)', async () => {
    const acrPull = await client.roleDefinitions.getById(acrPullId());
    expect(acrPull).toMatchObject({ name: BUILT_IN_ROLE_IDS.AcrPull, roleName: 'AcrPull', roleType: 'BuiltInRole' });
    expect(acrPull.permissions?.[0]?.actions).toContain('Microsoft.ContainerRegistry/registries/pull/read');
    const reader = await client.roleDefinitions.get(sdkScope(registry), BUILT_IN_ROLE_IDS.ContainerRegistryRepositoryReader);
    expect(reader.roleName).toBe('Container Registry Repository Reader');
    expect(reader.permissions?.[0]?.dataActions?.length).toBeGreaterThan(0);
    await expect(
      client.roleDefinitions.getById(`${sub}/providers/Microsoft.Authorization/roleDefinitions/00000000-0000-4000-8000-000000000000`),
    ).rejects.toMatchObject({ statusCode: 404, code: 'RoleDefinitionDoesNotExist' });
  });

  it('answers 403 AuthorizationFailed to a principal without a role', async () => {
    const objectId = '0c000000-0000-4000-8000-0000000000a1';
    const appId = '0c000000-0000-4000-8000-0000000000c1';
    await emu.admin('POST', '/seed', {
      graph: {
        applications: [
          {
            displayName: 'no-roles',
            appId,
            passwords: [{ secretText: 'no-roles-secret', endDateTime: '2099-01-01T00:00:00Z' }],
            servicePrincipal: { id: objectId },
          },
        ],
      },
    });
    const stranger = new AuthorizationManagementClient(
      emu.credentialFor(appId, 'no-roles-secret'),
      emu.endpoints.subscriptionId,
      armClientOptions(emu),
    );
    await expect(
      stranger.roleAssignments.create(sdkScope(registry), nextName(), {
        roleDefinitionId: acrPullId(),
        principalId: objectId,
        principalType: 'ServicePrincipal',
      }),
    ).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });
});
