/**
 * reconcileWorkloadIdentity with the real adapters (`@azure/arm-msi`, `@azure/arm-authorization`,
 * Resource Graph, Table Storage) against the emulator and Azurite (issue #7). Resources are made
 * by real ARM PUTs as the operator, as in the access harness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleResourceEvent } from '../../../src/resources/resourceEvents.js';
import { ROLES } from '../../../src/policy/roles.js';
import { FEDERATED_CREDENTIAL_PREFIX, federatedCredentialName } from '../../../src/policy/workloadTags.js';
import { reconcileWorkloadIdentity } from '../../../src/workload/reconcileWorkloadIdentity.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

const FIC_API = '2024-11-30';
const VAULT_API = '2023-07-01';
const AUDIENCE = 'api://AzureADTokenExchange';

let h: AccessHarness;
let rg: string;
let seq = 0;
const reconcile = (id: string, dryRun = false) =>
  reconcileWorkloadIdentity(h.deps, id, { log: h.log, trigger: { eventId: `evt-${++seq}`, caller: 'tester' }, dryRun });
const identityId = (name: string) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const clusterId = (name: string) => `${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`;

/** A Key Vault (Azure RBAC model), written as the operator; `tags` carries its consent. */
async function vault(name: string, tags: Record<string, string> = {}): Promise<string> {
  const id = `${rg}/providers/Microsoft.KeyVault/vaults/${name}`;
  await h.put(id, VAULT_API, {
    location: 'westeurope',
    tags,
    properties: { tenantId: h.emu.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization: true },
  });
  return id;
}
const ALLOW_RG = { 'acr-workload-allow': 'same-resource-group' };
const secretsUsersAt = async (scope: string) =>
  (await h.assignmentsAt(scope)).filter((a) => a.roleDefinitionId === ROLES.keyVaultSecretsUser.roleDefinitionId);

async function cluster(name: string, oidc: boolean): Promise<{ id: string; issuer?: string }> {
  const id = clusterId(name);
  const body = await h.put(id, API.aks, {
    location: 'westeurope',
    identity: { type: 'SystemAssigned' },
    properties: { dnsPrefix: name, oidcIssuerProfile: { enabled: oidc }, securityProfile: { workloadIdentity: { enabled: oidc } } },
  });
  return { id, issuer: body.properties.oidcIssuerProfile?.issuerURL };
}
async function identity(name: string, tags: Record<string, string>): Promise<{ id: string; principalId: string }> {
  const id = identityId(name);
  const body = await h.put(id, API.identity, { location: 'westeurope', tags });
  return { id, principalId: body.properties.principalId };
}
const credentials = async (id: string) => (await h.deps.federatedCredentials.list(id)) ?? [];
const outcomes = (r: { decisions: readonly { outcome: string }[] }) => r.decisions.map((d) => d.outcome);

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-aks');
});
afterAll(async () => h?.stop());

