/**
 * Role assignment names and ownership: kept for the modules that import them from here. The one
 * place they live is ./ownership.ts, with every description format and `isOurs`.
 */
import { OWNERSHIP_MARKER } from './ownership.js';

export { ASSIGNMENT_NAMESPACE, OWNERSHIP_MARKER, roleAssignmentName, uuidV5, type AssignmentKey } from './ownership.js';

/** The `description` we write on an assignment: the marker, then what asked for it. Prefer `describeOwnership`. */
export function ownedDescription(detail?: string): string {
  return detail ? `${OWNERSHIP_MARKER}: ${detail}` : OWNERSHIP_MARKER;
}

/**
 * Whether a description starts with our marker. A description alone does not make an assignment
 * ours (anyone can copy it): decisions use `isOurs` from ./ownership.ts, which also checks the name.
 */
export function isOwnedByUs(description: string | null | undefined): boolean {
  return typeof description === 'string' && description.trimStart().startsWith(OWNERSHIP_MARKER);
}
