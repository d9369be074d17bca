import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { resetAll, registerAdminRoutes, seedAll } from './core/admin.js';
import type { RegisterModule } from './core/contract.js';
import { writeLoopbackDnsPreload } from './core/loopbackDns.js';
import { EmulatorCore } from './core/server.js';
import { createTls } from './core/tls.js';
import {
  APP,
  DEFAULT_LOCATION,
  DEFAULT_RESOURCE_GROUP,
  DEFAULT_SUBSCRIPTION_ID,
  DEMO_VAULT,
  OPERATOR,
  TENANT_ID,
} from './core/wellKnown.js';
import { BUILT_IN_ROLE_IDS } from './arm/roles.js';
import { registerGraph } from './graph/index.js';
import { MANAGED_IDENTITY_PATH, registerIdentity } from './identity/index.js';
import { registerKeyVault } from './keyvault/index.js';
import { registerArm } from './arm/index.js';
import { registerEventGrid } from './eventgrid/index.js';

export { APP, DEFAULT_SUBSCRIPTION_ID, DEMO_VAULT, OPERATOR, TENANT_ID } from './core/wellKnown.js';
export { installLoopbackDns } from './core/loopbackDns.js';

export interface StartEmulatorOptions {
  /** Main HTTPS port; 0 (default) picks a free one. */
  readonly port?: number;
  /** A scenario applied after the defaults (same format as POST /admin/seed). */
  readonly scenario?: Record<string, unknown>;
  /** Include the ARM and Event Grid modules when present (default true). */
  readonly arm?: boolean;
  readonly eventGrid?: boolean;
  /** Extra modules registered after the built-in ones (test support: an authorizer when ARM is off). */
  readonly extraModules?: readonly RegisterModule[];
}

export interface EmulatorEndpoints {
  readonly arm: string;
  readonly graph: string;
  readonly login: string;
  readonly keyVault: string;
  readonly keyVaultName: string;
  readonly admin: string;
  readonly identityEndpoint: string;
  readonly identityHeader: string;
  /** Path of the CA PEM that signed every listener's certificate. */
  readonly caCert: string;
  /** Path of a preload resolving *.localhost to loopback (vault hosts), for NODE_OPTIONS=--import. */
  readonly loopbackDnsPreload: string;
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly operator: { readonly clientId: string; readonly clientSecret: string; readonly objectId: string };
  readonly app: { readonly objectId: string; readonly clientId: string };
}

export interface RunningEmulator {
  readonly endpoints: EmulatorEndpoints;
  /** The CA PEM itself, for `tlsOptions: { ca }`. */
  readonly caPem: string;
  /** App settings and process env for the function host child. */
  env(): Record<string, string>;
  stop(): Promise<void>;
  /** Milliseconds startEmulator took. */
  readonly startupMs: number;
}

/**
 * The custom role infra/app/taskCredentialRole.bicep gives the app on each watched subscription:
 * setting an ACR task's `credentials.customRegistries` is a task write, which none of the app's
 * built-in roles include (Reader reads; RBAC Administrator writes role assignments only).
 */
export const TASK_CREDENTIAL_ROLE = {
  name: '5b1c2d3e-7a8b-4c9d-8e0f-a1b2c3d4e5f6',
  roleName: 'acr-pull-automation ACR task credentials',
  description: 'Read ACR tasks and set their custom-registry credentials (az acr task credential add --use-identity).',
  actions: ['Microsoft.ContainerRegistry/registries/tasks/read', 'Microsoft.ContainerRegistry/registries/tasks/write'],
} as const;

/**
 * The custom role infra/app/consumerPullConfigRole.bicep gives the app on each watched subscription:
 * a Container App's registry entry is an app write, a site's acrUseManagedIdentityCreds a sites/config write.
 */
export const CONSUMER_PULL_CONFIG_ROLE = {
  name: '6c2d3e4f-8b9c-4dae-9f10-b2c3d4e5f6a7',
  roleName: 'acr-pull-automation consumer pull settings',
  description: 'Read Container Apps and site configurations, and point their registry pull at their own managed identity.',
  actions: [
    'Microsoft.App/containerApps/read',
    'Microsoft.App/containerApps/write',
    'Microsoft.Web/sites/config/read',
    'Microsoft.Web/sites/config/write',
  ],
} as const;

/**
 * The default scenario: operator, app identity, their Graph permissions and Azure roles (the task
 * credential custom role included), the demo
 * resource group and the demo vault (data plane, and an ARM resource whose `properties.vaultUri` is
 * that data plane, so the vault is found by name through Resource Graph or ARM GET, as in Azure).
 */
