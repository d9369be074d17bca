/**
 * Key Vault Secrets User decisions (issue 13 point 3, issue 14 point 6): the app's own vaults are
 * never a target, a vault in access-policy mode gets a denial naming its permission model, and a vault
 * without `acr-workload-allow` consents to nobody, whatever ACCESS_DEFAULT_CONSENT says for registries.
 */
import { describe, expect, it } from 'vitest';
import { decideVaultGrant, usesAzureRbac, VAULT_DENIALS } from '../../../src/policy/vaultGrant.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-apps/providers/Microsoft.KeyVault/vaults/contoso-kv`;
const IDENTITY = {
  id: `/subscriptions/${SUB}/resourceGroups/rg-apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`,
};
const RBAC = { enableRbacAuthorization: true };
const vault = (over: Partial<Parameters<typeof decideVaultGrant>[0]> = {}) => ({
  id: VAULT,
  name: 'contoso-kv',
  properties: RBAC,
  ...over,
});

describe('usesAzureRbac', () => {
  // keyvault/.../stable/2025-05-01/openapi.json: absent meant false (access policies) up to 2025-05-01.
  it.each([
    { properties: { enableRbacAuthorization: true }, rbac: true },
    { properties: { enableRbacAuthorization: false }, rbac: false },
    { properties: {}, rbac: false },
    { properties: undefined, rbac: false },
    { properties: { enableRbacAuthorization: 'true' }, rbac: false },
  ])('$properties → $rbac', ({ properties, rbac }) => expect(usesAzureRbac(properties)).toBe(rbac));
});

describe('decideVaultGrant', () => {
  it('allows a vault in RBAC mode whose acr-workload-allow covers the identity, quoting the rule', () => {
    expect(decideVaultGrant(vault({ tags: { 'acr-workload-allow': 'same-resource-group' } }), IDENTITY)).toEqual({
      allowed: true,
      reason: 'Key Vault contoso-kv allows same-resource-group; id-orders is in rg-apps',
    });
  });

  it('denies a vault without acr-workload-allow: vaults default to none, not to ACCESS_DEFAULT_CONSENT', () => {
    expect(decideVaultGrant(vault(), IDENTITY)).toEqual({
      allowed: false,
      code: VAULT_DENIALS.noConsent,
      reason: 'Key Vault contoso-kv has no acr-workload-allow tag and the default is none',
    });
  });

  it.each([
    { properties: { enableRbacAuthorization: false }, says: 'enableRbacAuthorization=false' },
    { properties: {}, says: 'enableRbacAuthorization not set, so false' },
  ])('denies a vault in access-policy mode ($says), naming the permission model, even with consent', ({ properties, says }) => {
    const decision = decideVaultGrant(vault({ properties, tags: { 'acr-workload-allow': '*' } }), IDENTITY);
    expect(decision).toMatchObject({ allowed: false, code: VAULT_DENIALS.accessPolicyMode });
    expect(decision.reason).toContain(`uses the access-policy permission model (${says}), where Key Vault Secrets User has no effect`);
  });

  it('denies the app’s own vault whatever it consents to, saying how the app knows it', () => {
    const decision = decideVaultGrant(
      vault({ tags: { 'acr-workload-allow': '*' }, holdsPullCredentials: 'CREDENTIALS_VAULT_NAMES names it' }),
      IDENTITY,
    );
    expect(decision).toEqual({
      allowed: false,
      code: VAULT_DENIALS.credentialsVault,
      reason:
        "Key Vault contoso-kv holds the automation's pull credentials (CREDENTIALS_VAULT_NAMES names it), so it is never given to a workload identity",
    });
  });

  it('checks the own-vault rule before the permission model', () => {
    expect(decideVaultGrant(vault({ properties: {}, holdsPullCredentials: 'x' }), IDENTITY)).toMatchObject({
      code: VAULT_DENIALS.credentialsVault,
    });
  });
});
