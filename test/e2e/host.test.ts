/**
 * The local host running the real app bundle as a child process, driven over HTTP the way
 * Azure's front end, Event Grid and the admin API would drive the Functions host — through the
 * app's real functions: the HTTP API (routing, keys, methods, route parameters, query and body),
 * `resourceEvents` (Event Grid schema and CloudEvents, the handshakes, and the failure status
 * while ARM is unreachable), `keyVaultSecretEvents` and the `rotateCredentials` timer.
 *
 * Table Storage is Azurite (each run its own tables); ARM listens nowhere (a closed port), and a
 * stand-in managed-identity endpoint hands out tokens, so a handled event fails the way it would
 * when ARM is down: a TransientAzureError the host must answer with 500 so Event Grid retries.
 * What needs a purpose-built function (fast timers, runOnStartup, cookies, restricted methods,
 * a failing load) is in hostFixture.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HostLogLine } from '../../devhost/host.js';
import { PLACEHOLDER_APP_SETTINGS } from '../../scripts/stack.js';
import { startHostProcess, type HostProcess } from '../support/hostProcess.js';
import { freePort } from '../support/ports.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const watched = PLACEHOLDER_APP_SETTINGS['WATCHED_SUBSCRIPTIONS']!;
const unwatched = '00000000-0000-0000-0000-00000000beef';
const vmId = (subscriptionId: string, name: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/${name}`;

let host: HostProcess;
let identityEndpoint: Server;
let armPort: number;

beforeAll(async () => {
  // App Service's managed-identity protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER), answering any resource.
  identityEndpoint = createServer((request, response) => {
    if (request.headers['x-identity-header'] !== 'host-test') return void response.writeHead(401).end();
    const resource = new URL(request.url ?? '/', 'http://localhost').searchParams.get('resource') ?? '';
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        access_token: 'host-test-token',
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: 'Bearer',
      }),
    );
  });
  await new Promise<void>((done) => identityEndpoint.listen(0, '127.0.0.1', done));
  armPort = await freePort(); // nothing listens here: ARM is unreachable
  host = await startHostProcess({
    appEntry: inject('appEntry'),
    env: {
      ...PLACEHOLDER_APP_SETTINGS,
      ARM_ENDPOINT: `https://127.0.0.1:${armPort}`,
      IDENTITY_ENDPOINT: `http://127.0.0.1:${(identityEndpoint.address() as AddressInfo).port}/msi/token`,
      IDENTITY_HEADER: 'host-test',
      TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
      TABLE_PREFIX: `host${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    },
  });
});
afterAll(async () => {
  await host?.stop();
  await new Promise<void>((done) => (identityEndpoint ? identityEndpoint.close(() => done()) : done()));
});

const api = (path: string, init: RequestInit & { key?: string } = {}) =>
  fetch(`${host.url}${path}`, {
    ...init,
    headers: { ...(init.key ? { 'x-functions-key': init.key } : {}), ...(init.headers as Record<string, string>) },
  });
const webhook = (functionName: string, code: string | undefined, init: RequestInit) =>
  fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=${functionName}${code ? `&code=${encodeURIComponent(code)}` : ''}`, init);
const deliver = (events: unknown, headers: Record<string, string> = notification) =>
  webhook('resourceEvents', host.keys.eventGridKey, { method: 'POST', headers, body: JSON.stringify(events) });
const notification = { 'content-type': 'application/json', 'aeg-event-type': 'Notification' };

interface AuditRecord {
  readonly action: string;
  readonly outcome: string;
  readonly reason: string;
  readonly eventId?: string;
  readonly resourceId?: string;
  readonly errorCode?: string;
}
/** The audit rows `GET /api/audit` returns for one event id (this run's tables hold only this file's rows). */
async function auditedFor(eventId: string): Promise<AuditRecord[]> {
  const response = await api('/api/audit?top=1000', { key: host.keys.functionKey });
  expect(response.status).toBe(200);
  const { items } = (await response.json()) as { items: AuditRecord[] };
  return items.filter((item) => item.eventId === eventId);
}
/** The app's own JSON log line inside a host log line. */
const appLine = (line: HostLogLine) => JSON.parse(line.message) as Record<string, unknown>;