function defaultScenario(operatorSecret: string): Record<string, unknown> {
  return {
    identity: {
      principals: [
        {
          objectId: APP.objectId,
          appId: APP.clientId,
          displayName: APP.displayName,
          principalType: 'ServicePrincipal',
          servicePrincipalType: 'ManagedIdentity',
          resourceId: APP.resourceId,
          createdAt: '2024-01-01T00:00:00Z',
        },
      ],
      managedIdentity: APP.objectId,
    },
    graph: {
      applications: [
        {
          id: OPERATOR.applicationObjectId,
          appId: OPERATOR.clientId,
          displayName: OPERATOR.displayName,
          passwords: [{ secretText: operatorSecret, displayName: 'emulator operator', endDateTime: '2099-12-31T00:00:00Z' }],
          servicePrincipal: { id: OPERATOR.objectId },
        },
      ],
      permissions: {
        [OPERATOR.objectId]: ['Application.ReadWrite.All'],
        // The product manages only the pull-credential applications it creates.
        [APP.objectId]: ['Application.ReadWrite.OwnedBy'],
      },
    },
    keyVault: { vaults: [{ name: DEMO_VAULT.name, resourceId: DEMO_VAULT.resourceId }] },
    arm: {
      // Owner on the default subscription.
      operatorObjectId: OPERATOR.objectId,
      resourceGroups: [{ name: DEFAULT_RESOURCE_GROUP, location: DEFAULT_LOCATION }],
      // vaultUri comes from the Key Vault module (ensureVault), seeded above.
      resources: [
        {
          id: DEMO_VAULT.resourceId,
          location: DEFAULT_LOCATION,
          properties: { tenantId: TENANT_ID, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
        },
      ],
      roleDefinitions: [TASK_CREDENTIAL_ROLE, CONSUMER_PULL_CONFIG_ROLE].map((role) => ({
        ...role,
        actions: [...role.actions],
        assignableScopes: [`/subscriptions/${DEFAULT_SUBSCRIPTION_ID}`],
      })),
      // The app's managed identity: what infra/ grants the Function App (read, assign roles,
      // manage identities, set ACR task credentials on the watched subscription; manage secrets on its vault).
      roleAssignments: [
        ...[
          BUILT_IN_ROLE_IDS.Reader,
          BUILT_IN_ROLE_IDS.RoleBasedAccessControlAdministrator,
          BUILT_IN_ROLE_IDS.ManagedIdentityContributor,
          TASK_CREDENTIAL_ROLE.name,
          CONSUMER_PULL_CONFIG_ROLE.name,
        ].map((roleDefinitionId) => ({
          scope: `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}`,
          principalId: APP.objectId,
          principalType: 'ServicePrincipal',
          roleDefinitionId,
        })),
        {
          scope: DEMO_VAULT.resourceId,
          principalId: APP.objectId,
          principalType: 'ServicePrincipal',
          roleDefinitionId: BUILT_IN_ROLE_IDS.KeyVaultSecretsOfficer,
        },
      ],
    },
  };
}

/** Starts every module of the emulator on free loopback ports and applies the default scenario. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const started = performance.now();
  const tls = await createTls();
  const loopbackDnsPreload = await writeLoopbackDnsPreload(tls.dir);
  const core = await EmulatorCore.start({ tls, port: options.port, tenantId: TENANT_ID, defaultSubscriptionId: DEFAULT_SUBSCRIPTION_ID });
  const operatorSecret = randomBytes(24).toString('base64url');
  const defaults = defaultScenario(operatorSecret);
  registerAdminRoutes(core, () => defaults);

  const identity = registerIdentity();
  const modules: RegisterModule[] = [identity, registerGraph, registerKeyVault];
  if (options.arm !== false) modules.push(registerArm);
  if (options.eventGrid !== false) modules.push(registerEventGrid);
  modules.push(...(options.extraModules ?? []));
  let identityHeader = '';
  for (const register of modules) {
    const m = await core.register(register);
    if (m.name === 'identity') identityHeader = (m as unknown as { identityHeader: string }).identityHeader;
  }
  await seedAll(core, defaults);
  if (options.scenario) await seedAll(core, options.scenario);

  const keyVault = await core.services.get('vaults').ensureVault(DEMO_VAULT.name, DEMO_VAULT.resourceId);
  const endpoints: EmulatorEndpoints = {
    arm: core.baseUrl,
    graph: core.baseUrl,
    login: core.baseUrl,
    keyVault,
    keyVaultName: DEMO_VAULT.name,
    admin: `${core.baseUrl}/admin`,
    identityEndpoint: `${core.baseUrl}${MANAGED_IDENTITY_PATH}`,
    identityHeader,
    caCert: tls.caCertPath,
    loopbackDnsPreload,
    tenantId: TENANT_ID,
    subscriptionId: DEFAULT_SUBSCRIPTION_ID,
    operator: { clientId: OPERATOR.clientId, clientSecret: operatorSecret, objectId: OPERATOR.objectId },
    app: { objectId: APP.objectId, clientId: APP.clientId },
  };
  const startupMs = Math.round(performance.now() - started);
  return {
    endpoints,
    caPem: tls.caCert,
    startupMs,
    env: () => ({
      IDENTITY_ENDPOINT: endpoints.identityEndpoint,
      IDENTITY_HEADER: endpoints.identityHeader,
      NODE_EXTRA_CA_CERTS: endpoints.caCert,
      NODE_OPTIONS: `--import=${endpoints.loopbackDnsPreload}`,
      AZURE_AUTHORITY_HOST: endpoints.login,
      AZURE_TENANT_ID: endpoints.tenantId,
      ARM_ENDPOINT: endpoints.arm,
      GRAPH_ENDPOINT: endpoints.graph,
      KEY_VAULT_URL: endpoints.keyVault,
      KEY_VAULT_NAME: endpoints.keyVaultName,
      AZURE_SUBSCRIPTION_ID: endpoints.subscriptionId,
    }),
    async stop() {
      await core.stop();
      await rm(tls.dir, { recursive: true, force: true });
    },
  };
}

export { resetAll };
