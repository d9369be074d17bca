/**
 * Container Apps registry credentials: what `az containerapp registry set --server <login server>
 * --identity system|<identity id>` does — the app's `properties.configuration.registries` holds one
 * RegistryCredentials `{ server, identity }` per registry it pulls from with a managed identity
 * (`'system'` for the system-assigned one, the user-assigned identity's resource id otherwise), or
 * `{ server, username, passwordSecretRef }` for a password.
 * Wire shape: app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/ContainerApps.json
 * (RegistryCredentials) and examples/ContainerApps_CreateOrUpdate.json; the update is a PATCH
 * (JSON merge patch: an array is replaced whole, so the list sent is the whole list).
 * `configuration` is not versioned: changing registries creates no new revision
 * (https://learn.microsoft.com/azure/container-apps/revisions, "Change types").
 */
import type { TokenCredential } from '@azure/identity';
import type { Client } from '@azure-rest/core-client';
import type { Config } from '../config.js';
import { createArmClient, createArmResources, type ArmResource, type ArmResources, type AzureClientOptions } from './arm.js';

/** The identity value a registry entry uses for the app's system-assigned identity. */
export const CONTAINER_APP_SYSTEM_IDENTITY = 'system';

/** One `configuration.registries` entry as ARM returns it (a password entry names its secret, never its value). */
export interface RegistryCredential {
  readonly server: string;
  readonly identity?: string;
  readonly username?: string;
  readonly passwordSecretRef?: string;
}

export interface ContainerApps {
  /** The app as ARM has it now (undefined: gone), read again right before a change so the list written is current. */
  get(appId: string, options?: { abortSignal?: AbortSignal }): Promise<ArmResource | undefined>;
  /** Replaces `configuration.registries` with this list (entries of others passed back as they were read). */
  setRegistries(appId: string, registries: readonly RegistryCredential[], options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** Creates the Container Apps adapter; one per app, built in deps.ts. */
export function createContainerApps(
  config: Config,
  credential: TokenCredential,
  options: { client?: Client; arm?: ArmResources; clientOptions?: AzureClientOptions } = {},
): ContainerApps {
  const arm =
    options.arm ??
    createArmResources(config, credential, { client: options.client ?? createArmClient(config, credential, options.clientOptions) });
  return {
    get: (appId, opts) => arm.getResource(appId, opts),
    async setRegistries(appId, registries, opts) {
      await arm.patchResource(appId, { properties: { configuration: { registries: registries.map((r) => ({ ...r })) } } }, opts);
    },
  };
}

/** The app's registry entries as its response lists them (none when it has no `configuration.registries`). */
export function registriesOf(app: ArmResource): RegistryCredential[] {
  const configuration = app.properties?.['configuration'];
  if (typeof configuration !== 'object' || configuration === null) return [];
  const registries = (configuration as Record<string, unknown>)['registries'];
  if (!Array.isArray(registries)) return [];
  const out: RegistryCredential[] = [];
  for (const r of registries) {
    if (typeof r !== 'object' || r === null || typeof (r as Record<string, unknown>)['server'] !== 'string') continue;
    const e = r as Record<string, unknown>;
    out.push({
      server: e['server'] as string,
      ...(typeof e['identity'] === 'string' && e['identity'] ? { identity: e['identity'] } : {}),
      ...(typeof e['username'] === 'string' && e['username'] ? { username: e['username'] } : {}),
      ...(typeof e['passwordSecretRef'] === 'string' && e['passwordSecretRef'] ? { passwordSecretRef: e['passwordSecretRef'] } : {}),
    });
  }
  return out;
}
