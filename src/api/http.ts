/**
 * The HTTP API's plumbing, free of trigger types: a route is data (its template, auth level and
 * operations with their zod schemas), and `handleApiRequest` validates a request against those
 * schemas, calls the operation and maps every outcome to JSON or RFC 9457 problem details.
 *
 * `src/functions/*Api.ts` register each route with `app.http` and hand requests here; the
 * OpenAPI document is generated from the same route table, so what is validated is what is
 * documented.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AUDIT_OUTCOMES, type AuditLog } from '../audit/auditLog.js';
import { invocationLogger, type LogSink, type Logger } from '../log.js';
import { APP_ROLES, rolesSatisfying, type AppRoleKey } from './appRoles.js';
import { ANONYMOUS_CALLER, identifyCaller, type IdentifiedCaller } from './caller.js';
import { PROBLEM_CONTENT_TYPE, problem, problemFromError, problemFromZod, type Problem } from './problem.js';
import { queryToObject, readJsonBody, type ApiRequest } from './requestInput.js';

export { FUNCTION_KEY_CALLER, identifyCaller, type IdentifiedCaller } from './caller.js';
export { MAX_BODY_BYTES, type ApiRequest } from './requestInput.js';

/** Methods a route is registered for: all of them, so a wrong method gets a 405 problem from us rather than an empty one from the host. */
export const REGISTERED_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
export type ApiMethod = (typeof REGISTERED_METHODS)[number];

/** What the API answers: `@azure/functions`' `HttpResponseInit` accepts this shape. */
export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** A successful operation's answer; the body is sent as JSON. */
export interface ApiResult {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** A body sent as it is instead of JSON (the status page's HTML), with the content type the operation sets in `headers`. */
  readonly text?: string;
}

/** Everything an operation gets: validated input, the caller and a logger bound to the invocation. */
export interface OperationInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /**
   * Who asked: with App Service Authentication on, the principal the platform authenticated;
   * otherwise `function-key`, whatever headers the request carries.
   */
  readonly caller: string;
  readonly log: Logger;
  readonly invocationId: string;
  /** The request URL, for links such as `nextLink`. */
  readonly url: URL;
}

export interface ResponseSpec {
  readonly description: string;
  /** Schema of the JSON body; absent for an empty body. Problem responses are added by the generator. */
  readonly schema?: z.ZodType;
  /** A body that is not JSON (the status page): its media type. */
  readonly contentType?: string;
}

export interface Operation<P = unknown, Q = unknown, B = unknown> {
  readonly method: ApiMethod;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** Successful responses by status. */
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Problem statuses this operation can answer beyond the common ones (400, 401, 405, 413, 415, 500). */
  readonly problems?: readonly number[];
  /**
   * The app role a caller needs with App Service Authentication on (`read` for what only reads,
   * `write` for what changes Azure or the app's state); `null` only on an anonymous route.
   */
  readonly appRole: AppRoleKey | null;
  handle(input: OperationInput<P, Q, B>): Promise<ApiResult>;
}

export const AUTH_LEVELS = { anonymous: 'anonymous', function: 'function' } as const;
export type AuthLevel = (typeof AUTH_LEVELS)[keyof typeof AUTH_LEVELS];

/** One `app.http` registration: a route template (without the `api/` prefix) and its operations. */
export interface ApiRoute {
  /** Function name. */
  readonly name: string;
  /** Route template as the Functions host reads it, e.g. `credentials/{registry}/rotate`. */
  readonly route: string;
  readonly authLevel: AuthLevel;
  // Operations differ in their input types; `any` lets one table hold them all.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly operations: readonly Operation<any, any, any>[];
}

/** Declares an operation with its input types inferred from its schemas. */
export function operation<P = undefined, Q = undefined, B = undefined>(op: Operation<P, Q, B>): Operation<P, Q, B> {
  return op;
}

/**
 * How the API knows its callers, decided once per process from `WEBSITE_AUTH_ENABLED`
 * (`isAppServiceAuthEnabled` in src/config.ts) and handed to every route.
 */
export interface CallerPolicy {
  /** App Service Authentication is on: the platform authenticated the caller and set the principal headers. */
  readonly appServiceAuthEnabled: boolean;
  /** Where a write refused for a missing app role is recorded; called only when that happens. */
  readonly audit?: () => Pick<AuditLog, 'record'>;
}

/** Function keys only: the host checks the key, principal headers are ignored. */
export const FUNCTION_KEYS_ONLY: CallerPolicy = { appServiceAuthEnabled: false };

