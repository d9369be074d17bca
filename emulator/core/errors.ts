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
          innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': randomUUID(), 'client-request-id': randomUUID(), ...extra },
        },
      };
    case 'login': {
      // https://learn.microsoft.com/entra/identity-platform/reference-error-codes#handling-error-codes-in-your-application
      const aadsts = /^AADSTS(\d+)/.exec(message)?.[1];
      const traceId = randomUUID();
      const correlationId = randomUUID();
      const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
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
      return apiError(api, 404, 'invalid_request', `AADSTS900561: The endpoint only accepts POST, OPTIONS requests. Received a ${method} request to ${path}.`);
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
      return apiError(api, 400, 'invalid_request', `AADSTS900144: The request body must contain the following parameter: 'grant_type'. ${detail}`);
    case 'keyVault':
      return apiError(api, 400, 'BadParameter', `The request body is not valid JSON. ${detail}`);
    case 'managedIdentity':
      return apiError(api, 400, 'invalid_request', detail);
    default:
      return apiError(api, 400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: ${detail}`);
  }
}

export function injectedServerError(api: ApiName): EmuResponse {
  switch (api) {
    case 'graph':
      return apiError(api, 503, 'serviceNotAvailable', 'The service is temporarily unavailable. Please retry later.', { 'Retry-After': '1' });
    case 'login':
      return apiError(api, 503, 'temporarily_unavailable', 'AADSTS90033: A transient error has occurred. Please try again.');
    case 'keyVault':
      return apiError(api, 503, 'ServiceUnavailable', 'The service is temporarily unavailable.', { 'Retry-After': '1' });
    case 'managedIdentity':
      return apiError(api, 503, 'service_unavailable', 'The managed identity endpoint is temporarily unavailable.');
    default:
      return apiError(api, 503, 'ServiceUnavailable', 'The server is currently unable to handle the request.', { 'Retry-After': '1' });
  }
}
