/**
 * Manual grant and revoke (POST / DELETE /api/access/grants, and preview by principal): a person
 * asks for pull or push on one registry for a resource's identities or for one principal.
 *
 * Same rules as the event path, on the same code: the registry must consent — `acr-pull-allow` (or
 * the default) for pull, `acr-push-allow` for push — (`evaluateConsent` for a resource; a bare
 * principal sits nowhere, so only a registry that allows `*` covers it),
 * the role follows the registry's mode (`chooseRole` inside `planAccess`), names are
 * deterministic, the assignment carries our description — saying it was manual and who asked — and
 * grants and revokes go through the assignment executor, decisions through the same audited run.
 * An override of consent needs ACCESS_ALLOW_CONSENT_OVERRIDE and is recorded as one. Revoke only
 * ever deletes assignments of ours, and keeps one another consumer holding the principal still
 * asks for (a shared identity): the row names who.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import {
  grantAssignment,
  grantSpecOf,
  ownershipOfListed,
  revokeAssignment,
  REVOKE_RESULTS,
  type RevokeResult,
  type WriteAhead,
} from '../assignments/executor.js';
import { PolicyDeniedError } from '../errors.js';
import { consentForPrincipal, evaluateConsent, registryConsentFor } from '../policy/consent.js';
import { planAccess } from '../policy/plan.js';
import type { AccessPlan, PlannedGrant } from '../policy/accessPlan.js';
import { accessOf, chooseRole, describeRole, roleFor } from '../policy/roles.js';
import { OWNERSHIP_KINDS } from '../policy/ownership.js';
import type { AccessDeps } from './accessDeps.js';
import { registryAskers } from './askers.js';
import { manualGrantDescription } from './manualGrantDescription.js';
import {
  MANUAL_ERROR_CODES,
  MANUAL_GRANT_OUTCOMES,
  MANUAL_REVOKE_OUTCOMES,
  type ManualAssignment,
  type ManualGrantRequest,
  type ManualGrantResult,
  type ManualOptions,
  type ManualRequest,
  type ManualRevokeResult,
} from './manualRequests.js';
import { actionOf, consentingToAll, onePrincipal, startManualRun, throwIfRefused, toExisting, withResource } from './manualTarget.js';

/**
 * Grants pull or push on one registry, by hand, within registry consent (or over it, when the
 * setting allows and the request says so). Throws PolicyDeniedError when consent or a platform
 * policy refuses, AppError for a missing registry or resource; in a dry run returns the refusal.
 */