/** Validates the request for its route, runs the matching operation and answers JSON or problem+json. Never throws. */
export async function handleApiRequest(
  route: ApiRoute,
  request: ApiRequest,
  context: LogSink,
  policy: CallerPolicy = FUNCTION_KEYS_ONLY,
): Promise<ApiResponse> {
  const invocationId = context.invocationId || randomUUID();
  const instance = `urn:uuid:${invocationId}`;
  const log = invocationLogger(context, { route: route.route, method: request.method });
  const method = request.method.toUpperCase();
  const op = route.operations.find((o) => o.method === method);
  const allow = route.operations.map((o) => o.method).join(', ');
  if (!op) {
    return problemResponse(
      problem('MethodNotAllowed', `${method} is not supported on /api/${route.route}; use ${allow}.`, { instance }),
      { allow },
      method,
    );
  }
  const who = identifyCaller(request.headers, policy.appServiceAuthEnabled);
  const refused = await authorise(route, op, who, policy, { invocationId, instance, log });
  if (refused) return problemResponse(refused, {}, method);
  const caller = who?.caller ?? ANONYMOUS_CALLER;
  try {
    const url = new URL(request.url, 'http://localhost');
    const params = op.params ? op.params.safeParse({ ...request.params }) : { success: true as const, data: undefined };
    if (!params.success) return problemResponse(problemFromZod(params.error, 'params', instance));

    // The URL, not `request.query`: the host's query map keeps one value of a repeated parameter.
    const queryObject = queryToObject(url.searchParams);
    if (!queryObject.ok) return problemResponse(queryObject.problem(instance));
    const query = (op.query ?? EMPTY_QUERY).safeParse(queryObject.value);
    if (!query.success) return problemResponse(problemFromZod(query.error, 'query', instance));

    const body = await readJsonBody(request, op.body !== undefined);
    if (!body.ok) return problemResponse(body.problem(instance));
    const parsedBody = op.body ? op.body.safeParse(body.value) : { success: true as const, data: undefined };
    if (!parsedBody.success) return problemResponse(problemFromZod(parsedBody.error, 'body', instance));

    const result = await op.handle({
      params: params.data,
      query: op.query ? query.data : undefined,
      body: parsedBody.data,
      caller,
      log: log.child({ caller }),
      invocationId,
      url,
    });
    const headers: Record<string, string> = { ...result.headers };
    if (result.text !== undefined) return { status: result.status, headers, ...(method === 'HEAD' ? {} : { body: result.text }) };
    if (result.body === undefined) return { status: result.status, headers };
    return {
      status: result.status,
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body: JSON.stringify(result.body),
    };
  } catch (error) {
    const answer = problemFromError(error, instance);
    if (answer.status >= 500) log.error('request failed', { error, code: answer.code });
    else log.warn('request refused', { code: answer.code, detail: answer.detail });
    return problemResponse(answer, answer.status === 503 ? { 'retry-after': '30' } : {});
  }
}

/** Operations without query parameters still refuse unknown ones. */
const EMPTY_QUERY = z.strictObject({});

/** A problem as an HTTP response. */
export function problemResponse(body: Problem, headers: Record<string, string> = {}, method?: string): ApiResponse {
  return {
    status: body.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
    ...(method === 'HEAD' ? {} : { body: JSON.stringify(body) }),
  };
}

/** `undefined` when the caller may run the operation; otherwise the problem to answer (recorded first when it refuses a write). */
async function authorise(
  route: ApiRoute,
  op: Operation<unknown, unknown, unknown>,
  who: IdentifiedCaller | undefined,
  policy: CallerPolicy,
  at: { invocationId: string; instance: string; log: Logger },
): Promise<Problem | undefined> {
  // With keys only, the host has checked the key already; an anonymous route needs nothing.
  if (!policy.appServiceAuthEnabled || op.appRole === null) return undefined;
  const where = `${op.method} /api/${route.route}`;
  if (!who) {
    at.log.warn('request refused', { code: 'NotAuthenticated', route: route.route });
    return problem(
      'NotAuthenticated',
      `${where} needs a Microsoft Entra token for this API; App Service Authentication passed the request without a principal.`,
      { instance: at.instance },
    );
  }
  const accepted = rolesSatisfying(op.appRole);
  if (who.roles?.some((r) => accepted.includes(r))) return undefined;
  const has =
    who.roles && who.roles.length > 0 ? `has only ${who.roles.map((r) => JSON.stringify(r.slice(0, 60))).join(', ')}` : 'has no app role';
  const detail = `${where} needs the app role ${APP_ROLES[op.appRole].value}; ${who.caller} ${has}. Ask an owner of the API's app registration to assign it.`;
  at.log.warn('request refused', { code: 'AppRoleRequired', caller: who.caller, route: route.route });
  if (op.appRole === 'write' && policy.audit) {
    try {
      await policy.audit().record({
        action: op.operationId,
        outcome: AUDIT_OUTCOMES.deniedByAppRole,
        reason: detail,
        caller: who.caller,
        correlationId: at.invocationId,
        errorCode: 'AppRoleRequired',
      });
    } catch (error) {
      // The refusal stands either way; the operator finds it in the log.
      at.log.error('could not record a refused request in the audit trail', { error });
    }
  }
  return problem('AppRoleRequired', detail, { instance: at.instance });
}

/**
 * The auth level the Functions host enforces for a route. With App Service Authentication on, the
 * platform has authenticated every caller before the host sees the request and the API checks the
 * app role, so the host asks for no key (Azure's guidance for Easy Auth); otherwise the route's own
 * level, a function key.
 */
export function hostAuthLevel(route: ApiRoute, policy: CallerPolicy): AuthLevel {
  return policy.appServiceAuthEnabled ? AUTH_LEVELS.anonymous : route.authLevel;
}

/**
 * The `app.http` options for a route: every method (so a wrong one is a 405 problem from us),
 * its auth level, and a handler that never throws.
 */
export function httpFunctionOptions(route: ApiRoute, policy: CallerPolicy = FUNCTION_KEYS_ONLY) {
  return {
    route: route.route,
    methods: [...REGISTERED_METHODS],
    authLevel: hostAuthLevel(route, policy),
    handler: (request: ApiRequest, context: LogSink): Promise<ApiResponse> => handleApiRequest(route, request, context, policy),
  };
}
