/**
 * Key Vault secrets, by vault name. A vault name becomes its `vaultUri` through Resource Graph
 * (cached: a vault's URI never changes), then one `SecretClient` per vault, built once; the
 * SDK answers the vault's challenge, caches the token and retries.
 *
 * Attributes on the wire are epoch seconds and version lists carry no value:
 *   https://learn.microsoft.com/rest/api/keyvault/secrets/set-secret/set-secret
 */
import type { TokenCredential } from '@azure/core-auth';
import { isRestError } from '@azure/core-rest-pipeline';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Config } from '../config.js';
import { AppError, InvalidInputError, TransientAzureError } from '../errors.js';
import { Secret } from '../secret.js';
import type { AzureClientOptions } from './arm.js';
import type { ResourceGraph } from './resourceGraph.js';
import { TYPES } from '../policy/resourceTypes.js';

export interface VaultSecret {
  readonly value: Secret;
  readonly version: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly contentType?: string;
  readonly expiresOn?: Date;
}

/** Every call takes the SDK's `abortSignal`: a leased run gives up on a call before its lease lapses. */
export interface CallOptions {
  readonly abortSignal?: AbortSignal;
}

export interface SetSecretOptions extends CallOptions {
  readonly expiresOn?: Date;
  readonly contentType: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** The Key Vault operations pull credentials use. */
export interface VaultSecrets {
  /** The vault's URI; `InvalidInputError` `VaultNotFound` when no vault has that name. */
  resolveVault(vaultName: string, options?: CallOptions): Promise<string>;
  /** Writes a new version of the secret and answers its version id. */
  setSecret(vaultName: string, secretName: string, value: Secret, options: SetSecretOptions): Promise<{ version: string }>;
  /** The latest version (or the one named), or undefined when the secret does not exist. */
  getSecret(vaultName: string, secretName: string, options?: CallOptions & { version?: string }): Promise<VaultSecret | undefined>;
}

const VAULT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;

export interface VaultSecretsOptions {
  /** Finds vaults by name; the shared Resource Graph adapter. */
  readonly resourceGraph: ResourceGraph;
  /** SDK pipeline options, passed to every client (for example the TLS trust of a private endpoint). */
  readonly clientOptions?: AzureClientOptions;
}

/**
 * Key Vault through the app's credential. Vault URIs are found with Resource Graph over the
 * watched subscriptions (a vault elsewhere is not found).
 */
export function createVaultSecrets(config: Config, credential: TokenCredential, options: VaultSecretsOptions): VaultSecrets {
  const vaultUris = new Map<string, Promise<string>>();
  const clients = new Map<string, SecretClient>();

  const lookUpVault = async (vaultName: string, call: CallOptions): Promise<string> => {
    let rows;
    try {
      rows = await options.resourceGraph.query(
        `resources | where type =~ '${TYPES.keyVault}' and name =~ '${vaultName}'`,
        config.watchedSubscriptions,
        call.abortSignal ? { abortSignal: call.abortSignal } : undefined,
      );
    } catch (error) {
      if (isAbort(error)) throw timedOut(`lookup of vault ${vaultName} (Resource Graph)`);
      throw error;
    }
    // A row without `project` carries the resource's properties, vaultUri among them.
    const vaultUri = rows
      .map((row) => (row['properties'] as { vaultUri?: unknown } | undefined)?.vaultUri)
      .find((uri) => typeof uri === 'string');
    if (typeof vaultUri !== 'string')
      throw new InvalidInputError('VaultNotFound', `no Key Vault named ${vaultName} in the watched subscriptions`);
    return vaultUri;
  };

  const resolveVault = (vaultName: string, call: CallOptions = {}): Promise<string> => {
    if (!VAULT_NAME.test(vaultName)) {
      return Promise.reject(
        new InvalidInputError(
          'InvalidVaultName',
          `"${vaultName}" is not a Key Vault name (3-24 letters, digits and hyphens, starting with a letter)`,
        ),
      );
    }
    const key = vaultName.toLowerCase();
    let found = vaultUris.get(key);
    if (!found) {
      found = lookUpVault(vaultName, call);
      vaultUris.set(key, found);
      // Only successes are cached: a vault created a minute later is found next time.
      found.catch(() => vaultUris.delete(key));
    }
    return found;
  };

  const secretClient = async (vaultName: string, call: CallOptions): Promise<SecretClient> => {
    const vaultUri = await resolveVault(vaultName, call);
    let client = clients.get(vaultUri);
    if (!client) {
      client = new SecretClient(vaultUri, credential, { ...options.clientOptions });
      clients.set(vaultUri, client);
    }
    return client;
  };

  return {
    resolveVault,
    async setSecret(vaultName, secretName, value, options) {
      const client = await secretClient(vaultName, options);
      try {
        const result = await client.setSecret(secretName, value.reveal(), {
          abortSignal: options.abortSignal,
          expiresOn: options.expiresOn,
          contentType: options.contentType,
          tags: { ...options.tags },
        });
        return { version: result.properties.version ?? '' };
      } catch (error) {
        throw fromVaultError(error, `set secret ${secretName} in ${vaultName}`);
      }
    },
    async getSecret(vaultName, secretName, options = {}) {
      const client = await secretClient(vaultName, options);
      try {
        const result = await client.getSecret(secretName, { version: options.version, abortSignal: options.abortSignal });
        return {
          value: new Secret(result.value ?? ''),
          version: result.properties.version ?? '',
          tags: { ...(result.properties.tags ?? {}) },
          contentType: result.properties.contentType,
          expiresOn: result.properties.expiresOn,
        };
      } catch (error) {
        if (isRestError(error) && error.statusCode === 404) return undefined;
        throw fromVaultError(error, `get secret ${secretName} from ${vaultName}`);
      }
    },
  };
}

/**
 * A Key Vault RestError as an AppError with Key Vault's code. The RestError is not kept as the
 * cause: it holds the request, whose body is the secret value.
 */
function fromVaultError(error: unknown, operation: string): unknown {
  if (isAbort(error)) return timedOut(`${operation}`);
  if (!isRestError(error)) return error;
  const status = error.statusCode ?? 0;
  const code = error.code ?? `Http${status}`;
  const message = `Key Vault ${operation} failed: ${status} ${code}`;
  if (status === 429 || status >= 500 || status === 0) return new TransientAzureError(code, message);
  if (status === 403)
    return new AppError(
      code === 'Forbidden' ? 'KeyVaultForbidden' : code,
      `${message}: the app needs Key Vault Secrets Officer on the vault`,
    );
  return new AppError(code, message);
}

/** The SDK rejects with an `AbortError` when the call's `abortSignal` fires (here: its timeout). */
export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** A call abandoned at its timeout: transient (the next run tries again), and never with the request attached. */
export function timedOut(operation: string): TransientAzureError {
  return new TransientAzureError(
    'OperationTimedOut',
    `Key Vault ${operation} did not answer within the call timeout (CREDENTIALS_CALL_TIMEOUT_SECONDS); the call was abandoned`,
  );
}
