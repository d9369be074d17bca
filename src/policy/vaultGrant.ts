/**
 * Whether the automation may give an identity Key Vault Secrets User on a vault its
 * `acr-workload-vault` tag names, and why. Three rules, in this order:
 *
 *   1. The app's own vaults (those that hold pull credentials) are never a target: Key Vault Secrets
 *      User there reads every registry's pull password, which no tag should hand out.
 *   2. A vault in access-policy mode ignores Azure RBAC data roles (`properties.enableRbacAuthorization`
 *      not true): a Key Vault Secrets User assignment there would do nothing, so none is made and the
 *      row says so instead of claiming a grant.
 *   3. The vault consents with `acr-workload-allow`. Without that tag a vault consents to nobody —
 *      vaults have their own default (none); `ACCESS_DEFAULT_CONSENT` is the registries' default only.
 *
 * Pure: the facts (the vault as ARM has it, and whether it holds pull credentials) come from the caller.
 */
import { evaluateConsent, type ConsentParty } from './consent.js';
import type { Tags } from './result.js';
import { VAULT_CONSENT } from './workloadTags.js';

/** What a Key Vault without `acr-workload-allow` consents to: nobody, whatever `ACCESS_DEFAULT_CONSENT` says. */
export const VAULT_DEFAULT_CONSENT = 'none' as const;

/** Why a vault grant is refused; the audit row's `errorCode`. */
export const VAULT_DENIALS = {
  /** The vault holds the app's pull credentials. */
  credentialsVault: 'CredentialsVault',
  /** The vault uses access policies, so an RBAC data role would have no effect. */
  accessPolicyMode: 'VaultAccessPolicyMode',
  /** The vault's `acr-workload-allow` (or its absence) does not cover the identity. */
  noConsent: 'VaultConsentDenied',
} as const;
export type VaultDenial = (typeof VAULT_DENIALS)[keyof typeof VAULT_DENIALS];

export interface VaultFacts {
  readonly id: string;
  readonly name: string;
  readonly tags?: Tags;
  /** ARM's `properties` of the vault (`enableRbacAuthorization` is read). */
  readonly properties?: Readonly<Record<string, unknown>>;
  /** Set when the vault holds the app's pull credentials: how the app knows (the setting, a tag, an enrolment). */
  readonly holdsPullCredentials?: string;
}

export type VaultGrantDecision =
  | { readonly allowed: true; readonly reason: string }
  | { readonly allowed: false; readonly reason: string; readonly code: VaultDenial };

/** Whether the vault uses the Azure RBAC permission model; only then does Key Vault Secrets User take effect. */
export function usesAzureRbac(properties: Readonly<Record<string, unknown>> | undefined): boolean {
  // Absent means the vault was made under the old default (false, up to api-version 2025-05-01).
  return properties?.['enableRbacAuthorization'] === true;
}

/** Decides a Key Vault Secrets User grant on `vault` for `identity`; the reason names the rule that decided. */
export function decideVaultGrant(vault: VaultFacts, identity: ConsentParty): VaultGrantDecision {
  if (vault.holdsPullCredentials !== undefined) {
    return {
      allowed: false,
      code: VAULT_DENIALS.credentialsVault,
      reason: `Key Vault ${vault.name} holds the automation's pull credentials (${vault.holdsPullCredentials}), so it is never given to a workload identity`,
    };
  }
  if (!usesAzureRbac(vault.properties)) {
    const value = vault.properties?.['enableRbacAuthorization'];
    const model = value === false ? 'enableRbacAuthorization=false' : 'enableRbacAuthorization not set, so false';
    return {
      allowed: false,
      code: VAULT_DENIALS.accessPolicyMode,
      reason: `Key Vault ${vault.name} uses the access-policy permission model (${model}), where Key Vault Secrets User has no effect; switch it to Azure RBAC (az keyvault update --enable-rbac-authorization true)`,
    };
  }
  const consent = evaluateConsent(
    { id: vault.id, ...(vault.tags ? { tags: vault.tags } : {}) },
    identity,
    VAULT_DEFAULT_CONSENT,
    VAULT_CONSENT,
  );
  return consent.allowed
    ? { allowed: true, reason: consent.reason }
    : { allowed: false, code: VAULT_DENIALS.noConsent, reason: consent.reason };
}
