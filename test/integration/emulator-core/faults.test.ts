/**
 * Random error injection by status through `PUT /admin/faults` (`errors: { <api>: { '429', '500', '503' } }`),
 * the wire shape of each injected answer, and a real SDK client recovering through its retry policy,
 * shown by the call counters. Issue #4: "20% 429 and 5% 500 injected".
 * Throttling: https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling
 * (429 with Retry-After, x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}, code TooManyRequests);
 * Resource Graph: https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests.
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_ROLE_IDS } from '../../../emulator/arm/roles.js';
import { DEMO_VAULT } from '../../../emulator/core/wellKnown.js';
import { startTestEmulator, type TestEmulator } from '../../support/emulator.js';

const ARM_SCOPE = 'https://management.azure.com/.default';
let emu: TestEmulator;

beforeAll(async () => {
  emu = await startTestEmulator({ arm: true, eventGrid: true });
});
afterAll(async () => {
  await emu?.stop();
});
afterEach(async () => {
  const none = { '429': 0, '500': 0, '503': 0 };
  await emu.admin('PUT', '/faults', {
    errorRate: { arm: 0, authorization: 0, resourceGraph: 0, graph: 0 },
    errors: { arm: none, authorization: none, resourceGraph: none, graph: none, keyVault: none },
    retryAfterSeconds: 1,
  });
});

async function arm(method: string, path: string, body?: unknown, apiVersion = '2021-04-01') {
  const token = (await emu.operatorCredential().getToken(ARM_SCOPE))!.token;
  const url = new URL(`${emu.endpoints.arm}${path}`);
  url.searchParams.set('api-version', apiVersion);
  return emu.fetch(url.toString(), {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function counts(since: number, api: string): Promise<Map<number, number>> {
  const res = await emu.admin<{ calls: Array<{ api: string; status: number; count: number }> }>('GET', `/calls?since=${since}`);
  const out = new Map<number, number>();
  for (const c of res.body.calls) if (c.api === api) out.set(c.status, (out.get(c.status) ?? 0) + c.count);
  return out;
}

describe('error injection by status', () => {
  it("answers an injected 429 as ARM throttles: Retry-After, the remaining-requests header of the request's kind, TooManyRequests", async () => {
    expect((await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 2 })).status).toBe(200);
    const sub = `/subscriptions/${emu.endpoints.subscriptionId}`;
    for (const [method, kind, operation] of [
      ['GET', 'reads', 'Read'],
      ['PUT', 'writes', 'Write'],
      ['DELETE', 'deletes', 'Delete'],
    ] as const) {
      const res = await arm(method, `${sub}/resourceGroups/rg-faults`, method === 'PUT' ? { location: 'westeurope' } : undefined);
      expect(res.status, method).toBe(429);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.headers[`x-ms-ratelimit-remaining-subscription-${kind}`]).toBe('0');
      expect(res.json<{ error: { code: string; message: string } }>().error).toMatchObject({
        code: 'TooManyRequests',
        message: expect.stringContaining(operation),
      });
    }
  });

  it('answers an injected 500 with InternalServerError in the API error shape, for any API', async () => {
    await emu.admin('PUT', '/faults', { errors: { arm: { '500': 1 }, graph: { '500': 1 } } });
    const res = await arm('GET', `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups`);
    expect(res.status).toBe(500);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('InternalServerError');
    const token = (await emu.operatorCredential().getToken('https://graph.microsoft.com/.default'))!.token;
    const graph = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications`, { headers: { authorization: `Bearer ${token}` } });
    expect(graph.status).toBe(500);
    expect(graph.json<{ error: { code: string; innerError: unknown } }>().error).toMatchObject({
      code: 'generalException',
      innerError: expect.any(Object),
    });
  });

  it("answers Resource Graph's 429 with its user-quota headers, and Graph's with Retry-After", async () => {
    await emu.admin('PUT', '/faults', { errors: { resourceGraph: { '429': 1 }, graph: { '429': 1 } }, retryAfterSeconds: 3 });
    const rg = await arm('POST', '/providers/Microsoft.ResourceGraph/resources', { query: 'resources | project id' }, '2022-10-01');
    expect(rg.status).toBe(429);
    expect(rg.headers).toMatchObject({ 'retry-after': '3', 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:03' });
    const token = (await emu.operatorCredential().getToken('https://graph.microsoft.com/.default'))!.token;
    const graph = await emu.fetch(`${emu.endpoints.graph}/v1.0/applications`, { headers: { authorization: `Bearer ${token}` } });
    expect(graph.status).toBe(429);
    expect(graph.headers['retry-after']).toBe('3');
    expect(graph.json<{ error: { code: string } }>().error.code).toBe('TooManyRequests');
  });

  it('keeps the 503 option: errorRate and errors[api][503] both inject ServiceUnavailable', async () => {
    await emu.admin('PUT', '/faults', { errorRate: { arm: 1 } });
    const first = await arm('GET', `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups`);
    expect(first.status).toBe(503);
    expect(first.json<{ error: { code: string } }>().error.code).toBe('ServiceUnavailable');
    await emu.admin('PUT', '/faults', { errorRate: { arm: 0 }, errors: { arm: { '503': 1 } } });
    expect((await arm('GET', `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups`)).status).toBe(503);
  });

  it('refuses rates outside 0..1, unknown statuses and unknown APIs, one message each', async () => {
    for (const [body, message] of [
      [{ errors: { arm: { '429': 2 } } }, /errors\.arm\.429/],
      [{ errors: { arm: { '404': 0.1 } } }, /errors\.arm\.404/],
      [{ errors: { storage: { '500': 0.1 } } }, /errors\.storage/],
      [{ retryAfterSeconds: -1 }, /retryAfterSeconds/],
    ] as const) {
      const res = await emu.admin<{ error: { code: string; message: string } }>('PUT', '/faults', body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(message);
    }
  });
});

describe('a real SDK client under 20% 429 and 5% 500', () => {
  it('recovers through its retry policy, and the counters show the injected answers', async () => {
    const client = new AuthorizationManagementClient(emu.operatorCredential(), emu.endpoints.subscriptionId, {
      endpoint: emu.endpoints.arm,
      credentialScopes: [ARM_SCOPE],
      ...emu.clientOptions,
      // Short waits so the test is quick; the policy is the SDK's own (throttling honours Retry-After, 5xx back off).
      retryOptions: { maxRetries: 20, retryDelayInMs: 5, maxRetryDelayInMs: 20 },
    });
    // Retry-After: 0 keeps the run short; the throttling policy still sees a throttling answer and retries.
    await emu.admin('PUT', '/faults', { errors: { authorization: { '429': 0.2, '500': 0.05 } }, retryAfterSeconds: 0 });
    const since = Date.now();
    const scope = DEMO_VAULT.resourceId.replace(/^\//, '');
    for (let i = 0; i < 150; i++) {
      const role = await client.roleDefinitions.get(`subscriptions/${emu.endpoints.subscriptionId}`, BUILT_IN_ROLE_IDS.AcrPull);
      expect(role.roleName).toBe('AcrPull');
    }
    const created: number[] = [];
    for (let i = 0; i < 10; i++) {
      await client.roleAssignments.create(
        scope,
        `3f0c7e2a-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
        {
          roleDefinitionId: `/subscriptions/${emu.endpoints.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLE_IDS.AcrPull}`,
          principalId: `0d0c0b0a-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
          principalType: 'ServicePrincipal',
        },
        { onResponse: (raw) => created.push(raw.status) },
      );
    }
    // Every call ended in success: the injected answers were retried, never surfaced.
    expect(created).toEqual(Array(10).fill(201));
    const byStatus = await counts(since, 'authorization');
    const total = [...byStatus.values()].reduce((a, b) => a + b, 0);
    expect(byStatus.get(200)).toBe(150);
    expect(byStatus.get(201)).toBe(10);
    expect(byStatus.get(429) ?? 0).toBeGreaterThan(0);
    expect(byStatus.get(500) ?? 0).toBeGreaterThan(0);
    // Rates as set, within a binomial band (about 200 attempts).
    expect((byStatus.get(429) ?? 0) / total).toBeGreaterThan(0.1);
    expect((byStatus.get(429) ?? 0) / total).toBeLessThan(0.3);
    expect((byStatus.get(500) ?? 0) / total).toBeLessThan(0.12);
  });
});
