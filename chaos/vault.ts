/**
 * What Key Vault serves for a registry, and whether it works, read as a pull client's owner would:
 * the operator is given Key Vault Secrets User on the demo vault (Owner of the subscription has no
 * data actions), reads `<acr>-pull-usr` / `-pwd` with the real SDK client, and signs in with them by
 * client credentials at the emulator's Entra endpoint. Never the app's own account; the values are
 * used for the sign-in only and never printed.
 */
import { AuthenticationError, ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { DEMO_VAULT } from '../emulator/index.js';
import type { Operator } from '../scripts/operator.js';
import type { RunningStack } from '../scripts/stack.js';

const KEY_VAULT_SECRETS_USER = '4633458b-17de-408a-b874-0445c86b69e6';
/** One fixed name: the grant is the same on every call (a PUT of the same assignment is a no-op). */
const READER_ASSIGNMENT = '2c0ffee0-0000-4000-8000-00000000c4a0';

export interface SignInResult {
  readonly ok: boolean;
  /** Why it did not: no secret, or Entra's error code. Never the value. */
  readonly error?: string;
}

export interface VaultProbe {
  /** Reads what the vault serves for the registry and signs in with it. */
  signsIn(registryName: string): Promise<SignInResult>;
  /** The application's passwords, from the emulator's own records (Graph's state: key ids only). */
  passwordsOf(registryName: string): Promise<number | undefined>;
  /** Every secret name in the vault, from the emulator's records. */
  secretNames(): Promise<string[]>;
}

export async function vaultProbe(stack: RunningStack, operator: Operator): Promise<VaultProbe> {
  const e = stack.emulator!.endpoints;
  const ca = stack.emulator!.caPem;
  try {
    await operator.arm(
      'PUT',
      `${DEMO_VAULT.resourceId}/providers/Microsoft.Authorization/roleAssignments/${READER_ASSIGNMENT}`,
      '2022-04-01',
      {
        properties: {
          roleDefinitionId: `/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${KEY_VAULT_SECRETS_USER}`,
          principalId: e.operator.objectId,
          principalType: 'ServicePrincipal',
        },
      },
    );
  } catch (error) {
    // The demo gives the operator the same role under another name: already done.
    if (!/RoleAssignmentExists/.test(String(error))) throw error;
  }
  const vault = new SecretClient(e.keyVault, operator.credential, { tlsOptions: { ca } });
  const state = () =>
    operator.admin<{
      modules: {
        keyVault: Record<string, { secrets: Array<{ name: string }> }>;
        graph: { applications: Array<{ appId: string; passwordCredentials?: unknown[] }> };
      };
    }>('GET', '/state');
  const usernameOf = async (registryName: string): Promise<string | undefined> => {
    try {
      return (await vault.getSecret(`${registryName}-pull-usr`)).value;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  };
  return {
    async signsIn(registryName) {
      const appId = await usernameOf(registryName);
      if (!appId) return { ok: false, error: `${registryName}-pull-usr is not served` };
      let password: string | undefined;
      try {
        password = (await vault.getSecret(`${registryName}-pull-pwd`)).value;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return { ok: false, error: `${registryName}-pull-pwd is not served` };
        throw error;
      }
      if (!password) return { ok: false, error: `${registryName}-pull-pwd is empty` };
      const credential = new ClientSecretCredential(e.tenantId, appId, password, {
        authorityHost: e.login,
        disableInstanceDiscovery: true,
        tlsOptions: { ca },
      });
      try {
        await credential.getToken(`${e.arm}/.default`);
        return { ok: true };
      } catch (error) {
        return { ok: false, error: error instanceof AuthenticationError ? error.errorResponse.error : 'sign-in failed' };
      }
    },
    async passwordsOf(registryName) {
      const appId = await usernameOf(registryName);
      if (!appId) return undefined;
      const app = (await state()).modules.graph.applications.find((a) => a.appId === appId);
      return app?.passwordCredentials?.length;
    },
    async secretNames() {
      const vaultState = (await state()).modules.keyVault[DEMO_VAULT.name];
      return (vaultState?.secrets ?? []).map((s) => s.name).sort();
    },
  };
}
