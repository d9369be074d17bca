/**
 * RFC 9457 problem details (`application/problem+json`) for every error the HTTP API answers.
 *
 * Each error code has one stable `type` URI and one title; the status and the type come from the
 * code (or the error's class), never from parsing a message. An unexpected error becomes a 500
 * whose body says nothing about its cause: the operator finds it in the log by `instance`.
 * https://www.rfc-editor.org/rfc/rfc9457
 */
import type { ZodError } from 'zod';
import { AppError, InvalidInputError, NotReadyError, PolicyDeniedError, TransientAzureError, errorCode } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Prefix of every problem `type`; the part after it is the code in kebab case. */
export const PROBLEM_TYPE_BASE = 'urn:acr-pull-automation:problem:';

/** One field-level error inside a validation problem: a JSON Pointer into the request and what is wrong there. */
export interface ProblemFieldError {
  /** `#/body/registry`, `#/query/since`, `#/params/registry` — RFC 6901 pointer into the request parts. */
  readonly pointer: string;
  readonly detail: string;
}

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** `urn:uuid:<invocationId>`: the same id is on every log line of the request. */
  readonly instance?: string;
  /** The error code, as in audit rows. */
  readonly code: string;
  readonly errors?: readonly ProblemFieldError[];
}

/** Codes the API itself produces, with their status and fixed title. */
export const API_PROBLEMS = {
  MalformedJson: { status: 400, title: 'The request body is not valid JSON' },
  UnknownField: { status: 400, title: 'The request has a field this API does not accept' },
  InvalidResourceId: { status: 400, title: 'A resource id in the request is not a valid ARM resource id' },
  ValidationFailed: { status: 400, title: 'The request does not match the schema' },
  InvalidContinuationToken: { status: 400, title: 'The continuation token is not one this API returned' },
  InvalidTimeRange: { status: 400, title: 'The time range is not valid' },
  InvalidInput: { status: 400, title: 'The request is not valid' },
  NotAuthenticated: { status: 401, title: 'The request carries no authenticated principal' },
  AppRoleRequired: { status: 403, title: 'The caller lacks the app role this operation needs' },
  ConsentDenied: { status: 403, title: 'The registry does not consent to this grant' },
  RequestDisallowedByPolicy: { status: 403, title: 'An Azure Policy assignment denied the request' },
  PolicyDenied: { status: 403, title: 'Policy does not allow this request' },
  NotFound: { status: 404, title: 'No such resource' },
  RouteNotFound: { status: 404, title: 'No such route' },
  MethodNotAllowed: { status: 405, title: 'The route does not support this method' },
  NotAcceptable: { status: 406, title: 'The API answers JSON only' },
  Conflict: { status: 409, title: 'The request conflicts with the current state' },
  NotReady: { status: 409, title: 'Something the request depends on is not ready yet; retry later' },
  LengthRequired: { status: 411, title: 'The request body must be sent with a Content-Length header' },
  PayloadTooLarge: { status: 413, title: 'The request body is larger than this API accepts' },
  UnsupportedMediaType: { status: 415, title: 'The request body must be JSON' },
  TransientAzureError: { status: 503, title: 'Azure failed in a way that may pass; retry later' },
  InvalidConfiguration: { status: 503, title: 'The app settings are not valid' },
  InternalError: { status: 500, title: 'The request failed unexpectedly' },
} as const satisfies Record<string, { status: number; title: string }>;
export type ApiProblemCode = keyof typeof API_PROBLEMS;

/** Codes the use cases throw that deserve their own status beyond their class. */
const CODE_STATUS: Readonly<Record<string, number>> = {
  ResourceNotFound: 404,
  RegistryNotFound: 404,
  NotEnrolled: 404,
  EnrolmentNotFound: 404,
  PrincipalNotFound: 409,
  AlreadyEnrolled: 409,
  /** The registry's acr-pull-credential tag decides its enrolment; the API may not contradict it. */
  EnrolmentManagedByTag: 409,
  RoleAssignmentExists: 409,
  AuthorizationFailed: 403,
  Forbidden: 403,
};

/** `InvalidResourceId` → `urn:acr-pull-automation:problem:invalid-resource-id`. */
export function problemTypeFor(code: string): string {
  const kebab = code
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .toLowerCase();
  return `${PROBLEM_TYPE_BASE}${kebab}`;
}

/** A problem for one of the API's own codes. */
export function problem(
  code: ApiProblemCode,
  detail: string,
  extra: { instance?: string; errors?: readonly ProblemFieldError[] } = {},
): Problem {
  const { status, title } = API_PROBLEMS[code];
  return { type: problemTypeFor(code), title, status, detail, code, ...withoutUndefined(extra) };
}

