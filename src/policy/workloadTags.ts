/**
 * The workload-identity tag grammar, on a user-assigned identity:
 *
 *   acr-workload-cluster   = one or more AKS clusters: a name (looked up in the identity's own
 *                            subscription) or a managed cluster resource id
 *   acr-workload-subjects  = one or more Kubernetes service accounts as `<namespace>/<serviceaccount>`
 *   acr-workload-vault     = one or more Key Vaults (name or resource id) → Key Vault Secrets User
 *
 * and on the Key Vault, its consent (the vault side opts in, as a registry does with `acr-pull-allow`):
 *
 *   acr-workload-allow     = the `acr-pull-allow` grammar (consent.ts), judged against the identity
 *
 * Items are separated by commas, semicolons or whitespace (as in `acr-pull`). Every (cluster,
 * service account) pair gets one federated identity credential whose name is deterministic and
 * starts with FEDERATED_CREDENTIAL_PREFIX — the only way to know a credential is ours, since
 * federated credentials have no description. docs/workload-identity.md is the reference.
 *
 * Pure: no I/O. Bad input is a value (a TagError per bad item), never a throw.
 */
import { createHash } from 'node:crypto';
import type { ConsentSubject } from './consentSubject.js';
import { parseResourceId } from './resourceId.js';
import { fail, ok, quote, type Result, type Tags } from './result.js';
import { checkKeyVaultName, getTag, splitTagValue } from './tags.js';
import { RESOURCE_TYPES, TYPES } from './resourceTypes.js';

/** The tags this grammar reads. Azure tag names are case-insensitive, so lookups are too. */
export const WORKLOAD_TAG_NAMES = {
  cluster: 'acr-workload-cluster',
  subjects: 'acr-workload-subjects',
  vault: 'acr-workload-vault',
  /** On the Key Vault, not the identity: which identities the automation may grant Key Vault Secrets User. */
  allow: 'acr-workload-allow',
} as const;
export type WorkloadTagName = (typeof WORKLOAD_TAG_NAMES)[keyof typeof WORKLOAD_TAG_NAMES];

/**
 * A Key Vault consents with `acr-workload-allow`, in the `acr-pull-allow` grammar. Without it an
 * identity that names a vault in `acr-workload-vault` would grant itself access to that vault's secrets.
 */
export const VAULT_CONSENT: ConsentSubject = { noun: 'Key Vault', tag: WORKLOAD_TAG_NAMES.allow };

/** The audience AKS workload identity tokens carry (https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster). */
export const WORKLOAD_AUDIENCE = 'api://AzureADTokenExchange';

/** Entra's cap on federated identity credentials per user-assigned identity. */
export const FEDERATED_CREDENTIAL_LIMIT = 20;

/**
 * Starts the name of every federated identity credential the automation creates. Federated
 * credentials carry no description, so the name is the ownership marker: we never delete a
 * credential whose name does not match `isOwnedCredentialName`.
 */
export const FEDERATED_CREDENTIAL_PREFIX = 'acr-pull-automation-';

/** An AKS cluster named in `acr-workload-cluster`, before it is looked up. */
export type ClusterRef =
  | { readonly kind: 'name'; readonly raw: string; readonly key: string; readonly name: string }
  | { readonly kind: 'resourceId'; readonly raw: string; readonly key: string; readonly name: string; readonly resourceId: string };

/** A Kubernetes service account named in `acr-workload-subjects`. */
export interface ServiceAccountRef {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The token subject the cluster's OIDC issuer signs: `system:serviceaccount:<namespace>:<serviceaccount>`. */
  readonly subject: string;
}

/** A Key Vault named in `acr-workload-vault`. `name` is lower-cased. */
export type VaultRef =
  | { readonly kind: 'name'; readonly raw: string; readonly key: string; readonly name: string }
  | { readonly kind: 'resourceId'; readonly raw: string; readonly key: string; readonly name: string; readonly resourceId: string };

/** One problem in one tag, said so that the person who wrote the tag can fix it. */
export interface WorkloadTagError {
  readonly tag: WorkloadTagName;
  /** The offending item, or the whole value when the value itself is wrong. */
  readonly item: string;
  readonly message: string;
}

export interface WorkloadTags {
  /** Whether any of the three tags is present (even empty). */
  readonly present: boolean;
  /** Valid, deduplicated, in the order written. */
  readonly clusters: readonly ClusterRef[];
  readonly serviceAccounts: readonly ServiceAccountRef[];
  readonly vaults: readonly VaultRef[];
  /** One per invalid item or inconsistency; valid items still count. */
  readonly errors: readonly WorkloadTagError[];
}

