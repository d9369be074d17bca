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
import { AUDIT_OUTCOMES, type AuditEntry } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError, InvalidInputError, PolicyDeniedError } from '../errors.js';
import type { Logger } from '../log.js';
import { consentForPrincipal, evaluateConsent, registryConsentFor, type ConsentDecision } from '../policy/consent.js';
import { planAccess, type AccessPlan, type PlanIdentity, type PlannedGrant, type RegistryFacts } from '../policy/plan.js';
import { parseResourceId, REGISTRY_TYPE, sameResourceId } from '../policy/resourceId.js';
import { IDENTITY_KINDS } from '../policy/identityKinds.js';
import { accessOf, chooseRole, describeRole, roleFor, type Role } from '../policy/roles.js';
import { OWNERSHIP_KINDS } from '../policy/ownership.js';
import { parseRegistryRef, TAG_FOR_ACCESS, TAG_NAMES, type Access } from '../policy/tags.js';
import type { AccessDeps } from './accessDeps.js';
import { registryAskers } from './askers.js';
import { grantAssignment, NOT_OURS_CODE, ownershipOfListed, revokeAssignment, REVOKE_RESULTS, type RevokeResult, type WriteAhead } from '../assignments/executor.js';
import { manualGrantDescription } from './manualGrantDescription.js';
import { identitiesOf, refersTo, startRun, toPlanIdentity, type Run } from './reconcile.js';

/** Principal types a role assignment takes (`principalType` on the PUT). */
export const PRINCIPAL_TYPES = { servicePrincipal: 'ServicePrincipal', user: 'User', group: 'Group' } as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[keyof typeof PRINCIPAL_TYPES];

/** Who gets (or loses) the access: every identity of a resource, or one principal. */
export type ManualTarget = { readonly resourceId: string } | { readonly principalId: string; readonly principalType: PrincipalType };

export type ManualRequest = ManualTarget & {
  /** The registry by name, login server or resource id. */
  readonly registry: string;
  readonly access: Access;
  /** Who asked: recorded on every audit row and in the assignment's description. */
  readonly caller: string;
};

export type ManualGrantRequest = ManualRequest & {
  /** Grant even where the registry does not consent; needs ACCESS_ALLOW_CONSENT_OVERRIDE, audited as an override. */
  readonly override?: boolean;
};

export interface ManualOptions {
  readonly log: Logger;
  readonly correlationId?: string;
  /** Decide and report only: nothing is written to ARM, the grant index or the audit log. */
  readonly dryRun?: boolean;
}

/** Error codes of the manual use cases, for problem types and audit rows. */
export const MANUAL_ERROR_CODES = {
  consentDenied: 'ConsentDenied',
  overrideDisabled: 'ConsentOverrideDisabled',
  registryNotFound: 'RegistryNotFound',
  resourceNotFound: 'ResourceNotFound',
  invalidRegistry: 'InvalidRegistryReference',
  notAConsumer: 'NotAConsumer',
  noManagedIdentity: 'NoManagedIdentity',
  notOwned: NOT_OURS_CODE,
} as const;

export const MANUAL_GRANT_OUTCOMES = {
  granted: 'granted',
  alreadyPresent: 'already-present',
  wouldGrant: 'would-grant',
  deniedByConsent: 'denied-by-consent',
} as const;
export type ManualGrantOutcome = (typeof MANUAL_GRANT_OUTCOMES)[keyof typeof MANUAL_GRANT_OUTCOMES];

export const MANUAL_REVOKE_OUTCOMES = {
  revoked: 'revoked',
  wouldRevoke: 'would-revoke',
  /** Not revoked: another consumer holding the principal still asks for it (the audit row names it). */
  kept: 'kept',
  nothingToRevoke: 'nothing-to-revoke',
} as const;
export type ManualRevokeOutcome = (typeof MANUAL_REVOKE_OUTCOMES)[keyof typeof MANUAL_REVOKE_OUTCOMES];

export interface ManualRegistry {
  readonly id: string;
  readonly name: string;
  readonly loginServer?: string;
  readonly roleAssignmentMode?: string;
}

/** One assignment the request touched. */
export interface ManualAssignment {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly role: Role;
  readonly outcome: string;
}