/**
 * The problem for an error a use case or adapter threw. App errors keep their code (and
 * message, which the domain writes for users and which never holds a secret); anything else is
 * an opaque 500.
 */
export function problemFromError(error: unknown, instance?: string): Problem {
  const code = errorCode(error);
  if (code in API_PROBLEMS && error instanceof AppError) {
    return problem(code as ApiProblemCode, error.message, { instance });
  }
  if (!(error instanceof AppError)) {
    if (code === 'InvalidConfiguration')
      return problem('InvalidConfiguration', 'The app settings are not valid: GET /api/health lists what to fix.', { instance });
    return problem('InternalError', 'The request failed unexpectedly. The log has the cause under this instance id.', { instance });
  }
  const status = CODE_STATUS[code] ?? statusForClass(error);
  const title = titleForStatus(status);
  return { type: problemTypeFor(code), title, status, detail: error.message, code, ...withoutUndefined({ instance }) };
}

function statusForClass(error: AppError): number {
  if (error instanceof InvalidInputError) return 400;
  if (error instanceof PolicyDeniedError) return 403;
  if (error instanceof NotReadyError) return 409;
  if (error instanceof TransientAzureError) return 503;
  return 500;
}

function titleForStatus(status: number): string {
  switch (status) {
    case 400:
      return API_PROBLEMS.InvalidInput.title;
    case 403:
      return API_PROBLEMS.PolicyDenied.title;
    case 404:
      return API_PROBLEMS.NotFound.title;
    case 409:
      return API_PROBLEMS.Conflict.title;
    case 503:
      return API_PROBLEMS.TransientAzureError.title;
    default:
      return API_PROBLEMS.InternalError.title;
  }
}

/** Which part of the request a schema validated, for the error pointers. */
export type RequestPart = 'body' | 'query' | 'params';

/** Marker a schema puts on a custom issue so the problem names the rule it broke. */
export const INVALID_RESOURCE_ID = 'InvalidResourceId';

/**
 * The problem for a failed schema validation: unknown fields first (the likeliest typo), then
 * invalid resource ids, then anything else; every issue is listed in `errors`.
 */
export function problemFromZod(error: ZodError, part: RequestPart, instance?: string): Problem {
  const errors: ProblemFieldError[] = [];
  let code = 'ValidationFailed' as ApiProblemCode;
  const rank = (c: ApiProblemCode) => ['ValidationFailed', 'InvalidResourceId', 'UnknownField'].indexOf(c);
  const raise = (c: ApiProblemCode) => {
    if (rank(c) > rank(code)) code = c;
  };
  for (const issue of flattenIssues(error.issues)) {
    const path = issue.path.map((segment) => String(segment));
    if (issue.code === 'unrecognized_keys') {
      raise('UnknownField');
      for (const key of issue.keys)
        errors.push({ pointer: pointerOf(part, [...path, key]), detail: `unknown field ${JSON.stringify(key)}` });
      continue;
    }
    if (issue.code === 'custom' && issue.params?.['problem'] === INVALID_RESOURCE_ID) raise('InvalidResourceId');
    errors.push({ pointer: pointerOf(part, path), detail: issue.message });
  }
  const first = errors[0];
  const detail =
    code === 'UnknownField'
      ? `The ${part} has fields this API does not accept: ${errors
          .filter((e) => e.detail.startsWith('unknown field'))
          .map((e) => e.pointer.split('/').pop())
          .join(', ')}.`
      : first
        ? `${first.pointer.replace(/^#\//, '')}: ${first.detail}`
        : `The ${part} does not match the schema.`;
  return problem(code, detail, { instance, errors });
}

type Issue = ZodError['issues'][number];

/** Union failures nest their branches' issues; surface the branch closest to matching. */
function flattenIssues(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => branch.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as Issue));
      const best = branches.reduce((a, b) => (score(b) < score(a) ? b : a));
      out.push(...flattenIssues(best));
    } else {
      out.push(issue);
    }
  }
  return out;
}

/** Fewer issues, and fewer unknown-key issues, mean the branch the caller meant. */
function score(issues: readonly Issue[]): number {
  return issues.reduce(
    (sum, i) => sum + (i.code === 'unrecognized_keys' ? 10 * i.keys.length : i.code === 'invalid_type' && i.input === undefined ? 5 : 1),
    0,
  );
}

function pointerOf(part: RequestPart, path: readonly string[]): string {
  return ['#', part, ...path.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1'))].join('/');
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