export async function grantManually(deps: AccessDeps, request: ManualGrantRequest, options: ManualOptions): Promise<ManualGrantResult> {
  const { run, tag, facts, target, resourceId, principalIds, registry } = await startManualRun(deps, request, options);
  const choice = chooseRole(facts.roleAssignmentMode, request.access);
  const row = { ...(resourceId ? { resourceId } : {}), registry: facts.id, role: describeRole(choice.role) };

  const consent = target.consumer
    ? evaluateConsent(
        { id: facts.id, ...(facts.tags ? { tags: facts.tags } : {}) },
        { id: target.consumer.id, ...(target.consumer.tags ? { tags: target.consumer.tags } : {}) },
        deps.config.defaultConsent,
        registryConsentFor(request.access),
      )
    : consentForPrincipal(facts, deps.config.defaultConsent, target.label, request.access);
  let override = false;
  if (!consent.allowed) {
    const refusal = !request.override
      ? {
          code: MANUAL_ERROR_CODES.consentDenied,
          reason: `${request.caller} asked for ${facts.name} (${tag}) for ${target.label} by hand, but ${consent.reason}`,
        }
      : !deps.config.allowConsentOverride
        ? {
            code: MANUAL_ERROR_CODES.overrideDisabled,
            reason: `${request.caller} asked to override registry consent for ${facts.name} (${tag}) for ${target.label}, but ACCESS_ALLOW_CONSENT_OVERRIDE is off (${consent.reason})`,
          }
        : undefined;
    if (refusal) {
      await run.decide({
        action: actionOf(run, 'grant'),
        outcome: AUDIT_OUTCOMES.deniedByConsent,
        reason: refusal.reason,
        errorCode: refusal.code,
        ...row,
        ...onePrincipal(principalIds),
        details: { manual: true },
      });
      if (run.dryRun) {
        return {
          outcome: MANUAL_GRANT_OUTCOMES.deniedByConsent,
          override: false,
          consent,
          registry,
          ...(resourceId ? { resourceId } : {}),
          principalIds,
          role: choice.role,
          assignments: [],
          decisions: run.decisions,
        };
      }
      throw new PolicyDeniedError(refusal.code, refusal.reason);
    }
    override = true;
  }

  // Plan with the event path's planner. Where consent was already judged above (a bare principal, or
  // an override), the planner is handed a registry that consents to anyone, so it plans names,
  // roles and what exists, not consent a second time.
  const forced = override || !target.consumer;
  const existing = (await deps.roleAssignments.listAtScope(facts.id)).filter((a) => principalIds.includes(a.principalId.toLowerCase()));
  const planned = planAccess({
    consumer: target.consumer
      ? { id: target.consumer.id, name: target.consumer.name, ...(target.consumer.tags ? { tags: target.consumer.tags } : {}) }
      : { id: facts.id, name: target.label },
    identities: target.identities,
    requests: [{ registryRef: request.registry, access: request.access }],
    registries: [forced ? consentingToAll(facts) : facts],
    existing: existing.map(toExisting),
    defaultConsent: forced ? 'any' : deps.config.defaultConsent,
  });
  const why = override
    ? `${request.caller} overrode registry consent for ${target.label} on ${facts.name} (${tag}), which refused it: ${consent.reason}; ${choice.reason}`
    : `${request.caller} asked for ${facts.name} (${tag}) for ${target.label} by hand; ${consent.reason}; ${choice.reason}`;
  const grants: PlannedGrant[] = planned.grants.map((g) => ({
    ...g,
    description: manualGrantDescription({
      tag,
      caller: request.caller,
      override,
      principalId: g.principalId,
      ...(resourceId ? { consumerId: resourceId } : {}),
    }),
    reason: `${why}, for ${g.principalId}`,
  }));
  // A manual grant only adds: the planner's revokes (other roles of ours) are the tag policy's business.
  const plan: AccessPlan = { ...planned, grants, revokes: [] };
  const details = { manual: true, ...(override ? { consentOverride: true } : {}) };

  for (const d of plan.denied) {
    await run.decide({
      action: actionOf(run, 'grant'),
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: d.reason,
      errorCode: 'InvalidPrincipal',
      ...row,
      ...onePrincipal(d.principalIds),
      details,
    });
  }
  const assignments: ManualAssignment[] = [];
  for (const u of plan.unchanged) {
    const reason = u.owned ? `${u.reason}; nothing to do` : `${u.reason} (assigned outside the automation; left as it is)`;
    await run.decide({
      action: actionOf(run, 'grant'),
      outcome: AUDIT_OUTCOMES.alreadyPresent,
      reason,
      ...row,
      principalId: u.principalId,
      details,
    });
    assignments.push({ name: u.name, scope: u.scope, principalId: u.principalId, role: u.role, outcome: AUDIT_OUTCOMES.alreadyPresent });
  }
  // Write-ahead, as the event path does: when the consumer is deleted, its grants are found through the index.
  // The row names no principals, so the whole registry is listed for it until its next settle narrows it.
  let writeAhead: WriteAhead | undefined = resourceId
    ? {
        index: deps.grantIndex,
        entry: { consumerId: resourceId, registryId: facts.id, ...(facts.loginServer ? { loginServer: facts.loginServer } : {}) },
      }
    : undefined;
  for (const g of grants) {
    await grantAssignment(deps, run, grantSpecOf(g), { ...(resourceId ? { resourceId } : {}), reason: g.reason, details }, writeAhead);
    writeAhead = undefined;
    const decision = run.decisions[run.decisions.length - 1];
    assignments.push({
      name: g.name,
      scope: g.scope,
      principalId: g.principalId,
      role: g.role,
      outcome: decision?.outcome ?? AUDIT_OUTCOMES.failed,
    });
  }

  throwIfRefused(run);
  const outcomes = assignments.map((a) => a.outcome);
  const outcome = outcomes.includes(AUDIT_OUTCOMES.granted)
    ? MANUAL_GRANT_OUTCOMES.granted
    : outcomes.includes(AUDIT_OUTCOMES.wouldGrant)
      ? MANUAL_GRANT_OUTCOMES.wouldGrant
      : MANUAL_GRANT_OUTCOMES.alreadyPresent;
  return {
    outcome,
    override,
    consent,
    registry,
    ...(resourceId ? { resourceId } : {}),
    principalIds,
    role: choice.role,
    assignments,
    decisions: run.decisions,
    plan,
  };
}

