/**
 * Key Vault's secrets as the emulator keeps them (vaults, secrets, versions, soft-deleted ones) and
 * as the REST API answers them: attributes, SecretBundle, SecretItem, DeletedSecretBundle and the
 * service's error for a missing secret. https://learn.microsoft.com/rest/api/keyvault/secrets
 */
import type { EmuRequest, EmuResponse, TokenClaims } from '../core/contract.js';
import { apiError } from '../core/errors.js';

export interface Attributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  readonly created: number;
  updated: number;
}
export interface SecretVersion {
  readonly version: string;
  readonly value: string;
  contentType?: string;
  tags?: Record<string, string>;
  attributes: Attributes;
}
export interface Secret {
  readonly name: string;
  versions: SecretVersion[];
}
export interface DeletedSecret {
  readonly secret: Secret;
  readonly deletedDate: number;
  readonly scheduledPurgeDate: number;
}
export interface Vault {
  readonly name: string;
  readonly resourceId: string;
  readonly uri: string;
  readonly secrets: Map<string, Secret>;
  readonly deleted: Map<string, DeletedSecret>;
  /** Versions already announced as near expiry (once per version). */
  readonly nearExpiryPublished: Set<string>;
}

export interface KeyVaultSeed {
  vaults?: Array<{
    name: string;
    resourceId: string;
    secrets?: Array<{ name: string; value: string; contentType?: string; tags?: Record<string, string>; exp?: string; nbf?: string }>;
  }>;
}

export const RECOVERABLE_DAYS = 90;
export const NEAR_EXPIRY_SECONDS = 30 * 86_400;
export const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;

/** Data actions Key Vault checks under Azure RBAC. https://learn.microsoft.com/azure/key-vault/general/rbac-guide */
export const SECRET_ACTIONS = {
  get: 'Microsoft.KeyVault/vaults/secrets/getSecret/action',
  set: 'Microsoft.KeyVault/vaults/secrets/setSecret/action',
  readMetadata: 'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
  update: 'Microsoft.KeyVault/vaults/secrets/update/action',
  delete: 'Microsoft.KeyVault/vaults/secrets/delete',
  recover: 'Microsoft.KeyVault/vaults/secrets/recover/action',
  purge: 'Microsoft.KeyVault/vaults/secrets/purge/action',
} as const;

export const kvError = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) => apiError('keyVault', status, code, message, headers, extra);
export const secretNotFound = (vault: Vault, name: string, version?: string) =>
  kvError(
    404,
    'SecretNotFound',
    version
      ? `A secret with (name/id) ${name}/${version} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`
      : `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

export const toAttributes = (a: Attributes) => ({
  enabled: a.enabled,
  ...(a.nbf !== undefined ? { nbf: a.nbf } : {}),
  ...(a.exp !== undefined ? { exp: a.exp } : {}),
  created: a.created,
  updated: a.updated,
  recoveryLevel: 'Recoverable+Purgeable',
  recoverableDays: RECOVERABLE_DAYS,
});
// SecretBundle: https://learn.microsoft.com/rest/api/keyvault/secrets/get-secret/get-secret#secretbundle
export const toBundle = (vault: Vault, s: Secret, v: SecretVersion, withValue: boolean) => ({
  ...(withValue ? { value: v.value } : {}),
  id: `${vault.uri}secrets/${s.name}/${v.version}`,
  ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
  attributes: toAttributes(v.attributes),
  tags: v.tags ?? {},
});
export const toItem = (vault: Vault, s: Secret, v: SecretVersion, withVersion: boolean) => ({
  id: withVersion ? `${vault.uri}secrets/${s.name}/${v.version}` : `${vault.uri}secrets/${s.name}`,
  attributes: toAttributes(v.attributes),
  tags: v.tags ?? {},
  ...(v.contentType !== undefined ? { contentType: v.contentType } : {}),
});
export const toDeleted = (vault: Vault, d: DeletedSecret, withValue: boolean) => ({
  recoveryId: `${vault.uri}deletedsecrets/${d.secret.name}`,
  deletedDate: d.deletedDate,
  scheduledPurgeDate: d.scheduledPurgeDate,
  ...toBundle(vault, d.secret, latest(d.secret), withValue),
});
export const latest = (s: Secret): SecretVersion => s.versions[s.versions.length - 1]!;

/** One route's handler, given the vault the request came to and the verified caller. */
export type Handler = (vault: Vault, req: EmuRequest, caller: TokenClaims) => EmuResponse;
/** Registers a route: method, path pattern, its template (for the call log), the RBAC data action it needs, the handler. */
export type RouteFn = (method: string, pattern: RegExp, template: string, action: string, handler: Handler) => void;

export const object = (b: unknown): Record<string, unknown> | undefined =>
  b && typeof b === 'object' && !Array.isArray(b) ? (b as Record<string, unknown>) : undefined;
/** The service's check of a request's `attributes`: undefined when fine, else what is wrong. */
export const validAttrs = (a: unknown): string | undefined => {
  if (a === undefined) return undefined;
  const o = object(a);
  if (!o) return 'attributes must be an object';
  for (const k of ['nbf', 'exp'])
    if (o[k] !== undefined && o[k] !== null && !Number.isInteger(o[k])) return `attributes.${k} must be an integer (epoch seconds)`;
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') return 'attributes.enabled must be a boolean';
  return undefined;
};
