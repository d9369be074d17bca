/**
 * What the workload-identity use case looks up, as pure values: the resource types it acts on, the
 * Resource Graph queries that find identities, clusters, vaults and registries by name, and whether
 * a tag reference names a given resource. No I/O here: the use case runs the queries.
 */
import { parseResourceId, resourceIdKey, sameResourceId } from '../policy/resourceId.js';
import { REGISTRY_TYPE, TYPES } from '../policy/resourceTypes.js';
import { TAG_NAMES } from '../policy/tags.js';
import { WORKLOAD_TAG_NAMES, type ClusterRef, type VaultRef } from '../policy/workloadTags.js';

export const USER_ASSIGNED_IDENTITY_TYPE = TYPES.userAssignedIdentity;
export const MANAGED_CLUSTER_TYPE = TYPES.managedCluster;
export const KEY_VAULT_TYPE = TYPES.keyVault;

const WORKLOAD_TYPES = new Set<string>([USER_ASSIGNED_IDENTITY_TYPE, MANAGED_CLUSTER_TYPE, KEY_VAULT_TYPE]);

/** Whether a resource type is one this use case acts on (a user-assigned identity, an AKS cluster or a Key Vault). */
export function isWorkloadType(type: string | undefined): boolean {
  return type !== undefined && WORKLOAD_TYPES.has(type);
}

/** Whether a resource id is one this use case acts on (a user-assigned identity, an AKS cluster or a Key Vault). */
export function isWorkloadResource(resourceId: string): boolean {
  const type = parseResourceId(resourceId);
  return type.ok && isWorkloadType(type.value.type);
}

/** Resource Graph: registries whose `acr-pull-credential` tag mentions this vault name (the caller then compares exactly). */
export function registriesStoringCredentialsInQuery(vaultName: string): string {
  const safe = vaultName.replace(/[^A-Za-z0-9-]/g, '');
  return `resources | where type =~ '${REGISTRY_TYPE}' and tags['${TAG_NAMES.credential}'] contains '${safe}' | project id, name, type, tags`;
}

/** Resource Graph: identities whose `acr-workload-vault` tag mentions this vault name (the grammar then decides). */
export function identitiesNamingVaultQuery(vaultName: string): string {
  const safe = vaultName.replace(/[^A-Za-z0-9-]/g, '');
  return `resources | where type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and tags['${WORKLOAD_TAG_NAMES.vault}'] contains '${safe}' | project id, name, type, tags`;
}

/** Whether a vault reference on an identity names this vault: by id, or by name (vault names are globally unique). */
export function refersToVault(ref: VaultRef, vaultId: string): boolean {
  if (ref.kind === 'resourceId') return sameResourceId(ref.resourceId, vaultId);
  const vault = parseResourceId(vaultId);
  return vault.ok && vault.value.name.toLowerCase() === ref.name.toLowerCase();
}

/** Resource Graph: identities whose `acr-workload-cluster` tag mentions this cluster name (the grammar then decides). */
export function identitiesNamingClusterQuery(clusterName: string): string {
  const safe = clusterName.replace(/[^A-Za-z0-9_-]/g, '');
  return `resources | where type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and tags['${WORKLOAD_TAG_NAMES.cluster}'] contains '${safe}' | project id, name, type, tags`;
}

/** Resource Graph: AKS clusters by name. Names were validated (letters, digits, - and _) by the tag parser. */
export function clustersByNameQuery(names: readonly string[]): string {
  const list = names.map((n) => `'${n.replace(/[^A-Za-z0-9_-]/g, '')}'`).join(', ');
  return `resources | where type =~ '${MANAGED_CLUSTER_TYPE}' and name in~ (${list}) | project id, name, type`;
}

/** Resource Graph: Key Vaults by name. Names were validated (letters, digits, -) by the tag parser. */
export function vaultsByNameQuery(names: readonly string[]): string {
  const list = names.map((n) => `'${n.replace(/[^A-Za-z0-9-]/g, '')}'`).join(', ');
  return `resources | where type =~ '${KEY_VAULT_TYPE}' and name in~ (${list}) | project id, name, type`;
}

/** Whether a cluster reference on an identity names this cluster: by id, or by name in the identity's subscription. */
export function refersToCluster(ref: ClusterRef, identityId: string, clusterId: string): boolean {
  if (ref.kind === 'resourceId') return sameResourceId(ref.resourceId, clusterId);
  const identity = parseResourceId(identityId);
  return identity.ok && sameSubscriptionAndName(clusterId, identity.value.subscriptionId, ref.name);
}

/** Whether a cluster id is in this subscription and has this name (case-insensitive, as ARM compares). */
export function sameSubscriptionAndName(clusterId: string, subscriptionId: string, name: string): boolean {
  const cluster = parseResourceId(clusterId);
  return (
    cluster.ok && cluster.value.subscriptionId === subscriptionId.toLowerCase() && cluster.value.name.toLowerCase() === name.toLowerCase()
  );
}

/** The map key for a resource id: its normalized form. */
export function key(resourceId: string): string {
  return resourceIdKey(resourceId);
}

/** The resource's own name, or the id itself when it does not parse. */
export function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}
