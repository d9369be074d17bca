/**
 * Microsoft Graph v1.0, the slice pull credentials need: applications, their passwords and
 * service principals. Built on `@azure-rest/core-client` (the SDK's pipeline retries 429/5xx
 * and caches the token); Graph's error body `{ error: { code, message } }` becomes an AppError
 * here, so use cases never read a status code.
 *
 * Wire shapes follow the v1.0 reference:
 *   https://learn.microsoft.com/graph/api/application-post-applications
 *   https://learn.microsoft.com/graph/api/application-addpassword (secretText only in this response)
 *   https://learn.microsoft.com/graph/api/application-removepassword
 *   https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals
 */
import { getClient, type PathUncheckedResponse } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/core-auth';
import type { Config } from '../config.js';
import type { AzureClientOptions } from './arm.js';
import { AppError, NotReadyError, TransientAzureError } from '../errors.js';
import { Secret } from '../secret.js';

/** A password on an application, as Graph lists it (never with its value). */
export interface PasswordCredentialInfo {
  readonly keyId: string;
  readonly displayName?: string;
  readonly endDateTime?: string;
}

export interface GraphApplication {
  /** The application's object id (Graph's `id`). */
  readonly id: string;
  readonly appId: string;
  readonly displayName: string;
  readonly passwordCredentials: readonly PasswordCredentialInfo[];
}

export interface GraphServicePrincipal {
  /** The service principal's object id: the principalId of its role assignments. */
  readonly id: string;
  readonly appId: string;
}

/** A password just created: the only moment its value exists outside Key Vault. */
export interface NewPassword {
  readonly keyId: string;
  readonly secretText: Secret;
  readonly endDateTime: string;
}

/** Every call takes the SDK's `abortSignal`: a leased run gives up on a call before its lease lapses. */
export interface CallOptions {
  readonly abortSignal?: AbortSignal;
}

/** The Graph operations pull credentials use. */
export interface GraphApplications {
  getApplicationByAppId(appId: string, options?: CallOptions): Promise<GraphApplication | undefined>;
  findApplicationsByDisplayName(displayName: string, options?: CallOptions): Promise<GraphApplication[]>;
  createApplication(displayName: string, options?: CallOptions & { notes?: string }): Promise<GraphApplication>;
  deleteApplication(applicationObjectId: string, options?: CallOptions): Promise<'deleted' | 'not-found'>;
  findServicePrincipal(appId: string, options?: CallOptions): Promise<GraphServicePrincipal | undefined>;
  createServicePrincipal(appId: string, options?: CallOptions): Promise<GraphServicePrincipal>;
  addPassword(
    applicationObjectId: string,
    password: { displayName: string; endDateTime: Date },
    options?: CallOptions,
  ): Promise<NewPassword>;
  /** Removes one password; a password that is already gone is not an error. */
  removePassword(applicationObjectId: string, keyId: string, options?: CallOptions): Promise<'removed' | 'not-found'>;
}

interface WireApplication {
  id?: string;
  appId?: string;
  displayName?: string;
  passwordCredentials?: Array<{ keyId?: string; displayName?: string | null; endDateTime?: string | null }>;
}