const CLUSTER_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$/i;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/;

/** Checks an AKS cluster name: 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit. */
export function checkClusterName(name: string): Result<string> {
  if (CLUSTER_NAME.test(name)) return ok(name);
  return fail(`${quote(name)} is not an AKS cluster name (1-63 letters, digits, - and _, starting and ending with a letter or digit)`);
}

/** Parses one item of `acr-workload-cluster`: a cluster name or a managed cluster resource id. */
export function parseClusterRef(item: string): Result<ClusterRef> {
  const raw = item.trim();
  if (raw === '') return fail('empty cluster reference');
  if (raw.startsWith('/')) {
    const parsed = parseResourceId(raw);
    if (!parsed.ok) return fail(parsed.error);
    if (parsed.value.type !== TYPES.managedCluster) {
      const what = parsed.value.type ?? `a ${parsed.value.kind}`;
      return fail(`${quote(raw)} is not an AKS cluster (it is ${what}); expected …/providers/${RESOURCE_TYPES.managedCluster.type}/<name>`);
    }
    const name = checkClusterName(parsed.value.name);
    if (!name.ok) return fail(name.error);
    return ok({ kind: 'resourceId', raw, key: `id:${parsed.value.normalized}`, name: name.value, resourceId: parsed.value.id });
  }
  if (raw.includes('/'))
    return fail(`${quote(raw)} has a path; write the cluster name alone or its full resource id (/subscriptions/…/managedClusters/<name>)`);
  const name = checkClusterName(raw);
  if (!name.ok) return fail(name.error);
  return ok({ kind: 'name', raw, key: `name:${name.value.toLowerCase()}`, name: name.value });
}

/** The token subject of a Kubernetes service account, exactly as the cluster's OIDC issuer writes it. */
export function serviceAccountSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

/** Parses one item of `acr-workload-subjects`: `<namespace>/<serviceaccount>`, lower case as Kubernetes requires. */
export function parseServiceAccountRef(item: string): Result<ServiceAccountRef> {
  const raw = item.trim();
  if (raw === '') return fail('empty service account');
  if (raw.toLowerCase().startsWith('system:serviceaccount:')) {
    const [, , ns = '', sa = ''] = raw.split(':');
    return fail(`${quote(raw)} is a token subject; write it as <namespace>/<serviceaccount> (${ns}/${sa})`);
  }
  if (raw.includes('*')) return fail(`${quote(raw)} has a wildcard; name each service account as <namespace>/<serviceaccount>`);
  const parts = raw.split('/');
  if (parts.length !== 2) return fail(`${quote(raw)} is not <namespace>/<serviceaccount>`);
  const [namespace = '', serviceAccount = ''] = parts;
  if (!DNS_LABEL.test(namespace)) {
    return fail(
      `namespace ${quote(namespace)} in ${quote(raw)} is not valid (1-63 lower-case letters, digits and -, starting and ending with a letter or digit)`,
    );
  }
  if (!DNS_SUBDOMAIN.test(serviceAccount) || serviceAccount.includes('..')) {
    return fail(
      `service account ${quote(serviceAccount)} in ${quote(raw)} is not valid (1-253 lower-case letters, digits, - and ., starting and ending with a letter or digit)`,
    );
  }
  return ok({ namespace, serviceAccount, subject: serviceAccountSubject(namespace, serviceAccount) });
}

/** Parses one item of `acr-workload-vault`: a Key Vault name or a vault resource id. */
export function parseVaultRef(item: string): Result<VaultRef> {
  const raw = item.trim();
  if (raw === '') return fail('empty vault reference');
  if (raw.includes('://')) return fail(`${quote(raw)} looks like a URL; write the vault name alone (contoso-kv) or its resource id`);
  if (raw.startsWith('/')) {
    const parsed = parseResourceId(raw);
    if (!parsed.ok) return fail(parsed.error);
    if (parsed.value.type !== TYPES.keyVault) {
      const what = parsed.value.type ?? `a ${parsed.value.kind}`;
      return fail(`${quote(raw)} is not a Key Vault (it is ${what}); expected …/providers/${RESOURCE_TYPES.keyVault.type}/<name>`);
    }
    const name = checkKeyVaultName(parsed.value.name);
    if (!name.ok) return fail(name.error);
    return ok({ kind: 'resourceId', raw, key: `id:${parsed.value.normalized}`, name: name.value, resourceId: parsed.value.id });
  }
  const name = checkKeyVaultName(raw);
  if (!name.ok) return fail(name.error);
  return ok({ kind: 'name', raw, key: `name:${name.value}`, name: name.value });
}

