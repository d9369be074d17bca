/**
 * Issue 13 point 1: a tag write must not become "create federated credential" for an identity that
 * holds more than the roles this automation manages, or that the deployment did not scope in
 * (WORKLOAD_FEDERATION_SCOPES). reconcileWorkloadIdentity with the real adapters against the
 * emulator (ARM, role assignments, Resource Graph `authorizationresources`) and Azurite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config.js';
import { sweepSubscriptions } from '../../../src/resources/sweep.js';
import { roleAssignmentsOfPrincipalQuery } from '../../../src/azure/resourceGraph.js';
import { ROLES } from '../../../src/policy/roles.js';
import { FEDERATED_CREDENTIAL_PREFIX } from '../../../src/policy/workloadTags.js';
import { reconcileWorkloadIdentity } from '../../../src/workload/reconcileWorkloadIdentity.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';

let h: AccessHarness;
let rg: string;
let other: string;
let seq = 0;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-federated');
  other = await h.rg('rg-not-scoped');
  await h.put(`${rg}/providers/Microsoft.ContainerService/managedClusters/aks-fed`, API.aks, {
    location: 'westeurope',
    identity: { type: 'SystemAssigned' },
    properties: { dnsPrefix: 'aks-fed', oidcIssuerProfile: { enabled: true }, securityProfile: { workloadIdentity: { enabled: true } } },
  });
});
afterAll(async () => h?.stop());

/** The harness's deps with WORKLOAD_FEDERATION_SCOPES replaced, as a deployment would set it. */
const withScopes = (scopes: readonly string[]) => ({ ...h.deps, config: { ...h.deps.config, federationScopes: scopes } as Config });
const reconcile = (id: string, options: { dryRun?: boolean; scopes?: readonly string[] } = {}) =>
  reconcileWorkloadIdentity(options.scopes ? withScopes(options.scopes) : h.deps, id, {
    log: h.log,
    trigger: { eventId: `evt-fed-${++seq}`, caller: 'tester' },
    dryRun: options.dryRun ?? false,
  });
const outcomes = (r: { decisions: readonly { outcome: string }[] }) => r.decisions.map((d) => d.outcome);
const ours = async (id: string) =>
  ((await h.deps.federatedCredentials.list(id)) ?? []).filter((f) => f.name.startsWith(FEDERATED_CREDENTIAL_PREFIX));

