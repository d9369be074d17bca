/**
 * Role assignment names and ownership.
 *
 * The name is a name-based UUID (RFC 4122 §4.3, version 5, SHA-1) of scope + principal + role, so a
 * retried or duplicated event PUTs the same name and never creates a second assignment. The marker
 * in `description` is how we know an assignment is ours: we never delete one without it.
 */
import { createHash } from 'node:crypto';
import { parseResourceId } from './resourceId.js';
import { fail, isGuid, ok, quote, type Result } from './result.js';
import { roleDefinitionGuid } from './roles.js';

/** Our namespace for v5 names. Never change it: every existing assignment name derives from it. */
export const ASSIGNMENT_NAMESPACE = 'ff621b0d-acba-47d5-8b0c-f3a3cc447b7b';

/** Starts the `description` of every role assignment the automation creates. */
export const OWNERSHIP_MARKER = 'Managed by acr-pull-automation';

/** RFC 4122 version-5 UUID of `name` (UTF-8) in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  if (!isGuid(namespace)) throw new TypeError(`namespace ${quote(namespace)} is not a UUID`); // programming error: namespaces are constants
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface AssignmentKey {
  /** Resource id the role is assigned at (a registry, a key vault). */
  readonly scope: string;
  readonly principalId: string;
  /** Bare GUID or any ARM form of the role definition id. */
  readonly roleDefinitionId: string;
}

/**
 * The deterministic name of the assignment of a role to a principal at a scope. Inputs are
 * normalised first (scope casing and `resourcegroups`, principal case, role id form), so every
 * spelling of the same assignment gets the same name.
 */
export function roleAssignmentName(key: AssignmentKey): Result<string> {
  const scope = parseResourceId(key.scope);
  if (!scope.ok) return fail(`cannot name a role assignment: ${scope.error}`);
  if (!isGuid(key.principalId)) return fail(`cannot name a role assignment: principal id ${quote(key.principalId)} is not a GUID`);
  const role = roleDefinitionGuid(key.roleDefinitionId);
  if (role === undefined) return fail(`cannot name a role assignment: role definition id ${quote(key.roleDefinitionId)} does not end in a GUID`);
  return ok(uuidV5(`${scope.value.normalized}|${key.principalId.toLowerCase()}|${role}`, ASSIGNMENT_NAMESPACE));
}

/** The `description` we write on an assignment: the marker, then what asked for it. */
export function ownedDescription(detail?: string): string {
  return detail ? `${OWNERSHIP_MARKER}: ${detail}` : OWNERSHIP_MARKER;
}

/** Whether a role assignment was created by the automation (its description starts with the marker). */
export function isOwnedByUs(description: string | null | undefined): boolean {
  return typeof description === 'string' && description.trimStart().startsWith(OWNERSHIP_MARKER);
}
