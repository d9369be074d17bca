/**
 * A credentials test world: the emulator (with ARM) and Azurite, and the real adapters built
 * against them exactly as src/deps.ts builds them in Azure. No Azure API is mocked.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../../../src/config.js';
import { createArmClient } from '../../../src/azure/arm.js';
import type { AuditLog } from '../../../src/audit/auditLog.js';
import type { CredentialsDeps } from '../../../src/credentials/deps.js';
import { createGraph } from '../../../src/azure/graph.js';
import { createVaultSecrets } from '../../../src/azure/keyVault.js';
import { passwordSecretName } from '../../../src/credentials/enrolment.js';
import { startTestEmulator, type TestEmulator } from '../../support/emulator.js';
import { APP, OPERATOR } from '../../../emulator/index.js';
import { buildDeps } from './buildDeps.js';

export interface World {
  readonly emulator: TestEmulator;
  readonly config: Config;
  readonly operator: TokenCredential;
  readonly audit: AuditLog;
  deps(overrides?: Partial<CredentialsDeps>): CredentialsDeps;
  /** App settings and process env a child process needs to build the same deps. */
  readonly childEnv: Record<string, string>;
  /** Creates a resource group, a vault and a registry through ARM (as the operator). */
  newRegistry(options?: {
    tags?: Record<string, string>;
    roleAssignmentMode?: string;
  }): Promise<{ registryId: string; registryName: string; vaultName: string }>;
  /** Creates another vault in the registry's resource group (as the operator). */
  newVault(registryId: string): Promise<string>;
  /** What Key Vault serves for the registry's password, and whether Entra accepts it. */
  servedPassword(registryName: string, vaultName: string, appId: string): Promise<{ keyId?: string; works: boolean; value?: string }>;
  passwordsOnApp(appId: string): Promise<readonly { keyId: string; displayName?: string }[]>;
  stop(): Promise<void>;
}

export async function startWorld(settings: Record<string, string> = {}): Promise<World> {
  const emulator = await startTestEmulator({
    arm: true,
    scenario: { arm: { operatorObjectId: OPERATOR.objectId, appObjectId: APP.objectId } },
  });
  const e = emulator.endpoints;
  // The app's managed identity, through the App Service protocol, as in Azure.
  process.env['IDENTITY_ENDPOINT'] = e.identityEndpoint;
  process.env['IDENTITY_HEADER'] = e.identityHeader;
  const env: Record<string, string> = {
    AZURE_TENANT_ID: e.tenantId,
    WATCHED_SUBSCRIPTIONS: e.subscriptionId,
    ARM_ENDPOINT: e.arm,
    GRAPH_ENDPOINT: e.graph,
    AZURE_AUTHORITY_HOST: e.login,
    TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
    TABLE_PREFIX: `c${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    ROTATION_GRACE_HOURS: '24',
    ...settings,
  };
  const built = buildDeps(env, emulator.caPem);
  const { config } = built;
  const operator = emulator.operatorCredential();
  const operatorArm = createArmClient(config, operator, emulator.clientOptions);
  const operatorGraph = createGraph(config, operator, { clientOptions: emulator.clientOptions });
  const vaults = createVaultSecrets(config, built.credential, {
    resourceGraph: built.resourceGraph,
    clientOptions: emulator.clientOptions,
  });

  const armPut = async (id: string, body: unknown, apiVersion: string) => {
    const response = await operatorArm.pathUnchecked(id).put({ queryParameters: { 'api-version': apiVersion }, body });
    if (!['200', '201'].includes(response.status)) throw new Error(`PUT ${id}: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };

  return {
    emulator,
    config,
    operator,
    audit: built.audit,
    childEnv: {
      ...env,
      IDENTITY_ENDPOINT: e.identityEndpoint,
      IDENTITY_HEADER: e.identityHeader,
      EMULATOR_CA: e.caCert,
      EMULATOR_SUBSCRIPTION: e.subscriptionId,
    },
    deps: (overrides = {}) => ({ ...built.deps, ...overrides }),
    async newRegistry(options = {}) {
      const suffix = randomUUID().replace(/-/g, '').slice(0, 8);
      const rg = `/subscriptions/${e.subscriptionId}/resourceGroups/rg-${suffix}`;
      await armPut(rg, { location: 'westeurope' }, '2021-04-01');
      const vaultName = `kv-${suffix}`;
      await armPut(
        `${rg}/providers/Microsoft.KeyVault/vaults/${vaultName}`,
        {
          location: 'westeurope',
          properties: { tenantId: e.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
        },
        '2023-07-01',
      );
      const registryName = `acr${suffix}`;
      const registryId = `${rg}/providers/Microsoft.ContainerRegistry/registries/${registryName}`;
      await armPut(
        registryId,
        {
          location: 'westeurope',
          sku: { name: 'Standard' },
          tags: options.tags ?? {},
          properties: options.roleAssignmentMode ? { roleAssignmentMode: options.roleAssignmentMode } : {},
        },
        '2025-11-01',
      );
      return { registryId, registryName, vaultName };
    },
    async newVault(registryId) {
      const rg = registryId.split('/providers/')[0]!;
      const vaultName = `kv-${randomUUID().replace(/-/g, '').slice(0, 8)}`;
      await armPut(
        `${rg}/providers/Microsoft.KeyVault/vaults/${vaultName}`,
        {
          location: 'westeurope',
          properties: { tenantId: e.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
        },
        '2023-07-01',
      );
      return vaultName;
    },
    async servedPassword(registryName, vaultName, appId) {
      const secret = await vaults.getSecret(vaultName, passwordSecretName(registryName));
      if (!secret) return { works: false };
      // A client-credentials sign-in as a pull client does it, independent of the product's own proof.
      const works = await emulator
        .credentialFor(appId, secret.value.reveal())
        .getToken(`${e.arm}/.default`)
        .then(
          () => true,
          () => false,
        );
      return { keyId: secret.tags['keyId'], works, value: secret.value.reveal() };
    },
    async passwordsOnApp(appId) {
      const app = await operatorGraph.getApplicationByAppId(appId);
      return app?.passwordCredentials ?? [];
    },
    stop: () => emulator.stop(),
  };
}
