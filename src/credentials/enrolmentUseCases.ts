/**
 * Enrolling and un-enrolling a registry for pull credentials (the HTTP API, registry events and the
 * sweep), as the enrolment rule (enrolmentRule.ts) decides, under the enrolment's lease.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import { AppError, InvalidInputError } from '../errors.js';
import { parseCredentialTags, type CredentialTags } from '../policy/tags.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import {
  ENROLMENT_STATUSES,
  parseRegistryId,
  passwordSecretName,
  ROTATION_PHASES,
  toEnrolmentView,
  usernameSecretName,
  type Enrolment,
  type EnrolmentView,
  type StoredEnrolment,
} from './enrolment.js';
import { ConcurrencyConflictError } from './enrolmentStore.js';
import {
  decideEnrolment,
  ENROLMENT_REFUSALS,
  ENROLMENT_SOURCES,
  type EnrolmentFacts,
  type EnrolmentRefusal,
  type EnrolmentSource,
} from './enrolmentRule.js';
import {
  carryCurrentPassword,
  ensureApplication,
  ensureServicePrincipal,
  grantPullRole,
  revokePullRole,
  storeUsername,
} from './enrolmentSteps.js';
import { rotateUnderLease, type RotationResult } from './rotation.js';
import { withLease } from './withLease.js';

export interface EnrolRequest {
  readonly registryId: string;
  readonly vaultName: string;
  /** Rotation period in days; the setting ROTATION_PERIOD_DAYS when absent. */
  readonly periodDays?: number;
  /** Adopt this existing application instead of creating one. */
  readonly appId?: string;
}

export const ENROL_OUTCOMES = { enrolled: 'enrolled', alreadyEnrolled: 'already-enrolled', inProgress: 'in-progress' } as const;
export type EnrolOutcome = (typeof ENROL_OUTCOMES)[keyof typeof ENROL_OUTCOMES];

export interface EnrolResult {
  readonly outcome: EnrolOutcome;
  readonly enrolment: EnrolmentView;
  readonly rotation?: RotationResult;
}

/**
 * POST /api/credentials: enrols a registry — application + service principal named after it, the
 * registry's pull role on it, `<registry>-pull-usr` / `-pwd` in the vault with a proven password.
 * The enrolment rule (enrolmentRule.ts) decides: a registry carrying `acr-pull-credential` is the
 * tag's (another vault or period is refused with EnrolmentManagedByTag); an untagged registry is
 * enrolled with source `api`, which registry events and the sweep respect. Idempotent: a repeated
 * request with the same settings changes nothing.
 */
export async function enrolRegistry(deps: CredentialsDeps, request: EnrolRequest, options: RunOptions = {}): Promise<EnrolResult> {
  parseRegistryId(request.registryId);
  const registry = await deps.arm.getResource(request.registryId);
  if (!registry) throw new InvalidInputError('RegistryNotFound', `registry ${request.registryId} does not exist`);
  const existing = await deps.store.get(registry.id);
  const ask = {
    via: 'api-enrol',
    vaultName: request.vaultName,
    ...(request.periodDays !== undefined ? { periodDays: request.periodDays } : {}),
  } as const;
  const decision = decideEnrolment(ask, enrolmentFacts(deps, parseCredentialTags(registry.tags), existing));
  if (decision.kind === 'refuse') throw await refused(deps, registry.id, 'enrol', decision, options);
  if (decision.kind !== 'enrol') throw new AppError('InternalError', 'the enrolment rule answered no enrolment for an enrol request');
  return applyEnrolment(
    deps,
    registry,
    { ...decision, ...(request.appId !== undefined ? { appId: request.appId } : {}) },
    existing,
    options,
  );
}

export interface EnrolTarget {
  readonly source: EnrolmentSource;
  readonly vaultName: string;
  readonly periodDays?: number;
  /** Adopt this existing application instead of creating one. */
  readonly appId?: string;
}

export function enrolmentFacts(deps: CredentialsDeps, tags: CredentialTags, existing: Enrolment | undefined): EnrolmentFacts {
  return {
    tags,
    ...(existing
      ? { existing: { status: existing.status, vaultName: existing.vaultName, ...(existing.source ? { source: existing.source } : {}) } }
      : {}),
    graceHours: deps.config.rotationGraceHours,
    defaultPeriodDays: deps.config.rotationPeriodDays,
  };
}

