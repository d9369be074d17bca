import { randomUUID } from 'node:crypto';
import type { ApiName, EmuResponse } from './contract.js';

/**
 * Errors in each API's own shape. Modules call `apiError(api, status, code, message)`; the core
 * uses the same factory for unknown routes, bad JSON, injected 5xx and throttling.
 */
export function apiError(
  api: ApiName,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): EmuResponse {
  return { status, headers, body: errorBody(api, status, code, message, extra) };
}

function errorBody(api: ApiName, status: number, code: string, message: string, extra: Record<string, unknown>): unknown {
  switch (api) {
    case 'graph':
      // https://learn.microsoft.com/graph/errors — { error: { code, message, innerError: { date, request-id, client-request-id } } }
      return {
        error: {
          code,
          message,
          innerError: {
            date: new Date().toISOString().replace(/\.\d+Z$/, ''),
            'request-id': randomUUID(),
            'client-request-id': randomUUID(),
            ...extra,
          },
        },
      };
    case 'login': {
      // https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application
      const aadsts = /^AADSTS(\d+)/.exec(message)?.[1];
      const traceId = randomUUID();
      const correlationId = randomUUID();
      const timestamp = new Date()
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
      return {
        error: code,
        error_description: `${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
        error_codes: aadsts ? [Number(aadsts)] : [],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        ...extra,
      };
    }
    case 'managedIdentity':
      return { error: code, error_description: message, statusCode: status, ...extra };
    case 'keyVault':
      // Key Vault: { error: { code, message, innererror? } }
      return { error: { code, message, ...extra } };
    default:
      // ARM: { error: { code, message, details? } }
      return { error: { code, message, ...extra } };
  }
}

/** Codes the core answers with, per API: unknown route, unparsable body, injected fault. */
export function notFoundRoute(api: ApiName, method: string, path: string): EmuResponse {
  switch (api) {
    case 'graph':
      return apiError(api, 400, 'BadRequest', `Resource not found for the segment '${path.split('/').filter(Boolean).pop() ?? ''}'.`);
    case 'login':
      return apiError(
        api,
        404,
        'invalid_request',
        `AADSTS900561: The endpoint only accepts POST, OPTIONS requests. Received a ${method} request to ${path}.`,
      );
    case 'keyVault':
      return apiError(api, 404, 'NotFound', `The requested resource ${path} was not found.`);
    case 'managedIdentity':
      return apiError(api, 404, 'not_found', `No managed identity endpoint at ${path}.`);
    case 'admin':
      return apiError(api, 404, 'NotFound', `No admin route ${method} ${path}.`);
    default:
      return apiError(api, 404, 'NotFound', `The requested resource ${method} ${path} does not exist.`);
  }
}

export function badRequestBody(api: ApiName, detail: string): EmuResponse {
  switch (api) {
    case 'graph':
      return apiError(api, 400, 'BadRequest', `Unable to read JSON request payload. ${detail}`);
    case 'login':
      return apiError(
        api,
        400,
        'invalid_request',
        `AADSTS900144: The request body must contain the following parameter: 'grant_type'. ${detail}`,
      );
    case 'keyVault':
      return apiError(api, 400, 'BadParameter', `The request body is not valid JSON. ${detail}`);
    case 'managedIdentity':
      return apiError(api, 400, 'invalid_request', detail);
    default:
      return apiError(api, 400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: ${detail}`);
  }
}

/** An injected 503 in the API's shape; `Retry-After` where the API sends one. */
export function injectedServerError(api: ApiName, retryAfterSeconds = 1): EmuResponse {
  const retryAfter = { 'Retry-After': String(retryAfterSeconds) };
  switch (api) {
    case 'graph':
      return apiError(api, 503, 'serviceNotAvailable', 'The service is temporarily unavailable. Please retry later.', retryAfter);
    case 'login':
      return apiError(api, 503, 'temporarily_unavailable', 'AADSTS90033: A transient error has occurred. Please try again.');
    case 'keyVault':
      return apiError(api, 503, 'ServiceUnavailable', 'The service is temporarily unavailable.', retryAfter);
    case 'managedIdentity':
      return apiError(api, 503, 'service_unavailable', 'The managed identity endpoint is temporarily unavailable.');
    default:
      return apiError(api, 503, 'ServiceUnavailable', 'The server is currently unable to handle the request.', retryAfter);
  }
}

/** An injected 500 in the API's shape (ARM: `InternalServerError`). */
export function injectedInternalError(api: ApiName): EmuResponse {
  switch (api) {
    case 'graph':
      return apiError(api, 500, 'generalException', 'An unspecified error has occurred.');
    case 'login':
      return apiError(api, 500, 'server_error', 'AADSTS90033: A transient error has occurred. Please try again.');
    case 'keyVault':
      return apiError(api, 500, 'InternalServerError', 'The server encountered an internal error.');
    case 'managedIdentity':
      return apiError(api, 500, 'unknown', 'An unexpected error occurred while fetching the token.');
    default:
      // https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
      return apiError(
        api,
        500,
        'InternalServerError',
        'Encountered internal server error. Diagnostic information: timestamp, subscription id, tracking id, request correlation id.',
      );
  }
}

/**
 * An injected 429 in the API's shape, with `Retry-After` (seconds) and the remaining-quota headers
 * the API sends. ARM: `x-ms-ratelimit-remaining-subscription-{reads|writes|deletes}` by method, code
 * `TooManyRequests` (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling);
 * Resource Graph: `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after`
 * (https://learn.microsoft.com/azure/governance/resource-graph/concepts/guidance-for-throttled-requests).
 */
export function injectedThrottle(api: ApiName, method: string, retryAfterSeconds = 1): EmuResponse {
  const retryAfter = { 'Retry-After': String(retryAfterSeconds) };
  switch (api) {
    case 'graph':
      // https://learn.microsoft.com/graph/throttling
      return apiError(api, 429, 'TooManyRequests', 'Too many requests. Please retry after the time in the Retry-After header.', retryAfter);
    case 'login':
      return apiError(
        api,
        429,
        'temporarily_unavailable',
        'AADSTS50196: The server terminated an operation because it encountered a client request loop. Please retry later.',
        retryAfter,
      );
    case 'keyVault':
      // https://learn.microsoft.com/azure/key-vault/general/overview-throttling
      return apiError(api, 429, 'Throttled', 'Request was not processed because too many requests were received.', retryAfter);
    case 'managedIdentity':
      return apiError(api, 429, 'too_many_requests', 'Too many requests to the managed identity endpoint.', retryAfter);
    case 'resourceGraph': {
      const resetsAfter = new Date(Math.ceil(retryAfterSeconds) * 1000).toISOString().slice(11, 19);
      return apiError(
        api,
        429,
        'TooManyRequests',
        'Please provide below info when asking for support: timestamp, correlationId. The request was throttled: the user quota is used up.',
        {
          ...retryAfter,
          'x-ms-user-quota-remaining': '0',
          'x-ms-user-quota-resets-after': resetsAfter,
        },
      );
    }
    default: {
      const kind = method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
      const operation = kind === 'reads' ? 'Read' : kind === 'deletes' ? 'Delete' : 'Write';
      return apiError(
        api,
        429,
        'TooManyRequests',
        `The request is being throttled as the limit has been reached for operation type - ${operation}.`,
        {
          ...retryAfter,
          [`x-ms-ratelimit-remaining-subscription-${kind}`]: '0',
        },
      );
    }
  }
}
