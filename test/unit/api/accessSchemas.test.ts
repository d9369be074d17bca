import { describe, expect, it } from 'vitest';
import { handleApiRequest, type ApiRequest } from '../../../src/api/http.js';
import { accessRoutes } from '../../../src/api/routes/access.js';
import { GrantRequestSchema, PreviewRequestSchema, RegistryReference, RevokeRequestSchema } from '../../../src/api/schemas/access.js';

const sub = '00000000-0000-0000-0000-000000000001';
const vm = `/subscriptions/${sub}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const acr = `/subscriptions/${sub}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const principalId = '3f2a6c1e-8d4b-4c7a-9f10-2b5e7d9a1c34';

describe('RegistryReference', () => {
  it.each(['contosoacr', 'contosoacr.azurecr.io', 'ContosoACR.azurecr.us', acr])('accepts %s', (ref) =>
    expect(RegistryReference.safeParse(ref).success).toBe(true),
  );
  it.each([
    ['a URL', 'https://contosoacr.azurecr.io'],
    ['an image', 'contosoacr.azurecr.io/app:1'],
    ['a non-registry id', vm],
    ['an OData quote', "contosoacr' or '1' eq '1"],
    ['a short name', 'acr'],
    ['an empty string', ''],
  ])('rejects %s', (_why, ref) => expect(RegistryReference.safeParse(ref).success).toBe(false));
});

describe('GrantRequestSchema', () => {
  it.each([
    [{ resourceId: vm, registry: 'contosoacr', access: 'pull' }],
    [{ resourceId: vm, registry: acr, access: 'push', override: true }],
    [{ principalId, registry: 'contosoacr.azurecr.io', access: 'pull' }],
    [{ principalId, principalType: 'Group', registry: 'contosoacr', access: 'push', override: false }],
  ])('accepts %j', (body) => expect(GrantRequestSchema.safeParse(body).success).toBe(true));

  it.each([
    ['neither a resource nor a principal', { registry: 'contosoacr', access: 'pull' }],
    ['both a resource and a principal', { resourceId: vm, principalId, registry: 'contosoacr', access: 'pull' }],
    ['an unknown field', { resourceId: vm, registry: 'contosoacr', access: 'pull', role: 'Owner' }],
    ['a role instead of an access', { resourceId: vm, registry: 'contosoacr', access: 'Owner' }],
    ['a missing registry', { resourceId: vm, access: 'pull' }],
    ['a principal that is not a GUID', { principalId: "x' or 1 eq 1", registry: 'contosoacr', access: 'pull' }],
    ['an unknown principal type', { principalId, principalType: 'Application', registry: 'contosoacr', access: 'pull' }],
    ['an override that is not a boolean', { resourceId: vm, registry: 'contosoacr', access: 'pull', override: 'yes' }],
    ['a resource id with a path trick', { resourceId: `${vm}/../../x`, registry: 'contosoacr', access: 'pull' }],
  ])('rejects %s', (_why, body) => expect(GrantRequestSchema.safeParse(body).success).toBe(false));
});

describe('RevokeRequestSchema', () => {
  it('accepts a resource or a principal', () => {
    expect(RevokeRequestSchema.safeParse({ resourceId: vm, registry: 'contosoacr', access: 'pull' }).success).toBe(true);
    expect(RevokeRequestSchema.safeParse({ principalId, registry: 'contosoacr', access: 'push' }).success).toBe(true);
  });
  it('does not take an override (revoking needs no consent)', () => {
    expect(RevokeRequestSchema.safeParse({ resourceId: vm, registry: 'contosoacr', access: 'pull', override: true }).success).toBe(false);
  });
});

describe('PreviewRequestSchema', () => {
  it.each([
    [{ resourceId: vm }],
    [{ resourceId: vm, registry: 'contosoacr', access: 'pull' }],
    [{ principalId, registry: 'contosoacr', access: 'pull' }],
  ])('accepts %j', (body) => expect(PreviewRequestSchema.safeParse(body).success).toBe(true));
  it.each([[{ principalId }], [{ resourceId: vm, registry: 'contosoacr' }], [{ resourceId: vm, dryRun: false }], [{}]])(
    'rejects %j',
    (body) => expect(PreviewRequestSchema.safeParse(body).success).toBe(false),
  );
});

describe('the grants route refuses bad requests before touching any dependency', () => {
  const route = accessRoutes(() => {
    throw new Error('no dependency is built for an invalid request');
  }).find((r) => r.route === 'access/grants')!;
  const context = {
    invocationId: '11111111-1111-1111-1111-111111111111',
    functionName: 'accessGrantsApi',
    log() {},
    warn() {},
    error() {},
  };
  const send = async (method: string, body: string) => {
    const request: ApiRequest = {
      method,
      url: 'http://localhost/api/access/grants',
      headers: new Headers({ 'content-type': 'application/json' }),
      params: {},
      arrayBuffer: async () => new TextEncoder().encode(body).buffer as ArrayBuffer,
    };
    const response = await handleApiRequest(route, request, context);
    return {
      status: response.status,
      type: response.headers['content-type'],
      json: JSON.parse(response.body ?? '{}') as { code: string; errors?: { pointer: string }[] },
    };
  };

  it.each([
    ['POST', '{"resourceId": ', 400, 'MalformedJson'],
    ['POST', JSON.stringify({ resourceId: vm, registry: 'contosoacr', access: 'pull', role: 'Owner' }), 400, 'UnknownField'],
    ['POST', JSON.stringify({ resourceId: `${vm}?$filter=x`, registry: 'contosoacr', access: 'pull' }), 400, 'InvalidResourceId'],
    ['POST', JSON.stringify({ resourceId: vm, registry: 'contosoacr', access: 'admin' }), 400, 'ValidationFailed'],
    ['DELETE', JSON.stringify({ resourceId: vm, registry: 'contosoacr', access: 'pull', override: true }), 400, 'UnknownField'],
    ['PUT', JSON.stringify({ resourceId: vm, registry: 'contosoacr', access: 'pull' }), 405, 'MethodNotAllowed'],
  ])('%s %s → %i %s', async (method, body, status, code) => {
    const response = await send(method, body);
    expect(response.status).toBe(status);
    expect(response.type).toBe('application/problem+json');
    expect(response.json.code).toBe(code);
  });
});
