/**
 * Well-known ids of the emulated tenant, shared by every module (ARM gives the operator Owner on
 * the default subscription; Graph and Entra know its application and password).
 */
export const TENANT_ID = '72f988bf-0000-4000-8000-00000000e001';
export const DEFAULT_SUBSCRIPTION_ID = '00000000-0000-4000-8000-00000000a001';
export const DEFAULT_RESOURCE_GROUP = 'demo-rg';
export const DEFAULT_LOCATION = 'westeurope';

/** The operator: a service principal with a client secret, Owner on the default subscription. */
export const OPERATOR = {
  objectId: '0a000000-0000-4000-8000-0000000000a1',
  clientId: '0a000000-0000-4000-8000-0000000000c1',
  applicationObjectId: '0a000000-0000-4000-8000-0000000000b1',
  displayName: 'emulator-operator',
} as const;

/** The product's Function App: its system-assigned managed identity. */
export const APP = {
  objectId: '0b000000-0000-4000-8000-0000000000a1',
  clientId: '0b000000-0000-4000-8000-0000000000c1',
  displayName: 'acr-pull-automation',
  resourceId: `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.Web/sites/acr-pull-automation`,
} as const;

export const DEMO_VAULT = {
  name: 'demo-vault',
  resourceId: `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/demo-vault`,
} as const;

/** Token audiences (the `resource` a client asks for), compared without a trailing slash. */
export const AUDIENCES = {
  arm: ['https://management.azure.com', 'https://management.core.windows.net'],
  graph: ['https://graph.microsoft.com', '00000003-0000-0000-c000-000000000000'],
  /** Local vaults live under *.vault.localhost, so their challenge names this resource. */
  keyVault: ['https://vault.localhost'],
} as const;

/** Parent domain of every local vault's host: `<vault>.vault.localhost`. */
export const VAULT_DOMAIN = 'vault.localhost';
