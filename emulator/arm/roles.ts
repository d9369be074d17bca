/**
 * Built-in role definitions with their real ids, actions and dataActions, and the pure
 * matching ARM uses to decide whether a role grants an operation.
 * Ids and permissions: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 * (containers: AcrPull, AcrPush, Container Registry Repository Reader/Writer; security: Key Vault
 * Secrets User/Officer; general: Owner, Contributor, Reader; privileged: Role Based Access Control
 * Administrator; identity: Managed Identity Contributor). Custom roles are seeded (`arm.roleDefinitions`).
 */

export interface Permission {
  readonly actions: readonly string[];
  readonly notActions: readonly string[];
  readonly dataActions: readonly string[];
  readonly notDataActions: readonly string[];
}

export interface RoleDefinition {
  /** The GUID: the role definition's `name`. */
  readonly name: string;
  readonly roleName: string;
  readonly description: string;
  readonly type: 'BuiltInRole' | 'CustomRole';
  readonly permissions: readonly Permission[];
  /** Where the role may be assigned; built-in roles: `['/']`. */
  readonly assignableScopes?: readonly string[];
}

/** A custom role as a scenario seeds it (`arm.roleDefinitions`): the actions it grants. */
export interface CustomRoleSeed {
  /** The GUID; a name-based one from `roleName` when absent. */
  readonly name?: string;
  readonly roleName: string;
  readonly description?: string;
  readonly actions: readonly string[];
  readonly notActions?: readonly string[];
  readonly dataActions?: readonly string[];
  readonly notDataActions?: readonly string[];
  /** Defaults to the default subscription. */
  readonly assignableScopes?: readonly string[];
}

const perm = (p: Partial<Permission>): Permission => ({ actions: [], notActions: [], dataActions: [], notDataActions: [], ...p });

export const BUILT_IN_ROLE_IDS = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  RoleBasedAccessControlAdministrator: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  ManagedIdentityContributor: 'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59',
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  AcrPush: '8311e382-0749-4cb8-b61a-304f252e45ec',
  ContainerRegistryRepositoryReader: 'b93aa761-3e63-49ed-ac28-beffa264f7ac',
  ContainerRegistryRepositoryWriter: '2a1e307c-b015-4ebd-883e-5b7698a07328',
  KeyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  KeyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
} as const;

const ids = BUILT_IN_ROLE_IDS;

export const BUILT_IN_ROLES: readonly RoleDefinition[] = [
  {
    name: ids.Owner,
    roleName: 'Owner',
    type: 'BuiltInRole',
    description: 'Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.',
    permissions: [perm({ actions: ['*'] })],
  },
  {
    name: ids.Contributor,
    roleName: 'Contributor',
    type: 'BuiltInRole',
    description: 'Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.',
    permissions: [
      perm({
        actions: ['*'],
        notActions: [
          'Microsoft.Authorization/*/Delete',
          'Microsoft.Authorization/*/Write',
          'Microsoft.Authorization/elevateAccess/Action',
          'Microsoft.Blueprint/blueprintAssignments/write',
          'Microsoft.Blueprint/blueprintAssignments/delete',
          'Microsoft.Compute/galleries/share/action',
          'Microsoft.Purview/consents/write',
          'Microsoft.Purview/consents/delete',
          'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
          'Microsoft.Subscription/cancel/action',
          'Microsoft.Subscription/enable/action',
        ],
      }),
    ],
  },
  {
    name: ids.Reader,
    roleName: 'Reader',
    type: 'BuiltInRole',
    description: 'View all resources, but does not allow you to make any changes.',
    permissions: [perm({ actions: ['*/read'] })],
  },
  {
    name: ids.RoleBasedAccessControlAdministrator,
    roleName: 'Role Based Access Control Administrator',
    type: 'BuiltInRole',
    description:
      'Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.',
    permissions: [
      perm({
        actions: [
          'Microsoft.Authorization/roleAssignments/write',
          'Microsoft.Authorization/roleAssignments/delete',
          '*/read',
          'Microsoft.Support/*',
        ],
      }),
    ],
  },
  {
    name: ids.ManagedIdentityContributor,
    roleName: 'Managed Identity Contributor',
    type: 'BuiltInRole',
    description: 'Create, Read, Update, and Delete User Assigned Identity',
    permissions: [
      perm({
        actions: [
          'Microsoft.ManagedIdentity/userAssignedIdentities/read',
          'Microsoft.ManagedIdentity/userAssignedIdentities/write',
          'Microsoft.ManagedIdentity/userAssignedIdentities/delete',
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read',
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write',
          'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete',
          'Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action',
          'Microsoft.Authorization/*/read',
          'Microsoft.Insights/alertRules/*',
          'Microsoft.Resources/subscriptions/resourceGroups/read',
          'Microsoft.Resources/deployments/*',
          'Microsoft.Support/*',
        ],
      }),
    ],
  },
  {
    name: ids.AcrPull,
    roleName: 'AcrPull',
    type: 'BuiltInRole',
    description: 'acr pull',
    permissions: [perm({ actions: ['Microsoft.ContainerRegistry/registries/pull/read'] })],
  },
  {
    name: ids.AcrPush,
    roleName: 'AcrPush',
    type: 'BuiltInRole',
    description: 'acr push',
    permissions: [
      perm({ actions: ['Microsoft.ContainerRegistry/registries/pull/read', 'Microsoft.ContainerRegistry/registries/push/write'] }),
    ],
  },
  {
    name: ids.ContainerRegistryRepositoryReader,
    roleName: 'Container Registry Repository Reader',
    type: 'BuiltInRole',
    description: 'Allows for read access to Azure Container Registry repositories, but excluding catalog listing.',
    permissions: [
      perm({
        dataActions: [
          'Microsoft.ContainerRegistry/registries/repositories/metadata/read',
          'Microsoft.ContainerRegistry/registries/repositories/content/read',
        ],
      }),
    ],
  },
  {
    name: ids.ContainerRegistryRepositoryWriter,
    roleName: 'Container Registry Repository Writer',
    type: 'BuiltInRole',
    description: 'Allows for read and write access to Azure Container Registry repositories, but excluding catalog listing.',
    permissions: [
      perm({
        dataActions: [
          'Microsoft.ContainerRegistry/registries/repositories/metadata/read',
          'Microsoft.ContainerRegistry/registries/repositories/content/read',
          'Microsoft.ContainerRegistry/registries/repositories/metadata/write',
          'Microsoft.ContainerRegistry/registries/repositories/content/write',
        ],
      }),
    ],
  },
  {
    name: ids.KeyVaultSecretsUser,
    roleName: 'Key Vault Secrets User',
    type: 'BuiltInRole',
    description: "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    permissions: [
      perm({
        dataActions: ['Microsoft.KeyVault/vaults/secrets/getSecret/action', 'Microsoft.KeyVault/vaults/secrets/readMetadata/action'],
      }),
    ],
  },
  {
    name: ids.KeyVaultSecretsOfficer,
    roleName: 'Key Vault Secrets Officer',
    type: 'BuiltInRole',
    description:
      "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
    permissions: [
      perm({
        actions: [
          'Microsoft.Authorization/*/read',
          'Microsoft.Insights/alertRules/*',
          'Microsoft.Resources/deployments/*',
          'Microsoft.Resources/subscriptions/resourceGroups/read',
          'Microsoft.Support/*',
          'Microsoft.KeyVault/checkNameAvailability/read',
          'Microsoft.KeyVault/deletedVaults/read',
          'Microsoft.KeyVault/locations/*/read',
          'Microsoft.KeyVault/vaults/*/read',
          'Microsoft.KeyVault/operations/read',
        ],
        dataActions: ['Microsoft.KeyVault/vaults/secrets/*'],
      }),
    ],
  },
];

