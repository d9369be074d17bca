/**
 * The local host running the real app bundle as a child process, driven over HTTP the way
 * Azure's front end, Event Grid and the admin API would drive the Functions host.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HostLogLine } from '../../devhost/host.js';
import { startHostProcess, type HostProcess } from '../support/hostProcess.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let host: HostProcess;

beforeAll(async () => {
  host = await startHostProcess({
    appEntry: inject('appEntry'),
    env: { TABLES_CONNECTION_STRING: inject('tablesConnectionString') },
  });
});
afterAll(async () => {
  await host?.stop();
});

const api = (path: string, init: RequestInit & { key?: string } = {}) =>
  fetch(`${host.url}${path}`, { ...init, headers: { ...(init.key ? { 'x-functions-key': init.key } : {}), ...(init.headers as Record<string, string>) } });
const webhook = (functionName: string, code: string | undefined, init: RequestInit) =>
  fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=${functionName}${code ? `&code=${encodeURIComponent(code)}` : ''}`, init);
const smokeEventLogs = (id: string) => host.logs().filter((l) => l.functionName === 'smokeEventGrid' && l.message.includes(`"id":"${id}"`));

/** An Event Grid schema event, after the documented ResourceWriteSuccess sample's shape. */
const anEventGridEvent = (id: string, data: Record<string, unknown>) => ({
  id,
  topic: '/subscriptions/00000000-0000-0000-0000-000000000001',
  subject: '/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg/providers/Microsoft.Compute/virtualMachines/vm-web-1',
  eventType: 'Microsoft.Resources.ResourceWriteSuccess',
  eventTime: '2026-11-23T10:00:00.0000000Z',
  data,
  dataVersion: '',
  metadataVersion: '1',
});
const aCloudEvent = (id: string, data: Record<string, unknown>) => ({
  specversion: '1.0',
  id,
  source: '/subscriptions/00000000-0000-0000-0000-000000000001',
  subject: 'vm-web-1',
  type: 'Microsoft.Resources.ResourceWriteSuccess',
  time: '2026-11-23T10:00:00Z',
  datacontenttype: 'application/json',
  data,
});

describe('local host: start-up', () => {
  it('reports every function the app registers, with routes, methods and auth levels', () => {
    // Other functions join the app over time: hold the smoke functions to their exact shape.
    expect(host.functions.filter((f) => f.name.startsWith('smoke'))).toEqual([
      { name: 'smokeHttp', trigger: 'http', route: 'api/smoke/{name?}', methods: ['GET', 'POST'], authLevel: 'function' },
      { name: 'smokeHttpAnonymous', trigger: 'http', route: 'api/smoke-anonymous', methods: ['GET'], authLevel: 'anonymous' },
      { name: 'smokeEventGrid', trigger: 'eventGrid' },
      { name: 'smokeTimer', trigger: 'timer', schedule: '0 0 0 * * *' },
    ]);
  });

  it('never prints keys it was given', () => {
    const output = host.child.output.join('\n');
    for (const key of Object.values(host.keys)) expect(output).not.toContain(key);
  });

  it('answers the host status with the master key only', async () => {
    const status = await api('/admin/host/status', { key: host.keys.masterKey });
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ state: 'Running' });
    expect((await api('/admin/host/status', { key: host.keys.functionKey })).status).toBe(401);
    expect((await api('/admin/host/status')).status).toBe(401);
  });
});

