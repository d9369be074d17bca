/**
 * The ARM pacer (src/azure/armPacing.ts) in a real SDK pipeline against the emulator's token
 * buckets, which answer every request with ARM's remaining-request headers and a 429 with
 * Retry-After past the limit (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
 * Counts and order only: the timing goals live in `npm run bench` (the burst scenario).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Client } from '@azure-rest/core-client';
import { loadConfig } from '../../../src/config.js';
import { createArmClient, createArmResources } from '../../../src/azure/arm.js';
import { createArmPacer, withArmPriority, type ArmPacer } from '../../../src/azure/armPacing.js';
import { TransientAzureError } from '../../../src/errors.js';
import { APP, OPERATOR } from '../../../emulator/index.js';
import { startTestEmulator, type TestEmulator } from '../../support/emulator.js';

const RG_API = '2021-04-01';
let emu: TestEmulator;
let sub: string;

beforeAll(async () => {
  emu = await startTestEmulator({
    arm: true,
    eventGrid: false,
    scenario: { arm: { operatorObjectId: OPERATOR.objectId, appObjectId: APP.objectId } },
  });
  sub = emu.endpoints.subscriptionId;
});
afterAll(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  // PUT /admin/faults empties every bucket's history: each test starts with full buckets.
  await emu.admin('PUT', '/faults', { throttle: { enabled: false }, errors: { arm: { '429': 0 } }, retryAfterSeconds: 1 });
  await emu.admin('DELETE', '/calls');
});

/** The app's ARM client (createArmClient), with the pacer when given, and without the SDK's retries: what the pacer does is seen alone. */
function clientWith(pacer: ArmPacer | undefined): Client {
  const config = loadConfig({
    AZURE_TENANT_ID: emu.endpoints.tenantId,
    ARM_ENDPOINT: emu.endpoints.arm,
    WATCHED_SUBSCRIPTIONS: sub,
    TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
  });
  const client = createArmClient(config, emu.operatorCredential(), { ...emu.clientOptions, ...(pacer ? { armPacer: pacer } : {}) });
  client.pipeline.removePolicy({ name: 'defaultRetryPolicy' });
  return client;
}

/** A write ARM counts: a resource group PUT (ResourceGroups_CreateOrUpdate). */
const putGroup = (client: Client, name: string) =>
  client
    .pathUnchecked(`/subscriptions/${sub}/resourceGroups/${name}`)
    .put({ queryParameters: { 'api-version': RG_API }, body: { location: 'westeurope' } });

async function answered(): Promise<Record<string, number>> {
  const { body } = await emu.admin<{ calls: Array<{ api: string; method: string; status: number; count: number }> }>('GET', '/calls');
  const out: Record<string, number> = {};
  for (const c of body.calls.filter((c) => c.api === 'arm' && c.method === 'PUT'))
    out[String(c.status)] = (out[String(c.status)] ?? 0) + c.count;
  return out;
}