/** `*` matches any run of characters; comparison is case-insensitive, as ARM's. */
export function matchesPattern(pattern: string, action: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*') +
      '$',
    'i',
  );
  return re.test(action);
}

/**
 * Data actions are checked against dataActions only, so Owner (`*`) does not read secrets or
 * pull repository content. The emulator knows the data-plane operations the product uses.
 */
export function isDataAction(action: string): boolean {
  return (
    /^Microsoft\.KeyVault\/vaults\/(secrets|keys|certificates)\/[^/]+\/action$/i.test(action) ||
    /^Microsoft\.KeyVault\/vaults\/(secrets|keys|certificates)\/delete$/i.test(action) ||
    /^Microsoft\.ContainerRegistry\/registries\/(repositories|catalog)\//i.test(action)
  );
}

/** Whether the role grants `action` (actions minus notActions, or dataActions minus notDataActions). */
export function roleGrants(role: RoleDefinition, action: string): boolean {
  const data = isDataAction(action);
  return role.permissions.some((p) => {
    const allow = data ? p.dataActions : p.actions;
    const deny = data ? p.notDataActions : p.notActions;
    return allow.some((a) => matchesPattern(a, action)) && !deny.some((a) => matchesPattern(a, action));
  });
}

export function findBuiltInRole(idOrName: string): RoleDefinition | undefined {
  return findRole(BUILT_IN_ROLES, idOrName);
}

/** A role among `roles` by GUID, full role definition id, or role name (case-insensitive). */
export function findRole(roles: Iterable<RoleDefinition>, idOrName: string): RoleDefinition | undefined {
  const guid = idOrName.split('/').pop()!.toLowerCase();
  for (const r of roles) if (r.name === guid || r.roleName.toLowerCase() === idOrName.toLowerCase()) return r;
  return undefined;
}

/** A seeded custom role as ARM holds it. */
export function toCustomRole(seed: CustomRoleSeed, name: string, defaultScope: string): RoleDefinition {
  return {
    name: name.toLowerCase(),
    roleName: seed.roleName,
    description: seed.description ?? '',
    type: 'CustomRole',
    permissions: [
      perm({
        actions: [...seed.actions],
        notActions: [...(seed.notActions ?? [])],
        dataActions: [...(seed.dataActions ?? [])],
        notDataActions: [...(seed.notDataActions ?? [])],
      }),
    ],
    assignableScopes: seed.assignableScopes?.length ? [...seed.assignableScopes] : [defaultScope],
  };
}
