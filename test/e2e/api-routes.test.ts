/**
 * Issue #6, "Done when": every route through the local host — a successful call against the
 * emulator, each validation error its schema can answer (at least one per problem `code`), and a
 * missing and a wrong key on every keyed route. One stack for the file (emulator + the shared
 * Azurite + the host running the app bundle); invalid and unauthorised requests must change
 * nothing, which the audit trail and the registry's role assignments show.
 *
 * The placeholder-endpoint host of api.test.ts covers more cases per route (OData and path tricks,
 * paging); api-access.test.ts the grant outcomes; this file is the route-by-route matrix.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aRegistry, aVirtualMachine, startAccessStack, type AccessStack } from '../support/e2eAccess.js';

let s: AccessStack;
let rg: string;
/** A registry that consents to its own resource group. */
let acr: string;
/** A registry enrolled for pull credentials during the run. */
let credAcr: string;
let vm: string;
const ACR_NAME = 'routesacr';
const CRED_ACR_NAME = 'routescredacr';

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
  rg = await s.resourceGroup('rg-routes');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/${ACR_NAME}`;
  credAcr = `${rg}/providers/Microsoft.ContainerRegistry/registries/${CRED_ACR_NAME}`;
  vm = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-routes-1`;
  await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
  await s.put(credAcr, aRegistry());
  await s.put(vm, aVirtualMachine());
  await s.idle();
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

