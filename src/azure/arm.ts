/**
 * Generic ARM resource reads and writes by id, with the api-version each watched type needs.
 * Built on `@azure-rest/core-client`, whose default pipeline carries the bearer-token policy and
 * the SDK's retry policies (429 with `Retry-After`, 5xx, network errors): no retry loop here.
 */
import { getClient, type Client, type PathUncheckedResponse } from '@azure-rest/core-client';
import type { TokenCredential } from '@azure/identity';
import { isRestError } from '@azure/core-rest-pipeline';
import type { Config } from '../config.js';
import type { ArmPacer } from './armPacing.js';
import { AppError, NotReadyError, TransientAzureError } from '../errors.js';
import { API_VERSIONS } from '../policy/resourceTypes.js';

/** A resource as ARM's GET returns it, reduced to what the app reads. Plain JSON: no SDK types. */
export interface ArmResource {
  readonly id: string;
  readonly name: string;
  readonly type: string;
  readonly location?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly identity?: ArmIdentity;
  readonly properties?: Readonly<Record<string, unknown>>;
}

/** ARM's `identity` block (https://learn.microsoft.com/azure/templates/microsoft.compute/virtualmachines#virtualmachineidentity). */
export interface ArmIdentity {
  readonly type?: string;
  readonly principalId?: string;
  readonly tenantId?: string;
  readonly userAssignedIdentities?: Readonly<Record<string, { readonly principalId?: string; readonly clientId?: string } | null>>;
}

/** api-version per lower-cased resource type, from the one table (src/policy/resourceTypes.ts). */
export { API_VERSIONS };

export interface ArmResources {
  /**
   * The resource as ARM has it now; undefined when it does not exist (404). `sentAfterCall`: the
   * answer is to a request sent after this call (a consent read before a grant); while ARM's reads
   * are being paced, callers that ask within a moment of each other share that one request.
   */
  getResource(resourceId: string, options?: { abortSignal?: AbortSignal; sentAfterCall?: boolean }): Promise<ArmResource | undefined>;
  /** PATCH with a partial body (ARM merge semantics); answers the response body. */
  patchResource(resourceId: string, body: unknown, options?: { abortSignal?: AbortSignal }): Promise<ArmResource>;
}

/** How long a consent read waits for others to share it while ARM's reads are paced (ms). */
const GATHER_MS = 1000;

/** Pipeline options the adapters pass to their SDK clients (for example the TLS trust of a private endpoint). */
export interface AzureClientOptions {
  readonly tlsOptions?: { readonly ca?: string };
  /** ARM clients only: the process's pacer (armPacing.ts), added to the pipeline per retry. */
  readonly armPacer?: ArmPacer;
}

/** The SDK options of an ARM client: the pipeline options with the pacer's policy, if any, per retry. */
export function armPipelineOptions(clientOptions: AzureClientOptions = {}): {
  tlsOptions?: { ca?: string };
  additionalPolicies?: { policy: ArmPacer['policy']; position: 'perRetry' }[];
} {
  const { armPacer, ...rest } = clientOptions;
  return { ...rest, ...(armPacer ? { additionalPolicies: [{ policy: armPacer.policy, position: 'perRetry' as const }] } : {}) };
}

/** Creates the ARM adapter; one per app, built in deps.ts. */
export function createArmResources(
  config: Config,
  credential: TokenCredential,
  options: { client?: Client; clientOptions?: AzureClientOptions; armPacer?: ArmPacer } = {},
): ArmResources {
  const client = options.client ?? createArmClient(config, credential, options.clientOptions);
  const read = async (resourceId: string, abortSignal?: AbortSignal): Promise<ArmResource | undefined> => {
    const response = await send(() =>
      client.pathUnchecked(resourceId).get({ queryParameters: { 'api-version': apiVersionFor(resourceId) }, abortSignal }),
    );
    if (response.status === '404') return undefined;
    ensureOk(response, `read ${resourceId}`);
    return response.body as ArmResource;
  };
  // Concurrent reads of one resource share one request while it is out (a burst of events for one
  // registry asks for its consent at once): each caller gets ARM's answer to a read made after it
  // asked, or at most one round trip before — never a stored copy. Nothing is kept once answered.
  const inFlight = new Map<string, Promise<ArmResource | undefined>>();
  // Reads not sent yet, gathering callers that need an answer from after they asked (`sentAfterCall`).
  const gathering = new Map<string, Promise<ArmResource | undefined>>();
  const pacer = options.armPacer ?? options.clientOptions?.armPacer;
  return {
    async getResource(resourceId, opts) {
      // A caller that can abort reads on its own, so its abort cannot fail another's read.
      if (opts?.abortSignal) return read(resourceId, opts.abortSignal);
      const key = resourceId.toLowerCase();
      if (opts?.sentAfterCall) {
        const waiting = gathering.get(key);
        if (waiting) return waiting;
        // Reads are queued behind ARM's read limit anyway: wait a moment for the others that will ask.
        const gatherMs = pacer?.isPacing(`${config.armEndpoint.replace(/\/+$/, '')}${resourceId}`, 'GET') ? GATHER_MS : 0;
        if (gatherMs === 0) return read(resourceId);
        const gathered = new Promise<void>((resolve) => setTimeout(resolve, gatherMs)).then(() => {
          gathering.delete(key);
          return read(resourceId);
        });
        gathering.set(key, gathered);
        return gathered;
      }
      let shared = inFlight.get(key);
      if (!shared) {
        shared = read(resourceId).finally(() => inFlight.delete(key));
        inFlight.set(key, shared);
      }
      return shared;
    },
    async patchResource(resourceId, body, opts) {
      const response = await send(() =>
        client
          .pathUnchecked(resourceId)
          .patch({ queryParameters: { 'api-version': apiVersionFor(resourceId) }, body, abortSignal: opts?.abortSignal }),
      );
      ensureOk(response, `update ${resourceId}`);
      return response.body as ArmResource;
    },
  };
}

