/** Who may be federated by a tag (issue 13, point 1): the deployment's scopes, and no role beyond the managed ones. */
import { describe, expect, it } from 'vitest';
import {
  evaluateFederationEligibility,
  federationScopeOf,
  FEDERATION_ALLOWED_ROLES,
  isAllowedRole,
  type PrincipalRoleAssignment,
} from '../../../src/policy/federationEligibility.js';
import { ROLES } from '../../../src/policy/roles.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const OTHER_SUB = '00000000-0000-0000-0000-000000000002';
const IDENTITY = `/subscriptions/${SUB}/resourceGroups/RG-Apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;
const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const CUSTOM = '3b1c0d6e-5f6a-4b7c-8d9e-0f1a2b3c4d5e';
const subForm = (guid: string) => `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const tenantForm = (guid: string) => `/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const at = (scope: string, roleDefinitionId: string): PrincipalRoleAssignment => ({ scope, roleDefinitionId });

describe('evaluateFederationEligibility', () => {
  it.each([
    {
      case: 'no scopes configured: nobody',
      scopes: [],
      assignments: [],
      eligible: false,
      code: 'FederationScopesEmpty',
      reason: /WORKLOAD_FEDERATION_SCOPES is empty, so no identity is federated/,
    },
    { case: 'in a scoped-in subscription, no roles', scopes: [`/subscriptions/${SUB}`], assignments: [], eligible: true },
    {
      case: 'in a scoped-in resource group (any casing)',
      scopes: [`/subscriptions/${SUB}/resourcegroups/rg-apps`],
      assignments: [],
      eligible: true,
    },
    {
      case: 'in another resource group of the subscription',
      scopes: [`/subscriptions/${SUB}/resourcegroups/rg-other`],
      assignments: [],
      eligible: false,
      code: 'IdentityOutsideFederationScopes',
      reason: new RegExp(
        `id-orders is not in WORKLOAD_FEDERATION_SCOPES \\(/subscriptions/${SUB}/resourcegroups/rg-other\\): its resource group /subscriptions/${SUB}/resourceGroups/RG-Apps is not scoped in`,
      ),
    },
    {
      case: 'a resource group whose name starts like the scope',
      scopes: [`/subscriptions/${SUB}/resourcegroups/rg-app`],
      assignments: [],
      eligible: false,
      code: 'IdentityOutsideFederationScopes',
    },
    {
      case: 'in another subscription',
      scopes: [`/subscriptions/${OTHER_SUB}`],
      assignments: [],
      eligible: false,
      code: 'IdentityOutsideFederationScopes',
    },
    {
      case: 'only the managed roles, in any id form',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [
        at(`/subscriptions/${SUB}/resourceGroups/rg-acr`, subForm(ROLES.acrPull.roleDefinitionId)),
        at('/', tenantForm(ROLES.acrPush.roleDefinitionId)),
        at(`/subscriptions/${SUB}`, ROLES.repositoryReader.roleDefinitionId.toUpperCase()),
        at(`/subscriptions/${SUB}`, subForm(ROLES.repositoryWriter.roleDefinitionId)),
        at(
          `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv`,
          subForm(ROLES.keyVaultSecretsUser.roleDefinitionId),
        ),
      ],
      eligible: true,
    },
    {
      case: 'Owner of the subscription',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [at(`/subscriptions/${SUB}`, subForm(OWNER))],
      eligible: false,
      code: 'IdentityHoldsOtherRoles',
      role: `Owner (${OWNER})`,
      roleScope: `/subscriptions/${SUB}`,
      reason:
        /id-orders holds Owner \(8e3af657-.*\) on \/subscriptions\/.*; only identities whose roles are all among AcrPull, AcrPush, Container Registry Repository Reader, Container Registry Repository Writer, Key Vault Secrets User are federated/,
    },
    {
      case: 'Contributor on one resource group, beside AcrPull',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [
        at(`/subscriptions/${SUB}`, subForm(ROLES.acrPull.roleDefinitionId)),
        at(`/subscriptions/${SUB}/resourceGroups/rg-x`, subForm(CONTRIBUTOR)),
      ],
      eligible: false,
      code: 'IdentityHoldsOtherRoles',
      role: `Contributor (${CONTRIBUTOR})`,
      roleScope: `/subscriptions/${SUB}/resourceGroups/rg-x`,
    },
    {
      case: 'a custom role, named by its id',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [at(`/subscriptions/${SUB}`, subForm(CUSTOM))],
      eligible: false,
      code: 'IdentityHoldsOtherRoles',
      role: `role definition ${CUSTOM}`,
      reason: new RegExp(`holds role definition ${CUSTOM} on`),
    },
    {
      case: 'Owner inherited from a management group',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [at('/providers/Microsoft.Management/managementGroups/mg-platform', tenantForm(OWNER))],
      eligible: false,
      code: 'IdentityHoldsOtherRoles',
      roleScope: '/providers/Microsoft.Management/managementGroups/mg-platform',
    },
    {
      case: 'a role definition id that is not one',
      scopes: [`/subscriptions/${SUB}`],
      assignments: [at(`/subscriptions/${SUB}`, 'not-a-role')],
      eligible: false,
      code: 'IdentityHoldsOtherRoles',
      role: 'role definition not-a-role',
    },
  ])('$case', ({ scopes, assignments, eligible, code, role, roleScope, reason }) => {
    const result = evaluateFederationEligibility({ identityId: IDENTITY, scopes, assignments });
    expect(result.eligible).toBe(eligible);
    if (!result.eligible) {
      expect(result.code).toBe(code);
      if (role) expect(result.role).toBe(role);
      if (roleScope) expect(result.roleScope).toBe(roleScope);
    }
    if (reason) expect(result.reason).toMatch(reason);
  });

  it('says which scope let an eligible identity in', () => {
    const result = evaluateFederationEligibility({
      identityId: IDENTITY,
      scopes: [`/subscriptions/${OTHER_SUB}`, `/subscriptions/${SUB}/resourcegroups/rg-apps`],
      assignments: [],
    });
    expect(result).toMatchObject({ eligible: true, scope: `/subscriptions/${SUB}/resourcegroups/rg-apps` });
  });
});

describe('federationScopeOf', () => {
  it.each([
    [[`/subscriptions/${SUB}`], `/subscriptions/${SUB}`],
    [[`/subscriptions/${SUB.toUpperCase()}/resourceGroups/rg-apps`], `/subscriptions/${SUB.toUpperCase()}/resourceGroups/rg-apps`],
    [[`/subscriptions/${SUB}/resourcegroups/rg-apps-2`], undefined],
    [[], undefined],
  ])('%j → %s', (scopes, expected) => {
    expect(federationScopeOf(IDENTITY, scopes)).toBe(expected);
  });
});

describe('isAllowedRole', () => {
  it('allows exactly the registry roles and Key Vault Secrets User', () => {
    expect(FEDERATION_ALLOWED_ROLES.map((r) => r.name)).toEqual([
      'AcrPull',
      'AcrPush',
      'Container Registry Repository Reader',
      'Container Registry Repository Writer',
      'Key Vault Secrets User',
    ]);
    for (const r of FEDERATION_ALLOWED_ROLES) expect(isAllowedRole(tenantForm(r.roleDefinitionId))).toBe(true);
    for (const guid of [OWNER, CONTRIBUTOR, CUSTOM, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'])
      expect(isAllowedRole(subForm(guid))).toBe(false);
  });
});