type Sent = { body?: string; key?: string | null; headers?: Record<string, string> };
type Answer = { status: number; headers: Headers; text: string; json: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- each route answers its own shape
async function call(method: string, path: string, sent: Sent = {}): Promise<Answer> {
  const key = sent.key === undefined ? s.stack.endpoints.functionKey : sent.key;
  const response = await fetch(`${s.stack.endpoints.functions}${path}`, {
    method,
    headers: {
      ...(key ? { 'x-functions-key': key } : {}),
      ...(sent.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...sent.headers,
    },
    ...(sent.body !== undefined ? { body: sent.body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}
const json = (value: unknown) => JSON.stringify(value);

function expectProblem(r: Answer, status: number, code: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(r.json).toMatchObject({
    status,
    code,
    type: expect.stringMatching(/^urn:acr-pull-automation:problem:[a-z0-9-]+$/),
    title: expect.any(String),
    detail: expect.any(String),
    instance: expect.stringMatching(/^urn:uuid:/),
  });
}

/** Every keyed operation, with a request that is valid apart from the key. */
const keyedRoutes = () =>
  [
    ['POST', '/api/access/preview', json({ resourceId: vm })],
    ['POST', '/api/access/grants', json({ resourceId: vm, registry: ACR_NAME, access: 'pull' })],
    ['DELETE', '/api/access/grants', json({ resourceId: vm, registry: ACR_NAME, access: 'pull' })],
    ['GET', '/api/credentials', undefined],
    ['POST', '/api/credentials', json({ registryId: credAcr, vaultName: s.stack.endpoints.keyVaultName })],
    ['POST', `/api/credentials/${CRED_ACR_NAME}/rotate`, undefined],
    ['DELETE', `/api/credentials/${CRED_ACR_NAME}`, undefined],
    ['GET', `/api/credentials/${CRED_ACR_NAME}`, undefined],
    ['GET', '/api/audit', undefined],
    ['GET', '/api/health', undefined],
  ] as Array<[string, string, string | undefined]>;

const KEYED = [
  'POST /api/access/preview',
  'POST /api/access/grants',
  'DELETE /api/access/grants',
  'GET /api/credentials',
  'POST /api/credentials',
  'POST /api/credentials/{registry}/rotate',
  'DELETE /api/credentials/{registry}',
  'GET /api/credentials/{registry}',
  'GET /api/audit',
  'GET /api/health',
];

/** What a request could change: the audit trail, the registry's role assignments, the enrolments. */
async function observable() {
  const enrolments = await call('GET', '/api/credentials');
  return {
    audit: (await s.auditForRegistry(acr)).length + (await s.audit(vm)).length + (await s.auditForRegistry(credAcr)).length,
    assignments: (await s.assignmentsAt(acr)).length,
    enrolments: enrolments.json?.items,
  };
}

describe('keys: every keyed route answers 401 with no body and changes nothing', () => {
  const cases = KEYED.flatMap((name, i) => [
    [name, 'no key', i, null],
    [name, 'a wrong key', i, 'not-the-key'],
  ]) as Array<[string, string, number, string | null]>;

  it.each(cases)('%s with %s', async (_name, _why, i, key) => {
    const [method, path, body] = keyedRoutes()[i]!;
    const r = await call(method, path, { body, key });
    expect(r.status).toBe(401);
    expect(r.text).toBe('');
  });

  it('left nothing changed', async () => {
    const before = await observable();
    for (const [method, path, body] of keyedRoutes()) await call(method, path, { body, key: 'not-the-key' });
    expect(await observable()).toEqual(before);
  });

  it('accepts the key as the code query parameter', async () => {
    const r = await call('GET', `/api/credentials?code=${encodeURIComponent(s.stack.endpoints.functionKey)}`, { key: null });
    expect(r.status, r.text).toBe(200);
  });

  it('serves GET /api/openapi.json (anonymous) with no key and with a wrong one', async () => {
    expect((await call('GET', '/api/openapi.json', { key: null })).status).toBe(200);
    expect((await call('GET', '/api/openapi.json', { key: 'not-the-key' })).status).toBe(200);
  });
});

// Bodies and requests refused by validation, by route. Each route gets at least one request per
// problem code its schema (and the shared request reader) can answer.
type Invalid = [why: string, method: string, path: string, sent: Sent, status: number, code: string];
const oversize = (base: Record<string, unknown>) => json({ ...base, pad: 'x'.repeat(17 * 1024) });
const form = { body: 'resourceId=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } };
const sub = '00000000-0000-0000-0000-000000000001';
const someVm = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`;
const someAcr = `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const principalId = '6a1b2c3d-0000-4000-8000-000000000001';

/** What every route refuses whatever its schema: an unknown or repeated query parameter, a wrong method. */
function common(method: string, path: string, wrongMethod: string, allow: string): Invalid[] {
  return [
    ['an unknown query parameter', method, `${path}?$filter=x`, {}, 400, 'UnknownField'],
    ['a repeated query parameter', method, `${path}?x=1&x=2`, {}, 400, 'ValidationFailed'],
    [`${wrongMethod} (Allow: ${allow})`, wrongMethod, path, {}, 405, 'MethodNotAllowed'],
  ];
}

/** What a route with a JSON body refuses before its schema runs. */
function bodyReader(method: string, path: string, valid: Record<string, unknown>): Invalid[] {
  return [
    ['malformed JSON', method, path, { body: '{"resourceId":' }, 400, 'MalformedJson'],
    ['no body', method, path, { body: '' }, 400, 'ValidationFailed'],
    ['a JSON array', method, path, { body: '[]' }, 400, 'ValidationFailed'],
    ['an oversize body', method, path, { body: oversize(valid) }, 413, 'PayloadTooLarge'],
    ['a form body', method, path, form, 415, 'UnsupportedMediaType'],
  ];
}

/** What a route without a body refuses: any body but an empty one or {}. */
function noBody(method: string, path: string): Invalid[] {
  return [
    ['a body', method, path, { body: json({ force: true }) }, 400, 'UnknownField'],
    ['malformed JSON', method, path, { body: '{' }, 400, 'MalformedJson'],
    ['an oversize body', method, path, { body: oversize({}) }, 413, 'PayloadTooLarge'],
    ['a form body', method, path, form, 415, 'UnsupportedMediaType'],
  ];
}

const grant = { resourceId: someVm, registry: 'contosoacr', access: 'pull' };
const INVALID: Record<string, Invalid[]> = {
  'POST /api/access/preview': [
    ...common('POST', '/api/access/preview', 'GET', 'POST'),
    ...bodyReader('POST', '/api/access/preview', { resourceId: someVm }),
    ['an unknown field', 'POST', '/api/access/preview', { body: json({ resourceId: someVm, dryRun: false }) }, 400, 'UnknownField'],
    [
      'an OData trick in resourceId',
      'POST',
      '/api/access/preview',
      { body: json({ resourceId: `${someVm}' or '1' eq '1` }) },
      400,
      'InvalidResourceId',
    ],
    [
      'a path trick in resourceId',
      'POST',
      '/api/access/preview',
      { body: json({ resourceId: `${someVm}/../../x` }) },
      400,
      'InvalidResourceId',
    ],
    [
      'a registry resource id that is not one',
      'POST',
      '/api/access/preview',
      { body: json({ ...grant, registry: '/subscriptions/x' }) },
      400,
      'InvalidResourceId',
    ],
    [
      'an unknown access',
      'POST',
      '/api/access/preview',
      { body: json({ principalId, registry: 'contosoacr', access: 'admin' }) },
      400,
      'ValidationFailed',
    ],
    [
      'a principal id that is not a GUID',
      'POST',
      '/api/access/preview',
      { body: json({ principalId: 'me', registry: 'contosoacr', access: 'pull' }) },
      400,
      'ValidationFailed',
    ],
  ],
  'POST /api/access/grants': [
    ...common('POST', '/api/access/grants', 'PUT', 'POST, DELETE'),
    ...bodyReader('POST', '/api/access/grants', grant),
    ['a role field', 'POST', '/api/access/grants', { body: json({ ...grant, role: 'Owner' }) }, 400, 'UnknownField'],
    [
      'an invalid resource id',
      'POST',
      '/api/access/grants',
      { body: json({ ...grant, resourceId: '/subscriptions/x' }) },
      400,
      'InvalidResourceId',
    ],
    [
      'a registry resource id with a path trick',
      'POST',
      '/api/access/grants',
      { body: json({ ...grant, registry: `${someAcr}/../x` }) },
      400,
      'InvalidResourceId',
    ],
    ['no access', 'POST', '/api/access/grants', { body: json({ resourceId: someVm, registry: 'contosoacr' }) }, 400, 'ValidationFailed'],
    [
      'override that is not a boolean',
      'POST',
      '/api/access/grants',
      { body: json({ ...grant, override: 'yes' }) },
      400,
      'ValidationFailed',
    ],
    [
      'an unknown principal type',
      'POST',
      '/api/access/grants',
      { body: json({ principalId, principalType: 'Robot', registry: 'contosoacr', access: 'pull' }) },
      400,
      'ValidationFailed',
    ],
  ],
  'DELETE /api/access/grants': [
    ...bodyReader('DELETE', '/api/access/grants', grant),
    ['an unknown query parameter', 'DELETE', '/api/access/grants?force=true', { body: json(grant) }, 400, 'UnknownField'],
    ['override (a grant-only field)', 'DELETE', '/api/access/grants', { body: json({ ...grant, override: true }) }, 400, 'UnknownField'],
    [
      'an OData trick in resourceId',
      'DELETE',
      '/api/access/grants',
      { body: json({ ...grant, resourceId: `${someVm}' or '1' eq '1` }) },
      400,
      'InvalidResourceId',
    ],
    ['an unknown access', 'DELETE', '/api/access/grants', { body: json({ ...grant, access: 'all' }) }, 400, 'ValidationFailed'],
  ],
  'GET /api/credentials': [...common('GET', '/api/credentials', 'PUT', 'GET, POST')],
  'POST /api/credentials': [
    ...bodyReader('POST', '/api/credentials', { registryId: someAcr, vaultName: 'demo-vault' }),
    [
      'a password field',
      'POST',
      '/api/credentials',
      { body: json({ registryId: someAcr, vaultName: 'demo-vault', password: 'x' }) },
      400,
      'UnknownField',
    ],
    [
      'a registry id that is a VM',
      'POST',
      '/api/credentials',
      { body: json({ registryId: someVm, vaultName: 'demo-vault' }) },
      400,
      'InvalidResourceId',
    ],
    [
      'an OData trick in the registry id',
      'POST',
      '/api/credentials',
      { body: json({ registryId: `${someAcr}' or '1' eq '1`, vaultName: 'demo-vault' }) },
      400,
      'InvalidResourceId',
    ],
    [
      'a bad vault name',
      'POST',
      '/api/credentials',
      { body: json({ registryId: someAcr, vaultName: 'vault/../x' }) },
      400,
      'ValidationFailed',
    ],
    [
      'a period out of range',
      'POST',
      '/api/credentials',
      { body: json({ registryId: someAcr, vaultName: 'demo-vault', periodDays: 731 }) },
      400,
      'ValidationFailed',
    ],
    [
      'an appId that is not a GUID',
      'POST',
      '/api/credentials',
      { body: json({ registryId: someAcr, vaultName: 'demo-vault', appId: 'app' }) },
      400,
      'ValidationFailed',
    ],
  ],
  'POST /api/credentials/{registry}/rotate': [
    ...common('POST', `/api/credentials/${CRED_ACR_NAME}/rotate`, 'GET', 'POST'),
    ...noBody('POST', `/api/credentials/${CRED_ACR_NAME}/rotate`),
    ['a registry name with a hyphen', 'POST', '/api/credentials/routes-acr/rotate', {}, 400, 'ValidationFailed'],
    ['a registry name too short', 'POST', '/api/credentials/acr/rotate', {}, 400, 'ValidationFailed'],
  ],
  'DELETE /api/credentials/{registry}': [
    ...common('DELETE', `/api/credentials/${CRED_ACR_NAME}`, 'PATCH', 'GET, DELETE'),
    ...noBody('DELETE', `/api/credentials/${CRED_ACR_NAME}`),
    ['an encoded dot-dot registry name', 'DELETE', '/api/credentials/%2E%2Eacr', {}, 400, 'ValidationFailed'],
  ],
  'GET /api/credentials/{registry}': [
    ...common('GET', `/api/credentials/${CRED_ACR_NAME}`, 'PUT', 'GET, DELETE'),
    ['a registry name with a hyphen', 'GET', '/api/credentials/routes-acr', {}, 400, 'ValidationFailed'],
  ],
  'GET /api/audit': [
    ...common('GET', '/api/audit', 'POST', 'GET'),
    [
      'an OData trick in resourceId',
      'GET',
      `/api/audit?resourceId=${encodeURIComponent(`${someVm}' or PartitionKey ne '`)}`,
      {},
      400,
      'InvalidResourceId',
    ],
    ['a registry that is not a registry', 'GET', `/api/audit?registry=${encodeURIComponent(someVm)}`, {}, 400, 'InvalidResourceId'],
    ['a bad time', 'GET', '/api/audit?since=yesterday', {}, 400, 'ValidationFailed'],
    ['top out of range', 'GET', '/api/audit?top=1001', {}, 400, 'ValidationFailed'],
    ['a forged continuation token', 'GET', '/api/audit?continuationToken=bm90LW91cnM', {}, 400, 'InvalidContinuationToken'],
    ['since after until', 'GET', '/api/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', {}, 400, 'InvalidTimeRange'],
  ],
  'GET /api/health': [...common('GET', '/api/health', 'POST', 'GET')],
  'GET /api/openapi.json': [
    ['an unknown query parameter', 'GET', '/api/openapi.json?format=yaml', { key: null }, 400, 'UnknownField'],
    ['a repeated query parameter', 'GET', '/api/openapi.json?x=1&x=2', { key: null }, 400, 'ValidationFailed'],
    ['POST (Allow: GET)', 'POST', '/api/openapi.json', { key: null }, 405, 'MethodNotAllowed'],
  ],
};

describe('validation: each route refuses bad requests with a problem, changing nothing', () => {
  let before: Awaited<ReturnType<typeof observable>>;
  beforeAll(async () => {
    before = await observable();
  });

  const cases = Object.entries(INVALID).flatMap(([route, list]) => list.map((c) => [route, ...c] as [string, ...Invalid]));
  it.each(cases)('%s refuses %s', async (_route, _why, method, path, sent, status, code) => {
    const r = await call(method, path, sent);
    expectProblem(r, status, code);
    if (status === 405) expect(r.headers.get('allow')).toBe(/\(Allow: (.*)\)/.exec(_why)![1]);
    if (code === 'UnknownField' || code === 'ValidationFailed' || code === 'InvalidResourceId')
      expect(r.json.errors?.length, r.text).toBeGreaterThan(0);
  });

  it('changed nothing', async () => {
    expect(await observable()).toEqual(before);
  });
});

describe('success: each route against the emulator', () => {
  it('GET /api/health answers 200 healthy: settings valid, every dependency reachable, headroom counted', async () => {
    const r = await call('GET', '/api/health');
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json).toMatchObject({ status: 'healthy', settings: { valid: true, problems: [] } });
    expect(r.json.dependencies.map((d: { name: string; reachable: boolean }) => [d.name, d.reachable])).toEqual([
      ['tableStorage', true],
      ['arm', true],
      ['graph', true],
    ]);
    expect(r.json.roleAssignments).toEqual([
      expect.objectContaining({ subscriptionId: s.subscriptionId, limit: 4000, headroom: expect.any(Number) }),
    ]);
  });

  it('GET /api/openapi.json answers the OpenAPI 3.1 document naming every route', async () => {
    const r = await call('GET', '/api/openapi.json', { key: null });
    expect(r.status).toBe(200);
    expect(r.json.openapi).toBe('3.1.0');
    for (const name of [...KEYED, 'GET /api/openapi.json']) {
      const [method, path] = name.split(' ') as [string, string];
      expect(r.json.paths[path]?.[method.toLowerCase()], name).toBeDefined();
    }
  });

  it('POST /api/access/preview answers the plan for a resource, writing nothing', async () => {
    const r = await call('POST', '/api/access/preview', { body: json({ resourceId: vm }) });
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ resourceId: vm, dryRun: true, plans: expect.any(Array), decisions: expect.any(Array) });
    const byPrincipal = await call('POST', '/api/access/preview', { body: json({ resourceId: vm, registry: ACR_NAME, access: 'pull' }) });
    expect(byPrincipal.status, byPrincipal.text).toBe(200);
    expect(byPrincipal.json).toMatchObject({ dryRun: true, outcome: 'would-grant' });
    expect(await s.assignmentsAt(acr)).toEqual([]);
  });

  it('POST /api/access/grants answers 201 granted, then DELETE answers 200 revoked', async () => {
    const granted = await call('POST', '/api/access/grants', { body: json({ resourceId: vm, registry: ACR_NAME, access: 'pull' }) });
    expect(granted.status, granted.text).toBe(201);
    expect(granted.json).toMatchObject({ outcome: 'granted', role: { name: 'AcrPull' } });
    expect(await s.assignmentsAt(acr)).toHaveLength(1);
    const revoked = await call('DELETE', '/api/access/grants', { body: json({ resourceId: vm, registry: ACR_NAME, access: 'pull' }) });
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.json).toMatchObject({ outcome: 'revoked' });
    expect(await s.assignmentsAt(acr)).toEqual([]);
  });

  it('POST /api/credentials answers 201 enrolled; GET lists it without a secret value', async () => {
    const enrolled = await call('POST', '/api/credentials', {
      body: json({ registryId: credAcr, vaultName: s.stack.endpoints.keyVaultName, periodDays: 90 }),
    });
    expect(enrolled.status, enrolled.text).toBe(201);
    expect(enrolled.json).toMatchObject({ outcome: 'enrolled', enrolment: { registryName: CRED_ACR_NAME, periodDays: 90 } });
    const list = await call('GET', '/api/credentials');
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([
      expect.objectContaining({
        registryId: expect.stringMatching(new RegExp(`${CRED_ACR_NAME}$`, 'i')),
        currentExpiresOn: expect.any(String),
        nextRotationAt: expect.any(String),
      }),
    ]);
  });

  it('POST /api/credentials/{registry}/rotate answers 200 rotated, with a new key', async () => {
    const before = (await call('GET', '/api/credentials')).json.items[0].currentKeyId;
    const r = await call('POST', `/api/credentials/${CRED_ACR_NAME}/rotate`);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'rotated', currentKeyId: expect.any(String) });
    expect(r.json.currentKeyId).not.toBe(before);
  });

  it('DELETE /api/credentials/{registry} answers 200 unenrolled; then rotate and delete answer 404 NotEnrolled', async () => {
    const r = await call('DELETE', `/api/credentials/${CRED_ACR_NAME}`);
    expect(r.status, r.text).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'unenrolled' });
    expectProblem(await call('POST', `/api/credentials/${CRED_ACR_NAME}/rotate`), 404, 'NotEnrolled');
    expectProblem(await call('DELETE', `/api/credentials/${CRED_ACR_NAME}`), 404, 'NotEnrolled');
  });

  it('GET /api/audit answers the rows of the calls above, newest first, naming the caller', async () => {
    const r = await call('GET', `/api/audit?resourceId=${encodeURIComponent(vm)}`);
    expect(r.status, r.text).toBe(200);
    const items = r.json.items as Array<{ time: string; outcome: string; caller?: string }>;
    expect(items.map((i) => i.outcome)).toEqual(expect.arrayContaining(['granted', 'revoked']));
    expect(items.filter((i) => i.outcome === 'granted' || i.outcome === 'revoked').every((i) => i.caller === 'function-key')).toBe(true);
    const times = items.map((i) => i.time);
    expect([...times].sort().reverse()).toEqual(times);
    const page = await call('GET', `/api/audit?registry=${encodeURIComponent(credAcr)}&top=1`);
    expect(page.status).toBe(200);
    expect(page.json.items).toHaveLength(1);
    expect(page.json.continuationToken).toEqual(expect.any(String));
  });

  it('GET /api/health answers 503 unhealthy when Microsoft Graph fails, and 200 again when it recovers', async () => {
    await s.admin('PUT', '/faults', { errorRate: { graph: 1 }, retryAfterSeconds: 0 });
    try {
      const r = await call('GET', '/api/health');
      expect(r.status, r.text).toBe(503);
      expect(r.json.status).toBe('unhealthy');
      expect(r.json.dependencies.find((d: { name: string }) => d.name === 'graph')).toMatchObject({
        reachable: false,
        errorCode: expect.any(String),
      });
      expect(r.json.dependencies.find((d: { name: string }) => d.name === 'arm')).toMatchObject({ reachable: true });
    } finally {
      await s.admin('PUT', '/faults', { errorRate: { graph: 0 } });
    }
    expect((await call('GET', '/api/health')).status).toBe(200);
  });
});
