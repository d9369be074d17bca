/**
 * Every Event Grid subscription the app expects, by function: the infra creates them in Azure
 * and the local stack creates the same ones for itself, from this one list.
 */
import { RESOURCE_EVENT_SUBSCRIPTION, type AdvancedFilter } from './access/eventSubscription.js';

export interface AppEventSubscription {
  /** The function's name, as registered with `app.eventGrid`. */
  readonly functionName: string;
  readonly includedEventTypes: readonly string[];
  readonly advancedFilters?: readonly AdvancedFilter[];
}

/** Key Vault's near-expiry events for the rotation function (https://learn.microsoft.com/azure/event-grid/event-schema-key-vault). */
export const KEY_VAULT_EVENT_SUBSCRIPTION: AppEventSubscription = {
  functionName: 'keyVaultSecretEvents',
  includedEventTypes: ['Microsoft.KeyVault.SecretNearExpiry'],
};

export const APP_EVENT_SUBSCRIPTIONS: readonly AppEventSubscription[] = [RESOURCE_EVENT_SUBSCRIPTION, KEY_VAULT_EVENT_SUBSCRIPTION];
