/**
 * What a request brings, read safely before any schema sees it: the query string (each parameter
 * once; the host's key parameter is not input) and the body (JSON within the size limit, with a
 * JSON content type, or empty when the operation takes none). Each refusal is a problem the
 * handler answers as it is.
 */
import { problem, type Problem } from './problem.js';

/** Largest request body accepted, in bytes. Every request this API takes is a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** The query parameter the Functions host reads the key from; it is not the operation's input. */
const KEY_QUERY_PARAMETER = 'code';

/** What the API reads from a request: `@azure/functions`' `HttpRequest` has this shape. */
export interface ApiRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly params: Readonly<Record<string, string>>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type Read<T> = { ok: true; value: T } | { ok: false; problem: (instance: string) => Problem };

export function queryToObject(query: URLSearchParams): Read<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [key, value] of query) {
    if (key === KEY_QUERY_PARAMETER) continue;
    if (Object.hasOwn(out, key)) {
      return {
        ok: false,
        problem: (instance) =>
          problem('ValidationFailed', `query parameter ${JSON.stringify(key)} is given more than once.`, {
            instance,
            errors: [{ pointer: `#/query/${key}`, detail: 'given more than once' }],
          }),
      };
    }
    out[key] = value;
  }
  return { ok: true, value: out };
}

/**
 * Reads the body as JSON within the size limit. An operation without a body accepts an empty
 * one (or `{}`); a JSON body needs a JSON content type when one is given.
 */
export async function readJsonBody(request: ApiRequest, expectsBody: boolean): Promise<Read<unknown>> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  const tooLarge: Read<unknown> = {
    ok: false,
    problem: (instance) => problem('PayloadTooLarge', `The body is larger than ${MAX_BODY_BYTES} bytes.`, { instance }),
  };
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return tooLarge;
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) return tooLarge;
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') {
    if (!expectsBody) return { ok: true, value: undefined };
    // The Functions host hands a chunked body (no Content-Length) to the worker empty
    // (Azure/azure-functions-host#4926, Azure/azure-functions-nodejs-library#171): say so, rather
    // than report a missing body the caller did send.
    if (/\bchunked\b/i.test(request.headers.get('transfer-encoding') ?? '') && request.headers.get('content-length') === null) {
      return {
        ok: false,
        problem: (instance) =>
          problem(
            'LengthRequired',
            'The body arrived empty: it was sent with Transfer-Encoding: chunked, and the Azure Functions host passes such bodies on empty. Send it with a Content-Length header.',
            { instance },
          ),
      };
    }
    return {
      ok: false,
      problem: (instance) =>
        problem('ValidationFailed', 'This operation needs a JSON body.', { instance, errors: [{ pointer: '#/body', detail: 'required' }] }),
    };
  }
  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType && contentType !== 'application/json' && !contentType.endsWith('+json')) {
    return {
      ok: false,
      problem: (instance) =>
        problem('UnsupportedMediaType', `The body must be application/json, not ${JSON.stringify(contentType.slice(0, 100))}.`, {
          instance,
        }),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : 'not JSON';
    return { ok: false, problem: (instance) => problem('MalformedJson', `The body is not valid JSON: ${why.slice(0, 200)}`, { instance }) };
  }
  if (!expectsBody) {
    const isEmptyObject = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
    if (!isEmptyObject) {
      return {
        ok: false,
        problem: (instance) =>
          problem('UnknownField', 'This operation takes no body (an empty one or {} is fine).', {
            instance,
            errors: [{ pointer: '#/body', detail: 'not accepted' }],
          }),
      };
    }
    return { ok: true, value: undefined };
  }
  return { ok: true, value };
}
