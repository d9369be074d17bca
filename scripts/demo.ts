/**
 * The `npm start` demo: plays a platform engineer's day through the real path — ARM writes on the
 * emulator, Event Grid delivery, the functions, Azure back again — and prints what happened.
 * Every line it prints is read back from ARM, Key Vault or the audit trail, never assumed.
 */
import { randomUUID } from 'node:crypto';
import { SecretClient } from '@azure/keyvault-secrets';
import { installLoopbackDns } from '../emulator/index.js';
import { createOperator } from './operator.js';
import type { StackEndpoints } from './stack.js';

const API = { resources: '2024-03-01', registries: '2025-11-01', compute: '2024-07-01', authorization: '2022-04-01', tags: '2021-04-01' };
const KEY_VAULT_SECRETS_USER = '4633458b-17de-408a-b874-0445c86b69e6';

export interface DemoOptions {
  readonly endpoints: StackEndpoints;
  readonly caPem: string;
  readonly print: (line: string) => void;
  /** Resource group the demo works in. */
  readonly resourceGroup?: string;
}

interface RoleAssignment {
  readonly name: string;
  readonly properties: { principalId: string; roleDefinitionId: string; createdOn?: string; description?: string };
}

/** Plays every scene; resolves when the last one is printed. Throws when a scene's outcome is not what the product promises. */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { endpoints: e, caPem, print } = options;
  if (!e.subscriptionId || !e.operator) throw new Error('the demo needs the emulator');
  const operator = createOperator(e, caPem);
  const { arm, credential } = operator;
  const settle = () => operator.idle(30_000);

  const sub = `/subscriptions/${e.subscriptionId}`;
  const rg = `${sub}/resourceGroups/${options.resourceGroup ?? 'demo-rg'}`;
  const location = 'westeurope';
  const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
  const vmId = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
  const assignmentsOn = async (scope: string, principalId: string): Promise<RoleAssignment[]> => {
    const filter = encodeURIComponent(`principalId eq '${principalId}'`);
    const response = await arm(
      'GET',
      `${scope}/providers/Microsoft.Authorization/roleAssignments`,
      `${API.authorization}&$filter=${filter}`,
    );
    return response.json<{ value: RoleAssignment[] }>().value;
  };
  const lastEventTime = async (resourceId: string): Promise<Date | undefined> => {
    const events = (await operator.admin<{ value: { subject: string; eventTime: string }[] }>('GET', '/eventgrid/events')).value;
    const mine = events.filter((ev) => ev.subject.toLowerCase() === resourceId.toLowerCase());
    return mine.length ? new Date(mine[mine.length - 1]!.eventTime) : undefined;
  };

  // The stage: two registries (one consents to its own resource group) and a VM with a managed identity.
  await arm('PUT', rg, API.resources, { location });
  await arm('PUT', registryId('contosoacr'), API.registries, {
    location,
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
  });
  await arm('PUT', registryId('fabrikamacr'), API.registries, { location, sku: { name: 'Standard' } });
  const vm = (
    await arm('PUT', vmId, API.compute, {
      location,
      identity: { type: 'SystemAssigned' },
      properties: { hardwareProfile: { vmSize: 'Standard_B2s' } },
    })
  ).json<{ identity: { principalId: string } }>();
  const principalId = vm.identity.principalId;
  await settle();

  print('demo: tagged vm-web-1 acr-pull=contosoacr');
  await arm('PATCH', `${vmId}/providers/Microsoft.Resources/tags/default`, API.tags, {
    operation: 'Merge',
    properties: { tags: { 'acr-pull': 'contosoacr' } },
  });
  await settle();
  const granted = (await assignmentsOn(registryId('contosoacr'), principalId)).filter((a) =>
    a.properties.roleDefinitionId.toLowerCase().endsWith('7f951dda-4ed3-4680-a7ca-43fe172d538d'),
  );
  if (granted.length !== 1) throw new Error(`expected one AcrPull assignment for vm-web-1, found ${granted.length}`);
  const eventTime = await lastEventTime(vmId);
  const createdOn = granted[0]!.properties.createdOn ? new Date(granted[0]!.properties.createdOn) : undefined;
  const latencyMs = eventTime && createdOn ? createdOn.getTime() - eventTime.getTime() : undefined;
  const latency =
    latencyMs === undefined ? '' : `   ${latencyMs < 1000 ? `${latencyMs} ms` : `${(latencyMs / 1000).toFixed(1)} s`} after the event`;
  print(`  → AcrPull granted on contosoacr to vm-web-1 (system-assigned ${principalId.slice(0, 4)}…)${latency}`);

  print('demo: tagged vm-web-1 acr-pull=fabrikamacr (which has not opted in)');
  await arm('PATCH', `${vmId}/providers/Microsoft.Resources/tags/default`, API.tags, {
    operation: 'Merge',
    properties: { tags: { 'acr-pull': 'contosoacr,fabrikamacr' } },
  });
  await settle();
  if ((await assignmentsOn(registryId('fabrikamacr'), principalId)).length !== 0)
    throw new Error('fabrikamacr granted access without consent');
  const denied = await latestAudit(e, caPem, registryId('fabrikamacr'));
  print(`  → no grant on fabrikamacr: ${denied ?? 'denied by registry consent'}`);

  print('demo: tagged registry fabrikamacr acr-pull-credential=demo-vault');
  await arm('PATCH', `${registryId('fabrikamacr')}/providers/Microsoft.Resources/tags/default`, API.tags, {
    operation: 'Merge',
    properties: { tags: { 'acr-pull-credential': e.keyVaultName ?? 'demo-vault' } },
  });
  await settle();
  // Read the secrets as a platform engineer would: with a data-plane role on the vault.
  const vaultId = `${rg}/providers/Microsoft.KeyVault/vaults/${e.keyVaultName ?? 'demo-vault'}`;
  await arm('PUT', `${vaultId}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}`, API.authorization, {
    properties: {
      roleDefinitionId: `${sub}/providers/Microsoft.Authorization/roleDefinitions/${KEY_VAULT_SECRETS_USER}`,
      principalId: e.operator.objectId,
      principalType: 'ServicePrincipal',
    },
  }).catch(() => undefined); // already there from an earlier run of the demo
  // Local vaults are <name>.vault.localhost (emulator/README.md, "Differences from Azure").
  installLoopbackDns();
  const secrets = new SecretClient(e.keyVault ?? '', credential, { tlsOptions: { ca: caPem } });
  const readSecret = (name: string) =>
    secrets.getSecret(name).catch((error: unknown) => {
      throw new Error(
        `fabrikamacr pull credentials are not readable in ${e.keyVaultName}: ${name}: ${(error as { code?: string }).code ?? String(error)}`,
      );
    });
  await readSecret('fabrikamacr-pull-usr');
  const pwd = await readSecret('fabrikamacr-pull-pwd');
  const expires = pwd.properties.expiresOn?.toISOString().slice(0, 10) ?? 'no expiry';
  print(`  → pull credentials stored in ${e.keyVaultName} as fabrikamacr-pull-usr / -pwd, expire ${expires}`);

  print('demo: untagged vm-web-1');
  await arm('PATCH', `${vmId}/providers/Microsoft.Resources/tags/default`, API.tags, {
    operation: 'Delete',
    properties: { tags: { 'acr-pull': '' } },
  });
  await settle();
  if ((await assignmentsOn(registryId('contosoacr'), principalId)).length !== 0) throw new Error('AcrPull was not revoked');
  print('  → AcrPull revoked');

  print(`Audit trail: curl "${e.functions}/api/audit?code=$(node -p \"require('./.local/endpoints.json').functionKey\")"`);
}

/** The reason of the newest audit row about a registry, read through the app's own HTTP API. */
async function latestAudit(e: StackEndpoints, caPem: string, registry: string): Promise<string | undefined> {
  void caPem;
  const response = await fetch(`${e.functions}/api/audit?registry=${encodeURIComponent(registry)}`, {
    headers: { 'x-functions-key': e.functionKey },
  });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { items?: { reason: string; outcome: string }[] };
  return body.items?.find((i) => i.outcome === 'denied-by-consent')?.reason;
}
