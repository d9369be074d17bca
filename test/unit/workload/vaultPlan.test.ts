/**
 * The pure vault planner (issue 17: split from the workload use case): one vault's steps from what
 * the identity asks for, what the vault says, and the assignments at its scope. The I/O that carries
 * the steps out is covered by test/integration/workload/vaultRules.test.ts and the e2e workload test.
 */
import { describe, expect, it } from 'vitest';
import { describeOwnership, OWNERSHIP_KINDS, roleAssignmentName } from '../../../src/policy/ownership.js';
import { ROLES } from '../../../src/policy/roles.js';
import { needsCredentialsVaultAnswer, planVaultScope, type VaultScopeFacts } from '../../../src/workload/vaultPlan.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VAULT = { id: `/subscriptions/${SUB}/resourceGroups/rg-apps/providers/Microsoft.KeyVault/vaults/contoso-kv`, name: 'contoso-kv' };
const IDENTITY = {
  id: `/subscriptions/${SUB}/resourceGroups/rg-apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`,
  name: 'id-orders',
};
const PRINCIPAL = '11111111-1111-1111-1111-111111111111';
const OLD_PRINCIPAL = '22222222-2222-2222-2222-222222222222';
const ROLE = ROLES.keyVaultSecretsUser;

/** A Key Vault Secrets User assignment at the vault, made by the automation for IDENTITY (deterministic name, our description) or by hand. */
function assignment(principalId: string, ours: boolean) {
  const name = roleAssignmentName({ scope: VAULT.id, principalId, roleDefinitionId: ROLE.roleDefinitionId });
  if (!name.ok) throw new Error(name.error);
  return {
    id: `${VAULT.id}/providers/Microsoft.Authorization/roleAssignments/${ours ? name.value : '33333333-3333-3333-3333-333333333333'}`,
    name: ours ? name.value : '33333333-3333-3333-3333-333333333333',
    scope: VAULT.id,
    principalId,
    roleDefinitionGuid: ROLE.roleDefinitionId,
    ...(ours ? { description: describeOwnership({ kind: OWNERSHIP_KINDS.workloadVault, identityId: IDENTITY.id }) } : {}),
  };
}
const consenting = { ...VAULT, tags: { 'acr-workload-allow': 'same-resource-group' }, properties: { enableRbacAuthorization: true } };
const silent = { ...VAULT, properties: { enableRbacAuthorization: true } };
const facts = (over: Partial<VaultScopeFacts>): VaultScopeFacts => ({
  identity: IDENTITY,
  principalId: PRINCIPAL,
  vault: VAULT,
  gone: false,
  allowRevoke: true,
  assignments: [],
  ...over,
});

describe('planVaultScope', () => {
  it.each<{ case: string; facts: VaultScopeFacts; steps: string[] }>([
    { case: 'named and consenting, nothing held → grant', facts: facts({ wanted: consenting }), steps: ['grant'] },
    {
      case: 'named and consenting, ours held → present',
      facts: facts({ wanted: consenting, assignments: [assignment(PRINCIPAL, true)] }),
      steps: ['present'],
    },
    {
      case: 'named and consenting, ours for an old principal → grant, revoke the old',
      facts: facts({ wanted: consenting, assignments: [assignment(OLD_PRINCIPAL, true)] }),
      steps: ['grant', 'revoke'],
    },
    {
      case: 'named, vault does not consent, ours held → deny, revoke, forget',
      facts: facts({ wanted: silent, assignments: [assignment(PRINCIPAL, true)] }),
      steps: ['deny', 'revoke', 'forget'],
    },
    {
      case: 'named and consenting, but it holds pull credentials → deny, forget',
      facts: facts({ wanted: consenting, holdsPullCredentials: 'CREDENTIALS_VAULT_NAMES names it' }),
      steps: ['deny', 'forget'],
    },
    {
      case: 'no longer named → revoke ours, forget',
      facts: facts({ assignments: [assignment(PRINCIPAL, true), assignment(PRINCIPAL, false)] }),
      steps: ['revoke', 'forget'],
    },
    {
      case: 'not named, tags unreadable → keep ours',
      facts: facts({ allowRevoke: false, assignments: [assignment(PRINCIPAL, true)] }),
      steps: ['keep'],
    },
    {
      case: 'not named, tags unreadable, vault holds pull credentials → revoke ours',
      facts: facts({ allowRevoke: false, holdsPullCredentials: 'x', assignments: [assignment(PRINCIPAL, true)] }),
      steps: ['revoke'],
    },
    {
      case: 'gone, tags unreadable → revoke ours, forget',
      facts: facts({ allowRevoke: false, gone: true, assignments: [assignment(PRINCIPAL, true)] }),
      steps: ['revoke', 'forget'],
    },
  ])('$case', ({ facts: f, steps }) => {
    expect(planVaultScope(f).map((s) => s.kind)).toEqual(steps);
  });

  it('never revokes an assignment made by hand, and says it is left as it is', () => {
    const steps = planVaultScope(facts({ wanted: silent, assignments: [assignment(PRINCIPAL, false)] }));
    expect(steps).toEqual([
      {
        kind: 'deny',
        byConsent: true,
        code: 'VaultConsentDenied',
        reason:
          'acr-workload-vault on id-orders names contoso-kv, but Key Vault contoso-kv has no acr-workload-allow tag and the default is none; Key Vault Secrets User is not granted (an assignment made outside the automation exists and is left as it is)',
      },
      { kind: 'forget' },
    ]);
  });
});

describe('needsCredentialsVaultAnswer', () => {
  it.each<{ case: string; facts: Omit<VaultScopeFacts, 'holdsPullCredentials'>; needed: boolean }>([
    { case: 'named vault', facts: facts({ wanted: consenting }), needed: true },
    { case: 'revocable and not named', facts: facts({ assignments: [assignment(PRINCIPAL, true)] }), needed: false },
    { case: 'unreadable tags, ours held', facts: facts({ allowRevoke: false, assignments: [assignment(PRINCIPAL, true)] }), needed: true },
    {
      case: 'unreadable tags, nothing of ours',
      facts: facts({ allowRevoke: false, assignments: [assignment(PRINCIPAL, false)] }),
      needed: false,
    },
  ])('$case → $needed', ({ facts: f, needed }) => expect(needsCredentialsVaultAnswer(f)).toBe(needed));
});