/** An ARM resource event in the Event Grid schema, after the documented ResourceWriteSuccess sample. */
const anEventGridEvent = (
  id: string,
  resourceId: string,
  eventType = 'Microsoft.Resources.ResourceWriteSuccess',
  data?: Record<string, unknown>,
) => ({
  id,
  topic: resourceId.split('/').slice(0, 3).join('/'),
  subject: resourceId,
  eventType,
  eventTime: '2026-11-23T10:00:00.0000000Z',
  data: data ?? {
    operationName: 'Microsoft.Compute/virtualMachines/write',
    resourceUri: resourceId,
    status: 'Succeeded',
    correlationId: `corr-${id}`,
  },
  dataVersion: '2',
  metadataVersion: '1',
});
/** The same event as a CloudEvent 1.0. */
const aCloudEvent = (id: string, resourceId: string) => ({
  specversion: '1.0',
  id,
  source: resourceId.split('/').slice(0, 3).join('/'),
  subject: resourceId,
  type: 'Microsoft.Resources.ResourceWriteSuccess',
  time: '2026-11-23T10:00:00Z',
  datacontenttype: 'application/json',
  data: { operationName: 'Microsoft.Compute/virtualMachines/write', resourceUri: resourceId, status: 'Succeeded' },
});

describe('local host: start-up', () => {
  it('reports the functions the app registers, with routes, methods, auth levels and schedules', () => {
    // Other functions join the app over time: hold these to their exact shape.
    const all = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
    expect(host.functions).toEqual(
      expect.arrayContaining([
        { name: 'resourceEvents', trigger: 'eventGrid' },
        { name: 'keyVaultSecretEvents', trigger: 'eventGrid' },
        { name: 'rotateCredentials', trigger: 'timer', schedule: '%ROTATION_SCHEDULE%' },
        { name: 'healthApi', trigger: 'http', route: 'api/health', methods: all, authLevel: 'function' },
        { name: 'credentialsRotateApi', trigger: 'http', route: 'api/credentials/{registry}/rotate', methods: all, authLevel: 'function' },
        { name: 'openapi', trigger: 'http', route: 'api/openapi.json', methods: all, authLevel: 'anonymous' },
      ]),
    );
    expect(host.functions.map((f) => f.name)).not.toContain('smokeHttp');
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
  it('hands a route parameter to the function, prefers the longer literal route, and prints its log line with the invocation id', async () => {
    // credentials/{registry}/rotate, not credentials/{registry}: the registry name arrives, and is not enrolled.
    const response = await api('/api/credentials/contosoacr/rotate', { method: 'POST', key: host.keys.functionKey });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const body = (await response.json()) as { code: string; detail: string; instance: string };
    expect(body).toMatchObject({ code: 'NotEnrolled', detail: 'registry contosoacr is not enrolled for pull credentials' });
    const invocationId = body.instance.replace('urn:uuid:', '');
    expect(invocationId).toMatch(GUID);
    const line = await host.waitForLog((l) => l.invocationId === invocationId);
    expect(line).toMatchObject({ level: 'warning', functionName: 'credentialsRotateApi', invocationId });
    expect(appLine(line)).toMatchObject({
      message: 'request refused',
      code: 'NotEnrolled',
      route: 'credentials/{registry}/rotate',
      method: 'POST',
    });
    expect(Date.parse(line.time)).not.toBeNaN();
  });

  it('passes the query through, and matches the route case-insensitively', async () => {
    const ok = await api('/API/Audit?top=1', { key: host.keys.functionKey });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('application/json');
    expect(await ok.json()).toHaveProperty('items');
    const refused = await api('/api/audit?top=0', { key: host.keys.functionKey });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'ValidationFailed', errors: [expect.objectContaining({ pointer: '#/query/top' })] });
  });

  it('passes a POST body through', async () => {
    const response = await api('/api/access/preview', {
      method: 'POST',
      key: host.keys.functionKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId: 'not-a-resource-id' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      code: 'InvalidResourceId',
      errors: [expect.objectContaining({ pointer: '#/body/resourceId' })],
    });
  });

  it.each([
    [
      'the function key in the code query parameter',
      (k: HostProcess['keys']) => ({ path: `/api/audit?top=1&code=${encodeURIComponent(k.functionKey)}`, headers: {} }),
    ],
    [
      'the master key in the x-functions-key header',
      (k: HostProcess['keys']) => ({ path: '/api/audit?top=1', headers: { 'x-functions-key': k.masterKey } }),
    ],
  ])('accepts %s', async (_name, request) => {
    const { path, headers } = request(host.keys);
    expect((await api(path, { headers })).status).toBe(200);
  });

  it.each([
    ['/api/audit', 'no key', {}],
    ['/api/audit', 'a wrong key', { 'x-functions-key': 'not-the-key' }],
    ['/api/audit', 'the Event Grid system key', undefined],
    ['/api/health', 'no key', {}],
    ['/api/health', 'a wrong key', { 'x-functions-key': 'not-the-key' }],
  ])('answers 401 to %s called with %s, without invoking it', async (path, _name, headers) => {
    const response = await api(path, { headers: headers ?? { 'x-functions-key': host.keys.eventGridKey } });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe('');
  });

  it('serves the anonymous OpenAPI document without a key', async () => {
    const response = await api('/api/openapi.json');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ openapi: '3.1.0' });
  });

  it('runs the health check with the function key (unhealthy: ARM is unreachable)', async () => {
    const response = await api('/api/health', { key: host.keys.functionKey });
    expect(response.status).toBe(503);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ status: 'unhealthy' });
  });

  // Issue 21 item 3: Azure's host passes a chunked body on empty (Azure/azure-functions-host#4926);
  // the API says so instead of reporting a missing body.
  it('answers a chunked POST body, which reaches the function empty, with 411 LengthRequired', async () => {
    const { status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
      const req = httpRequest(
        `${host.url}/api/access/preview`,
        {
          method: 'POST',
          headers: { 'x-functions-key': host.keys.functionKey, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        },
        (res) => {
          let text = '';
          res
            .setEncoding('utf8')
            .on('data', (chunk: string) => (text += chunk))
            .on('end', () => done({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', fail);
      req.write(JSON.stringify({ resourceId: vmId(watched, 'vm-chunked') }).slice(0, 10));
      req.end(JSON.stringify({ resourceId: vmId(watched, 'vm-chunked') }).slice(10));
    });
    expect(status).toBe(411);
    expect(JSON.parse(body)).toMatchObject({ code: 'LengthRequired', detail: expect.stringContaining('Content-Length') });
  });

  it('answers 404 for an unknown route or one without the api/ prefix, and lets the function answer a method it does not serve', async () => {
    expect((await api('/api/nothing-here', { key: host.keys.masterKey })).status).toBe(404);
    expect((await api('/audit', { key: host.keys.masterKey })).status).toBe(404);
    const wrongMethod = await api('/api/audit', { method: 'DELETE', key: host.keys.functionKey });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(await wrongMethod.json()).toMatchObject({ code: 'MethodNotAllowed' });
  });
});

describe('local host: Event Grid webhook (resourceEvents)', () => {
  it('requires the eventgrid_extension system key as code', async () => {
    const body = JSON.stringify([anEventGridEvent('eg-nokey', vmId(unwatched, 'vm-nokey'))]);
    expect((await webhook('resourceEvents', undefined, { method: 'POST', headers: notification, body })).status).toBe(401);
    expect((await webhook('resourceEvents', host.keys.functionKey, { method: 'POST', headers: notification, body })).status).toBe(401);
    expect(await auditedFor('eg-nokey')).toEqual([]);
  });

  it('answers the subscription validation handshake with the validation code', async () => {
    const response = await webhook('resourceEvents', host.keys.eventGridKey, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'aeg-event-type': 'SubscriptionValidation' },
      body: JSON.stringify([
        {
          id: '2d1781af-3a4c-4d7c-bd0c-e34b19da4e66',
          topic: `/subscriptions/${watched}`,
          subject: '',
          data: {
            validationCode: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6',
            validationUrl: 'https://rp-eastus2.eventgrid.azure.net/validate',
          },
          eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
          eventTime: '2026-11-23T10:00:00Z',
          metadataVersion: '1',
          dataVersion: '1',
        },
      ]),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ validationResponse: '512d38b6-c7b8-40c8-89fe-f46f9e9622b6' });
    expect(await auditedFor('2d1781af-3a4c-4d7c-bd0c-e34b19da4e66')).toEqual([]); // the handshake never reaches the function
  });

  it('invokes the function once per Event Grid schema event with its data', async () => {
    const events = [anEventGridEvent('eg-1', vmId(unwatched, 'vm-1')), anEventGridEvent('eg-2', vmId(unwatched, 'vm-2'))];
    expect((await deliver(events)).status).toBe(202);
    for (const [id, name] of [
      ['eg-1', 'vm-1'],
      ['eg-2', 'vm-2'],
    ] as const) {
      // Acknowledged and audited as skipped: the resource id comes from data.resourceUri, the correlation id from data.
      const audited = await auditedFor(id);
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({
        action: 'event',
        outcome: 'skipped',
        resourceId: vmId(unwatched, name),
        correlationId: `corr-${id}`,
      });
      expect(audited[0]!.reason).toBe(`subscription ${unwatched} is not in WATCHED_SUBSCRIPTIONS`);
    }
  });

  it('accepts a single CloudEvent and a CloudEvents batch', async () => {
    const single = await deliver(aCloudEvent('ce-1', vmId(unwatched, 'vm-ce-1')), {
      'content-type': 'application/cloudevents+json; charset=utf-8',
    });
    expect(single.status).toBe(202);
    const batch = await deliver([aCloudEvent('ce-2', vmId(unwatched, 'vm-ce-2')), aCloudEvent('ce-3', vmId(unwatched, 'vm-ce-3'))], {
      'content-type': 'application/cloudevents-batch+json; charset=utf-8',
    });
    expect(batch.status).toBe(202);
    for (const id of ['ce-1', 'ce-2', 'ce-3']) {
      const audited = await auditedFor(id);
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({ action: 'event', outcome: 'skipped', resourceId: vmId(unwatched, `vm-${id}`) });
    }
  });

  it('grants the CloudEvents abuse-protection OPTIONS request', async () => {
    const response = await webhook('resourceEvents', host.keys.eventGridKey, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('acknowledges a malformed and an unhandled event (no retry), and audits both', async () => {
    const malformed = anEventGridEvent('eg-malformed', vmId(watched, 'vm-m'), undefined, {
      operationName: 'Microsoft.Compute/virtualMachines/write',
    });
    const unhandled = anEventGridEvent('eg-unhandled', vmId(watched, 'vm-u'), 'Microsoft.Resources.ResourceActionSuccess');
    expect((await deliver([malformed, unhandled])).status).toBe(202);
    expect(await auditedFor('eg-malformed')).toEqual([
      expect.objectContaining({
        action: 'event',
        outcome: 'rejected-input',
        errorCode: 'InvalidEvent',
        reason: expect.stringContaining('no data.resourceUri'),
      }),
    ]);
    expect(await auditedFor('eg-unhandled')).toEqual([
      expect.objectContaining({
        action: 'event',
        outcome: 'skipped',
        reason: 'event type Microsoft.Resources.ResourceActionSuccess is not handled',
      }),
    ]);
  });

  it('answers 500 when an invocation throws a transient error (ARM unreachable), so Event Grid retries, and still delivers the rest', async () => {
    const handled = anEventGridEvent('eg-arm-down', vmId(watched, 'vm-arm-down'));
    const after = anEventGridEvent('eg-after-failure', vmId(unwatched, 'vm-after'));
    const response = await deliver([handled, after]);
    expect(response.status).toBe(500);
    // It failed for the reason we set up: ARM refused the connection, after the token was issued.
    expect(await auditedFor('eg-arm-down')).toEqual([
      expect.objectContaining({
        action: 'reconcile',
        outcome: 'failed',
        resourceId: vmId(watched, 'vm-arm-down'),
        errorCode: 'ECONNREFUSED',
        reason: expect.stringContaining(`127.0.0.1:${armPort}`),
      }),
    ]);
    const hostLine = host
      .logs()
      .find((l) => l.category === 'host' && l.message.startsWith('Function resourceEvents failed on event eg-arm-down'));
    expect(hostLine?.message).toContain('TransientAzureError');
    expect(await auditedFor('eg-after-failure')).toEqual([expect.objectContaining({ outcome: 'skipped' })]);
  });

  it.each([
    ['a body that is not JSON', notification, '[{'],
    ['an object instead of an array', notification, JSON.stringify(anEventGridEvent('eg-obj', vmId(unwatched, 'vm-obj')))],
    ['an event without an eventType', notification, JSON.stringify([{ id: 'eg-bad', subject: 's', eventTime: 't', dataVersion: '' }])],
    [
      'a CloudEvent of another spec version',
      { 'content-type': 'application/cloudevents+json' },
      JSON.stringify({ ...aCloudEvent('ce-bad', vmId(unwatched, 'vm-bad')), specversion: '0.3' }),
    ],
  ])('answers 400 to %s without invoking the function', async (_name, headers, body) => {
    const response = await webhook('resourceEvents', host.keys.eventGridKey, { method: 'POST', headers, body });
    expect(response.status).toBe(400);
    for (const id of ['eg-obj', 'eg-bad', 'ce-bad']) expect(await auditedFor(id)).toEqual([]);
  });

  it('answers 404 for a function that is not an Event Grid function', async () => {
    const response = await webhook('rotateCredentials', host.keys.eventGridKey, { method: 'POST', headers: notification, body: '[]' });
    expect(response.status).toBe(404);
  });
});

describe('local host: admin API', () => {
  // Issue 21 item 5: the host indexes each binding under its key in the worker's metadata
  // (`{ ...binding, name: key }`, Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts):
  // an HTTP function's output is `$return`.
  it('lists the app’s 13 functions with the binding names the Functions host indexes', async () => {
    const response = await api('/admin/functions', { key: host.keys.masterKey });
    expect(response.status).toBe(200);
    const listed = (await response.json()) as { name: string; config: { bindings: { name: string; type: string; direction: string }[] } }[];
    expect(listed.map((f) => f.name).sort()).toEqual([
      'accessGrantsApi',
      'accessPreviewApi',
      'auditApi',
      'credentialsApi',
      'credentialsRegistryApi',
      'credentialsRotateApi',
      'healthApi',
      'keyVaultSecretEvents',
      'openapi',
      'reconcileSweep',
      'resourceEvents',
      'rotateCredentials',
      'statusPage',
    ]);
    for (const fn of listed) {
      const shape = fn.config.bindings.map((b) => ({ type: b.type, direction: b.direction, name: b.name }));
      const trigger = { direction: 'in', name: expect.stringMatching(/^\w+Trigger[0-9a-f]+$/) };
      if (fn.name.endsWith('Api') || fn.name === 'openapi' || fn.name === 'statusPage')
        expect(shape, fn.name).toEqual([
          { type: 'httpTrigger', ...trigger },
          { type: 'http', direction: 'out', name: '$return' },
        ]);
      else expect(shape, fn.name).toEqual([{ type: expect.stringMatching(/^(eventGridTrigger|timerTrigger)$/), ...trigger }]);
    }
  });

  it('fires the rotateCredentials timer at once with the master key', async () => {
    const response = await api('/admin/functions/rotateCredentials', {
      method: 'POST',
      key: host.keys.masterKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '' }),
    });
    expect(response.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'rotateCredentials' && l.message.includes('rotation sweep finished'));
    expect(line.invocationId).toMatch(GUID);
    expect(appLine(line)).toMatchObject({
      functionName: 'rotateCredentials',
      level: 'info',
      message: 'rotation sweep finished',
      checked: 0,
      rotated: 0,
      failed: 0,
    });
  });

  it('fires an Event Grid function with the given input', async () => {
    const input = JSON.stringify(
      anEventGridEvent(
        'admin-eg',
        '/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv',
        'Microsoft.KeyVault.SecretNewVersionCreated',
        { VaultName: 'kv', ObjectName: 's' },
      ),
    );
    const response = await api('/admin/functions/keyVaultSecretEvents', {
      method: 'POST',
      key: host.keys.masterKey,
      body: JSON.stringify({ input }),
    });
    expect(response.status).toBe(202);
    const line = await host.waitForLog((l) => l.functionName === 'keyVaultSecretEvents' && l.message.includes('"admin-eg"'));
    expect(appLine(line)).toMatchObject({
      eventId: 'admin-eg',
      message: 'not a secret near-expiry event; ignored',
      eventType: 'Microsoft.KeyVault.SecretNewVersionCreated',
    });
  });

  it('refuses without the master key and answers 404 for an unknown function', async () => {
    expect((await api('/admin/functions/rotateCredentials', { method: 'POST', key: host.keys.functionKey, body: '{}' })).status).toBe(401);
    expect((await api('/admin/functions/noSuchFunction', { method: 'POST', key: host.keys.masterKey, body: '{}' })).status).toBe(404);
  });
});

// Issue 21 item 2: no launcher default stands in for a %SETTING% binding; the function is in error
// on Azure, so it is here, and the health route says why.
describe('local host: a %SETTING% binding without its app setting', () => {
  let bare: HostProcess | undefined;
  afterAll(async () => {
    await bare?.stop();
  });

  it('puts rotateCredentials in error, and GET /api/health names the missing setting', async () => {
    const { ROTATION_SCHEDULE: _unset, ...settings } = PLACEHOLDER_APP_SETTINGS;
    bare = await startHostProcess({
      appEntry: inject('appEntry'),
      env: {
        ...settings,
        ROTATION_SCHEDULE: undefined,
        TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
        TABLE_PREFIX: `bare${randomUUID().replace(/-/g, '').slice(0, 12)}`,
      },
    });
    expect(bare.functions.find((f) => f.name === 'rotateCredentials')?.error).toBe("'%ROTATION_SCHEDULE%' does not resolve to a value.");
    expect(bare.functions.find((f) => f.name === 'reconcileSweep')?.error).toBeUndefined();
    const fired = await fetch(`${bare.url}/admin/functions/rotateCredentials`, {
      method: 'POST',
      headers: { 'x-functions-key': bare.keys.masterKey },
      body: '{}',
    });
    expect(fired.status).toBe(404);

    const health = await fetch(`${bare.url}/api/health`, { headers: { 'x-functions-key': bare.keys.functionKey } });
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; settings: { valid: boolean; problems: string[] } };
    expect(body.status).toBe('unhealthy');
    expect(body.settings.valid).toBe(false);
    expect(body.settings.problems).toEqual([
      expect.stringMatching(/^ROTATION_SCHEDULE: not set, so the rotateCredentials function is in error and never runs/),
    ]);
  });
});