describe('reconcileWorkloadIdentity', () => {
  it('creates one credential per service account with the cluster issuer exactly, then writes nothing on a second run', async () => {
    const aks = await cluster('aks-one', true);
    expect(aks.issuer).toMatch(/\/$/);
    const id = await identity('id-one', { 'acr-workload-cluster': 'aks-one', 'acr-workload-subjects': 'default/app, team-a/api' });

    const first = await reconcile(id.id);
    expect(outcomes(first)).toEqual(['granted', 'granted']);
    const fics = await credentials(id.id);
    expect(fics.map((f) => ({ ...f })).sort((a, b) => a.subject.localeCompare(b.subject))).toEqual([
      {
        name: federatedCredentialName(aks.id, 'default', 'app'),
        issuer: aks.issuer,
        subject: 'system:serviceaccount:default:app',
        audiences: [AUDIENCE],
      },
      {
        name: federatedCredentialName(aks.id, 'team-a', 'api'),
        issuer: aks.issuer,
        subject: 'system:serviceaccount:team-a:api',
        audiences: [AUDIENCE],
      },
    ]);
    expect(first.decisions[0]).toMatchObject({ resourceId: id.id, principalId: id.principalId, caller: 'tester' });

    await h.clearCalls();
    const second = await reconcile(id.id);
    expect(outcomes(second)).toEqual(['already-present', 'already-present']);
    const writes = (await h.calls()).filter((c) => c.method !== 'GET' && ['arm', 'authorization', 'managedIdentity'].includes(c.api));
    expect(writes).toEqual([]);
  });

  it('deletes the credential of a removed subject and leaves one made by hand', async () => {
    const aks = await cluster('aks-two', true);
    const id = await identity('id-two', { 'acr-workload-cluster': 'aks-two', 'acr-workload-subjects': 'default/app default/worker' });
    await reconcile(id.id);
    await h.put(`${id.id}/federatedIdentityCredentials/github-main`, FIC_API, {
      properties: {
        issuer: 'https://token.actions.githubusercontent.com',
        subject: 'repo:contoso/app:ref:refs/heads/main',
        audiences: [AUDIENCE],
      },
    });

    await h.tag(id.id, { 'acr-workload-cluster': 'aks-two', 'acr-workload-subjects': 'default/app' });
    const result = await reconcile(id.id);
    expect(result.decisions.filter((d) => d.outcome === 'revoked').map((d) => d.details?.['subject'])).toEqual([
      'system:serviceaccount:default:worker',
    ]);
    const names = (await credentials(id.id)).map((f) => f.name).sort();
    expect(names).toEqual(['github-main', federatedCredentialName(aks.id, 'default', 'app')].sort());
  });

  it('waits for the OIDC issuer, then follows it when it changes', async () => {
    const aks = await cluster('aks-three', false);
    const id = await identity('id-three', { 'acr-workload-cluster': aks.id, 'acr-workload-subjects': 'default/app' });
    const before = await reconcile(id.id);
    expect(outcomes(before)).toEqual(['skipped']);
    expect(before.decisions[0]!.reason).toMatch(/has no OIDC issuer yet/);
    expect(await credentials(id.id)).toEqual([]);

    // The cluster event (OIDC issuer enabled) finds the identity through Resource Graph.
    const enabled = await cluster('aks-three', true);
    expect(outcomes(await reconcile(aks.id))).toEqual(['granted']);
    expect((await credentials(id.id)).map((f) => f.issuer)).toEqual([enabled.issuer]);

    // A new issuer (disabled, then enabled again): the same credential is updated.
    await cluster('aks-three', false);
    const changed = await cluster('aks-three', true);
    expect(changed.issuer).not.toBe(enabled.issuer);
    const result = await reconcile(aks.id);
    expect(outcomes(result)).toEqual(['granted']);
    expect(result.decisions[0]!.reason).toMatch(/OIDC issuer changed/);
    expect(await credentials(id.id)).toEqual([
      {
        name: federatedCredentialName(aks.id, 'default', 'app'),
        issuer: changed.issuer,
        subject: 'system:serviceaccount:default:app',
        audiences: [AUDIENCE],
      },
    ]);
  });

  it('removes only its own credentials when a cluster is deleted, for every identity naming it', async () => {
    const gone = await cluster('aks-gone', true);
    const stays = await cluster('aks-stays', true);
    const id = await identity('id-four', { 'acr-workload-cluster': 'aks-gone aks-stays', 'acr-workload-subjects': 'default/app' });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted', 'granted']);
    await h.put(`${id.id}/federatedIdentityCredentials/by-hand`, FIC_API, {
      properties: { issuer: gone.issuer, subject: 'system:serviceaccount:other:sa', audiences: [AUDIENCE] },
    });

    await h.del(gone.id, API.aks);
    const result = await reconcile(gone.id);
    expect(result.decisions.filter((d) => d.outcome === 'revoked')).toHaveLength(1);
    const left = (await credentials(id.id)).map((f) => f.name).sort();
    expect(left).toEqual(['by-hand', federatedCredentialName(stays.id, 'default', 'app')].sort());
  });

  it('refuses credentials past the 20 per identity with an audit row, reading every page', async () => {
    await h.emu.admin('PUT', '/arm/options', { pageSize: 5 });
    try {
      await cluster('aks-cap', true);
      const id = await identity('id-cap', {});
      for (let i = 0; i < 18; i++) {
        await h.put(`${id.id}/federatedIdentityCredentials/hand-${i}`, FIC_API, {
          properties: { issuer: 'https://issuer.example/', subject: `hand-${i}`, audiences: [AUDIENCE] },
        });
      }
      await h.tag(id.id, { 'acr-workload-cluster': 'aks-cap', 'acr-workload-subjects': 'default/a default/b default/c' });
      const result = await reconcile(id.id);
      expect(outcomes(result)).toEqual(['granted', 'granted', 'rejected-input']);
      const refused = result.decisions[2]!;
      expect(refused).toMatchObject({
        errorCode: 'FederatedIdentityCredentialLimit',
        details: { subject: 'system:serviceaccount:default:c', limit: 20 },
      });
      expect(refused.reason).toMatch(/more than Entra's 20 federated credentials/);
      expect((await h.deps.audit.query({ resourceId: id.id })).items.some((r) => r.errorCode === 'FederatedIdentityCredentialLimit')).toBe(
        true,
      );
      expect(await credentials(id.id)).toHaveLength(20);
    } finally {
      await h.emu.admin('PUT', '/arm/options', { pageSize: 100 });
    }
  });

  it('grants Key Vault Secrets User on the tagged vault that consents, and revokes only its own when untagged', async () => {
    const kv = await vault('wl-vault-1', ALLOW_RG);
    const id = await identity('id-vault', { 'acr-workload-vault': 'wl-vault-1' });
    const other = await identity('id-hand', {});
    await h.put(`${kv}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000aa`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.keyVaultSecretsUser.roleDefinitionId}`,
        principalId: other.principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });

    const granted = await reconcile(id.id);
    expect(outcomes(granted)).toEqual(['granted']);
    expect(granted.decisions[0]).toMatchObject({ principalId: id.principalId, role: expect.stringContaining('Key Vault Secrets User') });
    expect(granted.decisions[0]!.reason).toMatch(/Key Vault wl-vault-1 allows same-resource-group/);
    const mine = (await h.assignmentsAt(kv)).filter((a) => a.principalId === id.principalId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.roleDefinitionId).toBe(ROLES.keyVaultSecretsUser.roleDefinitionId);
    expect(mine[0]!.description).toMatch(/^Managed by acr-pull-automation: acr-workload-vault on /);
    expect(outcomes(await reconcile(id.id))).toEqual(['already-present']);

    await h.tag(id.id, {});
    const revoked = await reconcile(id.id);
    expect(outcomes(revoked)).toEqual(['revoked']);
    const left = await h.assignmentsAt(kv);
    expect(left.map((a) => a.description)).toEqual(['made by hand']);
  });

  // Issue 14: vault grants are revoked through the executor, which deletes only what is ours — the
  // deterministic name AND our description. The old code revoked on the description alone.
  it('leaves an assignment made by hand that copies the description of its vault grant', async () => {
    const kv = await vault('wl-vault-copy', ALLOW_RG);
    const id = await identity('id-copied', { 'acr-workload-vault': 'wl-vault-copy' });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    const [ours] = (await secretsUsersAt(kv)).filter((a) => a.principalId === id.principalId);
    // Another principal, assigned by hand under a name of its own, with our description copied onto it.
    const ops = await identity('id-copied-ops', {});
    await h.put(`${kv}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000cc`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.keyVaultSecretsUser.roleDefinitionId}`,
        principalId: ops.principalId,
        principalType: 'ServicePrincipal',
        description: ours!.description,
      },
    });
    // Still asked for: the copy is not taken for a grant to an earlier principal of the identity.
    expect(outcomes(await reconcile(id.id))).toEqual(['already-present']);

    await h.tag(id.id, {});
    const revoked = await reconcile(id.id);
    expect(revoked.decisions).toMatchObject([{ outcome: 'revoked', principalId: id.principalId }]);
    expect((await secretsUsersAt(kv)).map((a) => a.principalId)).toEqual([ops.principalId]);
  });

  it('revokes the vault grant when the identity is deleted', async () => {
    const kv = await vault('wl-vault-2', ALLOW_RG);
    const id = await identity('id-deleted', { 'acr-workload-vault': 'wl-vault-2' });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    await h.del(id.id, API.identity);
    expect(outcomes(await reconcile(id.id))).toEqual(['revoked']);
    expect(await h.assignmentsAt(kv)).toEqual([]);
  });

  it('grants nothing on a vault that has not consented, and says why in the audit row', async () => {
    const kv = await vault('wl-vault-none');
    const id = await identity('id-no-consent', { 'acr-workload-vault': 'wl-vault-none' });
    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied-by-consent']);
    expect(result.decisions[0]).toMatchObject({
      action: 'grant',
      principalId: id.principalId,
      role: expect.stringContaining('Key Vault Secrets User'),
      details: { vault: kv },
    });
    expect(result.decisions[0]!.reason).toMatch(/Key Vault wl-vault-none has no acr-workload-allow tag and the default is none/);
    expect(await secretsUsersAt(kv)).toEqual([]);
    const rows = (await h.deps.audit.query({ resourceId: id.id })).items;
    expect(rows.some((r) => r.outcome === 'denied-by-consent' && /acr-workload-allow/.test(r.reason))).toBe(true);
    // The preview says the same and writes nothing.
    expect(outcomes(await reconcile(id.id, true))).toEqual(['denied-by-consent']);
  });

  it('does not accept acr-pull-allow on a vault as its consent', async () => {
    const kv = await vault('wl-vault-pullallow', { 'acr-pull-allow': '*' });
    const id = await identity('id-pullallow', { 'acr-workload-vault': 'wl-vault-pullallow' });
    expect(outcomes(await reconcile(id.id))).toEqual(['denied-by-consent']);
    expect(await secretsUsersAt(kv)).toEqual([]);
  });

  it('revokes ours when the vault withdraws consent (vault event), and keeps one made by hand', async () => {
    const kv = await vault('wl-vault-withdraw', ALLOW_RG);
    const id = await identity('id-withdraw', { 'acr-workload-vault': 'wl-vault-withdraw' });
    const other = await identity('id-withdraw-hand', { 'acr-workload-vault': 'wl-vault-withdraw' });
    await h.put(`${kv}/providers/Microsoft.Authorization/roleAssignments/6f1d3c9e-0000-4000-8000-0000000000bb`, '2022-04-01', {
      properties: {
        roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${ROLES.keyVaultSecretsUser.roleDefinitionId}`,
        principalId: other.principalId,
        principalType: 'ServicePrincipal',
        description: 'made by hand',
      },
    });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);

    await h.tag(kv, {});
    const result = await reconcile(kv);
    const mine = result.decisions.filter((d) => d.resourceId === id.id);
    expect(mine.map((d) => d.outcome)).toEqual(['denied-by-consent', 'revoked']);
    expect(mine[1]!.reason).toMatch(/does not consent to id-withdraw/);
    const theirs = result.decisions.filter((d) => d.resourceId === other.id);
    expect(theirs.map((d) => d.outcome)).toEqual(['denied-by-consent']);
    expect(theirs[0]!.reason).toMatch(/made outside the automation exists and is left as it is/);
    expect((await secretsUsersAt(kv)).map((a) => a.description)).toEqual(['made by hand']);

    // Consent given again: the next vault event grants again.
    await h.tag(kv, { 'acr-workload-allow': 'same-subscription' });
    expect((await reconcile(kv)).decisions.filter((d) => d.resourceId === id.id).map((d) => d.outcome)).toEqual(['granted']);
  });

  it('revokes ours when the vault narrows consent to other identities, and settles from a delivered vault event', async () => {
    const kv = await vault('wl-vault-narrow', { 'acr-workload-allow': 'tag:team=orders' });
    const web = await identity('id-narrow-web', { 'acr-workload-vault': 'wl-vault-narrow', team: 'web' });
    const orders = await identity('id-narrow-orders', { 'acr-workload-vault': 'wl-vault-narrow', team: 'orders' });
    expect(outcomes(await reconcile(web.id))).toEqual(['denied-by-consent']);
    expect(outcomes(await reconcile(orders.id))).toEqual(['granted']);

    await h.tag(kv, { 'acr-workload-allow': 'tag:team=web' });
    // Shaped like the documented tags write event (https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions).
    await handleResourceEvent(
      h.deps,
      {
        id: 'evt-kv-narrow',
        metadataVersion: '1',
        eventType: 'Microsoft.Resources.ResourceWriteSuccess',
        subject: `${kv}/providers/Microsoft.Resources/tags/default`,
        eventTime: new Date().toISOString(),
        dataVersion: '',
        topic: `/subscriptions/${h.sub}`,
        data: {
          operationName: 'Microsoft.Resources/tags/write',
          resourceUri: `${kv}/providers/Microsoft.Resources/tags/default`,
          status: 'Succeeded',
          subscriptionId: h.sub,
        },
      },
      h.log,
    );
    expect((await secretsUsersAt(kv)).map((a) => a.principalId)).toEqual([web.principalId]);
    const ordersRows = (await h.deps.audit.query({ resourceId: orders.id })).items;
    expect(ordersRows.some((r) => r.eventId === 'evt-kv-narrow' && r.outcome === 'revoked')).toBe(true);
    expect(ordersRows.some((r) => r.eventId === 'evt-kv-narrow' && r.outcome === 'denied-by-consent')).toBe(true);
  });

  it('revokes ours when the vault is deleted', async () => {
    const kv = await vault('wl-vault-gone', ALLOW_RG);
    const id = await identity('id-vault-gone', { 'acr-workload-vault': 'wl-vault-gone' });
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    await h.del(kv, VAULT_API);
    const result = await reconcile(kv);
    expect(result.decisions.filter((d) => d.resourceId === id.id).map((d) => d.outcome)).toEqual(['skipped', 'revoked']);
    expect(await secretsUsersAt(kv)).toEqual([]);
  });

  it('previews without writing', async () => {
    await cluster('aks-preview', true);
    const id = await identity('id-preview', { 'acr-workload-cluster': 'aks-preview', 'acr-workload-subjects': 'default/app' });
    const before = (await h.deps.audit.query({ resourceId: id.id })).items.length;
    const preview = await reconcile(id.id, true);
    expect(outcomes(preview)).toEqual(['would-grant']);
    expect(preview.plans[0]!.credentials.creates).toHaveLength(1);
    expect(await credentials(id.id)).toEqual([]);
    expect((await h.deps.audit.query({ resourceId: id.id })).items.length).toBe(before);
  });

  it('serialises concurrent reconciles of one identity: no 409, no failure', async () => {
    await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 40 });
    try {
      await cluster('aks-busy', true);
      const id = await identity('id-busy', {
        'acr-workload-cluster': 'aks-busy',
        'acr-workload-subjects': 'default/a default/b default/c',
      });
      await h.clearCalls();
      const results = await Promise.all(Array.from({ length: 4 }, () => reconcile(id.id)));
      const all = results.flatMap((r) => r.decisions);
      expect(all.filter((d) => d.outcome === 'failed')).toEqual([]);
      expect(all.filter((d) => d.outcome === 'granted')).toHaveLength(3);
      expect((await h.calls()).filter((c) => c.status === 409)).toEqual([]);
      expect((await credentials(id.id)).filter((f) => f.name.startsWith(FEDERATED_CREDENTIAL_PREFIX))).toHaveLength(3);
    } finally {
      await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
    }
  });

  it('reconciles workload identity from a delivered cluster event alongside access', async () => {
    const aks = await cluster('aks-event', true);
    const id = await identity('id-event', { 'acr-workload-cluster': 'aks-event', 'acr-workload-subjects': 'default/app' });
    // Shaped like the documented ResourceWriteSuccess sample (https://learn.microsoft.com/azure/event-grid/event-schema-resource-groups#example-event).
    const event = {
      id: 'evt-aks-event',
      metadataVersion: '1',
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      subject: aks.id,
      eventTime: new Date().toISOString(),
      dataVersion: '',
      topic: `/subscriptions/${h.sub}`,
      data: {
        operationName: 'Microsoft.ContainerService/managedClusters/write',
        resourceUri: aks.id,
        status: 'Succeeded',
        subscriptionId: h.sub,
      },
    };
    await handleResourceEvent(h.deps, event, h.log);
    expect((await credentials(id.id)).map((f) => f.subject)).toEqual(['system:serviceaccount:default:app']);
    const rows = (await h.deps.audit.query({ resourceId: id.id })).items;
    expect(rows.some((r) => r.eventId === 'evt-aks-event' && r.outcome === 'granted')).toBe(true);
  });
});