/**
 * Revokes pull or push on one registry, by hand: deletes the assignments of ours that give that
 * access (either mode's role) to the target's principals. One not made by the automation is left
 * as it is and refused with NotOwnedByAutomation when it is all there is.
 */
export async function revokeManually(deps: AccessDeps, request: ManualRequest, options: ManualOptions): Promise<ManualRevokeResult> {
  const { run, tag, facts, target, resourceId, principalIds, registry } = await startManualRun(deps, request, options);
  const base = { resourceId, registry, principalIds };

  const matching = (await deps.roleAssignments.listAtScope(facts.id)).filter((a) => {
    const role = roleFor(a.roleDefinitionGuid);
    return principalIds.includes(a.principalId.toLowerCase()) && role !== undefined && accessOf(role) === request.access;
  });
  if (matching.length === 0) {
    await run.decide({
      action: actionOf(run, 'revoke'),
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${request.caller} asked to revoke ${tag} on ${facts.name} for ${target.label}, which holds no such role there`,
      ...(resourceId ? { resourceId } : {}),
      registry: facts.id,
      ...onePrincipal(principalIds),
      details: { manual: true },
    });
    return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.nothingToRevoke, assignments: [], decisions: run.decisions };
  }

  const assignments: ManualAssignment[] = [];
  const askers = registryAskers(deps, { registry: facts });
  const results: RevokeResult[] = [];
  for (const a of matching) {
    const role = roleFor(a.roleDefinitionGuid)!;
    const tagGranted = ownershipOfListed(a)?.kind === OWNERSHIP_KINDS.tagPolicy && target.consumer !== undefined;
    // The target's own tag is not asked: a person revoked it for that target (its next event grants
    // it again while the tag asks). Any other consumer holding the principal that asks keeps it.
    const result = await revokeAssignment(deps, run, a, {
      ...(resourceId ? { resourceId } : {}),
      reason:
        `${request.caller} revoked ${role.name} on ${facts.name} for ${a.principalId} by hand` +
        (tagGranted
          ? `; it came from the tag policy, which grants it again on ${target.label}'s next event while its ${tag} tag asks for ${facts.name}`
          : ''),
      scopeName: facts.name,
      askers,
      except: resourceId ? [resourceId] : [],
      details: { manual: true },
    });
    results.push(result);
    const decision = run.decisions[run.decisions.length - 1];
    assignments.push({
      name: a.name,
      scope: a.scope,
      principalId: a.principalId,
      role,
      outcome: decision?.outcome ?? AUDIT_OUTCOMES.failed,
    });
  }

  throwIfRefused(run);
  if (results.includes(REVOKE_RESULTS.revoked))
    return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.revoked, assignments, decisions: run.decisions };
  if (results.includes(REVOKE_RESULTS.wouldRevoke))
    return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.wouldRevoke, assignments, decisions: run.decisions };
  if (results.includes(REVOKE_RESULTS.kept))
    return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.kept, assignments, decisions: run.decisions };
  if (run.dryRun) return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.nothingToRevoke, assignments, decisions: run.decisions };
  throw new PolicyDeniedError(
    MANUAL_ERROR_CODES.notOwned,
    `${tag} on ${facts.name} for ${target.label} was not granted by the automation, so it does not revoke it`,
  );
}
