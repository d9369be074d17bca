/**
 * Issue #7 end to end: AKS clusters, user-assigned identities and Key Vaults are written by real ARM
 * PUT/PATCH/DELETE requests as the operator on the emulator; ARM's events reach the app's
 * `resourceEvents` function through Event Grid delivery to the local Functions host; the outcome is
 * read back through ARM (federated identity credentials, role assignments) and the app's own audit
 * API (`GET /api/audit?resourceId=`). Every wait is on Event Grid going idle, never a sleep.
 */
import { getClient, type Client } from '@azure-rest/core-client';
import { ClientSecretCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { ROLES } from '../../src/policy/roles.js';
import { FEDERATED_CREDENTIAL_PREFIX, federatedCredentialName } from '../../src/policy/workloadTags.js';
import { DEFAULT_RESOURCE_GROUP } from '../../emulator/core/wellKnown.js';
import { API_VERSIONS, aHandMadeAssignment, aUserAssignedIdentity, startAccessStack, type AccessStack } from '../support/e2eAccess.js';

const FIC_API = '2024-11-30';
const VAULT_API = '2023-07-01';
const AUDIENCE = 'api://AzureADTokenExchange';
const LOCATION = 'westeurope';

interface Fic {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
}

let s: AccessStack;
let arm: Client;
let rg: string;

beforeAll(async () => {
  // Registries here default to same-resource-group: vaults must still consent on their own (issue 13 point 3).
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
    appSettings: { ACCESS_DEFAULT_CONSENT: 'same-resource-group' },
  });
  const e = s.stack.emulator!.endpoints;
  const ca = s.stack.emulator!.caPem;
  const credential = new ClientSecretCredential(e.tenantId, e.operator.clientId, e.operator.clientSecret, {
    authorityHost: e.login,
    disableInstanceDiscovery: true,
    tlsOptions: { ca },
  });
  arm = getClient(e.arm, credential, { credentials: { scopes: [`${e.arm}/.default`] }, tlsOptions: { ca } });
  rg = await s.resourceGroup('rg-workload');
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

const clusterId = (name: string) => `${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`;
const identityId = (name: string) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const vaultId = (name: string) => `${rg}/providers/Microsoft.KeyVault/vaults/${name}`;

/**
 * An AKS cluster with or without the OIDC issuer. Follows containerservice/.../aks/stable/2025-05-01/
 * examples/ManagedClustersCreate_OIDCIssuer.json (`oidcIssuerProfile.enabled`), trimmed; ARM answers
 * `oidcIssuerProfile.issuerURL`.
 */
async function putCluster(name: string, oidc: boolean, workloadIdentity = oidc): Promise<{ id: string; issuer?: string }> {
  const id = clusterId(name);
  const body = await s.put(id, {
    apiVersion: API_VERSIONS.managedCluster,
    body: {
      location: LOCATION,
      identity: { type: 'SystemAssigned' },
      properties: {
        dnsPrefix: name,
        agentPoolProfiles: [
          { name: 'nodepool1', count: 1, vmSize: 'Standard_DS2_v2', osType: 'Linux', type: 'VirtualMachineScaleSets', mode: 'System' },
        ],
        oidcIssuerProfile: { enabled: oidc },
        securityProfile: { workloadIdentity: { enabled: workloadIdentity } },
      },
    },
  });
  return { id, issuer: body.properties?.oidcIssuerProfile?.issuerURL };
}

async function putIdentity(name: string, tags: Record<string, string>): Promise<{ id: string; principalId: string }> {
  const id = identityId(name);
  const body = await s.put(id, aUserAssignedIdentity({ tags }));
  return { id, principalId: body.properties.principalId };
}

/**
 * A Key Vault, by default with the Azure RBAC permission model. Follows
 * keyvault/.../stable/2023-07-01/examples/createVault.json, trimmed.
 */
async function putVault(name: string, tags: Record<string, string>, enableRbacAuthorization = true): Promise<string> {
  const id = vaultId(name);
  await s.put(id, {
    apiVersion: VAULT_API,
    body: {
      location: LOCATION,
      tags,
      properties: { tenantId: s.stack.emulator!.endpoints.tenantId, sku: { family: 'A', name: 'standard' }, enableRbacAuthorization },
    },
  });
  return id;
}

/** A federated credential made by hand. Follows msi/.../stable/2024-11-30/examples/FederatedIdentityCredentialCreate.json. */
async function putHandMadeFic(identity: string, name: string, issuer: string, subject: string): Promise<void> {
  await s.put(`${identity}/federatedIdentityCredentials/${name}`, {
    apiVersion: FIC_API,
    body: { properties: { issuer, subject, audiences: [AUDIENCE] } },
  });
}

/** The identity's federated credentials, read through ARM as the operator (every page). */
async function fics(identity: string): Promise<Fic[]> {
  const out: Fic[] = [];
  let res = await arm.pathUnchecked(`${identity}/federatedIdentityCredentials`).get({ queryParameters: { 'api-version': FIC_API } });
  for (;;) {
    if (res.status !== '200') throw new Error(`list federated credentials on ${identity}: ${res.status} ${JSON.stringify(res.body)}`);
    const page = res.body as {
      value: Array<{ name: string; properties: { issuer: string; subject: string; audiences: string[] } }>;
      nextLink?: string;
    };
    for (const f of page.value)
      out.push({ name: f.name, issuer: f.properties.issuer, subject: f.properties.subject, audiences: f.properties.audiences });
    if (!page.nextLink) return out.sort((a, b) => a.name.localeCompare(b.name));
    res = await arm.pathUnchecked(page.nextLink).get();
  }
}

/** Audit rows about one resource, through the app's own API (function key). */
async function audit(resourceId: string): Promise<AuditRecord[]> {
  const url = new URL(`${s.stack.endpoints.functions}/api/audit`);
  url.searchParams.set('resourceId', resourceId);
  url.searchParams.set('top', '500');
  const res = await fetch(url, { headers: { 'x-functions-key': s.stack.endpoints.functionKey } });
  if (res.status !== 200) throw new Error(`GET /api/audit: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { items: AuditRecord[] }).items;
}

const secretsUsersAt = async (scope: string) =>
  (await s.assignmentsAt(scope)).filter((a) => a.roleDefinitionGuid === ROLES.keyVaultSecretsUser.roleDefinitionId);
const ours = (list: readonly Fic[]) => list.filter((f) => f.name.startsWith(FEDERATED_CREDENTIAL_PREFIX));

describe('workload identity from resource events', () => {
  it('creates one federated credential per service account with the cluster issuer exactly', async () => {
    const aks = await putCluster('aks-e2e', true);
    expect(aks.issuer).toMatch(/^https:\/\/.+\/$/);
    await s.idle();
    const id = await putIdentity('id-orders', {
      'acr-workload-cluster': 'aks-e2e',
      'acr-workload-subjects': 'orders/orders-api orders/orders-worker',
    });
    await s.idle();

    expect(await fics(id.id)).toEqual(
      [
        {
          name: federatedCredentialName(aks.id, 'orders', 'orders-api'),
          issuer: aks.issuer,
          subject: 'system:serviceaccount:orders:orders-api',
          audiences: [AUDIENCE],
        },
        {
          name: federatedCredentialName(aks.id, 'orders', 'orders-worker'),
          issuer: aks.issuer,
          subject: 'system:serviceaccount:orders:orders-worker',
          audiences: [AUDIENCE],
        },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
    const rows = await audit(id.id);
    const granted = rows.filter((r) => r.action === 'federated credential' && r.outcome === 'granted');
    expect(granted.map((r) => r.details?.['subject']).sort()).toEqual([
      'system:serviceaccount:orders:orders-api',
      'system:serviceaccount:orders:orders-worker',
    ]);
    expect(granted[0]).toMatchObject({
      principalId: id.principalId,
      eventId: expect.any(String),
      caller: s.stack.emulator!.endpoints.operator.objectId,
    });
    expect(rows.filter((r) => r.outcome === 'failed')).toEqual([]);
  });

  it('deletes the credential of a removed subject and leaves one made by hand', async () => {
    const id = identityId('id-orders');
    const aks = clusterId('aks-e2e');
    await putHandMadeFic(id, 'github-main', 'https://token.actions.githubusercontent.com', 'repo:contoso/orders:ref:refs/heads/main');
    await s.tag(id, { 'acr-workload-cluster': 'aks-e2e', 'acr-workload-subjects': 'orders/orders-api' }, 'Replace');
    await s.idle();

    expect((await fics(id)).map((f) => f.name)).toEqual(['github-main', federatedCredentialName(aks, 'orders', 'orders-api')].sort());
    const revoked = (await audit(id)).filter((r) => r.action === 'delete federated credential' && r.outcome === 'revoked');
    expect(revoked.map((r) => r.details?.['subject'])).toEqual(['system:serviceaccount:orders:orders-worker']);
  });

  it('creates the credentials once the cluster gets its OIDC issuer', async () => {
    await putCluster('aks-late', false);
    await s.idle();
    const id = await putIdentity('id-late', { 'acr-workload-cluster': 'aks-late', 'acr-workload-subjects': 'default/app' });
    await s.idle();
    expect(await fics(id.id)).toEqual([]);
    expect((await audit(id.id)).some((r) => r.outcome === 'skipped' && /has no OIDC issuer yet/.test(r.reason))).toBe(true);

    const enabled = await putCluster('aks-late', true);
    await s.idle();
    expect(await fics(id.id)).toEqual([
      {
        name: federatedCredentialName(enabled.id, 'default', 'app'),
        issuer: enabled.issuer,
        subject: 'system:serviceaccount:default:app',
        audiences: [AUDIENCE],
      },
    ]);
  });

  it('removes only its own credentials when a cluster is deleted', async () => {
    const gone = await putCluster('aks-gone', true);
    const stays = await putCluster('aks-stays', true);
    await s.idle();
    const id = await putIdentity('id-two-clusters', {
      'acr-workload-cluster': `aks-gone ${stays.id}`,
      'acr-workload-subjects': 'default/app',
    });
    await s.idle();
    expect(
      ours(await fics(id.id))
        .map((f) => f.issuer)
        .sort(),
    ).toEqual([gone.issuer, stays.issuer].sort());
    await putHandMadeFic(id.id, 'by-hand', gone.issuer!, 'system:serviceaccount:other:sa');

    await s.del(gone.id, API_VERSIONS.managedCluster);
    await s.idle();
    expect((await fics(id.id)).map((f) => f.name)).toEqual(['by-hand', federatedCredentialName(stays.id, 'default', 'app')].sort());
    const revoked = (await audit(id.id)).filter((r) => r.action === 'delete federated credential' && r.outcome === 'revoked');
    expect(revoked.map((r) => r.details?.['issuer'])).toEqual([gone.issuer]);
  });

  it("stops at Entra's 20 federated credentials per identity, with an audit row for what does not fit", async () => {
    await putCluster('aks-cap', true);
    await s.idle();
    const id = await putIdentity('id-cap', {});
    await s.idle();
    for (let i = 0; i < 18; i++) await putHandMadeFic(id.id, `hand-${i}`, 'https://issuer.example/', `hand-${i}`);
    await s.tag(id.id, { 'acr-workload-cluster': 'aks-cap', 'acr-workload-subjects': 'default/a default/b default/c' }, 'Replace');
    await s.idle();

    expect(await fics(id.id)).toHaveLength(20);
    expect(
      ours(await fics(id.id))
        .map((f) => f.subject)
        .sort(),
    ).toEqual(['system:serviceaccount:default:a', 'system:serviceaccount:default:b']);
    const refused = (await audit(id.id)).filter((r) => r.errorCode === 'FederatedIdentityCredentialLimit');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]).toMatchObject({ outcome: 'rejected-input', details: { subject: 'system:serviceaccount:default:c' } });
  });

  it('grants Key Vault Secrets User on a vault that consents, and revokes it when the vault withdraws consent', async () => {
    const kv = await putVault('kv-e2e-allow', { 'acr-workload-allow': 'same-resource-group' });
    await s.idle();
    const id = await putIdentity('id-vault', { 'acr-workload-vault': 'kv-e2e-allow' });
    await s.idle();

    const granted = await secretsUsersAt(kv);
    expect(granted.map((a) => a.principalId)).toEqual([id.principalId]);
    expect(granted[0]!.description).toMatch(/^Managed by acr-pull-automation: acr-workload-vault on /);
    const row = (await audit(id.id)).find((r) => r.action === 'grant' && r.outcome === 'granted');
    expect(row).toMatchObject({
      principalId: id.principalId,
      role: expect.stringContaining('Key Vault Secrets User'),
      details: { vault: expect.stringMatching(/kv-e2e-allow$/) },
    });
    expect(row!.reason).toMatch(/Key Vault kv-e2e-allow allows same-resource-group/);

    // The vault's own event settles it: no write on the identity is needed.
    await s.tag(kv, { 'acr-workload-allow': 'none' }, 'Replace');
    await s.idle();
    expect(await secretsUsersAt(kv)).toEqual([]);
    const after = await audit(id.id);
    expect(after.some((r) => r.action === 'revoke' && r.outcome === 'revoked' && /does not consent/.test(r.reason))).toBe(true);
    expect((await audit(kv)).filter((r) => r.outcome === 'failed' || r.outcome === 'rejected-input')).toEqual([]);
  });

  it('grants nothing on a vault without consent, though ACCESS_DEFAULT_CONSENT covers the identity, with an audit row that says why', async () => {
    const kv = await putVault('kv-e2e-none', {});
    await s.idle();
    const id = await putIdentity('id-no-consent', { 'acr-workload-vault': 'kv-e2e-none' });
    await s.idle();

    expect(await secretsUsersAt(kv)).toEqual([]);
    const rows = await audit(id.id);
    const denied = rows.filter((r) => r.outcome === 'denied-by-consent');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]).toMatchObject({
      action: 'grant',
      principalId: id.principalId,
      role: expect.stringContaining('Key Vault Secrets User'),
    });
    expect(denied[0]!.reason).toMatch(/Key Vault kv-e2e-none has no acr-workload-allow tag and the default is none/);
    expect(rows.some((r) => r.outcome === 'granted')).toBe(false);
  });

  it("refuses the app's own vault (CREDENTIALS_VAULT_NAMES), though it consents to everyone", async () => {
    const demo = s.stack.emulator!.endpoints;
    const demoVault = `/subscriptions/${demo.subscriptionId}/resourceGroups/${DEFAULT_RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/${demo.keyVaultName}`;
    await s.tag(demoVault, { 'acr-workload-allow': '*' }, 'Merge');
    await s.idle();
    const id = await putIdentity('id-own-vault', { 'acr-workload-vault': demo.keyVaultName });
    await s.idle();

    expect((await secretsUsersAt(demoVault)).filter((a) => a.principalId === id.principalId)).toEqual([]);
    const denied = (await audit(id.id)).filter((r) => r.outcome === 'denied');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]).toMatchObject({ action: 'grant', errorCode: 'CredentialsVault', principalId: id.principalId });
    expect(denied[0]!.reason).toContain(
      `Key Vault ${demo.keyVaultName} holds the automation's pull credentials (CREDENTIALS_VAULT_NAMES names it)`,
    );
  });

  it('grants nothing on a vault in access-policy mode, with a denied row naming the permission model', async () => {
    const kv = await putVault('kv-e2e-policies', { 'acr-workload-allow': 'same-resource-group' }, false);
    await s.idle();
    const id = await putIdentity('id-policies', { 'acr-workload-vault': 'kv-e2e-policies' });
    await s.idle();

    expect(await secretsUsersAt(kv)).toEqual([]);
    const rows = await audit(id.id);
    expect(rows.some((r) => r.outcome === 'granted')).toBe(false);
    const denied = rows.filter((r) => r.outcome === 'denied');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]).toMatchObject({ action: 'grant', errorCode: 'VaultAccessPolicyMode', principalId: id.principalId });
    expect(denied[0]!.reason).toContain(
      'uses the access-policy permission model (enableRbacAuthorization=false), where Key Vault Secrets User has no effect',
    );
  });
});