/** Reads the three workload tags of a user-assigned identity. Missing tags ask for nothing. */
export function parseWorkloadTags(tags: Tags): WorkloadTags {
  const errors: WorkloadTagError[] = [];
  const read = <T>(tag: WorkloadTagName, parse: (item: string) => Result<T>, keyOf: (value: T) => string): T[] | undefined => {
    const value = getTag(tags, tag);
    if (value === undefined) return undefined;
    const out: T[] = [];
    const seen = new Set<string>();
    for (const item of splitTagValue(value)) {
      const parsed = parse(item);
      if (!parsed.ok) {
        errors.push({ tag, item, message: `${tag}: ${parsed.error}` });
        continue;
      }
      const key = keyOf(parsed.value);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(parsed.value);
    }
    return out;
  };
  const clusters = read(WORKLOAD_TAG_NAMES.cluster, parseClusterRef, (c) => c.key);
  const serviceAccounts = read(WORKLOAD_TAG_NAMES.subjects, parseServiceAccountRef, (s) => s.subject);
  const vaults = read(WORKLOAD_TAG_NAMES.vault, parseVaultRef, (v) => v.key);

  const clusterErrors = errors.some((e) => e.tag === WORKLOAD_TAG_NAMES.cluster);
  const subjectErrors = errors.some((e) => e.tag === WORKLOAD_TAG_NAMES.subjects);
  if ((clusters?.length ?? 0) > 0 && (serviceAccounts?.length ?? 0) === 0 && !subjectErrors) {
    errors.push({
      tag: WORKLOAD_TAG_NAMES.subjects,
      item: '',
      message: `${WORKLOAD_TAG_NAMES.cluster} names a cluster but ${WORKLOAD_TAG_NAMES.subjects} names no <namespace>/<serviceaccount>, so no federated credential can be made`,
    });
  }
  if ((serviceAccounts?.length ?? 0) > 0 && (clusters?.length ?? 0) === 0 && !clusterErrors) {
    errors.push({
      tag: WORKLOAD_TAG_NAMES.cluster,
      item: '',
      message: `${WORKLOAD_TAG_NAMES.subjects} names service accounts but ${WORKLOAD_TAG_NAMES.cluster} names no AKS cluster, so no federated credential can be made`,
    });
  }
  return {
    present: clusters !== undefined || serviceAccounts !== undefined || vaults !== undefined,
    clusters: clusters ?? [],
    serviceAccounts: serviceAccounts ?? [],
    vaults: vaults ?? [],
    errors,
  };
}

const NAME_MAX = 120;
const HASH_LENGTH = 10;

/**
 * The deterministic name of our federated credential for a service account on a cluster:
 * `acr-pull-automation-<cluster>-<namespace>-<serviceaccount>-<hash>`, where the readable middle is
 * cut to fit 120 characters and the hash (of the normalised cluster id, namespace and service
 * account) keeps names unique. Valid as a credential name: letters, digits, - and _, starting with
 * a letter, 3-120 characters. The issuer is not part of the name, so a changed issuer updates the
 * same credential.
 */
export function federatedCredentialName(clusterId: string, namespace: string, serviceAccount: string): string {
  const parsed = parseResourceId(clusterId);
  const clusterKey = parsed.ok ? parsed.value.normalized : clusterId.toLowerCase();
  const clusterName = parsed.ok ? parsed.value.name : (clusterId.split('/').pop() ?? '');
  const hash = createHash('sha256').update(`${clusterKey}|${namespace}|${serviceAccount}`).digest('hex').slice(0, HASH_LENGTH);
  const room = NAME_MAX - FEDERATED_CREDENTIAL_PREFIX.length - HASH_LENGTH - 1;
  const readable = `${clusterName}-${namespace}-${serviceAccount}`
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .slice(0, room - 1)
    .replace(/-+$/, '');
  return `${FEDERATED_CREDENTIAL_PREFIX}${readable}-${hash}`;
}

const OWNED_NAME = new RegExp(`^${FEDERATED_CREDENTIAL_PREFIX}[a-z0-9_-]*-[0-9a-f]{${HASH_LENGTH}}$`, 'i');

/** Whether a federated credential was created by the automation (its name has our prefix and hash). */
export function isOwnedCredentialName(name: string): boolean {
  return OWNED_NAME.test(name);
}

/** Whether a name is a valid federated identity credential name (3-120 letters, digits, - and _, starting with a letter or digit). */
export function isValidCredentialName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$/.test(name);
}