export interface ManualGrantResult {
  readonly outcome: ManualGrantOutcome;
  /** Whether registry consent was overridden. */
  readonly override: boolean;
  /** Why the registry consents, or does not. */
  readonly consent: ConsentDecision;
  readonly registry: ManualRegistry;
  readonly resourceId?: string;
  readonly principalIds: readonly string[];
  readonly role: Role;
  readonly assignments: readonly ManualAssignment[];
  /** The audit rows written (in a dry run, the rows a real run would write). */
  readonly decisions: readonly AuditEntry[];
  /** The plan the decision came from; absent when consent refused it before planning. */
  readonly plan?: AccessPlan;
}

export interface ManualRevokeResult {
  readonly outcome: ManualRevokeOutcome;
  readonly registry: ManualRegistry;
  readonly resourceId?: string;
  readonly principalIds: readonly string[];
  readonly assignments: readonly ManualAssignment[];
  readonly decisions: readonly AuditEntry[];
}

/** Who the request is about, resolved from ARM. */
interface ResolvedTarget {
  readonly consumer?: ArmResource;
  readonly identities: readonly PlanIdentity[];
  /** In reasons: `vm-web-1` or `principal 3f2a…`. */
  readonly label: string;
}

/** What a manual grant or revoke starts from: its decision record, the registry read fresh from ARM, and the target's principals. */
async function startManualRun(deps: AccessDeps, request: ManualRequest, options: ManualOptions) {
  const run = startRun(deps, { log: options.log, dryRun: options.dryRun === true, trigger: { caller: request.caller, ...(options.correlationId ? { correlationId: options.correlationId } : {}) } });
  const facts = await findRegistry(run, request);
  const target = await resolveTarget(run, request, facts);
  return {
    run,
    tag: TAG_FOR_ACCESS[request.access],
    facts,
    target,
    resourceId: target.consumer?.id,
    principalIds: target.identities.map((i) => i.principalId.toLowerCase()),
    registry: toManualRegistry(facts),
  };
}

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
      ? { code: MANUAL_ERROR_CODES.consentDenied, reason: `${request.caller} asked for ${facts.name} (${tag}) for ${target.label} by hand, but ${consent.reason}` }
      : !deps.config.allowConsentOverride
        ? {
            code: MANUAL_ERROR_CODES.overrideDisabled,
            reason: `${request.caller} asked to override registry consent for ${facts.name} (${tag}) for ${target.label}, but ACCESS_ALLOW_CONSENT_OVERRIDE is off (${consent.reason})`,
          }
        : undefined;
    if (refusal) {
      await run.decide({ action: actionOf(run, 'grant'), outcome: AUDIT_OUTCOMES.deniedByConsent, reason: refusal.reason, errorCode: refusal.code, ...row, ...onePrincipal(principalIds), details: { manual: true } });
      if (run.dryRun) {
        return { outcome: MANUAL_GRANT_OUTCOMES.deniedByConsent, override: false, consent, registry, ...(resourceId ? { resourceId } : {}), principalIds, role: choice.role, assignments: [], decisions: run.decisions };
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
    description: manualGrantDescription({ tag, caller: request.caller, override, principalId: g.principalId, ...(resourceId ? { consumerId: resourceId } : {}) }),
    reason: `${why}, for ${g.principalId}`,
  }));
  // A manual grant only adds: the planner's revokes (other roles of ours) are the tag policy's business.
  const plan: AccessPlan = { ...planned, grants, revokes: [] };
  const details = { manual: true, ...(override ? { consentOverride: true } : {}) };

  for (const d of plan.denied) {
    await run.decide({ action: actionOf(run, 'grant'), outcome: AUDIT_OUTCOMES.rejectedInput, reason: d.reason, errorCode: 'InvalidPrincipal', ...row, ...onePrincipal(d.principalIds), details });
  }
  const assignments: ManualAssignment[] = [];
  for (const u of plan.unchanged) {
    const reason = u.owned ? `${u.reason}; nothing to do` : `${u.reason} (assigned outside the automation; left as it is)`;
    await run.decide({ action: actionOf(run, 'grant'), outcome: AUDIT_OUTCOMES.alreadyPresent, reason, ...row, principalId: u.principalId, details });
    assignments.push({ name: u.name, scope: u.scope, principalId: u.principalId, role: u.role, outcome: AUDIT_OUTCOMES.alreadyPresent });
  }
  // Write-ahead, as the event path does: when the consumer is deleted, its grants are found through the index.
  // The row names no principals, so the whole registry is listed for it until its next settle narrows it.
  let writeAhead: WriteAhead | undefined = resourceId
    ? { index: deps.grantIndex, entry: { consumerId: resourceId, registryId: facts.id, ...(facts.loginServer ? { loginServer: facts.loginServer } : {}) } }
    : undefined;
  for (const g of grants) {
    await grantAssignment(deps, run, { name: g.name, scope: g.scope, scopeName: g.registryName, principalId: g.principalId, principalType: g.principalType, role: g.role, description: g.description }, { ...(resourceId ? { resourceId } : {}), reason: g.reason, details }, writeAhead);
    writeAhead = undefined;
    const decision = run.decisions[run.decisions.length - 1];
    assignments.push({ name: g.name, scope: g.scope, principalId: g.principalId, role: g.role, outcome: decision?.outcome ?? AUDIT_OUTCOMES.failed });
  }

  throwIfRefused(run);
  const outcomes = assignments.map((a) => a.outcome);
  const outcome = outcomes.includes(AUDIT_OUTCOMES.granted)
    ? MANUAL_GRANT_OUTCOMES.granted
    : outcomes.includes(AUDIT_OUTCOMES.wouldGrant)
      ? MANUAL_GRANT_OUTCOMES.wouldGrant
      : MANUAL_GRANT_OUTCOMES.alreadyPresent;
  return { outcome, override, consent, registry, ...(resourceId ? { resourceId } : {}), principalIds, role: choice.role, assignments, decisions: run.decisions, plan };
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
        (tagGranted ? `; it came from the tag policy, which grants it again on ${target.label}'s next event while its ${tag} tag asks for ${facts.name}` : ''),
      scopeName: facts.name,
      askers,
      except: resourceId ? [resourceId] : [],
      details: { manual: true },
    });
    results.push(result);
    const decision = run.decisions[run.decisions.length - 1];
    assignments.push({ name: a.name, scope: a.scope, principalId: a.principalId, role, outcome: decision?.outcome ?? AUDIT_OUTCOMES.failed });
  }

  throwIfRefused(run);
  if (results.includes(REVOKE_RESULTS.revoked)) return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.revoked, assignments, decisions: run.decisions };
  if (results.includes(REVOKE_RESULTS.wouldRevoke)) return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.wouldRevoke, assignments, decisions: run.decisions };
  if (results.includes(REVOKE_RESULTS.kept)) return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.kept, assignments, decisions: run.decisions };
  if (run.dryRun) return { ...withResource(base), outcome: MANUAL_REVOKE_OUTCOMES.nothingToRevoke, assignments, decisions: run.decisions };
  throw new PolicyDeniedError(MANUAL_ERROR_CODES.notOwned, `${tag} on ${facts.name} for ${target.label} was not granted by the automation, so it does not revoke it`);
}

