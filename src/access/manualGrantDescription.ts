/**
 * How a manual grant (POST /api/access/grants) is told apart from a tag-policy grant.
 *
 * Both carry the ownership marker, so both are ours to revoke. A manual grant's description says
 * so — `Managed by acr-pull-automation: manual acr-pull by <caller> on <consumer id>` — and still
 * ends in ` on <consumer id>` when it was granted to a resource, so `consumerIdFromDescription`
 * finds the consumer and the grant goes when the consumer is deleted. The tag policy leaves it
 * alone otherwise: it was a person's decision, and only DELETE /api/access/grants takes it back.
 */
import type { ExistingAssignment, AccessPlan, PlannedUnchanged } from '../policy/plan.js';
import { isOwnedByUs, OWNERSHIP_MARKER, ownedDescription } from '../policy/assignmentName.js';
import type { TagName } from '../policy/tags.js';

const MANUAL_PREFIX = `${OWNERSHIP_MARKER}: manual `;
/** Callers come from request headers (already cleaned of control characters); keep descriptions short. */
const MAX_CALLER_LENGTH = 120;

export interface ManualGrantDescription {
  /** `acr-pull` or `acr-push`: the access asked for, in the tag policy's words. */
  readonly tag: TagName;
  readonly caller: string;
  /** Whether registry consent was overridden (ACCESS_ALLOW_CONSENT_OVERRIDE). */
  readonly override: boolean;
  /** The resource whose identities got the grant; absent for a bare principal. */
  readonly consumerId?: string;
  readonly principalId: string;
}

/** The description of a manual grant: the marker, `manual`, who asked, and the consumer (last, as the tag path writes it). */
export function manualGrantDescription(input: ManualGrantDescription): string {
  const caller = input.caller.replace(/\s+/g, ' ').trim().slice(0, MAX_CALLER_LENGTH) || 'unknown caller';
  const what = `manual ${input.tag}${input.override ? ' (consent override)' : ''} by ${caller}`;
  return ownedDescription(input.consumerId ? `${what} on ${input.consumerId}` : `${what} for principal ${input.principalId}`);
}

/** Whether an assignment is one of ours made through the manual-grant API. */
export function isManualGrant(description: string | null | undefined): boolean {
  return isOwnedByUs(description) && (description ?? '').trimStart().startsWith(MANUAL_PREFIX);
}

/** Whether a manual grant's description records a consent override. */
export function isConsentOverride(description: string | null | undefined): boolean {
  return isManualGrant(description) && /^\S+ \(consent override\) by /.test((description ?? '').trimStart().slice(MANUAL_PREFIX.length));
}

/**
 * The plan with every revoke of a manual grant turned into "kept": the tag policy does not take
 * back what a person granted by hand. `existing` is what the plan was made from.
 */
export function keepManualGrants(plan: AccessPlan, existing: readonly Pick<ExistingAssignment, 'name' | 'description'>[]): AccessPlan {
  const manual = new Set(existing.filter((e) => isManualGrant(e.description)).map((e) => e.name.toLowerCase()));
  if (manual.size === 0) return plan;
  const kept: PlannedUnchanged[] = plan.revokes
    .filter((r) => manual.has(r.name.toLowerCase()))
    .map((r) => ({
      name: r.name,
      scope: r.scope,
      registryName: r.registryName,
      principalId: r.principalId,
      role: r.role,
      owned: true,
      reason: `${r.role.name} on ${r.registryName} for ${r.principalId} was granted by hand; the tag policy leaves it (revoke it with DELETE /api/access/grants)`,
    }));
  if (kept.length === 0) return plan;
  return { ...plan, revokes: plan.revokes.filter((r) => !manual.has(r.name.toLowerCase())), unchanged: [...plan.unchanged, ...kept] };
}
