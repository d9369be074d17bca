import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APP_ROLES } from '../../../src/api/appRoles.js';
import {
  FUNCTION_KEY_CALLER,
  handleApiRequest,
  hostAuthLevel,
  httpFunctionOptions,
  identifyCaller,
  MAX_BODY_BYTES,
  operation,
  type ApiRequest,
  type ApiRoute,
  type CallerPolicy,
} from '../../../src/api/http.js';
import type { AuditEntry } from '../../../src/audit/auditLog.js';
import { named, ResourceId } from '../../../src/api/schemas/common.js';
import { InvalidInputError } from '../../../src/errors.js';

const Body = named('TestBody', z.strictObject({ resourceId: ResourceId }));
const seen: unknown[] = [];
const route: ApiRoute = {
  name: 'testApi',
  route: 'test',
  authLevel: 'function',
  operations: [
    operation({
      method: 'POST',
      operationId: 't',
      summary: 't',
      tags: [],
      body: Body,
      responses: { 200: { description: 'ok' } },
      appRole: 'write',
      async handle({ body, caller }) {
        seen.push(body);
        if (body.resourceId.endsWith('/boom')) throw new Error('secret detail AccountKey=abc');
        if (body.resourceId.endsWith('/bad')) throw new InvalidInputError('SomethingWrong', 'the use case refused it');
        return { status: 200, body: { caller } };
      },
    }),
    operation({
      method: 'GET',
      operationId: 'g',
      summary: 'g',
      tags: [],
      responses: { 200: { description: 'ok' } },
      appRole: 'read',
      async handle({ caller }) {
        return { status: 200, body: { ok: true, caller } };
      },
    }),
  ],
};

const vm = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const context = { invocationId: '11111111-1111-1111-1111-111111111111', functionName: 'testApi', log() {}, warn() {}, error() {} };

function request(method: string, body?: string, headers: Record<string, string> = {}, query = ''): ApiRequest {
  const h = new Headers(headers);
  if (body !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
  return {
    method,
    url: `http://localhost/api/test${query}`,
    headers: h,
    params: {},
    arrayBuffer: async () => new TextEncoder().encode(body ?? '').buffer as ArrayBuffer,
  };
}

async function call(req: ApiRequest) {
  const response = await handleApiRequest(route, req, context);
  return { ...response, json: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : undefined };
}

describe('handleApiRequest', () => {
  it('answers a valid request with JSON', async () => {
    const r = await call(request('POST', JSON.stringify({ resourceId: vm })));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json).toEqual({ caller: 'function-key' });
  });

  it.each([
    ['malformed JSON', request('POST', '{"resourceId":'), 400, 'MalformedJson'],
    ['an unknown field', request('POST', JSON.stringify({ resourceId: vm, extra: true })), 400, 'UnknownField'],
    ['an OData trick in a resource id', request('POST', JSON.stringify({ resourceId: `${vm}' or '1' eq '1` })), 400, 'InvalidResourceId'],
    ['a path trick in a resource id', request('POST', JSON.stringify({ resourceId: `${vm}/../../x` })), 400, 'InvalidResourceId'],
    ['a missing body', request('POST', ''), 400, 'ValidationFailed'],
    // Issue 21 item 3: the Functions host drops a chunked body (Azure/azure-functions-host#4926).
    ['a chunked body the host passed on empty', request('POST', '', { 'transfer-encoding': 'chunked' }), 411, 'LengthRequired'],
    ['a JSON array', request('POST', '[]'), 400, 'ValidationFailed'],
    ['a form body', request('POST', 'resourceId=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UnsupportedMediaType'],
    ['an oversize body', request('POST', JSON.stringify({ resourceId: vm, pad: 'x'.repeat(MAX_BODY_BYTES) })), 413, 'PayloadTooLarge'],
    ['an oversize declared length', request('POST', '{}', { 'content-length': String(MAX_BODY_BYTES + 1) }), 413, 'PayloadTooLarge'],
    ['a wrong method', request('PUT', '{}'), 405, 'MethodNotAllowed'],
    ['an unknown query parameter', request('GET', undefined, {}, '?top=1'), 400, 'UnknownField'],
    ['a body where none is taken', request('GET', '{"a":1}'), 400, 'UnknownField'],
    ['a use-case refusal', request('POST', JSON.stringify({ resourceId: `${vm}/extensions/bad` })), 400, 'SomethingWrong'],
  ])('refuses %s with a problem and calls nothing', async (_why, req, status, code) => {
    seen.length = 0;
    const r = await call(req);
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.json).toMatchObject({
      status,
      code,
      type: expect.stringMatching(/^urn:acr-pull-automation:problem:/),
      instance: `urn:uuid:${context.invocationId}`,
    });
    if (code !== 'SomethingWrong') expect(seen).toEqual([]);
  });

  it('lists the allowed methods on a 405', async () => {
    const r = await call(request('PATCH', '{}'));
    expect(r.headers['allow']).toBe('POST, GET');
  });

  it('ignores the function key in the query', async () => {
    expect((await call(request('GET', undefined, {}, '?code=abc'))).status).toBe(200);
  });

  it('hides an unexpected error behind an opaque 500', async () => {
    const r = await call(request('POST', JSON.stringify({ resourceId: `${vm}/extensions/boom` })));
    expect(r.status).toBe(500);
    expect(r.body).not.toContain('AccountKey');
  });
});