describe('ARM pacing on the remaining-request headers', () => {
  it('spaces 40 concurrent writes against a bucket of 10 so none is answered 429, where the same writes unpaced are', async () => {
    await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 10, refillPerSecond: 20 } });
    const plain = clientWith(undefined);
    await plain.pathUnchecked(`/subscriptions/${sub}/resourceGroups`).get({ queryParameters: { 'api-version': RG_API } }); // its token, fetched before the burst
    const unpaced = await Promise.all(Array.from({ length: 40 }, (_, i) => putGroup(plain, `rg-unpaced-${i}`)));
    expect(unpaced.filter((r) => r.status === '429').length).toBeGreaterThan(0);

    await emu.admin('PUT', '/faults', { throttle: { enabled: true, burst: 10, refillPerSecond: 20 } }); // full buckets again
    await emu.admin('DELETE', '/calls');
    const pacer = createArmPacer();
    const client = clientWith(pacer);
    await client.pathUnchecked(`/subscriptions/${sub}/resourceGroups`).get({ queryParameters: { 'api-version': RG_API } });
    const paced = await Promise.all(Array.from({ length: 40 }, (_, i) => putGroup(client, `rg-paced-${i}`)));
    expect(paced.map((r) => r.status).filter((s) => !s.startsWith('2'))).toEqual([]);
    expect(await answered()).toEqual({ '201': 40 });
    expect(pacer.buckets().find((b) => b.key === `${sub.toLowerCase()}|writes`)).toMatchObject({ inFlight: 0, waiting: 0 });
  });

  it('holds every concurrent caller while a Retry-After window is open, then sends them', async () => {
    const pacer = createArmPacer();
    const client = clientWith(pacer);
    // One 429 with Retry-After: 3 (an injected one, in ARM's shape) opens the window for everyone.
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 3 });
    expect((await putGroup(client, 'rg-first')).status).toBe('429');
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 0 } } });
    await emu.admin('DELETE', '/calls');

    const unpacedNow = await putGroup(clientWith(undefined), 'rg-unpaced');
    expect(unpacedNow.status).toBe('201'); // ARM itself would take it: the pacer, not ARM, holds the others
    await emu.admin('DELETE', '/calls');

    const callers = Promise.all(Array.from({ length: 10 }, (_, i) => putGroup(client, `rg-held-${i}`)));
    await new Promise((r) => setTimeout(r, 200));
    expect(await answered()).toEqual({}); // none sent while the window is open
    expect(pacer.buckets().find((b) => b.key === `${sub.toLowerCase()}|writes`)).toMatchObject({ waiting: 10 });
    const results = await callers;
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 10 }, () => '201'));
    expect(await answered()).toEqual({ '201': 10 });
  });

  it('holds no one else for a 429 that came while the count said plenty was left (not this bucket running dry)', async () => {
    const pacer = createArmPacer();
    const client = clientWith(pacer);
    expect((await putGroup(client, 'rg-plenty')).status).toBe('201'); // learns ~199 writes left
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 3 });
    expect((await putGroup(client, 'rg-refused')).status).toBe('429');
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 0 } } });
    await emu.admin('DELETE', '/calls');
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => putGroup(client, `rg-free-${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 5 }, () => '201'));
    expect(pacer.buckets().find((b) => b.key === `${sub.toLowerCase()}|writes`)?.blockedForMs).toBe(0);
  });

  it('gives a request up as TransientAzureError (Event Grid redelivers) when its turn is further off than the longest wait', async () => {
    const pacer = createArmPacer({ maxWaitMs: 100 });
    const client = clientWith(pacer);
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 5 });
    expect((await putGroup(client, 'rg-opens')).status).toBe('429');
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 0 } } });
    await emu.admin('DELETE', '/calls');
    const error = await putGroup(client, 'rg-late').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransientAzureError);
    expect((error as TransientAzureError).code).toBe('ArmThrottled');
    expect(await answered()).toEqual({});
  });

  it('serves the oldest event first when callers wait for the same bucket', async () => {
    const pacer = createArmPacer();
    const client = clientWith(pacer);
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 1 });
    expect((await putGroup(client, 'rg-window')).status).toBe('429');
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 0 } } });
    const order: number[] = [];
    // Asked newest first; the window makes them all wait, then they go oldest first.
    await Promise.all(
      [5, 4, 3, 2, 1].map((eventTime) =>
        withArmPriority(eventTime, async () => {
          await putGroup(client, `rg-order-${eventTime}`);
          order.push(eventTime);
        }),
      ),
    );
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers consent reads asked together, while reads are paced, with one request sent after all of them asked', async () => {
    const pacer = createArmPacer();
    const config = loadConfig({
      AZURE_TENANT_ID: emu.endpoints.tenantId,
      ARM_ENDPOINT: emu.endpoints.arm,
      WATCHED_SUBSCRIPTIONS: sub,
      TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
    });
    const arm = createArmResources(config, emu.operatorCredential(), { clientOptions: { ...emu.clientOptions, armPacer: pacer } });
    const plain = clientWith(undefined);
    const registry = `/subscriptions/${sub}/resourceGroups/rg-consent/providers/Microsoft.ContainerRegistry/registries/consentacr`;
    expect((await putGroup(plain, 'rg-consent')).status).toBe('201');
    // containerregistry 2025-11-01, Registries_Create_Registry_Create.json (trimmed)
    expect(
      (
        await plain.pathUnchecked(registry).put({
          queryParameters: { 'api-version': '2025-11-01' },
          body: { location: 'westeurope', sku: { name: 'Standard' }, tags: { 'acr-pull-allow': 'same-resource-group' } },
        })
      ).status,
    ).toMatch(/^20[01]$/);

    // Not paced: each caller reads for itself.
    await emu.admin('DELETE', '/calls');
    await Promise.all(Array.from({ length: 3 }, () => arm.getResource(registry, { sentAfterCall: true })));
    const reads = async () => {
      const { body } = await emu.admin<{ calls: Array<{ api: string; method: string; route: string; count: number }> }>('GET', '/calls');
      return body.calls.filter((c) => c.api === 'arm' && c.method === 'GET').reduce((n, c) => n + c.count, 0);
    };
    expect(await reads()).toBe(3);

    // Paced (a new process's first read answered 429 opened a Retry-After window): five callers, one request.
    const pacedPacer = createArmPacer();
    const pacedArm = createArmResources(config, emu.operatorCredential(), {
      clientOptions: { ...emu.clientOptions, armPacer: pacedPacer },
    });
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 1 } }, retryAfterSeconds: 1 });
    await pacedArm.getResource(registry).catch(() => undefined);
    await emu.admin('PUT', '/faults', { errors: { arm: { '429': 0 } } });
    await emu.admin('DELETE', '/calls');
    const answers = await Promise.all(Array.from({ length: 5 }, () => pacedArm.getResource(registry, { sentAfterCall: true })));
    expect(answers.map((a) => a?.tags?.['acr-pull-allow'])).toEqual(Array.from({ length: 5 }, () => 'same-resource-group'));
    expect(await reads()).toBe(1);
  });
});
