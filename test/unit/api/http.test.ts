import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callerOf, handleApiRequest, MAX_BODY_BYTES, operation, type ApiRequest, type ApiRoute } from '../../../src/api/http.js';
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
      method: 'POST', operationId: 't', summary: 't', tags: [], body: Body, responses: { 200: { description: 'ok' } },
      async handle({ body, caller }) {
        seen.push(body);
        if (body.resourceId.endsWith('/boom')) throw new Error('secret detail AccountKey=abc');
        if (body.resourceId.endsWith('/bad')) throw new InvalidInputError('SomethingWrong', 'the use case refused it');
        return { status: 200, body: { caller } };
      },
    }),
    operation({ method: 'GET', operationId: 'g', summary: 'g', tags: [], responses: { 200: { description: 'ok' } }, async handle() { return { status: 200, body: { ok: true } }; } }),
  ],
};

const vm = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const context = { invocationId: '11111111-1111-1111-1111-111111111111', functionName: 'testApi', log() {}, warn() {}, error() {} };

function request(method: string, body?: string, headers: Record<string, string> = {}, query = ''): ApiRequest {
  const h = new Headers(headers);
  if (body !== undefined && !h.has('content-type')) h.set('content-type', 'application/json');
  return { method, url: `http://localhost/api/test${query}`, headers: h, params: {}, arrayBuffer: async () => new TextEncoder().encode(body ?? '').buffer as ArrayBuffer };
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
    expect(r.json).toMatchObject({ status, code, type: expect.stringMatching(/^urn:acr-pull-automation:problem:/), instance: `urn:uuid:${context.invocationId}` });
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

describe('callerOf', () => {
  const principal = (claims: { typ: string; val: string }[]) => Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, name_typ: 'name' })).toString('base64');
  it.each([
    [{}, 'function-key'],
    [{ 'x-ms-client-principal-id': 'abc', 'x-ms-client-principal-name': 'alice@contoso.com' }, 'abc (alice@contoso.com)'],
    [{ 'x-ms-client-principal': principal([{ typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'oid-1' }, { typ: 'preferred_username', val: 'bob@contoso.com' }]) }, 'oid-1 (bob@contoso.com)'],
    [{ 'x-ms-client-principal': principal([{ typ: 'appid', val: 'app-1' }]) }, 'app:app-1'],
    [{ 'x-ms-client-principal': 'not base64 json' }, 'function-key'],
    [{ 'x-ms-client-principal-id': 'evil\nforged log line' }, 'evilforged log line'],
  ])('reads %j as %s', (headers, expected) => {
    const map = new Map(Object.entries(headers as Record<string, string>));
    expect(callerOf({ get: (name) => map.get(name) ?? null })).toBe(expected);
  });
});
