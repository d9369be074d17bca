/**
 * Event Grid delivery end to end over the emulator's HTTPS front door: ARM writes by the real
 * token-carrying caller → ARM events → a webhook (a small local HTTP server here).
 * Handshake and headers: https://learn.microsoft.com/azure/event-grid/webhook-event-delivery;
 * event schema and samples: https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions
 * (ResourceWriteSuccess without httpRequest, ResourceDeleteSuccess with it, `resourcegroups` in subject);
 * retries: https://learn.microsoft.com/azure/event-grid/delivery-and-retry.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TestEmulator } from '../../support/emulator.js';
import { armCaller, rgId, startArmEmulator, type ArmCall } from './armSupport.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: any;
}

let emu: TestEmulator;
let call: ArmCall;
let server: Server;
let endpoint: string;
let received: Received[];
let answer: (r: Received) => number;
const OBJECT_ID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';

beforeAll(async () => {
  emu = await startArmEmulator();
  call = armCaller(emu);
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const r: Received = { headers: req.headers, body: data ? JSON.parse(data) : undefined };
      received.push(r);
      if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ validationResponse: r.body[0].data.validationCode }));
        return;
      }
      res.writeHead(answer(r)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/runtime/webhooks/EventGrid?functionName=resourceEvents`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await emu?.stop();
});
beforeEach(() => {
  received = [];
  answer = () => 200;
});
afterEach(async () => {
  await emu.admin('DELETE', '/eventgrid/subscriptions/resource-events');
  await emu.admin('PUT', '/eventgrid/options', { duplicateWriteEvents: false, duplicateRate: 0 });
  await emu.admin('PUT', '/faults', { events: { duplicateRate: 0 } });
});

const idle = async () =>
  expect((await emu.admin<{ idle: boolean }>('POST', '/eventgrid/idle?timeoutMs=10000')).body).toMatchObject({ idle: true });
const notifications = () => received.filter((r) => r.headers['aeg-event-type'] === 'Notification');
const subscribe = (body: Record<string, unknown> = {}) =>
  emu.admin('PUT', '/eventgrid/subscriptions/resource-events', { endpoint, ...body });

describe('Event Grid delivery of ARM events to a webhook', () => {
  it('validates the webhook, then delivers write, tag write and delete events in the documented schema', async () => {
    const sub = await subscribe({
      includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Resources.ResourceDeleteSuccess'],
    });
    expect(sub.status).toBe(200);
    expect(received[0]!.headers['aeg-event-type']).toBe('SubscriptionValidation');
    expect(received[0]!.body).toEqual([
      expect.objectContaining({
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: expect.objectContaining({ validationCode: expect.any(String) }),
      }),
    ]);

    const vm = `${rgId(emu)}/providers/Microsoft.Compute/virtualMachines/vm-events`;
    expect(
      (await call('PUT', vm, { location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: {} }, '2024-07-01')).status,
    ).toBe(201);
    expect(
      (
        await call(
          'PATCH',
          `${vm}/providers/Microsoft.Resources/tags/default`,
          { operation: 'Merge', properties: { tags: { 'acr-pull': 'contosoacr' } } },
          '2021-04-01',
        )
      ).status,
    ).toBe(200);
    expect((await call('DELETE', vm, undefined, '2024-07-01')).status).toBe(200);
    await idle();

    const events = notifications().map((r) => {
      expect(r.body).toHaveLength(1);
      return r.body[0];
    });
    expect(events.map((e) => [e.eventType, e.data.operationName])).toEqual([
      ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Compute/virtualMachines/write'],
      ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Resources/tags/write'],
      ['Microsoft.Resources.ResourceDeleteSuccess', 'Microsoft.Compute/virtualMachines/delete'],
    ]);
    const [write, , del] = events;
    const subject = vm.replace('/resourceGroups/', '/resourcegroups/');
    expect(write).toMatchObject({
      topic: `/subscriptions/${emu.endpoints.subscriptionId}`,
      subject,
      dataVersion: '2',
      metadataVersion: '1',
      data: { resourceUri: subject, status: 'Succeeded', subscriptionId: emu.endpoints.subscriptionId, tenantId: emu.endpoints.tenantId },
    });
    expect(write.data.httpRequest).toBeUndefined();
    expect(write.data.claims[OBJECT_ID_CLAIM]).toBe(emu.endpoints.operator.objectId);
    expect(Object.values(write.data.claims).every((v) => typeof v === 'string')).toBe(true);
    expect(del.data.httpRequest).toMatchObject({ method: 'DELETE', url: expect.stringContaining('/virtualMachines/vm-events') });
    expect(notifications()[0]!.headers).toMatchObject({
      'aeg-subscription-name': 'RESOURCE-EVENTS',
      'aeg-delivery-count': '0',
      'content-type': 'application/json',
    });
  });

  it('filters by data.operationName', async () => {
    await subscribe({
      advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: ['Microsoft.Resources/tags/write'] }],
    });
    const vm = `${rgId(emu)}/providers/Microsoft.Compute/virtualMachines/vm-filter`;
    await call('PUT', vm, { location: 'westeurope', properties: {} }, '2024-07-01');
    await call(
      'PATCH',
      `${vm}/providers/Microsoft.Resources/tags/default`,
      { operation: 'Merge', properties: { tags: { team: 'web' } } },
      '2021-04-01',
    );
    await idle();
    expect(notifications().map((r) => r.body[0].data.operationName)).toEqual(['Microsoft.Resources/tags/write']);
  });

  it('delivers each ResourceWriteSuccess twice when template-deployment duplicates are enabled', async () => {
    await subscribe({ includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'] });
    await emu.admin('PUT', '/eventgrid/options', { duplicateWriteEvents: true });
    await call(
      'PUT',
      `${rgId(emu)}/providers/Microsoft.Compute/virtualMachines/vm-dup`,
      { location: 'westeurope', properties: {} },
      '2024-07-01',
    );
    await idle();
    const events = notifications().map((r) => r.body[0]);
    expect(events).toHaveLength(2);
    expect(new Set(events.map((e) => e.subject)).size).toBe(1);
    expect(new Set(events.map((e) => e.id)).size).toBe(2);
  });

  it('redelivers the same event when /admin/faults injects duplicate deliveries', async () => {
    await subscribe({ includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'] });
    await emu.admin('PUT', '/faults', { events: { duplicateRate: 1 } });
    await call(
      'PUT',
      `${rgId(emu)}/providers/Microsoft.Compute/virtualMachines/vm-redelivered`,
      { location: 'westeurope', properties: {} },
      '2024-07-01',
    );
    await idle();
    const ids = notifications().map((r) => r.body[0].id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
  });

  it('retries while the webhook answers 500, with aeg-delivery-count counting the attempts', async () => {
    await subscribe({ includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'] });
    let failures = 2;
    answer = () => (failures-- > 0 ? 500 : 200);
    await call(
      'PUT',
      `${rgId(emu)}/providers/Microsoft.Compute/virtualMachines/vm-retry`,
      { location: 'westeurope', properties: {} },
      '2024-07-01',
    );
    await idle();
    const attempts = notifications();
    expect(attempts.map((r) => r.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
    expect(new Set(attempts.map((r) => r.body[0].id)).size).toBe(1);
    const deliveries = await emu.admin<{ value: Array<{ subject: string; status: number; outcome: string }> }>(
      'GET',
      '/eventgrid/deliveries',
    );
    expect(deliveries.body.value.filter((d) => d.subject.endsWith('/vm-retry')).map((d) => [d.status, d.outcome])).toEqual([
      [500, 'retrying'],
      [500, 'retrying'],
      [200, 'delivered'],
    ]);
  });

  it('answers /admin/eventgrid/idle at once when nothing is pending', async () => {
    const started = Date.now();
    const res = await emu.admin<{ idle: boolean; pending: number }>('POST', '/eventgrid/idle?timeoutMs=5000');
    expect(res).toEqual({ status: 200, body: { idle: true, pending: 0 } });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
