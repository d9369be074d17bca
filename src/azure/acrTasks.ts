/**
 * ACR task credentials: what `az acr task credential add --use-identity` does — a PATCH of the
 * task with `properties.credentials.customRegistries[<loginServer>] = { identity }`, where identity
 * is `[system]` for the system-assigned identity or a user-assigned identity's client id.
 * The task's response echoes `customRegistries` by login server only, every value null
 * (containerregistry/.../2019-06-01-preview/examples/TasksGet.json): it says an entry exists, never
 * whose it is or what it holds. So callers record what they wrote (the grant index) and read the
 * keys only to see whether an entry they did not write is there — which is never changed.
 * https://learn.microsoft.com/rest/api/container-registry/tasks/update (api-version 2019-06-01-preview)
 */
import type { TokenCredential } from '@azure/identity';
import type { Client } from '@azure-rest/core-client';
import type { Config } from '../config.js';
import { createArmClient, createArmResources, type ArmResource, type ArmResources, type AzureClientOptions } from './arm.js';

/** The identity value ACR uses for a task's system-assigned identity. */
export const SYSTEM_IDENTITY = '[system]';

export interface AcrTasks {
  /** Makes the task authenticate to `loginServer` with `identity` ('[system]' or a client id). */
  setCustomRegistryIdentity(taskId: string, loginServer: string, identity: string, options?: { abortSignal?: AbortSignal }): Promise<void>;
  /** Removes the task's credential entry for `loginServer` (`az acr task credential remove`). */
  removeCustomRegistry(taskId: string, loginServer: string, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** Creates the ACR task adapter; one per app, built in deps.ts. */
export function createAcrTasks(
  config: Config,
  credential: TokenCredential,
  options: { client?: Client; arm?: ArmResources; clientOptions?: AzureClientOptions } = {},
): AcrTasks {
  const arm =
    options.arm ??
    createArmResources(config, credential, { client: options.client ?? createArmClient(config, credential, options.clientOptions) });
  return {
    async setCustomRegistryIdentity(taskId, loginServer, identity, opts) {
      await arm.patchResource(taskId, customRegistriesBody(loginServer, { identity }), opts);
    },
    async removeCustomRegistry(taskId, loginServer, opts) {
      await arm.patchResource(taskId, customRegistriesBody(loginServer, null), opts);
    },
  };
}

/** The TaskUpdateParameters body that sets (or, with null, removes) one custom registry credential. */
export function customRegistriesBody(loginServer: string, entry: { identity: string } | null): unknown {
  return { properties: { credentials: { customRegistries: { [loginServer.toLowerCase()]: entry } } } };
}

/**
 * The login servers (lower-cased) the task has a custom-registry credential for, from its GET
 * response; undefined when the response carries no `customRegistries` map at all (nothing can be
 * told apart then, so callers go by what they wrote).
 */
export function customRegistryLoginServers(task: ArmResource): ReadonlySet<string> | undefined {
  const credentials = task.properties?.['credentials'];
  if (typeof credentials !== 'object' || credentials === null) return undefined;
  const registries = (credentials as Record<string, unknown>)['customRegistries'];
  if (typeof registries !== 'object' || registries === null || Array.isArray(registries)) return undefined;
  return new Set(Object.keys(registries).map((k) => k.toLowerCase()));
}
