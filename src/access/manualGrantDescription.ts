/**
 * How a manual grant (POST /api/access/grants) is told apart from a tag-policy grant.
 *
 * Both are ours to revoke. A manual grant's description says so —
 * `Managed by acr-pull-automation: manual acr-pull by <caller> on <consumer id>` (the format and its
 * parser live in src/policy/ownership.ts) — and still ends in ` on <consumer id>` when it was
 * granted to a resource, so the grant goes when the consumer is deleted. The tag policy leaves it
 * alone otherwise: it was a person's decision, and only DELETE /api/access/grants takes it back.
 */
import type { ExistingAssignment, AccessPlan, PlannedUnchanged } from '../policy/accessPlan.js';
import { describeOwnership, OWNERSHIP_KINDS, parseOwnership } from '../policy/ownership.js';
import type { TAG_FOR_ACCESS } from '../policy/tags.js';

export interface ManualGrantDescription {
  /** `acr-pull` or `acr-push`: the access asked for, in the tag policy's words. */
  readonly tag: (typeof TAG_FOR_ACCESS)[keyof typeof TAG_FOR_ACCESS];
  readonly caller: string;
  /** Whether registry consent was overridden (ACCESS_ALLOW_CONSENT_OVERRIDE). */
  readonly override: boolean;
  /** The resource whose identities got the grant; absent for a bare principal. */
  readonly consumerId?: string;
  readonly principalId: string;
}

/** The description of a manual grant: the marker, `manual`, who asked, and the consumer (last, as the tag path writes it). */
export function manualGrantDescription(input: ManualGrantDescription): string {
  return describeOwnership({
    kind: OWNERSHIP_KINDS.manual,
    tag: input.tag,
    caller: input.caller,
    override: input.override,
    ...(input.consumerId ? { consumerId: input.consumerId } : { principalId: input.principalId }),
  });
}

/** Whether a description is a manual grant's (description only: whether the assignment is ours is `isOurs`). */
export function isManualGrant(description: string | null | undefined): boolean {
  return parseOwnership(description)?.kind === OWNERSHIP_KINDS.manual;
}

/** Whether a manual grant's description records a consent override. */
export function isConsentOverride(description: string | null | undefined): boolean {
  const ownership = parseOwnership(description);
  return ownership?.kind === OWNERSHIP_KINDS.manual && ownership.override;
}

/**
 * The plan with every revoke of a manual grant turned into "kept": the tag policy does not take
 * back what a person granted by hand. `existing` is what the plan was made from (its revokes are
 * ours already: deterministic name and our description).
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