describe('federation of a privileged identity (issue 13, point 1)', () => {
  const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';

  it('refuses to federate an identity that is Owner of the subscription when its tags ask, and says why', async () => {
    // The attack: an identity someone else made Owner; a tag writer names a cluster and a service account they can run pods as.
    const aks = await putCluster('aks-attack', true);
    const id = await putIdentity('id-subscription-owner', {});
    await s.put(
      `/subscriptions/${s.subscriptionId}/providers/Microsoft.Authorization/roleAssignments/5a1d0b7e-0000-4000-8000-00000000a7c1`,
      aHandMadeAssignment(s.subscriptionId, OWNER, id.principalId),
    );
    await s.idle();
    await s.tag(id.id, { 'acr-workload-cluster': 'aks-attack', 'acr-workload-subjects': 'default/x' }, 'Merge');
    await s.idle();

    expect(await fics(id.id)).toEqual([]);
    const rows = await audit(id.id);
    const denied = rows.filter((r) => r.outcome === 'denied-ineligible');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(denied[0]).toMatchObject({
      action: 'federated credential',
      principalId: id.principalId,
      errorCode: 'IdentityHoldsOtherRoles',
      role: `Owner (${OWNER})`,
      eventId: expect.any(String),
    });
    expect(denied[0]!.reason).toContain(`id-subscription-owner holds Owner (${OWNER}) on /subscriptions/${s.subscriptionId}`);
    expect(rows.some((r) => r.action === 'federated credential' && r.outcome === 'granted')).toBe(false);
    expect(aks.issuer).toBeDefined();
  });

  it('shows the denial in the preview, and still federates a role-free identity', async () => {
    const id = await putIdentity('id-subscription-owner', { 'acr-workload-cluster': 'aks-attack', 'acr-workload-subjects': 'default/x' });
    await s.idle();
    const res = await fetch(`${s.stack.endpoints.functions}/api/access/preview`, {
      method: 'POST',
      headers: { 'x-functions-key': s.stack.endpoints.functionKey, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId: id.id }),
    });
    expect(res.status).toBe(200);
    const preview = (await res.json()) as { decisions: AuditRecord[] };
    expect(preview.decisions.filter((d) => d.outcome === 'denied-ineligible').map((d) => d.reason)).toEqual([
      expect.stringContaining('holds Owner'),
    ]);

    const plain = await putIdentity('id-plain-x', { 'acr-workload-cluster': 'aks-attack', 'acr-workload-subjects': 'default/x' });
    await s.idle();
    expect(ours(await fics(plain.id)).map((f) => f.subject)).toEqual(['system:serviceaccount:default:x']);
  });
});

