import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, InvalidInputError, NotReadyError, PolicyDeniedError, TransientAzureError } from '../../../src/errors.js';
import { ConfigError } from '../../../src/config.js';
import { API_PROBLEMS, problem, problemFromError, problemFromZod, problemTypeFor, PROBLEM_TYPE_BASE } from '../../../src/api/problem.js';
import { ResourceId } from '../../../src/api/schemas/common.js';

describe('problem types', () => {
  it.each([
    ['InvalidResourceId', 'invalid-resource-id'],
    ['MalformedJson', 'malformed-json'],
    ['RequestDisallowedByPolicy', 'request-disallowed-by-policy'],
    ['InternalError', 'internal-error'],
    ['RoleAssignmentExists', 'role-assignment-exists'],
  ])('gives %s the stable type …:%s', (code, kebab) => {
    expect(problemTypeFor(code)).toBe(`${PROBLEM_TYPE_BASE}${kebab}`);
  });

  it('gives every API code a distinct type and a 4xx or 5xx status', () => {
    const types = Object.keys(API_PROBLEMS).map(problemTypeFor);
    expect(new Set(types).size).toBe(types.length);
    for (const { status } of Object.values(API_PROBLEMS)) expect(status).toBeGreaterThanOrEqual(400);
  });
});

describe('problemFromError', () => {
  it.each([
    [new InvalidInputError('InvalidContinuationToken', 'bad token'), 400, 'InvalidContinuationToken'],
    [new InvalidInputError('SomethingElse', 'bad'), 400, 'SomethingElse'],
    [new PolicyDeniedError('ConsentDenied', 'registry says no'), 403, 'ConsentDenied'],
    [new PolicyDeniedError('RequestDisallowedByPolicy', 'deny assignment'), 403, 'RequestDisallowedByPolicy'],
    [new NotReadyError('PrincipalNotFound', 'replicating'), 409, 'PrincipalNotFound'],
    [new TransientAzureError('Http503', 'ARM down'), 503, 'Http503'],
    [new AppError('NotEnrolled', 'contosoacr is not enrolled'), 404, 'NotEnrolled'],
  ])('maps %s to %i', (error, status, code) => {
    const p = problemFromError(error, 'urn:uuid:1');
    expect(p).toMatchObject({ status, code, type: problemTypeFor(code), detail: error.message, instance: 'urn:uuid:1' });
  });

  it('says nothing about an unexpected error', () => {
    const p = problemFromError(new Error('connect ECONNREFUSED AccountKey=abc'));
    expect(p.status).toBe(500);
    expect(p.code).toBe('InternalError');
    expect(JSON.stringify(p)).not.toContain('AccountKey');
  });

  it('turns invalid settings into a 503 pointing at health, without the values', () => {
    const p = problemFromError(new ConfigError(['TABLES_CONNECTION_STRING: expected something, got "AccountKey=secret"']));
    expect(p).toMatchObject({ status: 503, code: 'InvalidConfiguration' });
    expect(JSON.stringify(p)).not.toContain('secret');
  });
});

describe('problemFromZod', () => {
  const Body = z.strictObject({ resourceId: ResourceId, dryRun: z.boolean().optional() });

  it('names unknown fields first, with a pointer to each', () => {
    const result = Body.safeParse({ resourceId: 'nope', surprise: 1 });
    const p = problemFromZod(result.error!, 'body');
    expect(p.code).toBe('UnknownField');
    expect(p.status).toBe(400);
    expect(p.errors).toContainEqual({ pointer: '#/body/surprise', detail: 'unknown field "surprise"' });
    expect(p.errors?.some((e) => e.pointer === '#/body/resourceId')).toBe(true);
  });

  it('calls out an invalid resource id', () => {
    const result = Body.safeParse({ resourceId: "/subscriptions/x'or'1'eq'1" });
    const p = problemFromZod(result.error!, 'body');
    expect(p.code).toBe('InvalidResourceId');
    expect(p.detail).toContain('resourceId');
  });

  it('reports other schema errors as ValidationFailed', () => {
    const result = z.strictObject({ dryRun: z.boolean() }).safeParse({ dryRun: 'yes' });
    expect(problemFromZod(result.error!, 'query')).toMatchObject({
      code: 'ValidationFailed',
      status: 400,
      errors: [{ pointer: '#/query/dryRun' }],
    });
  });

  it('builds problems for the API codes with their fixed titles', () => {
    expect(problem('PayloadTooLarge', 'too big')).toEqual({
      type: problemTypeFor('PayloadTooLarge'),
      title: API_PROBLEMS.PayloadTooLarge.title,
      status: 413,
      detail: 'too big',
      code: 'PayloadTooLarge',
    });
  });
});