describe('local host: HTTP triggers', () => {
  it('routes a GET with a route parameter and query to the function and returns its response', async () => {
    const response = await api('/api/smoke/contoso?tag=acr-pull', { key: host.keys.functionKey });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-smoke')).toBe('ok');
    expect(response.headers.get('content-type')).toContain('application/json');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ functionName: 'smokeHttp', method: 'GET', params: { name: 'contoso' }, query: { tag: 'acr-pull' }, body: '' });
    expect(body['invocationId']).toMatch(GUID);
  });

  it('passes a POST body through and matches the route without its optional parameter, case-insensitively', async () => {
    const response = await api('/API/Smoke', { method: 'POST', key: host.keys.functionKey, body: '{"hello":"world"}', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ method: 'POST', params: {}, body: '{"hello":"world"}' });
  });

  it.each([
    ['the function key in the code query parameter', (k: HostProcess['keys']) => ({ path: `/api/smoke/a?code=${encodeURIComponent(k.functionKey)}`, headers: {} })],
    ['the master key in the x-functions-key header', (k: HostProcess['keys']) => ({ path: '/api/smoke/a', headers: { 'x-functions-key': k.masterKey } })],
  ])('accepts %s', async (_name, request) => {
    const { path, headers } = request(host.keys);
    expect((await api(path, { headers })).status).toBe(200);
  });

  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-functions-key': 'not-the-key' }],
    ['the Event Grid system key', undefined],
  ])('answers 401 to a function-level route called with %s', async (_name, headers) => {
    const response = await api('/api/smoke/a', { headers: headers ?? { 'x-functions-key': host.keys.eventGridKey } });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('serves an anonymous route without a key', async () => {
    const response = await api('/api/smoke-anonymous');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ functionName: 'smokeHttpAnonymous' });
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    expect((await api('/api/nothing-here', { key: host.keys.masterKey })).status).toBe(404);
    expect((await api('/smoke/a', { key: host.keys.masterKey })).status).toBe(404);
    const wrongMethod = await api('/api/smoke/a', { method: 'DELETE', key: host.keys.masterKey });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
  });

  it('prints the function’s log lines as JSON with time, level, function name and invocation id', async () => {
    const response = await api('/api/smoke/logged', { key: host.keys.functionKey });
    const { invocationId } = (await response.json()) as { invocationId: string };
    const line: HostLogLine = await host.waitForLog((l) => l.invocationId === invocationId);
    expect(line).toMatchObject({ level: 'information', functionName: 'smokeHttp', invocationId, message: 'smokeHttp GET /api/smoke/logged' });
    expect(Date.parse(line.time)).not.toBeNaN();
  });
});

