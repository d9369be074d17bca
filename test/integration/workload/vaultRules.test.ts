/**
 * Which vaults workload identity may touch (issue 13 point 3, issue 14 point 6), with the real adapters
 * against the emulator and Azurite: vaults default to no consent whatever ACCESS_DEFAULT_CONSENT says;
 * the app's own vaults (CREDENTIALS_VAULT_NAMES, a registry's acr-pull-credential tag, an enrolment) are
 * refused and ours there revoked; a vault in access-policy mode gets a `denied` row naming its
 * permission model instead of a grant that would do nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createDeps, type Deps } from '../../../src/deps.js';
import { ROLES } from '../../../src/policy/roles.js';
import { reconcileWorkloadIdentity } from '../../../src/workload/reconcileWorkloadIdentity.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

const VAULT_API = '2023-07-01';
let h: AccessHarness;
let rg: string;
let seq = 0;

const reconcile = (id: string, deps: Deps = h.deps, dryRun = false) =>
  reconcileWorkloadIdentity(deps, id, { log: h.log, trigger: { eventId: `evt-vault-${++seq}`, caller: 'tester' }, dryRun });
const outcomes = (r: { decisions: readonly { outcome: string }[] }) => r.decisions.map((d) => d.outcome);
const secretsUsersAt = async (scope: string) =>
  (await h.assignmentsAt(scope)).filter((a) => a.roleDefinitionId === ROLES.keyVaultSecretsUser.roleDefinitionId);

/** The same app with other settings: another deps object over the same emulator and Azurite. */
function depsWith(env: Record<string, string>): Deps {
  const c = h.deps.config;
  const config = loadConfig({
    AZURE_TENANT_ID: c.tenantId,
    ARM_ENDPOINT: c.armEndpoint,
    WATCHED_SUBSCRIPTIONS: c.watchedSubscriptions.join(','),
    TABLES_CONNECTION_STRING: c.tables.connectionString ?? '',
    TABLE_PREFIX: c.tablePrefix,
    ...env,
  });
  return createDeps(config, h.emu.operatorCredential(), { clientOptions: h.emu.clientOptions });
}

/**
 * A Key Vault written as the operator. Follows keyvault/.../stable/2023-07-01/examples/createVault.json,
 * trimmed; `rbac` 'unset' leaves `enableRbacAuthorization` out (false under api-version 2023-07-01).
 */
