/**
 * The HTTP API through the local host (devhost) running the real app bundle, with Azurite as
 * Table Storage. ARM and Graph point at placeholder endpoints here, so these tests cover what
 * needs Table Storage only (audit, the credentials list, not-enrolled answers), every validation
 * error, and the key checks; nothing they send may change anything.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PLACEHOLDER_APP_SETTINGS } from '../../scripts/stack.js';
import { createTableAuditLog } from '../../src/audit/tableAuditLog.js';
import { AUDIT_OUTCOMES } from '../../src/audit/auditLog.js';
import { createTableClient } from '../../src/azure/tables.js';
import { loadConfig } from '../../src/config.js';
import { startHostProcess, type HostProcess } from '../support/hostProcess.js';

const sub = PLACEHOLDER_APP_SETTINGS['WATCHED_SUBSCRIPTIONS']!;
const vm = `/subscriptions/${sub}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const registry = `/subscriptions/${sub}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const tablePrefix = `api${randomUUID().replace(/-/g, '').slice(0, 10)}`;
let host: HostProcess;

beforeAll(async () => {
  const settings = { ...PLACEHOLDER_APP_SETTINGS, TABLES_CONNECTION_STRING: inject('tablesConnectionString'), TABLE_PREFIX: tablePrefix };
  host = await startHostProcess({ appEntry: inject('appEntry'), env: settings });
  // Three audit rows written the way the use cases write them, read back through the API.
  const audit = createTableAuditLog(createTableClient(loadConfig(settings), { getToken: async () => null }, 'audit'));
  await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'first', resourceId: vm, registry });
  await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.alreadyPresent, reason: 'second', resourceId: vm, registry });
  await audit.record({ action: 'grant', outcome: AUDIT_OUTCOMES.granted, reason: 'other', resourceId: `${vm}-2` });
}, 60_000);
afterAll(async () => {
  await host?.stop();
});

type Sent = { method?: string; body?: string; key?: string | null; headers?: Record<string, string> };
async function api(path: string, sent: Sent = {}) {
  const key = sent.key === undefined ? host.keys.functionKey : sent.key;
  const response = await fetch(`${host.url}${path}`, {
    method: sent.method ?? 'GET',
    headers: {
      ...(key ? { 'x-functions-key': key } : {}),
      ...(sent.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...sent.headers,
    },
    ...(sent.body !== undefined ? { body: sent.body } : {}),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
const json = (value: unknown) => JSON.stringify(value);

function expectProblem(r: Awaited<ReturnType<typeof api>>, status: number, code: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(r.json).toMatchObject({
    status,
    code,
    type: expect.stringMatching(/^urn:acr-pull-automation:problem:/),
    title: expect.any(String),
    detail: expect.any(String),
  });
}

const ROUTES: Array<[string, string, string | undefined]> = [
  ['POST', '/api/access/preview', json({ resourceId: vm })],
  ['GET', '/api/credentials', undefined],
  ['POST', '/api/credentials', json({ registryId: registry, vaultName: 'demo-vault' })],
  ['POST', '/api/credentials/contosoacr/rotate', undefined],
  ['DELETE', '/api/credentials/contosoacr', undefined],
  ['GET', '/api/audit', undefined],
  ['GET', '/api/health', undefined],
];

describe('function keys', () => {
  it.each(ROUTES)('%s %s answers 401 without a key', async (method, path, body) => {
    expect((await api(path, { method, body, key: null })).status).toBe(401);
  });
  it.each(ROUTES)('%s %s answers 401 with a wrong key', async (method, path, body) => {
    expect((await api(path, { method, body, key: 'not-the-key' })).status).toBe(401);
  });
  it('takes the key as the code query parameter too', async () => {
    expect((await api(`/api/audit?code=${encodeURIComponent(host.keys.functionKey)}`, { key: null })).status).toBe(200);
  });
  it('serves the OpenAPI document without a key', async () => {
    const r = await api('/api/openapi.json', { key: null });
    expect(r.status).toBe(200);
    expect(r.json?.['openapi']).toBe('3.1.0');
  });
});

describe('GET /api/audit', () => {
  it('reads a resource’s records newest first', async () => {
    const r = await api(`/api/audit?resourceId=${encodeURIComponent(vm.toLowerCase())}`);
    expect(r.status, r.text).toBe(200);
    expect((r.json?.['items'] as { reason: string }[]).map((i) => i.reason)).toEqual(['second', 'first']);
  });

  it('pages with a continuation token and a nextLink without the key', async () => {
    const first = await api(`/api/audit?registry=${encodeURIComponent(registry)}&top=1&code=${encodeURIComponent(host.keys.functionKey)}`, {
      key: null,
    });
    expect(first.status, first.text).toBe(200);
    expect((first.json?.['items'] as unknown[]).length).toBe(1);
    const token = first.json?.['continuationToken'] as string;
    expect(token).toBeTruthy();
    expect(String(first.json?.['nextLink'])).not.toContain(host.keys.functionKey);
    const second = await api(`/api/audit?registry=${encodeURIComponent(registry)}&top=1&continuationToken=${encodeURIComponent(token)}`);
    expect((second.json?.['items'] as { reason: string }[])[0]?.reason).toBe('first');
  });

  it('filters by time', async () => {
    const r = await api(`/api/audit?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z`);
    expect(r.status, r.text).toBe(200);
    expect(r.json?.['items']).toEqual([]);
  });

  it.each([
    ['an OData trick in resourceId', `resourceId=${encodeURIComponent(`${vm}' or PartitionKey ne '`)}`, 'InvalidResourceId'],
    ['a path trick in resourceId', `resourceId=${encodeURIComponent(`${vm}/../../x`)}`, 'InvalidResourceId'],
    ['a registry that is not a registry', `registry=${encodeURIComponent(vm)}`, 'InvalidResourceId'],
    ['a bad time', 'since=yesterday', 'ValidationFailed'],
    ['an unknown parameter', '$filter=x', 'UnknownField'],
    ['a repeated parameter', 'top=1&top=2', 'ValidationFailed'],
    ['a forged continuation token', 'continuationToken=bm90LW91cnM', 'InvalidContinuationToken'],
    ['since after until', 'since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', 'InvalidTimeRange'],
  ])('refuses %s', async (_why, query, code) => {
    expectProblem(await api(`/api/audit?${query}`), 400, code);
  });

  it('refuses a wrong method with 405 and Allow', async () => {
    const r = await api('/api/audit', { method: 'DELETE' });
    expectProblem(r, 405, 'MethodNotAllowed');
    expect(r.headers.get('allow')).toBe('GET');
  });
});

describe('POST /api/access/preview', () => {
  it.each([
    ['malformed JSON', '{"resourceId":', 'MalformedJson', 400],
    ['an unknown field', json({ resourceId: vm, dryRun: false }), 'UnknownField', 400],
    ['an OData trick', json({ resourceId: `${vm}' or '1' eq '1` }), 'InvalidResourceId', 400],
    [
      'a path trick',
      json({ resourceId: `/subscriptions/${sub}/resourceGroups/rg/../../providers/Microsoft.Authorization/roleAssignments/x` }),
      'InvalidResourceId',
      400,
    ],
    ['an encoded path', json({ resourceId: `${vm}%2F..` }), 'InvalidResourceId', 400],
    ['no body', '', 'ValidationFailed', 400],
    ['an oversize body', json({ resourceId: vm, pad: 'x'.repeat(20_000) }), 'PayloadTooLarge', 413],
  ])('refuses %s', async (_why, body, code, status) => {
    expectProblem(await api('/api/access/preview', { method: 'POST', body }), status, code);
  });
  it('refuses a form body with 415', async () => {
    expectProblem(
      await api('/api/access/preview', {
        method: 'POST',
        body: 'resourceId=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'UnsupportedMediaType',
    );
  });
  it('refuses GET with 405', async () => {
    expectProblem(await api('/api/access/preview'), 405, 'MethodNotAllowed');
  });
});

describe('/api/credentials', () => {
  it('lists no enrolments on a fresh table', async () => {
    const r = await api('/api/credentials');
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ items: [] });
  });
  it.each([
    ['malformed JSON', '{', 'MalformedJson'],
    ['an unknown field', json({ registryId: registry, vaultName: 'demo-vault', password: 'x' }), 'UnknownField'],
    ['a registry id that is a VM', json({ registryId: vm, vaultName: 'demo-vault' }), 'InvalidResourceId'],
    ['an OData trick in the registry id', json({ registryId: `${registry}' or '1' eq '1`, vaultName: 'demo-vault' }), 'InvalidResourceId'],
    ['a bad vault name', json({ registryId: registry, vaultName: 'vault/../x' }), 'ValidationFailed'],
    ['a period out of range', json({ registryId: registry, vaultName: 'demo-vault', periodDays: 0 }), 'ValidationFailed'],
    ['a missing vault', json({ registryId: registry }), 'ValidationFailed'],
  ])('POST refuses %s', async (_why, body, code) => {
    expectProblem(await api('/api/credentials', { method: 'POST', body }), 400, code);
  });
  it('answers 404 for rotating a registry that is not enrolled', async () => {
    expectProblem(await api('/api/credentials/contosoacr/rotate', { method: 'POST' }), 404, 'NotEnrolled');
  });
  it('answers 404 for reading a registry that is not enrolled', async () => {
    expectProblem(await api('/api/credentials/contosoacr'), 404, 'NotEnrolled');
  });
  it('answers 404 for un-enrolling a registry that is not enrolled', async () => {
    expectProblem(await api('/api/credentials/contosoacr', { method: 'DELETE' }), 404, 'NotEnrolled');
  });
  it.each([
    ['an invalid registry name', '/api/credentials/contoso-acr/rotate', 'POST', 'ValidationFailed', 400],
    ['a body on rotate', '/api/credentials/contosoacr/rotate', 'POST', 'UnknownField', 400],
    ['PATCH on a registry', '/api/credentials/contosoacr', 'PATCH', 'MethodNotAllowed', 405],
    ['PUT on the list', '/api/credentials', 'PUT', 'MethodNotAllowed', 405],
  ])('refuses %s', async (why, path, method, code, status) => {
    expectProblem(await api(path, { method, ...(why === 'a body on rotate' ? { body: json({ force: true }) } : {}) }), status, code);
  });
});

describe('GET /api/health', () => {
  it('reports settings valid, Table Storage reachable, and the unreachable ARM and Graph as 503', async () => {
    const r = await api('/api/health');
    expect(r.json, r.text).toMatchObject({ settings: { valid: true, problems: [] } });
    const dependencies = r.json?.['dependencies'] as { name: string; reachable: boolean }[];
    expect(dependencies.find((d) => d.name === 'tableStorage')?.reachable).toBe(true);
    expect(dependencies.find((d) => d.name === 'arm')?.reachable).toBe(false);
    expect(r.status).toBe(503);
    expect(r.json?.['status']).toBe('unhealthy');
    expect(r.json?.['roleAssignments']).toEqual([expect.objectContaining({ subscriptionId: sub, limit: 4000 })]);
    expect(r.text).not.toMatch(/AccountKey=(?!\[redacted\])/);
  }, 60_000);
  it('refuses POST with 405', async () => {
    expectProblem(await api('/api/health', { method: 'POST' }), 405, 'MethodNotAllowed');
  });
});

describe('GET /api/openapi.json', () => {
  it('documents every route tested here', async () => {
    const doc = (await api('/api/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };
    for (const [method, path] of ROUTES) {
      const template = path.replace('/contosoacr', '/{registry}');
      expect(doc.paths[template]?.[method.toLowerCase()], `${method} ${template}`).toBeDefined();
    }
  });
  it('refuses POST with 405', async () => {
    expectProblem(await api('/api/openapi.json', { method: 'POST', key: null }), 405, 'MethodNotAllowed');
  });
});
