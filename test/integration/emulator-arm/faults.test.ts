/**
 * Injected throttling and 5xx through `/admin/faults`, and the real SDK clients' retry policies
 * recovering from them, shown by the emulator's call counters.
 * Throttling: https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
 * (429 TooManyRequests with Retry-After; x-ms-ratelimit-remaining-subscription-writes).
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLE_IDS } from '../../../emulator/arm/roles.js';
import { DEFAULT_RESOURCE_GROUP, DEMO_VAULT } from '../../../emulator/core/wellKnown.js';
import type { TestEmulator } from '../../support/emulator.js';
import { armCaller, armClientOptions, countCalls, startArmEmulator } from './armSupport.js';

let emu: TestEmulator;
let authz: AuthorizationManagementClient;
let msi: ManagedServiceIdentityClient;
const sdkScope = (id: string) => id.replace(/^\//, '');

beforeAll(async () => {
  emu = await startArmEmulator();
  authz = new AuthorizationManagementClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
  msi = new ManagedServiceIdentityClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
});
afterAll(async () => {
  await emu?.stop();
});
afterEach(async () => {
  await emu.admin('PUT', '/faults', {
    errorRate: { arm: 0, authorization: 0 },
    throttle: { enabled: true, burst: 200, refillPerSecond: 10 },
  });
});

describe('injected faults and the SDK retry policies', () => {
  it('answers 429 with Retry-After when the write bucket is empty, and the SDK waits and succeeds', async () => {
    const ids: string[] = [];
    for (const name of ['id-t1', 'id-t2', 'id-t3'])
      ids.push((await msi.userAssignedIdentities.createOrUpdate(DEFAULT_RESOURCE_GROUP, name, { location: 'westeurope' })).principalId!);
    await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 2, refillPerSecond: 2 } });
    const since = Date.now();
    // Raw first: the wire shape of the throttled answer.
    const call = armCaller(emu);
    const first = await call(
      'PUT',
      `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/rg-throttle`,
      { location: 'westeurope' },
      '2021-04-01',
    );
    expect(first.headers['x-ms-ratelimit-remaining-subscription-writes']).toBe('1');
    await call(
      'PUT',
      `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/rg-throttle`,
      { location: 'westeurope' },
      '2021-04-01',
    );
    const throttled = await call(
      'PUT',
      `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/rg-throttle`,
      { location: 'westeurope' },
      '2021-04-01',
    );
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toMatch(/^\d+$/);
    expect(throttled.json<{ error: { code: string } }>().error.code).toBe('TooManyRequests');

    // The SDK's throttling policy honours Retry-After and retries.
    const roles = [BUILT_IN_ROLE_IDS.AcrPull, BUILT_IN_ROLE_IDS.AcrPush, BUILT_IN_ROLE_IDS.ContainerRegistryRepositoryReader];
    for (const [i, principalId] of ids.entries()) {
      await authz.roleAssignments.create(sdkScope(DEMO_VAULT.resourceId), `7a1d3c9e-0000-4000-8000-00000000000${i}`, {
        roleDefinitionId: `/subscriptions/${emu.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roles[i]}`,
        principalId,
        principalType: 'ServicePrincipal',
      });
    }
    // Counters are per route template; every authorization PUT in this window is a role assignment.
    expect(await countCalls(emu, { api: 'authorization', method: 'PUT', status: 429 }, since)).toBeGreaterThanOrEqual(1);
    expect(await countCalls(emu, { api: 'authorization', method: 'PUT', status: 201 }, since)).toBe(3);
  });

  it('throttles user-assigned identity writes in the same bucket as other ARM writes', async () => {
    await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 1, refillPerSecond: 2 } });
    const since = Date.now();
    await msi.userAssignedIdentities.createOrUpdate(DEFAULT_RESOURCE_GROUP, 'id-bucket-1', { location: 'westeurope' });
    await msi.userAssignedIdentities.createOrUpdate(DEFAULT_RESOURCE_GROUP, 'id-bucket-2', { location: 'westeurope' });
    expect(
      await countCalls(emu, { api: 'arm', method: 'PUT', status: 429, route: /Microsoft\.ManagedIdentity/ }, since),
    ).toBeGreaterThanOrEqual(1);
    expect(await countCalls(emu, { api: 'arm', method: 'PUT', status: 201, route: /Microsoft\.ManagedIdentity/ }, since)).toBe(2);
  });

  it("answers an injected 503 in ARM's shape, and the SDK retries to success", async () => {
    const since = Date.now();
    await emu.admin('PUT', '/faults', { errorRate: { authorization: 1 } });
    const read = authz.roleDefinitions.get(sdkScope(DEMO_VAULT.resourceId), BUILT_IN_ROLE_IDS.AcrPull);
    // Let the first attempt fail, then heal before the retry (the 503 carries Retry-After: 1).
    await new Promise((r) => setTimeout(r, 300));
    await emu.admin('PUT', '/faults', { errorRate: { authorization: 0 } });
    await expect(read).resolves.toMatchObject({ roleName: 'AcrPull' });
    expect(await countCalls(emu, { api: 'authorization', method: 'GET', status: 503 }, since)).toBeGreaterThanOrEqual(1);
    expect(await countCalls(emu, { api: 'authorization', method: 'GET', status: 200 }, since)).toBe(1);
  });

  it("gives identity resources ARM's error shape for injected faults", async () => {
    await emu.admin('PUT', '/faults', { errorRate: { arm: 1 } });
    const res = await armCaller(emu)(
      'GET',
      `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-t1`,
      undefined,
      '2024-11-30',
    );
    expect(res.status).toBe(503);
    expect(res.json()).toEqual({ error: { code: 'ServiceUnavailable', message: expect.any(String) } });
  });
});
