/**
 * Event Grid delivery from ARM writes to a small local webhook: validation handshake, filters,
 * retries with dead-letter, injected duplicates. Handshake and headers:
 * https://learn.microsoft.com/azure/event-grid/webhook-event-delivery; event schema:
 * https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerArm } from '../../../emulator/arm/index.js';
import type { EmulatorModule } from '../../../emulator/core/contract.js';
import { registerEventGrid } from '../../../emulator/eventgrid/index.js';
import { OPERATOR, SUB, createHarness } from '../../unit/emulator-arm/harness.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: any;
}

let server: Server;
let endpoint: string;
let received: Received[];
let answer: (r: Received) => number;
let h: ReturnType<typeof createHarness>;
let eg: EmulatorModule;
const RG = `/subscriptions/${SUB}/resourceGroups/rg1`;

beforeEach(async () => {
  received = [];
  answer = () => 200;
  server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      const r = { headers: req.headers, body: data ? JSON.parse(data) : undefined };
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
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`;
  h = createHarness();
  eg = await registerEventGrid(h.ctx);
  const arm = await registerArm(h.ctx);
  await arm.seed!({ operatorObjectId: OPERATOR });
});

afterEach(async () => {
  eg.reset();
  await new Promise((r) => server.close(r));
});

const idle = async () => expect((await h.call('POST', '/admin/eventgrid/idle?timeoutMs=10000', { as: null })).status).toBe(200);
const notifications = () => received.filter((r) => r.headers['aeg-event-type'] === 'Notification');

describe('Event Grid delivery', () => {
  it('validates the webhook, then delivers only events passing the filters, one per POST', async () => {
    const sub = await h.call('PUT', '/admin/eventgrid/subscriptions/resource-events', {
      as: null,
      body: {
        endpoint,
        includedEventTypes: ['Microsoft.Resources.ResourceWriteSuccess'],
        advancedFilters: [
          {
            operatorType: 'StringIn',
            key: 'data.operationName',
            values: ['Microsoft.Compute/virtualMachines/write', 'Microsoft.Resources/tags/write'],
          },
        ],
      },
    });
    expect(sub.status).toBe(200);
    expect(received[0]!.headers['aeg-event-type']).toBe('SubscriptionValidation');
    expect(received[0]!.body[0].eventType).toBe('Microsoft.EventGrid.SubscriptionValidationEvent');
    await h.call('PUT', RG, { body: { location: 'eastus' } });
    await h.call('PUT', `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`, { body: { location: 'eastus' } });
    await h.call('PATCH', `${RG}/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Resources/tags/default`, {
      body: { operation: 'Merge', properties: { tags: { 'acr-pull': 'contosoacr' } } },
    });
    await h.call('DELETE', `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`);
    await idle();
    const ops = notifications().map((r) => r.body[0].data.operationName);
    expect(ops.sort()).toEqual(['Microsoft.Compute/virtualMachines/write', 'Microsoft.Resources/tags/write']);
    expect(notifications()[0]!.body).toHaveLength(1);
    expect(notifications()[0]!.headers['aeg-delivery-count']).toBe('0');
  });

  it('refuses a subscription whose endpoint fails the handshake', async () => {
    const res = await h.call('PUT', '/admin/eventgrid/subscriptions/bad', { as: null, body: { endpoint: 'http://127.0.0.1:1/nothing' } });
    expect(res.status).toBe(400);
  });

  it('retries with backoff while the subscriber fails, then dead-letters', async () => {
    await h.call('PUT', '/admin/eventgrid/options', { as: null, body: { maxAttempts: 3, initialBackoffMs: 5 } });
    await h.call('PUT', '/admin/eventgrid/subscriptions/s', { as: null, body: { endpoint } });
    let calls = 0;
    answer = () => (++calls === 1 ? 503 : 200);
    await h.call('PUT', RG, { body: { location: 'eastus' } });
    await idle();
    const log = (await h.call('GET', '/admin/eventgrid/deliveries', { as: null })).body.value;
    expect(log.map((d: { attempt: number; status: number; outcome: string }) => [d.attempt, d.status, d.outcome])).toEqual([
      [1, 503, 'retrying'],
      [2, 200, 'delivered'],
    ]);
    answer = () => 500;
    await h.call('PATCH', RG, { body: { tags: { a: 'b' } } });
    await idle();
    const dead = (await h.call('GET', '/admin/eventgrid/deadletters', { as: null })).body.value;
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: 'MaxDeliveryAttemptsExceeded', attempts: 3, lastStatus: 500 });
  });

  it('injects duplicate deliveries and duplicate write events (as a template deployment does)', async () => {
    await h.call('PUT', '/admin/eventgrid/subscriptions/s', { as: null, body: { endpoint } });
    await h.call('PUT', '/admin/eventgrid/options', { as: null, body: { duplicateRate: 1 } });
    await h.call('PUT', RG, { body: { location: 'eastus' } });
    await idle();
    const ids = notifications().map((r) => r.body[0].id);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
    received.length = 0;
    await h.call('PUT', '/admin/eventgrid/options', { as: null, body: { duplicateRate: 0, duplicateWriteEvents: true } });
    await h.call('PUT', `${RG}/providers/Microsoft.Compute/virtualMachines/vm1`, { body: { location: 'eastus' } });
    await idle();
    const writes = notifications().map((r) => r.body[0]);
    expect(writes).toHaveLength(2);
    expect(writes[0].id).not.toBe(writes[1].id);
    expect(writes[0].subject).toBe(writes[1].subject);
  });
});