/** Records a refused request (it came from a user or a tag) and answers the error the API maps to a problem. */
export async function refused(
  deps: CredentialsDeps,
  registryId: string,
  action: string,
  decision: { code: EnrolmentRefusal; message: string },
  options: RunOptions,
): Promise<AppError> {
  const trigger = options.trigger ?? {};
  await deps.audit.record({
    action,
    outcome: AUDIT_OUTCOMES.rejectedInput,
    errorCode: decision.code,
    reason: decision.message,
    registry: registryId,
    resourceId: registryId,
    ...(trigger.eventId ? { eventId: trigger.eventId } : {}),
    ...(trigger.caller ? { caller: trigger.caller } : {}),
    ...(trigger.correlationId ? { correlationId: trigger.correlationId } : {}),
  });
  // EnrolmentManagedByTag is a conflict with the registry's tag (409, problem.ts); the rest are bad input (400).
  return decision.code === ENROLMENT_REFUSALS.managedByTag
    ? new AppError(decision.code, decision.message)
    : new InvalidInputError(decision.code, decision.message);
}

/** Brings the enrolment to the target the rule decided: application, principal, role, username, first password. */
export async function applyEnrolment(
  deps: CredentialsDeps,
  registry: ArmResource,
  target: EnrolTarget,
  existing: StoredEnrolment | undefined,
  options: RunOptions,
): Promise<EnrolResult> {
  const ref = parseRegistryId(registry.id);
  await deps.vaults.resolveVault(target.vaultName, { abortSignal: AbortSignal.timeout(deps.callTimeoutMs) });
  const vaultName = target.vaultName.toLowerCase();

  let row = existing;
  if (!row) {
    try {
      row = await deps.store.create({
        registryId: registry.id,
        registryName: ref.name,
        vaultName,
        ...(target.periodDays !== undefined ? { periodDays: target.periodDays } : {}),
        status: ENROLMENT_STATUSES.enrolling,
        source: target.source,
        phase: ROTATION_PHASES.idle,
        enrolledAt: deps.now().toISOString(),
      });
    } catch (error) {
      if (!(error instanceof ConcurrencyConflictError)) throw error;
      row = await deps.store.get(registry.id);
      if (!row) throw error;
    }
  }
  const view = (r: Enrolment) => toEnrolmentView(r, deps.config.rotationPeriodDays);
  const unchanged =
    row.status === ENROLMENT_STATUSES.active &&
    row.vaultName === vaultName &&
    row.periodDays === target.periodDays &&
    (row.source ?? ENROLMENT_SOURCES.tag) === target.source &&
    (target.appId === undefined || target.appId === row.appId) &&
    row.phase === ROTATION_PHASES.idle &&
    row.currentKeyId !== undefined;
  if (unchanged) return { outcome: ENROL_OUTCOMES.alreadyEnrolled, enrolment: view(row) };

  const outcome = await withLease(deps, row, options, async (run) => {
    const vaultChanged = run.row.vaultName !== vaultName;
    const oldVaultName = run.row.vaultName;
    await run.save({
      status: run.row.status === ENROLMENT_STATUSES.active && !vaultChanged ? ENROLMENT_STATUSES.active : ENROLMENT_STATUSES.enrolling,
      vaultName,
      periodDays: target.periodDays,
      source: target.source,
    });
    await ensureApplication(run, target.appId);
    const principalId = await ensureServicePrincipal(run);
    await grantPullRole(run, registry, principalId);
    await storeUsername(run);
    if (vaultChanged) await carryCurrentPassword(run, oldVaultName);
    await run.save({ status: ENROLMENT_STATUSES.active });
    await run.audit({
      action: 'enrol',
      outcome: AUDIT_OUTCOMES.enrolled,
      reason:
        `registry ${run.row.registryName} enrolled for pull credentials in ${vaultName} (${usernameSecretName(run.row.registryName)} / ${passwordSecretName(run.row.registryName)}), ` +
        `rotated every ${run.row.periodDays ?? deps.config.rotationPeriodDays} days; ` +
        (target.source === ENROLMENT_SOURCES.api
          ? 'enrolled through the API (source api): only the API un-enrols it'
          : 'by its acr-pull-credential tag (source tag)'),
      principalId,
      ...(run.row.role ? { role: run.row.role } : {}),
      details: { vaultName, adopted: run.row.adopted === true, source: target.source },
    });
    // A new vault must get a password of its own; a first enrolment has none yet.
    return rotateUnderLease(run, { force: vaultChanged || !run.row.currentKeyId, reason: 'enrolment' });
  });
  if (outcome.kind === 'busy') {
    const current = (await deps.store.get(registry.id)) ?? row;
    return { outcome: ENROL_OUTCOMES.inProgress, enrolment: view(current) };
  }
  const final = (await deps.store.get(registry.id)) ?? row;
  return { outcome: ENROL_OUTCOMES.enrolled, enrolment: view(final), rotation: outcome.value };
}