/** The registry the request names, read fresh from ARM (its consent tag and mode decide the grant). */
async function findRegistry(run: Run, request: ManualRequest): Promise<RegistryFacts> {
  const { deps } = run;
  const ref = parseRegistryRef(request.registry);
  if (!ref.ok) {
    await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.rejectedInput, reason: `registry ${JSON.stringify(request.registry.slice(0, 100))}: ${ref.error}`, errorCode: MANUAL_ERROR_CODES.invalidRegistry });
    throw new InvalidInputError(MANUAL_ERROR_CODES.invalidRegistry, `registry ${JSON.stringify(request.registry.slice(0, 100))}: ${ref.error}`);
  }
  const found = (await deps.registries.resolve([ref.value])).filter((f) => refersTo({ registryRef: ref.value, access: request.access, tag: TAG_FOR_ACCESS[request.access] }, f));
  const only = found.length === 1 ? found[0] : undefined;
  const resource = only ? await deps.arm.getResource(only.id) : undefined;
  if (!only || !resource) {
    const reason = found.length > 1 ? `registry ${ref.value.raw} matches more than one registry; name it by resource id` : `registry ${ref.value.raw} was not found in the watched subscriptions`;
    if (only) deps.registries.invalidate(only.id);
    await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.rejectedInput, reason, errorCode: MANUAL_ERROR_CODES.registryNotFound, ...(only ? { registry: only.id } : {}) });
    throw new AppError(MANUAL_ERROR_CODES.registryNotFound, reason);
  }
  return deps.registries.remember(resource);
}

