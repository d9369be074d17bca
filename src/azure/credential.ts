import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';

/**
 * The app's identity: in Azure the Function App's managed identity (system-assigned, or the
 * user-assigned one named by AZURE_CLIENT_ID). Built once; the SDK caches and refreshes tokens.
 */
export function createCredential(config: Config): TokenCredential {
  return new DefaultAzureCredential(config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {});
}