export interface UnenrolResult {
  readonly outcome: 'unenrolled' | 'not-enrolled' | 'in-progress';
  readonly applicationDeleted: boolean;
}

/**
 * Stops rotation for a registry. The application (and its role assignment) is deleted only when
 * CREDENTIALS_DELETE_APP_ON_UNENROL is true; otherwise it and the Key Vault secrets stay.
 */
export async function unenrolRegistry(
  deps: CredentialsDeps,
  registryId: string,
  options: RunOptions & { reason?: string } = {},
): Promise<UnenrolResult> {
  parseRegistryId(registryId);
  const row = await deps.store.get(registryId);
  if (!row || row.status === ENROLMENT_STATUSES.unenrolled) return { outcome: 'not-enrolled', applicationDeleted: false };
  const outcome = await withLease(deps, row, options, async (run) => {
    // A password in flight that Key Vault does not serve would be left behind: settle first.
    if (run.row.phase === ROTATION_PHASES.adding || run.row.phase === ROTATION_PHASES.added) {
      await run.save({ status: ENROLMENT_STATUSES.active });
      await rotateUnderLease(run, { reason: 'un-enrolment' }).catch(() => undefined);
    }
    let applicationDeleted = false;
    if (deps.config.deleteApplicationOnUnenrol && run.row.applicationObjectId && !run.row.adopted) {
      if (run.row.servicePrincipalId && run.row.role) await revokePullRole(run, run.row.servicePrincipalId);
      const result = await deps.graph.deleteApplication(run.row.applicationObjectId, await run.call());
      applicationDeleted = result === 'deleted';
      await run.audit({
        action: 'unenrol',
        outcome: AUDIT_OUTCOMES.revoked,
        reason: `deleted application ${run.row.appId} (CREDENTIALS_DELETE_APP_ON_UNENROL is true)`,
      });
    }
    await run.save({
      status: ENROLMENT_STATUSES.unenrolled,
      ...(applicationDeleted
        ? {
            appId: undefined,
            applicationObjectId: undefined,
            servicePrincipalId: undefined,
            currentKeyId: undefined,
            currentCreatedAt: undefined,
            currentExpiresOn: undefined,
            currentSecretVersion: undefined,
            previousKeyId: undefined,
            previousRemoveAfter: undefined,
            role: undefined,
          }
        : {}),
    });
    await run.audit({
      action: 'unenrol',
      outcome: AUDIT_OUTCOMES.unenrolled,
      reason: `${options.reason ?? 'un-enrolment requested'}: rotation stopped for ${run.row.registryName}${applicationDeleted ? '' : '; the application and the Key Vault secrets are kept'}`,
    });
    return { outcome: 'unenrolled' as const, applicationDeleted };
  });
  return outcome.kind === 'busy' ? { outcome: 'in-progress', applicationDeleted: false } : outcome.value;
}

/**
 * DELETE /api/credentials/{registry}: the enrolment rule decides. A registry still carrying
 * `acr-pull-credential` is refused (EnrolmentManagedByTag): the next registry event would enrol it again.
 */
export async function unenrolFromApi(
  deps: CredentialsDeps,
  registryId: string,
  options: RunOptions & { reason?: string } = {},
): Promise<UnenrolResult> {
  parseRegistryId(registryId);
  const existing = await deps.store.get(registryId);
  const registry = await deps.arm.getResource(registryId);
  const tags: CredentialTags = registry ? parseCredentialTags(registry.tags) : { status: 'absent' };
  const decision = decideEnrolment({ via: 'api-unenrol' }, enrolmentFacts(deps, tags, existing));
  if (decision.kind === 'refuse') throw await refused(deps, existing?.registryId ?? registryId, 'unenrol', decision, options);
  if (decision.kind !== 'unenrol') return { outcome: 'not-enrolled', applicationDeleted: false };
  return unenrolRegistry(deps, registryId, options);
}