/** The principals the request is about: a resource's identities (read from ARM) or the one given. */
async function resolveTarget(run: Run, request: ManualRequest, facts: RegistryFacts): Promise<ResolvedTarget> {
  if (!('resourceId' in request)) {
    return {
      identities: [{ principalId: request.principalId.toLowerCase(), principalType: request.principalType, kind: IDENTITY_KINDS.userAssigned }],
      label: `principal ${request.principalId.toLowerCase()}`,
    };
  }
  const { deps } = run;
  const parsed = parseResourceId(request.resourceId);
  const refuse = async (code: string, reason: string, error: AppError): Promise<never> => {
    await run.decide({ action: 'grant', outcome: AUDIT_OUTCOMES.rejectedInput, reason, errorCode: code, resourceId: request.resourceId, registry: facts.id });
    throw error;
  };
  if (!parsed.ok || !parsed.value.type) {
    const reason = parsed.ok ? `${request.resourceId} is not a resource` : parsed.error;
    return refuse('InvalidResourceId', reason, new InvalidInputError('InvalidResourceId', reason));
  }
  if (parsed.value.type === REGISTRY_TYPE || sameResourceId(parsed.value.id, facts.id)) {
    const reason = `${parsed.value.name} is a registry; grant to the resource or principal that pulls from it`;
    return refuse(MANUAL_ERROR_CODES.notAConsumer, reason, new InvalidInputError(MANUAL_ERROR_CODES.notAConsumer, reason));
  }
  const consumer = await deps.arm.getResource(parsed.value.id);
  if (!consumer) {
    const reason = `resource ${parsed.value.id} does not exist`;
    return refuse(MANUAL_ERROR_CODES.resourceNotFound, reason, new AppError(MANUAL_ERROR_CODES.resourceNotFound, reason));
  }
  const identities = await identitiesOf(deps, consumer);
  if (identities.length === 0) {
    const reason = `${consumer.name} has no managed identity to grant to`;
    return refuse(MANUAL_ERROR_CODES.noManagedIdentity, reason, new InvalidInputError(MANUAL_ERROR_CODES.noManagedIdentity, reason));
  }
  return { consumer, identities: identities.map(toPlanIdentity), label: consumer.name };
}

/** After the writes: a platform deny is a refusal, a failure is the failure (transient ones first, so the caller retries). */
function throwIfRefused(run: Run): void {
  run.throwIfRetryNeeded();
  const denied = run.decisions.find((d) => d.outcome === AUDIT_OUTCOMES.deniedByPlatformPolicy);
  if (denied) throw new PolicyDeniedError(denied.errorCode ?? 'RequestDisallowedByPolicy', denied.reason);
  const failed = run.decisions.find((d) => d.outcome === AUDIT_OUTCOMES.failed);
  if (failed) throw new AppError(failed.errorCode ?? 'InternalError', failed.reason);
}

function actionOf(run: Run, action: 'grant' | 'revoke'): string {
  return run.dryRun ? `${action} (dry run)` : action;
}

function onePrincipal(principalIds: readonly string[]): { principalId?: string } {
  return principalIds.length === 1 && principalIds[0] ? { principalId: principalIds[0] } : {};
}

function withResource<T extends { resourceId: string | undefined }>(value: T): Omit<T, 'resourceId'> & { resourceId?: string } {
  const { resourceId, ...rest } = value;
  return resourceId ? { ...rest, resourceId } : rest;
}

function toManualRegistry(facts: RegistryFacts): ManualRegistry {
  return {
    id: facts.id,
    name: facts.name,
    ...(facts.loginServer ? { loginServer: facts.loginServer } : {}),
    ...(facts.roleAssignmentMode ? { roleAssignmentMode: facts.roleAssignmentMode } : {}),
  };
}

/**
 * The registry as the planner sees it once consent has been decided elsewhere: both consent tags
 * say `*` (push has no default to fall back on, so dropping the tags would not do).
 */
function consentingToAll(facts: RegistryFacts): RegistryFacts {
  const consentTags: readonly string[] = [TAG_NAMES.allow, TAG_NAMES.pushAllow];
  const others = Object.entries(facts.tags ?? {}).filter(([k]) => !consentTags.includes(k.toLowerCase()));
  return { ...facts, tags: { ...Object.fromEntries(others), [TAG_NAMES.allow]: '*', [TAG_NAMES.pushAllow]: '*' } };
}

function toExisting(a: RoleAssignmentInfo) {
  return { name: a.name, scope: a.scope, principalId: a.principalId, roleDefinitionId: a.roleDefinitionGuid, ...(a.description ? { description: a.description } : {}) };
}
