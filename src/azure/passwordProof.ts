/**
 * Proves a pull password works the way its consumers will use it: an OAuth 2.0
 * client-credentials token request to Entra with the application's id and the password
 * (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
 * A new credential object per proof, so no cached token can stand in for a real request.
 */
import { AuthenticationError, AuthenticationRequiredError, ClientSecretCredential } from '@azure/identity';
import type { Config } from '../config.js';
import type { AzureClientOptions } from './arm.js';
import { TransientAzureError } from '../errors.js';
import type { Secret } from '../secret.js';

/** OAuth 2.0 error codes with which Entra refuses a client's credentials (RFC 6749 §5.2). */
const ENTRA_REFUSALS = /\b(invalid_client|unauthorized_client|invalid_grant)\b/;

export type ProofResult = { readonly ok: true } | { readonly ok: false; readonly errorCode: string };

export interface PasswordProof {
  /** ok when Entra issues a token for the application with this password; otherwise Entra's error code. */
  prove(appId: string, password: Secret, options?: { abortSignal?: AbortSignal }): Promise<ProofResult>;
}

/** Client-credentials proof against AZURE_AUTHORITY_HOST, for a token to ARM_ENDPOINT. */
export function createPasswordProof(config: Config, options: { clientOptions?: AzureClientOptions } = {}): PasswordProof {
  return {
    async prove(appId, password, call = {}) {
      const credential = new ClientSecretCredential(config.tenantId, appId, password.reveal(), {
        ...options.clientOptions,
        authorityHost: config.authorityHost,
        // The authority comes from a trusted setting (AZURE_AUTHORITY_HOST), so MSAL need not ask
        // login.microsoftonline.com to validate it: sovereign clouds and private hosts work alike.
        disableInstanceDiscovery: true,
      });
      try {
        await abortable(credential.getToken(`${config.armEndpoint}/.default`, { abortSignal: call.abortSignal }), call.abortSignal);
        return { ok: true };
      } catch (error) {
        if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
          throw new TransientAzureError(
            'OperationTimedOut',
            `token request for application ${appId} did not answer within the call timeout (CREDENTIALS_CALL_TIMEOUT_SECONDS); the call was abandoned`,
          );
        }
        // 4xx from the token endpoint is Entra saying no (invalid_client, unauthorized_client):
        // the password does not work (yet). Anything else may pass: let the host retry.
        if (error instanceof AuthenticationError && error.statusCode >= 400 && error.statusCode < 500) {
          return { ok: false, errorCode: error.errorResponse.error || `Http${error.statusCode}` };
        }
        // MSAL reports Entra's 401 invalid_client (AADSTS7000215, a wrong or removed secret) as a
        // ServerError, which @azure/identity wraps in AuthenticationRequiredError: still an answer.
        const refused = error instanceof AuthenticationRequiredError ? ENTRA_REFUSALS.exec(error.message) : null;
        if (refused) return { ok: false, errorCode: refused[1] ?? 'invalid_client' };
        throw new TransientAzureError(
          'TokenRequestFailed',
          `token request for application ${appId} failed: ${error instanceof Error ? error.name : 'unknown error'}`,
        );
      }
    },
  };
}

/**
 * MSAL's client-credentials flow takes `abortSignal` but does not act on it (only its device-code
 * flow does, @azure/identity 4.13), so the proof stops waiting when the signal fires. No retry.
 */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function abortError(): Error {
  const error = new Error('The token request was abandoned at its timeout.');
  error.name = 'AbortError';
  return error;
}
