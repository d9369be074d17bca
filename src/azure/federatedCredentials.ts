/**
 * Federated identity credentials on user-assigned identities, through `@azure/arm-msi`
 * (`ManagedServiceIdentityClient.federatedIdentityCredentials`, api-version 2024-11-30).
 * Wire facts: PUT answers 201 on create and 200 on update; list pages with `nextLink` (the SDK's
 * iterator follows it); Entra rejects concurrent writes to one identity with 409
 * `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`, which becomes a
 * NotReadyError here so the event is redelivered (callers serialise their own writes per identity).
 * https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials/create-or-update
 */
import { ManagedServiceIdentityClient, type FederatedIdentityCredential } from '@azure/arm-msi';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';
import { AppError, InvalidInputError, NotReadyError } from '../errors.js';
import { parseResourceId } from '../policy/resourceId.js';
import { armPipelineOptions, armAudience, toAppError, type AzureClientOptions } from './arm.js';
import { TYPES } from '../policy/resourceTypes.js';

/** A federated identity credential as the app reads and writes it. Plain data: no SDK types. */
export interface FederatedCredentialInfo {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
}

export const CONCURRENT_WRITE_CODE = 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity';

export interface FederatedCredentials {
  /** Every credential on the identity (all pages); undefined when the identity does not exist. */
  list(identityId: string, options?: { abortSignal?: AbortSignal }): Promise<FederatedCredentialInfo[] | undefined>;
  /** Creates or replaces the credential; 'created' (201) or 'updated' (200). */
  put(identityId: string, credential: FederatedCredentialInfo, options?: { abortSignal?: AbortSignal }): Promise<'created' | 'updated'>;
  /** Deletes the credential; 'not-found' when it is already gone (204). */
  delete(identityId: string, name: string, options?: { abortSignal?: AbortSignal }): Promise<'deleted' | 'not-found'>;
}

/** Creates the federated-credential adapter; one per app, built in deps.ts. */
export function createFederatedCredentials(
  config: Config,
  credential: TokenCredential,
  options: { clientOptions?: AzureClientOptions } = {},
): FederatedCredentials {
  // The SDK client is bound to one subscription; identities may live in any watched one. Clients
  // hold no Azure state, so keeping them per process is safe with several instances.
  const clients = new Map<string, ManagedServiceIdentityClient>();
  const clientFor = (subscriptionId: string): ManagedServiceIdentityClient => {
    let client = clients.get(subscriptionId);
    if (!client) {
      client = new ManagedServiceIdentityClient(credential, subscriptionId, {
        ...armPipelineOptions(options.clientOptions),
        endpoint: config.armEndpoint,
        credentialScopes: [`${armAudience(config)}/.default`],
        retryOptions: { maxRetries: 4 },
      });
      clients.set(subscriptionId, client);
    }
    return client;
  };

  return {
    async list(identityId, opts) {
      const { client, resourceGroup, name } = target(identityId);
      const found: FederatedCredentialInfo[] = [];
      try {
        for await (const item of client.federatedIdentityCredentials.list(resourceGroup, name, { abortSignal: opts?.abortSignal })) {
          const info = toInfo(item);
          if (info) found.push(info);
        }
      } catch (caught) {
        const error = toAppError(caught, `list federated credentials of ${identityId}`);
        if (error instanceof AppError && isNotFound(error.code)) return undefined;
        throw translate(error);
      }
      return found;
    },
    async put(identityId, fic, opts) {
      const { client, resourceGroup, name } = target(identityId);
      let status = 0;
      try {
        await client.federatedIdentityCredentials.createOrUpdate(
          resourceGroup,
          name,
          fic.name,
          { issuer: fic.issuer, subject: fic.subject, audiences: [...fic.audiences] },
          { abortSignal: opts?.abortSignal, onResponse: (response) => (status = response.status) },
        );
      } catch (caught) {
        throw translate(toAppError(caught, `write federated credential ${fic.name} on ${identityId}`));
      }
      return status === 201 ? 'created' : 'updated';
    },
    async delete(identityId, ficName, opts) {
      const { client, resourceGroup, name } = target(identityId);
      let status = 0;
      try {
        await client.federatedIdentityCredentials.delete(resourceGroup, name, ficName, {
          abortSignal: opts?.abortSignal,
          onResponse: (response) => (status = response.status),
        });
      } catch (caught) {
        const error = toAppError(caught, `delete federated credential ${ficName} on ${identityId}`);
        if (error instanceof AppError && isNotFound(error.code)) return 'not-found';
        throw translate(error);
      }
      return status === 204 ? 'not-found' : 'deleted';
    },
  };

  function target(identityId: string): { client: ManagedServiceIdentityClient; resourceGroup: string; name: string } {
    const parsed = parseResourceId(identityId);
    if (!parsed.ok || parsed.value.type !== TYPES.userAssignedIdentity || !parsed.value.resourceGroup) {
      throw new InvalidInputError('InvalidResourceId', parsed.ok ? `${identityId} is not a user-assigned identity` : parsed.error);
    }
    return { client: clientFor(parsed.value.subscriptionId), resourceGroup: parsed.value.resourceGroup, name: parsed.value.name };
  }
}

/** 409 from a write racing ours (another instance): not ready yet, so the event comes back later. */
function translate(error: Error): Error {
  if (error instanceof AppError && error.code === CONCURRENT_WRITE_CODE && !(error instanceof NotReadyError)) {
    return new NotReadyError(error.code, `${error.message} (another writer holds the identity; will retry on redelivery)`, {
      cause: error,
    });
  }
  return error;
}

function isNotFound(code: string): boolean {
  return code === 'ResourceNotFound' || code === 'NotFound' || code === 'Http404' || code === 'ParentResourceNotFound';
}

function toInfo(item: FederatedIdentityCredential): FederatedCredentialInfo | undefined {
  if (!item.name || typeof item.issuer !== 'string' || typeof item.subject !== 'string') return undefined;
  return { name: item.name, issuer: item.issuer, subject: item.subject, audiences: item.audiences ?? [] };
}
