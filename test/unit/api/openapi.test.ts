import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, ROUTE_PREFIX } from '../../../src/api/openapi.js';
import { apiRoutes } from '../../../src/api/wiring.js';
import { API_PROBLEMS, problemTypeFor } from '../../../src/api/problem.js';
import { checkOpenApi31, resolvePointer } from './openApiShape.js';

const unused = () => {
  throw new Error('the document is built without dependencies');
};
const routes = apiRoutes({ deps: unused, credentials: unused, health: unused, status: unused });
const all = [...routes.access, ...routes.credentials, routes.audit, routes.health, routes.status, routes.openapi];
const doc = buildOpenApiDocument(all, { version: '0.1.0' }) as unknown as Record<string, unknown> & {
  paths: Record<string, Record<string, Record<string, unknown>>>;
};

describe('the OpenAPI document', () => {
  it('is a structurally valid OpenAPI 3.1 document whose schemas are JSON Schema 2020-12', () => {
    expect(checkOpenApi31(doc)).toEqual([]);
    expect(doc['openapi']).toMatch(/^3\.1\.\d+$/);
  });

  it('validates against the official OpenAPI 3.1 schema', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // And it is no rubber stamp: a path item with an unknown operation fails it.
    const broken = structuredClone(doc);
    (broken.paths['/api/audit'] as Record<string, unknown>)['fetch'] = { responses: 'none' };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('catches what a broken generator would produce', () => {
    const broken = structuredClone(doc) as unknown as Record<string, unknown> & { components: { schemas: Record<string, unknown> } };
    broken['openapi'] = '3.0.3';
    broken.components.schemas['Broken'] = {
      type: 'strng',
      nullable: true,
      required: 'x',
      items: [{}],
      properties: { a: { $ref: '#/components/schemas/Missing' } },
    };
    const problems = checkOpenApi31(broken);
    expect(problems.join('\n')).toMatch(/3\.1\.x/);
    expect(problems.join('\n')).toMatch(/type "strng"/);
    expect(problems.join('\n')).toMatch(/nullable/);
    expect(problems.join('\n')).toMatch(/Missing does not resolve/);
    expect(problems.join('\n')).toMatch(/items is a schema/);
  });

  it.each([
    ['post', '/api/access/preview'],
    ['get', '/api/credentials'],
    ['post', '/api/credentials'],
    ['post', '/api/credentials/{registry}/rotate'],
    ['delete', '/api/credentials/{registry}'],
    ['get', '/api/credentials/{registry}'],
    ['get', '/api/audit'],
    ['get', '/api/health'],
    ['get', '/api/openapi.json'],
  ])('documents %s %s', (method, path) => {
    expect(doc.paths[path]?.[method]).toBeDefined();
  });

  it('describes request bodies with the schemas that validate them, unknown fields refused', () => {
    const preview = doc.paths['/api/access/preview']!['post']!['requestBody'] as { content: Record<string, { schema: { $ref: string } }> };
    const schema = resolvePointer(doc, preview.content['application/json']!.schema.$ref) as Record<string, unknown>;
    // { resourceId } (tag policy) or { resourceId | principalId, registry, access } (manual grant): each form strict.
    const forms = schema['anyOf'] as Record<string, unknown>[];
    expect(forms.map((f) => f['additionalProperties'])).toEqual([false, false, false]);
    expect(forms.map((f) => f['required'])).toEqual([
      ['resourceId'],
      ['resourceId', 'registry', 'access'],
      ['principalId', 'registry', 'access'],
    ]);
  });

  it.each([
    ['post', '/api/access/grants', 'GrantRequest'],
    ['delete', '/api/access/grants', 'RevokeRequest'],
  ])('documents %s %s with the strict %s body', (method, path, name) => {
    const body = doc.paths[path]![method]!['requestBody'] as { content: Record<string, { schema: { $ref: string } }> };
    expect(body.content['application/json']!.schema.$ref).toBe(`#/components/schemas/${name}`);
    const forms = (resolvePointer(doc, `#/components/schemas/${name}`) as { anyOf: Record<string, unknown>[] }).anyOf;
    expect(forms.every((f) => f['additionalProperties'] === false)).toBe(true);
  });

  it('lists the audit filters as query parameters', () => {
    const params = (doc.paths['/api/audit']!['get']!['parameters'] as { name: string; in: string }[]).map((p) => `${p.in}:${p.name}`);
    expect(params).toEqual(
      expect.arrayContaining(['query:resourceId', 'query:registry', 'query:since', 'query:until', 'query:continuationToken']),
    );
  });

  it('requires the function key, or an Entra token with the app role, everywhere except on the document itself', () => {
    const WRITES = ['grantAccess', 'revokeAccess', 'enrolRegistry', 'rotateCredentials', 'unenrolRegistry'];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) {
        const security = op['security'] as unknown[];
        if (path === `${ROUTE_PREFIX}/openapi.json`) {
          expect(security).toEqual([]);
          continue;
        }
        const role = WRITES.includes(op['operationId'] as string) ? 'Access.Write' : 'Access.Read';
        expect(security, String(op['operationId'])).toEqual([{ functionKey: [] }, { functionKeyQuery: [] }, { entraId: [role] }]);
        expect(op['responses'], String(op['operationId'])).toHaveProperty(['403']);
      }
    }
  });

  it('answers errors as problem+json', () => {
    const response = resolvePointer(doc, '#/components/responses/Problem400') as { content: Record<string, unknown> };
    expect(Object.keys(response.content)).toEqual(['application/problem+json']);
    expect(
      Object.keys(API_PROBLEMS)
        .map(problemTypeFor)
        .every((t) => t.startsWith('urn:acr-pull-automation:problem:')),
    ).toBe(true);
  });
});