/** A user-assigned identity asking to be federated on aks-fed as default/app. */
async function identity(resourceGroup: string, name: string): Promise<{ id: string; principalId: string }> {
  const id = `${resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  const body = await h.put(id, API.identity, {
    location: 'westeurope',
    tags: { 'acr-workload-cluster': 'aks-fed', 'acr-workload-subjects': 'default/app' },
  });
  return { id, principalId: body.properties.principalId };
}

/** A role assignment made by hand, as the operator. Follows authorization/.../2022-04-01/examples/RoleAssignments_CreateForResource.json. */
async function assign(scope: string, principalId: string, roleGuid: string, name: string): Promise<void> {
  await h.put(`${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`, '2022-04-01', {
    properties: {
      roleDefinitionId: `/subscriptions/${h.sub}/providers/Microsoft.Authorization/roleDefinitions/${roleGuid}`,
      principalId,
      principalType: 'ServicePrincipal',
    },
  });
}

describe('who may be federated', () => {
  it('refuses an identity that is Owner of the subscription, naming the role, and previews the same', async () => {
    const id = await identity(rg, 'id-owner');
    await assign(`/subscriptions/${h.sub}`, id.principalId, OWNER, '0f0e0d0c-0000-4000-8000-000000000001');

    const preview = await reconcile(id.id, { dryRun: true });
    expect(outcomes(preview)).toEqual(['denied-ineligible']);

    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied-ineligible']);
    expect(result.decisions[0]).toMatchObject({
      action: 'federated credential',
      principalId: id.principalId,
      errorCode: 'IdentityHoldsOtherRoles',
      role: `Owner (${OWNER})`,
      details: { roleScope: `/subscriptions/${h.sub}` },
    });
    expect(result.decisions[0]!.reason).toMatch(
      /acr-workload-cluster and acr-workload-subjects on id-owner ask for federated credentials, but id-owner holds Owner \(8e3af657-[^)]+\) on \/subscriptions\//,
    );
    expect(await ours(id.id)).toEqual([]);
    const rows = (await h.deps.audit.query({ resourceId: id.id })).items;
    expect(rows.some((r) => r.outcome === 'denied-ineligible' && /holds Owner/.test(r.reason))).toBe(true);
  });

  it('refuses an identity holding a custom role or a role on a management group above the subscription', async () => {
    const custom = await identity(rg, 'id-custom');
    const inherited = await identity(rg, 'id-mg-owner');
    await h.emu.admin('POST', '/seed', {
      arm: {
        roleDefinitions: [{ roleName: 'Tag Writer', actions: ['Microsoft.Resources/tags/write'] }],
        roleAssignments: [
          { scope: `${other}`, principalId: custom.principalId, roleDefinitionId: 'Tag Writer' },
          {
            scope: '/providers/Microsoft.Management/managementGroups/mg-platform',
            principalId: inherited.principalId,
            roleDefinitionId: OWNER,
          },
        ],
      },
    });
    const c = await reconcile(custom.id);
    expect(outcomes(c)).toEqual(['denied-ineligible']);
    expect(c.decisions[0]!.reason).toMatch(/holds role definition [0-9a-f-]{36} on .*rg-not-scoped/);
    // Resource Graph leaves a management group's assignments out unless asked for the scopes above.
    expect(await h.deps.resourceGraph.query(roleAssignmentsOfPrincipalQuery(inherited.principalId), [h.sub])).toEqual([]);
    expect((await h.deps.resourceGraph.roleAssignmentsOf(inherited.principalId, [h.sub])).map((a) => a.scope)).toEqual([
      '/providers/Microsoft.Management/managementGroups/mg-platform',
    ]);
    const m = await reconcile(inherited.id);
    expect(outcomes(m)).toEqual(['denied-ineligible']);
    expect(m.decisions[0]).toMatchObject({
      role: `Owner (${OWNER})`,
      details: { roleScope: '/providers/Microsoft.Management/managementGroups/mg-platform' },
    });
    expect(await ours(custom.id)).toEqual([]);
    expect(await ours(inherited.id)).toEqual([]);
  });

  it('federates a role-free identity in a scoped-in resource group exactly as before, and one holding only managed roles', async () => {
    const id = await identity(rg, 'id-plain');
    const result = await reconcile(id.id, { scopes: [rg.toLowerCase()] });
    expect(outcomes(result)).toEqual(['granted']);
    expect((await ours(id.id)).map((f) => f.subject)).toEqual(['system:serviceaccount:default:app']);

    const managed = await identity(rg, 'id-acrpull');
    await assign(rg, managed.principalId, ROLES.acrPull.roleDefinitionId, '0f0e0d0c-0000-4000-8000-000000000002');
    await assign(rg, managed.principalId, ROLES.keyVaultSecretsUser.roleDefinitionId, '0f0e0d0c-0000-4000-8000-000000000003');
    expect(outcomes(await reconcile(managed.id))).toEqual(['granted']);
  });

  it('refuses an identity outside WORKLOAD_FEDERATION_SCOPES, naming the missing scope, and federates none when it is empty', async () => {
    const id = await identity(other, 'id-elsewhere');
    const result = await reconcile(id.id, { scopes: [rg.toLowerCase()] });
    expect(outcomes(result)).toEqual(['denied-ineligible']);
    expect(result.decisions[0]).toMatchObject({
      errorCode: 'IdentityOutsideFederationScopes',
      details: { federationScopes: rg.toLowerCase() },
    });
    expect(result.decisions[0]!.reason).toContain(
      `id-elsewhere is not in WORKLOAD_FEDERATION_SCOPES (${rg.toLowerCase()}): its resource group ${other} is not scoped in`,
    );
    expect(await ours(id.id)).toEqual([]);

    const none = await reconcile(id.id, { scopes: [] });
    expect(outcomes(none)).toEqual(['denied-ineligible']);
    expect(none.decisions[0]).toMatchObject({ errorCode: 'FederationScopesEmpty', details: { federationScopes: '(empty)' } });
    expect(none.decisions[0]!.reason).toMatch(/WORKLOAD_FEDERATION_SCOPES is empty, so no identity is federated/);
  });

  it('deletes our credentials once a federated identity gains Contributor, on its next reconcile and on the sweep', async () => {
    const id = await identity(rg, 'id-promoted');
    const sweepOnly = await identity(rg, 'id-promoted-sweep');
    expect(outcomes(await reconcile(id.id))).toEqual(['granted']);
    expect(outcomes(await reconcile(sweepOnly.id))).toEqual(['granted']);
    expect(await ours(id.id)).toHaveLength(1);

    await assign(other, id.principalId, CONTRIBUTOR, '0f0e0d0c-0000-4000-8000-000000000004');
    await assign(other, sweepOnly.principalId, CONTRIBUTOR, '0f0e0d0c-0000-4000-8000-000000000005');
    const result = await reconcile(id.id);
    expect(outcomes(result)).toEqual(['denied-ineligible', 'revoked']);
    expect(result.decisions[0]!.reason).toMatch(/holds Contributor .* on .*rg-not-scoped.*ours \(1\) are deleted/);
    expect(result.decisions[1]).toMatchObject({
      action: 'delete federated credential',
      details: { subject: 'system:serviceaccount:default:app' },
    });
    expect(await ours(id.id)).toEqual([]);

    // No event for the identity: the sweep finds it by its tags and settles it the same way.
    await sweepSubscriptions(h.deps, { log: h.log, sweepId: 'sweep-fed' });
    expect(await ours(sweepOnly.id)).toEqual([]);
    const rows = (await h.deps.audit.query({ resourceId: sweepOnly.id })).items;
    expect(rows.some((r) => r.outcome === 'revoked' && r.action === 'delete federated credential')).toBe(true);
  });
});