async function vault(name: string, tags: Record<string, string>, rbac: boolean | 'unset' = true): Promise<string> {
  const id = `${rg}/providers/Microsoft.KeyVault/vaults/${name}`;
  const properties = {
    tenantId: h.emu.endpoints.tenantId,
    sku: { family: 'A', name: 'standard' },
    ...(rbac === 'unset' ? {} : { enableRbacAuthorization: rbac }),
  };
  await h.put(id, VAULT_API, { location: 'westeurope', tags, properties });
  return id;
}
async function identity(name: string, tags: Record<string, string>): Promise<{ id: string; principalId: string }> {
  const id = `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  const body = await h.put(id, API.identity, { location: 'westeurope', tags });
  return { id, principalId: body.properties.principalId };
}

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-vault-rules');
});
afterAll(async () => h?.stop());

describe('vault consent default', () => {
  it('grants nothing on a vault without acr-workload-allow though ACCESS_DEFAULT_CONSENT covers the identity', async () => {
    const relaxed = depsWith({ ACCESS_DEFAULT_CONSENT: 'same-resource-group' });
    const kv = await vault('kv-rules-default', {});
    const id = await identity('id-rules-default', { 'acr-workload-vault': 'kv-rules-default' });
    const result = await reconcile(id.id, relaxed);
    expect(outcomes(result)).toEqual(['denied-by-consent']);
    expect(result.decisions[0]!.reason).toMatch(/Key Vault kv-rules-default has no acr-workload-allow tag and the default is none/);
    expect(await secretsUsersAt(kv)).toEqual([]);
  });
});

describe("the app's own vaults", () => {
  it('refuses a vault named in CREDENTIALS_VAULT_NAMES, though it consents, and revokes ours there', async () => {
    const kv = await vault('kv-rules-own', { 'acr-workload-allow': '*' });
    const id = await identity('id-rules-own', { 'acr-workload-vault': 'kv-rules-own' });
    // Granted while the app did not know the vault as its own (an upgrade, or a setting added later).
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    expect((await secretsUsersAt(kv)).map((a) => a.principalId)).toEqual([id.principalId]);

    const result = await reconcile(id.id, depsWith({ CREDENTIALS_VAULT_NAMES: 'other-kv,KV-Rules-Own' }));
    expect(outcomes(result)).toEqual(['denied', 'revoked']);
    expect(result.decisions[0]).toMatchObject({
      action: 'grant',
      errorCode: 'CredentialsVault',
      principalId: id.principalId,
      details: { vault: kv },
    });
    expect(result.decisions[0]!.reason).toMatch(
      /Key Vault kv-rules-own holds the automation's pull credentials \(CREDENTIALS_VAULT_NAMES names it\)/,
    );
    expect(await secretsUsersAt(kv)).toEqual([]);
  });

  it("refuses a vault a registry's acr-pull-credential tag names, read when deciding", async () => {
    const kv = await vault('kv-rules-tagged', { 'acr-workload-allow': '*' });
    const id = await identity('id-rules-tagged', { 'acr-workload-vault': 'kv-rules-tagged' });
    const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/rulesacr`;
    await h.put(acr, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-credential': 'KV-rules-tagged' },
    });
    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied']);
    expect(result.decisions[0]).toMatchObject({ errorCode: 'CredentialsVault' });
    expect(result.decisions[0]!.reason).toMatch(/registry rulesacr's acr-pull-credential tag names it/);
    expect(await secretsUsersAt(kv)).toEqual([]);
  });

  it('refuses a vault an enrolment stores pull credentials in', async () => {
    const kv = await vault('kv-rules-enrolled', { 'acr-workload-allow': '*' });
    const id = await identity('id-rules-enrolled', { 'acr-workload-vault': 'kv-rules-enrolled' });
    // An enrolment row as the credentials feature writes it (its registry tag since removed).
    await h.deps.credentials.store.create({
      registryId: `/subscriptions/${h.sub}/resourceGroups/rg-vault-rules/providers/Microsoft.ContainerRegistry/registries/enrolledacr`,
      registryName: 'enrolledacr',
      vaultName: 'kv-rules-enrolled',
      status: 'active',
      phase: 'idle',
    });
    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied']);
    expect(result.decisions[0]!.reason).toMatch(/registry enrolledacr stores its pull credentials there/);
    expect(await secretsUsersAt(kv)).toEqual([]);
  });
});

describe('vaults in access-policy mode', () => {
  it.each([
    { name: 'kv-rules-ap-false', rbac: false as boolean | 'unset', says: 'enableRbacAuthorization=false' },
    { name: 'kv-rules-ap-unset', rbac: 'unset' as const, says: 'enableRbacAuthorization=false' },
  ])('grants nothing on $name and says the permission model ($says) makes the role useless', async ({ name, rbac, says }) => {
    const kv = await vault(name, { 'acr-workload-allow': 'same-resource-group' }, rbac);
    const id = await identity(`id-${name}`, { 'acr-workload-vault': name });
    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied']);
    expect(result.decisions[0]).toMatchObject({ action: 'grant', errorCode: 'VaultAccessPolicyMode', principalId: id.principalId });
    expect(result.decisions[0]!.reason).toContain(
      `uses the access-policy permission model (${says}), where Key Vault Secrets User has no effect`,
    );
    expect(await secretsUsersAt(kv)).toEqual([]);
    const rows = (await h.deps.audit.query({ resourceId: id.id })).items;
    expect(rows.filter((r) => r.outcome === 'granted')).toEqual([]);
  });

  it('revokes ours when a vault switches to access policies, and grants again when it switches back', async () => {
    const kv = await vault('kv-rules-switch', { 'acr-workload-allow': 'same-resource-group' });
    const id = await identity('id-rules-switch', { 'acr-workload-vault': 'kv-rules-switch' });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    await vault('kv-rules-switch', { 'acr-workload-allow': 'same-resource-group' }, false);
    expect(outcomes(await reconcile(kv))).toEqual(['denied', 'revoked']);
    expect(await secretsUsersAt(kv)).toEqual([]);
    await vault('kv-rules-switch', { 'acr-workload-allow': 'same-resource-group' }, true);
    expect(outcomes(await reconcile(kv))).toEqual(['granted']);
  });
});