describe('workload identity, the cluster side (issue 19.5)', () => {
  it('gives the client id and the annotated ServiceAccount manifest per subject, and says when the cluster has workload identity off', async () => {
    const aks = await putCluster('aks-no-webhook', true, false);
    await s.idle();
    const id = await putIdentity('id-cluster-side', { 'acr-workload-cluster': 'aks-no-webhook', 'acr-workload-subjects': 'shop/cart' });
    await s.idle();
    const clientId = (
      await s.put(
        identityId('id-cluster-side'),
        aUserAssignedIdentity({ tags: { 'acr-workload-cluster': 'aks-no-webhook', 'acr-workload-subjects': 'shop/cart' } }),
      )
    ).properties.clientId as string;
    await s.idle();
    // The credential is created anyway: it needs only the OIDC issuer.
    expect(ours(await fics(id.id)).map((f) => f.subject)).toEqual(['system:serviceaccount:shop:cart']);

    const rows = await audit(id.id);
    const credentialRows = rows.filter((r) => r.action === 'federated credential' && ['granted', 'already-present'].includes(r.outcome));
    expect(credentialRows.length).toBeGreaterThanOrEqual(1);
    for (const row of credentialRows) {
      expect(row.details?.['clientId']).toBe(clientId);
      expect(row.details?.['serviceAccountManifest']).toBe(
        `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: cart\n  namespace: shop\n  annotations:\n    azure.workload.identity/client-id: ${clientId}\n`,
      );
    }
    const off = rows.filter((r) => r.action === 'workload identity' && r.outcome === 'skipped' && r.details?.['cluster'] === aks.id);
    expect(off.length).toBeGreaterThanOrEqual(1);
    expect(off[0]!.reason).toMatch(
      /cluster aks-no-webhook does not have workload identity enabled .*pods there can't use id-cluster-side's federated credentials yet .*created anyway/,
    );

    // Preview shows the same to the cluster owner, writing nothing.
    const res = await fetch(`${s.stack.endpoints.functions}/api/access/preview`, {
      method: 'POST',
      headers: { 'x-functions-key': s.stack.endpoints.functionKey, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId: id.id }),
    });
    const preview = (await res.json()) as { decisions: AuditRecord[] };
    expect(preview.decisions.find((d) => d.action.startsWith('federated credential'))?.details?.['serviceAccountManifest']).toContain(
      `azure.workload.identity/client-id: ${clientId}`,
    );
    expect(
      preview.decisions.some((d) => d.action === 'workload identity' && /does not have workload identity enabled/.test(d.reason)),
    ).toBe(true);

    // Once the cluster turns it on, no such row.
    await putCluster('aks-no-webhook', true, true);
    await s.idle();
    const again = await fetch(`${s.stack.endpoints.functions}/api/access/preview`, {
      method: 'POST',
      headers: { 'x-functions-key': s.stack.endpoints.functionKey, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceId: id.id }),
    });
    const after = (await again.json()) as { decisions: AuditRecord[] };
    expect(after.decisions.some((d) => /does not have workload identity enabled/.test(d.reason))).toBe(false);
  });
});