/** A REST client for ARM with the token scope of the configured endpoint. */
export function createArmClient(config: Config, credential: TokenCredential, clientOptions: AzureClientOptions = {}): Client {
  return getClient(config.armEndpoint, credential, {
    ...armPipelineOptions(clientOptions),
    credentials: { scopes: [`${armAudience(config)}/.default`] },
    retryOptions: { maxRetries: 4 },
  });
}

/** The token audience for ARM: the endpoint itself, as the ARM SDK clients use it. */
export function armAudience(config: Config): string {
  return config.armEndpoint.replace(/\/+$/, '');
}

/** The api-version for a resource id's type; throws for a type the app does not read. */
export function apiVersionFor(resourceId: string): string {
  const type = typeOfId(resourceId);
  const version = API_VERSIONS[type];
  if (!version) throw new AppError('UnsupportedResourceType', `no api-version is known for resource type ${type}`);
  return version;
}

function typeOfId(resourceId: string): string {
  const segments = resourceId.split('/').filter(Boolean);
  const providers = segments.findIndex((s) => s.toLowerCase() === 'providers');
  if (providers < 0) return '';
  const namespace = segments[providers + 1] ?? '';
  const types = segments.slice(providers + 2).filter((_, i) => i % 2 === 0);
  return [namespace, ...types].join('/').toLowerCase();
}

/** Runs a REST call, translating what the pipeline throws (network errors, aborted retries). */
export async function send(call: () => PromiseLike<PathUncheckedResponse>): Promise<PathUncheckedResponse> {
  try {
    return await call();
  } catch (error) {
    throw toAppError(error, 'call ARM');
  }
}

/** Throws the AppError for a non-2xx REST response (ARM error body `{ error: { code, message } }`). */
export function ensureOk(response: PathUncheckedResponse, what: string): void {
  const status = Number(response.status);
  if (status >= 200 && status < 300) return;
  const body = response.body as { error?: { code?: string; message?: string } } | undefined;
  throw appErrorFromStatus(status, body?.error?.code, body?.error?.message, what);
}

/**
 * Translates what the SDK threw into an AppError, at the edge of src/azure: status and code
 * become the class that says what happens next. Call it with anything caught from an SDK call.
 */
export function toAppError(error: unknown, what: string): Error {
  if (error instanceof AppError) return error;
  // isRestError, not instanceof: arm-authorization may carry its own copy of core-rest-pipeline.
  if (isRestError(error)) {
    if (error.statusCode === undefined)
      return new TransientAzureError(error.code ?? 'RequestSendError', `could not ${what}: ${error.message}`, { cause: error });
    const details = (error.details ?? {}) as { error?: { code?: string; message?: string } };
    return appErrorFromStatus(error.statusCode, details.error?.code ?? error.code, details.error?.message ?? error.message, what, error);
  }
  if (error instanceof Error && error.name === 'AbortError') return error;
  return new TransientAzureError('InternalError', `could not ${what}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}

function appErrorFromStatus(
  status: number,
  code: string | undefined,
  message: string | undefined,
  what: string,
  cause?: unknown,
): AppError {
  const text = `could not ${what}: ${status} ${code ?? ''} ${message ?? ''}`.trim();
  // The retry policy already spent its budget on these: throw so Event Grid redelivers later.
  if (status === 429 || status === 408 || status >= 500) return new TransientAzureError(code ?? `Http${status}`, text, { cause });
  if (code === 'PrincipalNotFound') return new NotReadyError(code, text, { cause });
  return new AppError(code ?? `Http${status}`, text, { cause });
}
