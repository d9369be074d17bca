/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table and the same zod
 * schemas that validate requests (`z.toJSONSchema`, JSON Schema 2020-12 — OpenAPI 3.1's dialect).
 * https://spec.openapis.org/oas/v3.1.0
 */
import { z } from 'zod';
import { APP_ROLES } from './appRoles.js';
import type { ApiRoute, Operation } from './http.js';
import { API_PROBLEMS, PROBLEM_CONTENT_TYPE, problemTypeFor } from './problem.js';
import { apiSchemas, ProblemSchema } from './schemas/common.js';

/** Where every route lives: the Functions host's default `routePrefix`. */
export const ROUTE_PREFIX = '/api';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: Json;
  readonly paths: Record<string, Record<string, Json>>;
  readonly components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json>; responses: Record<string, Json> };
  readonly tags: readonly Json[];
  readonly [key: string]: unknown;
}

const REF_PREFIX = '#/components/schemas/';
/** Statuses every operation can answer with a problem; those with a body also 411, 413 and 415. */
const COMMON_PROBLEMS = [400, 405, 500] as const;
const BODY_PROBLEMS = [411, 413, 415] as const;
const PROBLEM_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Malformed JSON, an unknown field, an invalid resource id or another validation error.',
  401: 'The function key is missing or wrong (answered by the Functions host, without a body); with App Service Authentication, no valid Microsoft Entra token (answered by App Service).',
  403: 'Policy refuses the request (registry consent, an Azure Policy deny assignment), or, with App Service Authentication, the caller lacks the app role (AppRoleRequired).',
  404: 'The thing named in the path does not exist.',
  405: 'The route does not support this method; the Allow header lists those it does.',
  409: 'The request conflicts with the current state, or something it needs is not ready yet.',
  411: 'The body was sent chunked (no Content-Length): the Functions host passes such bodies on empty.',
  413: 'The body is larger than the API accepts.',
  415: 'The body is not JSON.',
  500: 'An unexpected failure; the body carries no detail, the log has it under the instance id.',
  503: 'Azure failed in a way that may pass, or the app settings are not valid; retry later.',
};

/** Builds the document for these routes. Every body, query and response schema must be named in `apiSchemas`. */
export function buildOpenApiDocument(routes: readonly ApiRoute[], info: { version: string }): OpenApiDocument {
  const schemas = componentSchemas();
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = `${ROUTE_PREFIX}/${route.route.replace(/^\/+/, '')}`;
    const item: Record<string, Json> = (paths[path] ??= {});
    for (const op of route.operations) item[op.method.toLowerCase()] = operationObject(route, op, schemas);
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'acr-pull-automation',
      version: info.version,
      summary: 'Manual requests to the container-registry access automation.',
      description:
        'Preview what the tag policy would do, grant or revoke within policy, enrol registries for pull credentials and rotate them, read the audit trail, check health. ' +
        'Errors are RFC 9457 problem details with a stable `type` per error code.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'access', description: 'Registry role assignments.' },
      { name: 'credentials', description: 'Pull-only service principal credentials in Key Vault.' },
      { name: 'audit', description: 'The audit trail.' },
      { name: 'operations', description: 'Health and this document.' },
    ],
    paths,
    components: {
      schemas,
      responses: Object.fromEntries(
        Object.entries(PROBLEM_DESCRIPTIONS)
          .filter(([status]) => status !== '401')
          .map(([status, description]) => [`Problem${status}`, problemResponse(description)]),
      ),
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key', description: 'A function key of the Function App.' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code', description: 'The same key as a query parameter.' },
        entraId: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'With App Service Authentication on (as `azd up` deploys it): a Microsoft Entra token for the API app registration, carrying the app role each operation lists. Function keys are then not asked for.',
        },
      },
    },
  };
}

/** The problem `type` URIs the API documents, one per code. */
export function documentedProblemTypes(): Record<string, { type: string; status: number; title: string }> {
  return Object.fromEntries(
    Object.entries(API_PROBLEMS).map(([code, p]) => [code, { type: problemTypeFor(code), status: p.status, title: p.title }]),
  );
}

function componentSchemas(): Record<string, Json> {
  // Make sure the problem schema is registered even if no route module imported it.
  void ProblemSchema;
  const generated = z.toJSONSchema(apiSchemas, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `${REF_PREFIX}${id}`,
    unrepresentable: 'throw',
  }) as { schemas: Record<string, Json> };
  const out: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    // Inside an OpenAPI document a component is a plain schema: the document fixes the dialect,
    // and a `$id` of "#/…" is not a valid base URI in 2020-12.
    const { $schema: _schema, $id: _id, ...rest } = schema;
    out[id] = rest;
  }
  return out;
}

function refTo(schema: z.ZodType, what: string): Json {
  const meta = apiSchemas.get(schema);
  if (!meta) throw new Error(`${what} schema is not named in apiSchemas: call named('<Id>', schema)`);
  return { $ref: `${REF_PREFIX}${meta.id}` };
}

function operationObject(route: ApiRoute, op: Operation, schemas: Record<string, Json>): Json {
  const where = `${op.method} /${route.route}`;
  const parameters: Json[] = [];
  const pathParams = [...route.route.matchAll(/\{([A-Za-z_]\w*)[^}]*\}/g)].map((m) => m[1]!);
  if (op.params) parameters.push(...parametersOf(op.params, 'path', schemas, `${where} params`));
  else if (pathParams.length > 0) throw new Error(`${where} has path parameters but no params schema`);
  if (op.query) parameters.push(...parametersOf(op.query, 'query', schemas, `${where} query`));

  const responses: Json = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    responses[status] = spec.schema
      ? { description: spec.description, content: { 'application/json': { schema: refTo(spec.schema, `${where} response ${status}`) } } }
      : spec.contentType
        ? { description: spec.description, content: { [spec.contentType]: { schema: { type: 'string' } } } }
        : { description: spec.description };
  }
  const roleProblems = op.appRole === null ? [] : [403];
  const problemStatuses = [
    ...new Set<number>([...COMMON_PROBLEMS, ...(op.method === 'GET' ? [] : BODY_PROBLEMS), ...roleProblems, ...(op.problems ?? [])]),
  ].sort((a, b) => a - b);
  for (const status of problemStatuses) {
    if (!PROBLEM_DESCRIPTIONS[status]) throw new Error(`${where} lists problem status ${status}, which has no description`);
    responses[String(status)] = { $ref: `#/components/responses/Problem${status}` };
  }
  const secured = route.authLevel === 'function';
  if (secured) responses['401'] = { description: PROBLEM_DESCRIPTIONS[401] };

  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [...op.tags],
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: refTo(op.body, `${where} body`) } } } } : {}),
    responses,
    // OpenAPI 3.1 lets a non-OAuth scheme list the roles an operation needs.
    security: secured
      ? [{ functionKey: [] }, { functionKeyQuery: [] }, ...(op.appRole ? [{ entraId: [APP_ROLES[op.appRole].value] }] : [])]
      : [],
  };
}

/** One parameter per property of a named strict-object schema. */
function parametersOf(schema: z.ZodType, where: 'path' | 'query', schemas: Record<string, Json>, what: string): Json[] {
  const ref = refTo(schema, what).$ref as string;
  const component = schemas[ref.slice(REF_PREFIX.length)];
  const properties = component?.['properties'] as Record<string, Json> | undefined;
  if (!component || component['type'] !== 'object' || !properties) throw new Error(`${what} schema must be an object schema`);
  const required = new Set((component['required'] as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function problemResponse(description: string): Json {
  return { description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: `${REF_PREFIX}Problem` } } } };
}