describe('local host: Event Grid webhook', () => {
  const notification = { 'content-type': 'application/json', 'aeg-event-type': 'Notification' };

  it('requires the eventgrid_extension system key as code', async () => {
    const body = JSON.stringify([anEventGridEvent('eg-nokey', {})]);
    expect((await webhook('smokeEventGrid', undefined, { method: 'POST', headers: notification, body })).status).toBe(401);
    expect((await webhook('smokeEventGrid', host.keys.functionKey, { method: 'POST', headers: notification, body })).status).toBe(401);
    expect(smokeEventLogs('eg-nokey')).toEqual([]);
  });

  it('answers the subscription validation handshake with the validation code', async () => {
    const response = await webhook('smokeEventGrid', host.keys.eventGridKey, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        {
          id: '2d1781af-3a4c-4d7c-bd0c-e34b19da4e66',
          topic: '/subscriptions/00000000-0000-0000-0000-000000000001',
          subject: '',
          data: { validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6', validationUrl: 'https://rp-eastus2.eventgrid.azure.net/validate' },
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: '2026-11-23T10:00:00Z',
          metadataVersion: '1',
          dataVersion: '1',
        },
      ]),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
  });

  it('invokes the function once per Event Grid schema event with its data', async () => {
    const events = [anEventGridEvent('eg-1', { resourceUri: '/subscriptions/x/vm-1' }), anEventGridEvent('eg-2', { resourceUri: '/subscriptions/x/vm-2' })];
    const response = await webhook('smokeEventGrid', host.keys.eventGridKey, { method: 'POST', headers: notification, body: JSON.stringify(events) });
    expect(response.status).toBe(202);
    for (const [id, uri] of [['eg-1', '/subscriptions/x/vm-1'], ['eg-2', '/subscriptions/x/vm-2']] as const) {
      const logged = smokeEventLogs(id);
      expect(logged).toHaveLength(1);
      expect(JSON.parse(logged[0]!.message)).toEqual({ smoke: 'eventGrid', id, type: 'Microsoft.Resources.ResourceWriteSuccess', subject: events[0]!.subject, data: { resourceUri: uri } });
    }
  });

  it('accepts a single CloudEvent and a CloudEvents batch', async () => {
    const single = await webhook('smokeEventGrid', host.keys.eventGridKey, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
      body: JSON.stringify(aCloudEvent('ce-1', { n: 1 })),
    });
    expect(single.status).toBe(202);
    const batch = await webhook('smokeEventGrid', host.keys.eventGridKey, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' },
      body: JSON.stringify([aCloudEvent('ce-2', { n: 2 }), aCloudEvent('ce-3', { n: 3 })]),
    });
    expect(batch.status).toBe(202);
    for (const [id, n] of [['ce-1', 1], ['ce-2', 2], ['ce-3', 3]] as const) {
      const logged = smokeEventLogs(id);
      expect(logged).toHaveLength(1);
      expect(JSON.parse(logged[0]!.message)).toMatchObject({ id, type: 'Microsoft.Resources.ResourceWriteSuccess', data: { n } });
    }
  });

  it('grants the CloudEvents abuse-protection OPTIONS request', async () => {
    const response = await webhook('smokeEventGrid', host.keys.eventGridKey, { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('answers 500 when any invocation throws, so Event Grid retries, and still delivers the rest', async () => {
    const events = [anEventGridEvent('eg-fail', { fail: true }), anEventGridEvent('eg-after-fail', {})];
    const response = await webhook('smokeEventGrid', host.keys.eventGridKey, { method: 'POST', headers: notification, body: JSON.stringify(events) });
    expect(response.status).toBe(500);
    expect(smokeEventLogs('eg-fail')).toHaveLength(1);
    expect(smokeEventLogs('eg-after-fail')).toHaveLength(1);
  });

  it.each([
    ['a body that is not JSON', notification, '[{'],
    ['an object instead of an array', notification, JSON.stringify(anEventGridEvent('eg-obj', {}))],
    ['an event without an eventType', notification, JSON.stringify([{ id: 'eg-bad', subject: 's', eventTime: 't', dataVersion: '' }])],
    ['a CloudEvent of another spec version', { 'content-type': 'application/cloudevents+json' }, JSON.stringify({ ...aCloudEvent('ce-bad', {}), specversion: '0.3' })],
  ])('answers 400 to %s without invoking the function', async (_name, headers, body) => {
    const response = await webhook('smokeEventGrid', host.keys.eventGridKey, { method: 'POST', headers, body });
    expect(response.status).toBe(400);
    expect([...smokeEventLogs('eg-obj'), ...smokeEventLogs('eg-bad'), ...smokeEventLogs('ce-bad')]).toEqual([]);
  });

  it('answers 404 for a function that is not an Event Grid function', async () => {
    const response = await webhook('smokeTimer', host.keys.eventGridKey, { method: 'POST', headers: notification, body: '[]' });
    expect(response.status).toBe(404);
  });
});

describe('local host: admin API', () => {
  it('fires a timer function at once with the master key and a timer payload', async () => {
    const response = await api('/admin/functions/smokeTimer', { method: 'POST', key: host.keys.masterKey, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: '' }) });
    expect(response.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'smokeTimer');
    const payload = JSON.parse(line.message) as { isPastDue: boolean; schedule: unknown; scheduleStatus: { last: string; next: string; lastUpdated: string } };
    expect(payload).toMatchObject({ smoke: 'timer', isPastDue: false, schedule: { adjustForDST: true } });
    const next = new Date(payload.scheduleStatus.next);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([0, 0, 0]); // the next midnight of '0 0 0 * * *'
    expect(next.getTime()).toBeGreaterThan(Date.now());
  });

  it('fires an Event Grid function with the given input', async () => {
    const input = JSON.stringify(anEventGridEvent('admin-eg', { via: 'admin' }));
    const response = await api('/admin/functions/smokeEventGrid', { method: 'POST', key: host.keys.masterKey, body: JSON.stringify({ input }) });
    expect(response.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'smokeEventGrid' && l.message.includes('"admin-eg"'));
    expect(JSON.parse(line.message)).toMatchObject({ id: 'admin-eg', data: { via: 'admin' } });
  });

  it('refuses without the master key and answers 404 for an unknown function', async () => {
    expect((await api('/admin/functions/smokeTimer', { method: 'POST', key: host.keys.functionKey, body: '{}' })).status).toBe(401);
    expect((await api('/admin/functions/noSuchFunction', { method: 'POST', key: host.keys.masterKey, body: '{}' })).status).toBe(404);
  });
});