const principal = (claims: { typ: string; val: string }[], extra: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name', ...extra })).toString('base64');
const OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const headersOf = (headers: Record<string, string>) => {
  const map = new Map(Object.entries(headers));
  return { get: (name: string) => map.get(name) ?? null };
};

// Issue 13, point 5: without App Service Authentication anyone holding a function key could write
// these headers, so they name no one.
describe('identifyCaller with App Service Authentication off', () => {
  it.each([
    [{}],
    [{ 'x-ms-client-principal-id': 'abc', 'x-ms-client-principal-name': 'alice@contoso.com' }],
    [
      {
        'x-ms-client-principal': principal([
          { typ: OID, val: 'oid-1' },
          { typ: 'roles', val: APP_ROLES.write.value },
        ]),
      },
    ],
  ])('ignores the principal headers %j: the caller is the function key', (headers) => {
    expect(identifyCaller(headersOf(headers), false)).toEqual({ caller: FUNCTION_KEY_CALLER });
  });
});

describe('identifyCaller with App Service Authentication on', () => {
  it.each([
    [{ 'x-ms-client-principal-id': 'abc', 'x-ms-client-principal-name': 'alice@contoso.com' }, 'abc (alice@contoso.com)', []],
    [
      {
        'x-ms-client-principal': principal([
          { typ: OID, val: 'oid-1' },
          { typ: 'preferred_username', val: 'bob@contoso.com' },
          { typ: 'roles', val: 'Access.Read' },
        ]),
      },
      'oid-1 (bob@contoso.com)',
      ['Access.Read'],
    ],
    [
      {
        'x-ms-client-principal': principal([
          { typ: 'appid', val: 'app-1' },
          { typ: 'roles', val: 'Access.Write' },
          { typ: 'roles', val: 'Access.Read' },
        ]),
      },
      'app:app-1',
      ['Access.Write', 'Access.Read'],
    ],
    // role_typ names the claim type App Service used for roles.
    [
      {
        'x-ms-client-principal': principal(
          [
            { typ: OID, val: 'oid-2' },
            { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Access.Write' },
          ],
          { role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role' },
        ),
      },
      'oid-2',
      ['Access.Write'],
    ],
    [{ 'x-ms-client-principal-id': 'evil\nforged log line' }, 'evilforged log line', []],
  ])('reads %j as %s with roles %j', (headers, caller, roles) => {
    expect(identifyCaller(headersOf(headers), true)).toEqual({ caller, roles });
  });

  it.each([[{}], [{ 'x-ms-client-principal': 'not base64 json' }]])('finds no caller in %j', (headers) => {
    expect(identifyCaller(headersOf(headers), true)).toBeUndefined();
  });
});

describe('app roles with App Service Authentication on', () => {
  const recorded: AuditEntry[] = [];
  const policy: CallerPolicy = {
    appServiceAuthEnabled: true,
    audit: () => ({ record: async (entry) => (recorded.push(entry), { ...entry, id: 'x', time: 't' }) }),
  };
  const as = (roles: string[]) => ({
    'x-ms-client-principal': principal([{ typ: OID, val: 'oid-9' }, ...roles.map((val) => ({ typ: 'roles', val }))]),
  });
  const post = (headers: Record<string, string>) => request('POST', JSON.stringify({ resourceId: vm }), headers);
  const callWith = async (req: ApiRequest) => {
    const response = await handleApiRequest(route, req, context, policy);
    return { ...response, json: response.body ? (JSON.parse(response.body) as Record<string, unknown>) : undefined };
  };

  it('lets a reader read, naming the principal', async () => {
    const r = await callWith(request('GET', undefined, as([APP_ROLES.read.value])));
    expect([r.status, r.json?.['caller']]).toEqual([200, 'oid-9']);
  });

  it('lets a writer read and write', async () => {
    expect((await callWith(request('GET', undefined, as([APP_ROLES.write.value])))).status).toBe(200);
    const r = await callWith(post(as([APP_ROLES.write.value])));
    expect([r.status, r.json?.['caller']]).toEqual([200, 'oid-9']);
  });

  it('refuses a write to a reader with a 403 problem and an audit row, calling nothing', async () => {
    seen.length = 0;
    recorded.length = 0;
    const r = await callWith(post(as([APP_ROLES.read.value])));
    expect([r.status, r.headers['content-type'], r.json?.['code']]).toEqual([403, 'application/problem+json', 'AppRoleRequired']);
    expect(r.json?.['detail']).toBe(
      'POST /api/test needs the app role Access.Write; oid-9 has only "Access.Read". Ask an owner of the API\'s app registration to assign it.',
    );
    expect(seen).toEqual([]);
    expect(recorded).toEqual([
      expect.objectContaining({
        action: 't',
        outcome: 'denied-by-app-role',
        caller: 'oid-9',
        errorCode: 'AppRoleRequired',
        correlationId: context.invocationId,
      }),
    ]);
  });

  it('refuses a read to a principal without a role (403, no audit row for a read)', async () => {
    recorded.length = 0;
    const r = await callWith(request('GET', undefined, as([])));
    expect([r.status, r.json?.['code']]).toEqual([403, 'AppRoleRequired']);
    expect(r.json?.['detail']).toContain('oid-9 has no app role');
    expect(recorded).toEqual([]);
  });

  it('refuses a request without a principal with 401, calling nothing', async () => {
    seen.length = 0;
    const r = await callWith(post({}));
    expect([r.status, r.json?.['code']]).toEqual([401, 'NotAuthenticated']);
    expect(seen).toEqual([]);
  });

  it('asks the host for no key on a keyed route (the platform authenticated the caller), and for the key otherwise', () => {
    expect(hostAuthLevel(route, policy)).toBe('anonymous');
    expect(hostAuthLevel(route, { appServiceAuthEnabled: false })).toBe('function');
    expect(httpFunctionOptions(route).authLevel).toBe('function');
  });
});
