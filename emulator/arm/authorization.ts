/**
 * Microsoft.Authorization: built-in and seeded custom role definitions, role assignments (api-version 2022-04-01,
 * as `@azure/arm-authorization` v9 calls them) and the Authorizer every API uses for 403s.
 * Shapes: azure-rest-api-specs specification/authorization/resource-manager/Microsoft.Authorization/
 * stable/2022-04-01/examples/RoleAssignments_CreateForResource.json, RoleAssignments_Get.json,
 * RoleAssignments_ListForScope.json, RoleAssignments_Delete.json, RoleDefinitions_Get.json.
 */
import type { Authorizer, EmuRequest, EmuResponse, EmulatorContext } from '../core/contract.js';
import { toArmEvent, type Evidence } from './armEvents.js';
import { armError, armErrors } from './errors.js';
import { isGuid, isScopeAtOrAbove, keyOf, parseResourceId } from './ids.js';
import { roleGrants, type RoleDefinition } from './roles.js';
import { isObject, paged, type ArmState, type Caller, type RoleAssignment } from './state.js';

const RA_TYPE = 'Microsoft.Authorization/roleAssignments';

/** `/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}` for a scope under a subscription, else the tenant form. */
export function roleDefinitionIdFor(scope: string, guid: string): string {
  const sub = /^\/subscriptions\/([^/]+)/i.exec(scope)?.[1];
  return `${sub ? `/subscriptions/${sub}` : ''}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
}

export function toRoleDefinitionJson(role: RoleDefinition, scope: string): Record<string, unknown> {
  return {
    id: roleDefinitionIdFor(scope, role.name),
    name: role.name,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: role.roleName,
      type: role.type,
      description: role.description,
      assignableScopes: role.assignableScopes ?? ['/'],
      permissions: role.permissions.map((p) => ({ ...p })),
      createdOn: '2018-01-01T00:00:00.0000000Z',
      updatedOn: '2024-01-01T00:00:00.0000000Z',
      createdBy: null,
      updatedBy: null,
    },
  };
}

/**
 * A role assignment on the wire. `tenantForm` answers `roleDefinitionId` as
 * `/providers/Microsoft.Authorization/roleDefinitions/<id>`, as the 2022-04-01 examples
 * (RoleAssignments_CreateForResource.json, RoleAssignments_ListForScope.json) do even when the
 * request used the subscription form; otherwise the subscription form for subscription scopes.
 */
export function toRoleAssignmentJson(a: RoleAssignment, tenantForm = false): Record<string, unknown> {
  const guid = a.roleDefinitionId.split('/').pop()!;
  return {
    id: a.id,
    name: a.name,
    type: RA_TYPE,
    properties: {
      roleDefinitionId: tenantForm ? roleDefinitionIdFor('/', guid) : roleDefinitionIdFor(a.scope, guid),
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      condition: a.condition,
      conditionVersion: a.conditionVersion,
      createdOn: a.createdOn,
      updatedOn: a.updatedOn,
      createdBy: a.createdBy,
      updatedBy: a.updatedBy,
      delegatedManagedIdentityResourceId: null,
      description: a.description,
    },
  };
}

/** Authorizer over the role assignments in `state`; `explain` answers the granting assignment. */
export function createAuthorizer(
  state: ArmState,
): Authorizer & { explain(principalId: string, action: string, scope: string): Evidence | undefined } {
  const explain = (principalId: string, action: string, scope: string): Evidence | undefined => {
    for (const a of state.roleAssignments.values()) {
      if (a.principalId.toLowerCase() !== principalId.toLowerCase()) continue;
      if (!isScopeAtOrAbove(a.scope, scope)) continue;
      const role = state.findRole(a.roleDefinitionId);
      if (role && roleGrants(role, action)) {
        return {
          role: role.roleName,
          roleAssignmentScope: a.scope,
          roleAssignmentId: a.name.replace(/-/g, ''),
          roleDefinitionId: role.name.replace(/-/g, ''),
          principalId: a.principalId.replace(/-/g, ''),
          principalType: a.principalType,
        };
      }
    }
    return undefined;
  };
  return { explain, isAuthorized: (p, action, scope) => explain(p, action, scope) !== undefined };
}

export interface AuthorizationDeps {
  readonly ctx: EmulatorContext;
  readonly state: ArmState;
  readonly authorizer: ReturnType<typeof createAuthorizer>;
}

function denyFor(state: ArmState, scope: string, roleGuid: string, principalType: string) {
  for (const p of state.denyPolicies.values()) {
    if (p.scopePrefix && !keyOf(scope).startsWith(keyOf(p.scopePrefix))) continue;
    if (p.roleDefinitionId && p.roleDefinitionId.split('/').pop()!.toLowerCase() !== roleGuid.toLowerCase()) continue;
    if (p.principalType && p.principalType.toLowerCase() !== principalType.toLowerCase()) continue;
    return p;
  }
  return undefined;
}

function parseFilter(filter: string | null): { atScope: boolean; principalId?: string } | undefined {
  if (!filter) return { atScope: false };
  const out: { atScope: boolean; principalId?: string } = { atScope: false };
  for (const part of filter.split(/\s+and\s+/i)) {
    const p = part.trim();
    if (/^atScope\(\)$/i.test(p)) out.atScope = true;
    else {
      const m = /^principalId\s+eq\s+'([^']+)'$/i.exec(p) ?? /^assignedTo\('([^']+)'\)$/i.exec(p);
      if (!m) return undefined;
      out.principalId = m[1];
    }
  }
  return out;
}

export function authorizationHandlers({ ctx, state, authorizer }: AuthorizationDeps) {
  const toJson = (a: RoleAssignment) => toRoleAssignmentJson(a, state.options.tenantFormRoleDefinitionIds);
  const check = (caller: Caller, action: string, scope: string): EmuResponse | undefined =>
    authorizer.isAuthorized(caller.objectId, action, scope)
      ? undefined
      : armErrors.authorizationFailed(caller.objectId, action, scope || '/');

  const getRoleDefinition = (req: EmuRequest): EmuResponse => {
    const role = state.findRole(req.params.id ?? '');
    if (!role || !isGuid(req.params.id ?? ''))
      return armError(404, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${req.params.id}' does not exist.`);
    return { status: 200, body: toRoleDefinitionJson(role, req.params.scope ?? '') };
  };

  const listRoleDefinitions = (req: EmuRequest): EmuResponse => {
    const filter = req.url.searchParams.get('$filter');
    const byName = filter ? /roleName\s+eq\s+'([^']+)'/i.exec(filter)?.[1] : undefined;
    const roles = state.allRoles().filter((r) => !byName || r.roleName.toLowerCase() === byName.toLowerCase());
    return { status: 200, body: { value: roles.map((r) => toRoleDefinitionJson(r, req.params.scope ?? '')) } };
  };

  const putRoleAssignment = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = req.params.scope ?? '';
    const name = req.params.name ?? '';
    if (!isGuid(name))
      return armError(
        400,
        'InvalidRoleAssignmentId',
        `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`,
      );
    const props = isObject(req.body) && isObject(req.body.properties) ? req.body.properties : undefined;
    if (!props || typeof props.roleDefinitionId !== 'string' || typeof props.principalId !== 'string')
      return armError(
        400,
        'InvalidRequestContent',
        'The request content was invalid and could not be deserialized: properties.roleDefinitionId and properties.principalId are required.',
      );
    const roleGuid = props.roleDefinitionId.split('/').pop()!;
    const role = state.findRole(roleGuid);
    // A custom role exists only within its assignable scopes.
    const visible = role && (role.type === 'BuiltInRole' || (role.assignableScopes ?? []).some((s) => isScopeAtOrAbove(s, scope)));
    if (!role || !visible || !isGuid(roleGuid))
      return armError(400, 'RoleDefinitionDoesNotExist', `The specified role definition with ID '${roleGuid}' does not exist.`);
    const denied = check(caller, 'Microsoft.Authorization/roleAssignments/write', scope);
    if (denied) return denied;
    const principalId = props.principalId;
    const principal = ctx.directory.get(principalId);
    const givenType = typeof props.principalType === 'string' ? props.principalType : undefined;
    if (!givenType && (!principal || !ctx.directory.isReplicated(principalId)))
      return armError(
        400,
        'PrincipalNotFound',
        `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${ctx.tenantId}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype`,
      );
    const principalType = givenType ?? principal?.principalType ?? 'ServicePrincipal';
    const policy = denyFor(state, scope, role.name, principalType);
    if (policy) {
      const assignmentId = `/providers/Microsoft.Management/managementGroups/${ctx.tenantId}/providers/Microsoft.Authorization/policyAssignments/${policy.name}`;
      const definitionId = `/providers/Microsoft.Management/managementGroups/${ctx.tenantId}/providers/Microsoft.Authorization/policyDefinitions/${policy.name}`;
      const info = {
        policyDefinitionDisplayName: policy.displayName ?? policy.name,
        policyAssignmentName: policy.name,
        policyAssignmentId: assignmentId,
        policyDefinitionId: definitionId,
        policyDefinitionEffect: 'deny',
        policyAssignmentScope: `/providers/Microsoft.Management/managementGroups/${ctx.tenantId}`,
      };
      return armError(
        403,
        'RequestDisallowedByPolicy',
        `Resource '${name}' was disallowed by policy. Policy identifiers: '[{"policyAssignment":{"name":"${policy.name}","id":"${assignmentId}"},"policyDefinition":{"name":"${policy.displayName ?? policy.name}","id":"${definitionId}"}}]'.`,
        {
          target: name,
          additionalInfo: [{ type: 'PolicyViolation', info }],
        },
      );
    }
    const id = `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`;
    const now = ctx.clock.now().toISOString();
    const existing = state.roleAssignments.get(keyOf(id));
    const same = (a: RoleAssignment) =>
      keyOf(a.scope) === keyOf(scope) &&
      a.principalId.toLowerCase() === principalId.toLowerCase() &&
      a.roleDefinitionId.split('/').pop()!.toLowerCase() === role.name;
    if (existing) {
      if (!same(existing))
        return armError(
          409,
          'RoleAssignmentUpdateNotPermitted',
          'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
        );
      existing.description = typeof props.description === 'string' ? props.description : existing.description;
      existing.updatedOn = now;
      existing.updatedBy = caller.objectId;
      return { status: 200, body: toJson(existing) };
    }
    for (const a of state.roleAssignments.values())
      if (same(a)) return armError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
    const sub = parseResourceId(scope)?.subscriptionId;
    if (
      sub &&
      [...state.roleAssignments.values()].filter((a) => parseResourceId(a.scope)?.subscriptionId?.toLowerCase() === sub.toLowerCase())
        .length >= state.options.roleAssignmentLimit
    )
      return armError(
        400,
        'RoleAssignmentLimitExceeded',
        `No more role assignments can be created (code: RoleAssignmentLimitExceeded). The subscription '${sub}' has reached its limit of ${state.options.roleAssignmentLimit} role assignments.`,
      );
    const assignment: RoleAssignment = {
      id,
      name,
      scope,
      roleDefinitionId: role.name,
      principalId,
      principalType,
      description: typeof props.description === 'string' ? props.description : null,
      condition: typeof props.condition === 'string' ? props.condition : null,
      conditionVersion: typeof props.conditionVersion === 'string' ? props.conditionVersion : null,
      createdOn: now,
      updatedOn: now,
      createdBy: caller.objectId,
      updatedBy: caller.objectId,
    };
    state.roleAssignments.set(keyOf(id), assignment);
    ctx.events.publish(
      toArmEvent({
        kind: 'write',
        resourceId: id,
        operationName: 'Microsoft.Authorization/roleAssignments/write',
        claims: caller.claims,
        tenantId: ctx.tenantId,
        correlationId: caller.correlationId,
        evidence: authorizer.explain(caller.objectId, 'Microsoft.Authorization/roleAssignments/write', scope),
        now: ctx.clock.now(),
      }),
    );
    return { status: 201, body: toJson(assignment) };
  };

  const getRoleAssignment = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = req.params.scope ?? '';
    const denied = check(caller, 'Microsoft.Authorization/roleAssignments/read', scope);
    if (denied) return denied;
    const a = state.roleAssignments.get(keyOf(`${scope}/providers/Microsoft.Authorization/roleAssignments/${req.params.name}`));
    if (!a) return armError(404, 'RoleAssignmentNotFound', `The role assignment '${req.params.name}' is not found.`);
    return { status: 200, body: toJson(a) };
  };

  const deleteRoleAssignment = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = req.params.scope ?? '';
    const denied = check(caller, 'Microsoft.Authorization/roleAssignments/delete', scope);
    if (denied) return denied;
    const key = keyOf(`${scope}/providers/Microsoft.Authorization/roleAssignments/${req.params.name}`);
    const a = state.roleAssignments.get(key);
    if (!a) return { status: 204 };
    const evidence = authorizer.explain(caller.objectId, 'Microsoft.Authorization/roleAssignments/delete', scope);
    state.roleAssignments.delete(key);
    ctx.events.publish(
      toArmEvent({
        kind: 'delete',
        resourceId: a.id,
        operationName: 'Microsoft.Authorization/roleAssignments/delete',
        claims: caller.claims,
        tenantId: ctx.tenantId,
        correlationId: caller.correlationId,
        evidence,
        request: req,
        now: ctx.clock.now(),
      }),
    );
    return { status: 200, body: toJson(a) };
  };

  const listRoleAssignments = (req: EmuRequest, caller: Caller): EmuResponse => {
    const scope = req.params.scope ?? '';
    const denied = check(caller, 'Microsoft.Authorization/roleAssignments/read', scope);
    if (denied) return denied;
    const filter = parseFilter(req.url.searchParams.get('$filter'));
    if (!filter)
      return armError(
        400,
        'UnsupportedQuery',
        `The filter '${req.url.searchParams.get('$filter')}' is not supported. Supported filters are atScope(), principalId eq '{id}' and assignedTo('{id}').`,
      );
    const items = [...state.roleAssignments.values()].filter((a) => {
      const above = isScopeAtOrAbove(a.scope, scope);
      const below = isScopeAtOrAbove(scope, a.scope);
      if (filter.atScope ? !above : !(above || below)) return false;
      return !filter.principalId || a.principalId.toLowerCase() === filter.principalId.toLowerCase();
    });
    return { status: 200, body: paged(req, items.map(toJson), state.options.pageSize) };
  };

  return { getRoleDefinition, listRoleDefinitions, putRoleAssignment, getRoleAssignment, deleteRoleAssignment, listRoleAssignments };
}