/** Graph through the app's credential, with the scope `${GRAPH_ENDPOINT}/.default`. */
export function createGraph(
  config: Config,
  credential: TokenCredential,
  options: { clientOptions?: AzureClientOptions } = {},
): GraphApplications {
  const client = getClient(config.graphEndpoint, credential, {
    ...options.clientOptions,
    credentials: { scopes: [`${config.graphEndpoint}/.default`] },
  });
  const base = '/v1.0';

  /** Awaits one request; a call abandoned at its `abortSignal` becomes a transient OperationTimedOut. */
  const send = async (operation: string, request: PromiseLike<PathUncheckedResponse>): Promise<PathUncheckedResponse> => {
    try {
      return await request;
    } catch (error) {
      if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
        throw new TransientAzureError(
          'OperationTimedOut',
          `Graph ${operation} did not answer within the call timeout (CREDENTIALS_CALL_TIMEOUT_SECONDS); the call was abandoned`,
        );
      }
      throw error;
    }
  };

  const listApplications = async (filter: string, call: CallOptions): Promise<GraphApplication[]> => {
    // A filter on appId or displayName matches a handful of applications: one page.
    const response = await send(
      'list applications',
      client.path(`${base}/applications`).get({ queryParameters: { $filter: filter }, abortSignal: call.abortSignal }),
    );
    const body = expectOk(response, 'list applications') as { value?: WireApplication[] };
    return (body.value ?? []).map(toApplication);
  };

  return {
    async getApplicationByAppId(appId, options = {}) {
      const [found] = await listApplications(`appId eq ${quote(appId)}`, options);
      return found;
    },
    findApplicationsByDisplayName(displayName, options = {}) {
      return listApplications(`displayName eq ${quote(displayName)}`, options);
    },
    async createApplication(displayName, options = {}) {
      const response = await send(
        'create application',
        client.path(`${base}/applications`).post({
          body: { displayName, signInAudience: 'AzureADMyOrg', ...(options.notes ? { notes: options.notes } : {}) },
          abortSignal: options.abortSignal,
        }),
      );
      return toApplication(expectOk(response, 'create application') as WireApplication);
    },
    async deleteApplication(applicationObjectId, options = {}) {
      const response = await send(
        'delete application',
        client.path(`${base}/applications/{id}`, applicationObjectId).delete({ abortSignal: options.abortSignal }),
      );
      if (response.status === '404') return 'not-found';
      expectOk(response, 'delete application');
      return 'deleted';
    },
    async findServicePrincipal(appId, options = {}) {
      const response = await send(
        'list service principals',
        client
          .path(`${base}/servicePrincipals`)
          .get({ queryParameters: { $filter: `appId eq ${quote(appId)}` }, abortSignal: options.abortSignal }),
      );
      const body = expectOk(response, 'list service principals') as { value?: Array<{ id?: string; appId?: string }> };
      const found = body.value?.[0];
      return found?.id ? { id: found.id, appId: found.appId ?? appId } : undefined;
    },
    async createServicePrincipal(appId, options = {}) {
      const response = await send(
        'create service principal',
        client.path(`${base}/servicePrincipals`).post({ body: { appId }, abortSignal: options.abortSignal }),
      );
      const body = expectOk(response, 'create service principal') as { id?: string; appId?: string };
      return { id: body.id ?? '', appId: body.appId ?? appId };
    },
    async addPassword(applicationObjectId, password, options = {}) {
      const response = await send(
        'add password',
        client.path(`${base}/applications/{id}/addPassword`, applicationObjectId).post({
          body: { passwordCredential: { displayName: password.displayName, endDateTime: password.endDateTime.toISOString() } },
          abortSignal: options.abortSignal,
        }),
      );
      const body = expectOk(response, 'add password') as { keyId?: string; secretText?: string; endDateTime?: string };
      if (!body.keyId || !body.secretText)
        throw new AppError('UnexpectedResponse', 'Graph addPassword answered without a keyId or secretText');
      return {
        keyId: body.keyId,
        secretText: new Secret(body.secretText),
        endDateTime: body.endDateTime ?? password.endDateTime.toISOString(),
      };
    },
    async removePassword(applicationObjectId, keyId, options = {}) {
      // removePassword with an unknown keyId is an error on Graph, so look first: a retried
      // removal of a password that is already gone is success.
      const current = await send(
        'read application',
        client.path(`${base}/applications/{id}`, applicationObjectId).get({ abortSignal: options.abortSignal }),
      );
      if (current.status === '404') return 'not-found';
      const app = toApplication(expectOk(current, 'read application') as WireApplication);
      if (!app.passwordCredentials.some((p) => p.keyId === keyId)) return 'not-found';
      const response = await send(
        'remove password',
        client
          .path(`${base}/applications/{id}/removePassword`, applicationObjectId)
          .post({ body: { keyId }, abortSignal: options.abortSignal }),
      );
      expectOk(response, 'remove password');
      return 'removed';
    },
  };
}

function toApplication(wire: WireApplication): GraphApplication {
  return {
    id: wire.id ?? '',
    appId: wire.appId ?? '',
    displayName: wire.displayName ?? '',
    passwordCredentials: (wire.passwordCredentials ?? [])
      .filter((p): p is { keyId: string; displayName?: string | null; endDateTime?: string | null } => typeof p.keyId === 'string')
      .map((p) => ({ keyId: p.keyId, displayName: p.displayName ?? undefined, endDateTime: p.endDateTime ?? undefined })),
  };
}

/** OData string literal: single quotes doubled. */
function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The body of a 2xx response; otherwise Graph's error code as an AppError (never the body's values). */
function expectOk(response: PathUncheckedResponse, operation: string): unknown {
  const status = Number(response.status);
  if (status >= 200 && status < 300) return response.body;
  const error = (response.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `Http${status}`;
  const message = `Graph ${operation} failed: ${status} ${code}${typeof error?.message === 'string' ? ` (${error.message})` : ''}`;
  if (status === 429 || status >= 500) throw new TransientAzureError(code, message);
  // Entra replication: a just-created application is not visible everywhere yet.
  if (status === 404) throw new NotReadyError(code, message);
  throw new AppError(code, message);
}
