/**
 * Who may be federated by a tag (issue 13, point 1).
 *
 * A federated identity credential lets whoever can run a pod as the named service account act as
 * the identity, with every role it holds. Azure reserves creating one for Managed Identity
 * Contributor; the automation holds that right, so a tag write must not become it. An identity is
 * federated only when both hold:
 *
 *   - the deployment scoped it in: it lives in a subscription or resource group named in
 *     WORKLOAD_FEDERATION_SCOPES (empty by default: no identity is federated);
 *   - it holds no role assignment in the watched subscriptions beyond the roles this automation
 *     manages (AcrPull, AcrPush, Container Registry Repository Reader/Writer, Key Vault Secrets
 *     User) — so federating it gives a pod nothing a registry or vault owner did not already
 *     consent to. Any other role, built-in or custom, at any scope, makes it ineligible.
 *
 * Pure: the caller reads the identity's role assignments (Resource Graph) on every decision.
 */
import { normalizeResourceId, parseResourceId, resourceIdKey } from './resourceId.js';
import { describeRole, REGISTRY_ROLES, roleDefinitionGuid, ROLES, type Role } from './roles.js';

/** The roles an identity may hold and still be federated: the ones this automation manages. */
export const FEDERATION_ALLOWED_ROLES: readonly Role[] = [...REGISTRY_ROLES, ROLES.keyVaultSecretsUser];

/**
 * Names of a few built-in roles, only to say in the audit row which role disqualifies an identity;
 * any role not in FEDERATION_ALLOWED_ROLES disqualifies, named or not.
 * https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
 */
const WELL_KNOWN_ROLE_NAMES: Readonly<Record<string, string>> = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  'acdd72a7-3385-48ef-bd42-f606fba81ae7': 'Reader',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
  'f58310d9-a9f6-439a-9e8d-f62e7b41a168': 'Role Based Access Control Administrator',
  'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59': 'Managed Identity Contributor',
  'f1a07417-d97a-45cb-824c-7a7467783830': 'Managed Identity Operator',
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
};

/** One role assignment of the identity, as Resource Graph answers it. */
export interface PrincipalRoleAssignment {
  readonly scope: string;
  /** In any of ARM's forms (bare GUID, tenant or subscription form). */
  readonly roleDefinitionId: string;
}

export interface FederationEligibilityInput {
  /** The user-assigned identity's resource id. */
  readonly identityId: string;
  /** WORKLOAD_FEDERATION_SCOPES, as config parses them. */
  readonly scopes: readonly string[];
  /** Every role assignment of the identity's principal found in the watched subscriptions; undefined when not looked up (outside the scopes). */
  readonly assignments?: readonly PrincipalRoleAssignment[];
}

export const INELIGIBLE_CODES = {
  /** WORKLOAD_FEDERATION_SCOPES is empty. */
  noScopes: 'FederationScopesEmpty',
  /** The identity is in none of WORKLOAD_FEDERATION_SCOPES. */
  outsideScopes: 'IdentityOutsideFederationScopes',
  /** The identity holds a role beyond the managed ones. */
  privilegedRole: 'IdentityHoldsOtherRoles',
} as const;
export type IneligibleCode = (typeof INELIGIBLE_CODES)[keyof typeof INELIGIBLE_CODES];

export type FederationEligibility =
  | { readonly eligible: true; readonly reason: string; readonly scope: string }
  | {
      readonly eligible: false;
      readonly code: IneligibleCode;
      /** Why, in a platform engineer's words: the role and where, or the missing scope. */
      readonly reason: string;
      /** The disqualifying role (`Owner (8e3af657-…)`) and the scope of its assignment. */
      readonly role?: string;
      readonly roleScope?: string;
    };

/** The scope in WORKLOAD_FEDERATION_SCOPES that holds the identity, if any. */
export function federationScopeOf(identityId: string, scopes: readonly string[]): string | undefined {
  const id = normalizeResourceId(identityId);
  if (id === undefined) return undefined;
  return scopes.find((scope) => {
    const s = resourceIdKey(scope);
    return id.startsWith(`${s}/`);
  });
}

/** Whether the identity's scope is in WORKLOAD_FEDERATION_SCOPES (no lookup needed); the role check needs `assignments`. */
export function evaluateFederationEligibility(input: FederationEligibilityInput): FederationEligibility {
  const name = identityName(input.identityId);
  if (input.scopes.length === 0) {
    return {
      eligible: false,
      code: INELIGIBLE_CODES.noScopes,
      reason: `WORKLOAD_FEDERATION_SCOPES is empty, so no identity is federated; whoever deploys the app names the subscriptions or resource groups whose identities may be`,
    };
  }
  const scope = federationScopeOf(input.identityId, input.scopes);
  if (scope === undefined) {
    return {
      eligible: false,
      code: INELIGIBLE_CODES.outsideScopes,
      reason: `${name} is not in WORKLOAD_FEDERATION_SCOPES (${input.scopes.join(', ')}): its ${placeOf(input.identityId)} is not scoped in for federation`,
    };
  }
  const other = (input.assignments ?? []).find((a) => !isAllowedRole(a.roleDefinitionId));
  if (other) {
    const role = describeRoleId(other.roleDefinitionId);
    return {
      eligible: false,
      code: INELIGIBLE_CODES.privilegedRole,
      reason:
        `${name} holds ${role} on ${other.scope}; only identities whose roles are all among ${FEDERATION_ALLOWED_ROLES.map((r) => r.name).join(', ')} are federated, ` +
        `because a federated credential gives the service account every role the identity holds`,
      role,
      roleScope: other.scope,
    };
  }
  return {
    eligible: true,
    scope,
    reason: `${name} is in ${scope} (WORKLOAD_FEDERATION_SCOPES) and holds no role beyond the ones this automation manages`,
  };
}

/** Whether a role definition id is one of FEDERATION_ALLOWED_ROLES (a custom role never is). */
export function isAllowedRole(roleDefinitionId: string): boolean {
  const guid = roleDefinitionGuid(roleDefinitionId);
  return guid !== undefined && FEDERATION_ALLOWED_ROLES.some((r) => r.roleDefinitionId === guid);
}

/** `Owner (8e3af657-…)` for a well-known role, `role definition <id>` for any other. */
export function describeRoleId(roleDefinitionId: string): string {
  const guid = roleDefinitionGuid(roleDefinitionId);
  if (guid === undefined) return `role definition ${roleDefinitionId}`;
  const name = WELL_KNOWN_ROLE_NAMES[guid];
  return name ? describeRole({ name, roleDefinitionId: guid }) : `role definition ${guid}`;
}

function identityName(identityId: string): string {
  const parsed = parseResourceId(identityId);
  return parsed.ok ? parsed.value.name : identityId;
}

function placeOf(identityId: string): string {
  const parsed = parseResourceId(identityId);
  if (!parsed.ok) return `resource id ${identityId}`;
  const { subscriptionId, resourceGroup } = parsed.value;
  return resourceGroup
    ? `resource group /subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`
    : `subscription /subscriptions/${subscriptionId}`;
}
