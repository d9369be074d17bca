/**
 * The closed set of roles the product grants, and which one a registry needs.
 *
 * Ids are Azure's built-in role definition ids, the same in every tenant and cloud
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles#containers,
 * …#security for Key Vault Secrets User).
 */
import { isGuid } from './result.js';
import type { Access } from './tags.js';

export interface Role {
  /** Azure's role name, as the portal and `az role assignment list` show it. */
  readonly name: string;
  /** Lower-case built-in role definition GUID. */
  readonly roleDefinitionId: string;
}

export const ROLES = {
  acrPull: { name: 'AcrPull', roleDefinitionId: '7f951dda-4ed3-4680-a7ca-43fe172d538d' },
  acrPush: { name: 'AcrPush', roleDefinitionId: '8311e382-0749-4cb8-b61a-304f252e45ec' },
  repositoryReader: { name: 'Container Registry Repository Reader', roleDefinitionId: 'b93aa761-3e63-49ed-ac28-beffa264f7ac' },
  repositoryWriter: { name: 'Container Registry Repository Writer', roleDefinitionId: '2a1e307c-b015-4ebd-883e-5b7698a07328' },
  keyVaultSecretsUser: { name: 'Key Vault Secrets User', roleDefinitionId: '4633458b-17de-408a-b874-0445c86b69e6' },
} as const satisfies Record<string, Role>;
export type RoleKey = keyof typeof ROLES;

/** Every role definition id the product may ever assign; the infra's ABAC condition is held to this list. */
export const ASSIGNABLE_ROLE_DEFINITION_IDS: readonly string[] = Object.values(ROLES).map((r) => r.roleDefinitionId);

/** The roles that give access to a registry (what the access planner grants and may revoke). */
export const REGISTRY_ROLES: readonly Role[] = [ROLES.acrPull, ROLES.acrPush, ROLES.repositoryReader, ROLES.repositoryWriter];

/** `properties.roleAssignmentMode` of a registry (api-version 2025-11-01); absent means legacy. */
export const ROLE_ASSIGNMENT_MODES = {
  legacy: 'LegacyRegistryPermissions',
  abac: 'AbacRepositoryPermissions',
} as const;
export type RoleAssignmentMode = (typeof ROLE_ASSIGNMENT_MODES)[keyof typeof ROLE_ASSIGNMENT_MODES];

export interface RoleChoice {
  readonly role: Role;
  readonly access: Access;
  /** Why this role, in plain words, for the audit row. */
  readonly reason: string;
}

/** Formats a role for audit rows: `AcrPull (7f951dda-…)`. */
export function describeRole(role: Role): string {
  return `${role.name} (${role.roleDefinitionId})`;
}

/**
 * The role to grant for `access` on a registry in `roleAssignmentMode`. In ABAC repository mode
 * AcrPull/AcrPush are ignored, so the repository roles are chosen. A mode we do not know is treated
 * as the documented default (legacy) and the reason says so.
 */
export function chooseRole(roleAssignmentMode: string | undefined, access: Access): RoleChoice {
  const mode = roleAssignmentMode?.trim();
  const abac = mode?.toLowerCase() === ROLE_ASSIGNMENT_MODES.abac.toLowerCase();
  if (abac) {
    const role = access === 'push' ? ROLES.repositoryWriter : ROLES.repositoryReader;
    const ignored = access === 'push' ? ROLES.acrPush.name : ROLES.acrPull.name;
    return { role, access, reason: `registry uses ${ROLE_ASSIGNMENT_MODES.abac}, where ${ignored} is ignored, so ${role.name}` };
  }
  const role = access === 'push' ? ROLES.acrPush : ROLES.acrPull;
  if (!mode)
    return { role, access, reason: `registry has no roleAssignmentMode (${ROLE_ASSIGNMENT_MODES.legacy} by default), so ${role.name}` };
  if (mode.toLowerCase() === ROLE_ASSIGNMENT_MODES.legacy.toLowerCase()) {
    return { role, access, reason: `registry uses ${ROLE_ASSIGNMENT_MODES.legacy}, so ${role.name}` };
  }
  return {
    role,
    access,
    reason: `registry reports an unrecognised roleAssignmentMode ${JSON.stringify(mode)}; treated as ${ROLE_ASSIGNMENT_MODES.legacy}, so ${role.name}`,
  };
}

/**
 * The lower-case GUID at the end of a role definition id, in any of ARM's forms: the bare GUID,
 * the tenant form `/providers/Microsoft.Authorization/roleDefinitions/<id>`, or the subscription form
 * (role assignment responses may answer in the tenant form even when the request used the other).
 */
export function roleDefinitionGuid(roleDefinitionId: string): string | undefined {
  const last = roleDefinitionId.trim().split('/').pop() ?? '';
  return isGuid(last) ? last.toLowerCase() : undefined;
}

/** Whether two role definition ids name the same role, whatever form each is in. */
export function sameRoleDefinition(a: string, b: string): boolean {
  const left = roleDefinitionGuid(a);
  return left !== undefined && left === roleDefinitionGuid(b);
}

/** The product role a role definition id names, if it is one of ours. */
export function roleFor(roleDefinitionId: string): Role | undefined {
  const guid = roleDefinitionGuid(roleDefinitionId);
  return Object.values(ROLES).find((r) => r.roleDefinitionId === guid);
}

/** What a registry role grants: pull (AcrPull, Repository Reader) or push (AcrPush, Repository Writer). */
export function accessOf(role: Role): Access | undefined {
  const id = roleDefinitionGuid(role.roleDefinitionId);
  if (id === ROLES.acrPull.roleDefinitionId || id === ROLES.repositoryReader.roleDefinitionId) return 'pull';
  if (id === ROLES.acrPush.roleDefinitionId || id === ROLES.repositoryWriter.roleDefinitionId) return 'push';
  return undefined;
}

/** The subscription-form role definition id ARM expects in a role assignment PUT body. */
export function subscriptionRoleDefinitionId(subscriptionId: string, role: Role): string {
  return `/subscriptions/${subscriptionId.toLowerCase()}/providers/Microsoft.Authorization/roleDefinitions/${role.roleDefinitionId}`;
}
