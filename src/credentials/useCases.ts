/**
 * The credentials use cases the triggers and the HTTP API call: enrol, rotate (now, when due,
 * on near-expiry), un-enrol, list, and react to a registry's tags.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import { AppError,errorCode,InvalidInputError } from '../errors.js';
import { parseCredentialTags,type CredentialTags } from '../policy/tags.js';
import type { PasswordConsumer } from './passwordConsumers.js';
import type { CredentialsDeps,RunOptions } from './deps.js';
import {
ENROLMENT_STATUSES,
parseRegistryId,
passwordSecretName,
ROTATION_PHASES,
toEnrolmentView,
usernameSecretName,
type Enrolment,
type EnrolmentView,
type StoredEnrolment
} from './enrolment.js';
import { ConcurrencyConflictError } from './enrolmentStore.js';
import { decideEnrolment,ENROLMENT_REFUSALS,ENROLMENT_SOURCES,type EnrolmentFacts,type EnrolmentRefusal,type EnrolmentSource } from './enrolmentRule.js';
import { carryCurrentPassword,ensureApplication,ensureServicePrincipal,grantPullRole,revokePullRole,storeUsername } from './enrolmentSteps.js';
import { recordRotationRequest,requestRecordedResult } from './rotationRequests.js';
import { needsRun,ROTATION_OUTCOMES,rotateUnderLease,servesOtherThanCurrent,withLease,type RotationResult } from './rotation.js';

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
  const ask = { via: 'api-enrol', vaultName: request.vaultName, ...(request.periodDays !== undefined ? { periodDays: request.periodDays } : {}) } as const;
  const decision = decideEnrolment(ask, enrolmentFacts(deps, parseCredentialTags(registry.tags), existing));
  if (decision.kind === 'refuse') throw await refused(deps, registry.id, 'enrol', decision, options);
  if (decision.kind !== 'enrol') throw new AppError('InternalError', 'the enrolment rule answered no enrolment for an enrol request');
  return applyEnrolment(deps, registry, { ...decision, ...(request.appId !== undefined ? { appId: request.appId } : {}) }, existing, options);
}

interface EnrolTarget {
  readonly source: EnrolmentSource;
  readonly vaultName: string;
  readonly periodDays?: number;
  /** Adopt this existing application instead of creating one. */
  readonly appId?: string;
}

function enrolmentFacts(deps: CredentialsDeps, tags: CredentialTags, existing: Enrolment | undefined): EnrolmentFacts {
  return {
    tags,
    ...(existing ? { existing: { status: existing.status, vaultName: existing.vaultName, ...(existing.source ? { source: existing.source } : {}) } } : {}),
    graceHours: deps.config.rotationGraceHours,
    defaultPeriodDays: deps.config.rotationPeriodDays,
  };
}

/** Records a refused request (it came from a user or a tag) and answers the error the API maps to a problem. */
async function refused(deps: CredentialsDeps, registryId: string, action: string, decision: { code: EnrolmentRefusal; message: string }, options: RunOptions): Promise<AppError> {
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
  return decision.code === ENROLMENT_REFUSALS.managedByTag ? new AppError(decision.code, decision.message) : new InvalidInputError(decision.code, decision.message);
}

/** Brings the enrolment to the target the rule decided: application, principal, role, username, first password. */
async function applyEnrolment(deps: CredentialsDeps, registry: ArmResource, target: EnrolTarget, existing: StoredEnrolment | undefined, options: RunOptions): Promise<EnrolResult> {
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
        (target.source === ENROLMENT_SOURCES.api ? 'enrolled through the API (source api): only the API un-enrols it' : 'by its acr-pull-credential tag (source tag)'),
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
export async function unenrolRegistry(deps: CredentialsDeps, registryId: string, options: RunOptions & { reason?: string } = {}): Promise<UnenrolResult> {
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
      await run.audit({ action: 'unenrol', outcome: AUDIT_OUTCOMES.revoked, reason: `deleted application ${run.row.appId} (CREDENTIALS_DELETE_APP_ON_UNENROL is true)` });
    }
    await run.save({
      status: ENROLMENT_STATUSES.unenrolled,
      ...(applicationDeleted
        ? { appId: undefined, applicationObjectId: undefined, servicePrincipalId: undefined, currentKeyId: undefined, currentCreatedAt: undefined, currentExpiresOn: undefined, currentSecretVersion: undefined, previousKeyId: undefined, previousRemoveAfter: undefined, role: undefined }
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
export async function unenrolFromApi(deps: CredentialsDeps, registryId: string, options: RunOptions & { reason?: string } = {}): Promise<UnenrolResult> {
  parseRegistryId(registryId);
  const existing = await deps.store.get(registryId);
  const registry = await deps.arm.getResource(registryId);
  const tags: CredentialTags = registry ? parseCredentialTags(registry.tags) : { status: 'absent' };
  const decision = decideEnrolment({ via: 'api-unenrol' }, enrolmentFacts(deps, tags, existing));
  if (decision.kind === 'refuse') throw await refused(deps, existing?.registryId ?? registryId, 'unenrol', decision, options);
  if (decision.kind !== 'unenrol') return { outcome: 'not-enrolled', applicationDeleted: false };
  return unenrolRegistry(deps, registryId, options);
}

/** Rotates one registry's password now, whatever its age. Concurrent requests make one new password. */
export async function rotateNow(deps: CredentialsDeps, registryId: string, options: RunOptions & { reason?: string } = {}): Promise<RotationResult> {
  parseRegistryId(registryId);
  const row = await deps.store.get(registryId);
  if (!row || row.status !== ENROLMENT_STATUSES.active) return { outcome: ROTATION_OUTCOMES.notEnrolled, registryId, actions: [] };
  return rotateRow(deps, row, { force: true, reason: options.reason ?? 'requested' }, options);
}

/** Rotates the registry's password if due, and finishes any step left over. */
export async function rotateIfDue(deps: CredentialsDeps, registryId: string, options: RunOptions & { reason?: string } = {}): Promise<RotationResult> {
  const row = await deps.store.get(registryId);
  if (!row || row.status !== ENROLMENT_STATUSES.active) return { outcome: ROTATION_OUTCOMES.notEnrolled, registryId, actions: [] };
  return rotateRow(deps, row, { force: false, reason: options.reason ?? 'timer' }, options);
}

async function rotateRow(deps: CredentialsDeps, row: StoredEnrolment, rotate: { force: boolean; reason: string }, options: RunOptions): Promise<RotationResult> {
  // Nothing due still means one read: Key Vault must serve the current password (rotation.ts).
  if (!needsRun(row, deps, rotate.force) && !(await servesOtherThanCurrent(deps, row))) return notDue(deps, row);
  for (let attempt = 0; ; attempt++) {
    const outcome = await withLease(deps, row, options, (run) => rotateUnderLease(run, rotate));
    if (outcome.kind === 'done') {
      if ([outcome.value, ...outcome.followUps].some((r) => r.outcome === ROTATION_OUTCOMES.rotated)) await notePasswordConsumers(deps, row.registryId, options);
      return outcome.value;
    }
    // The timer needs no record: whatever is due stays due for the holder or the next run.
    if (!rotate.force || attempt >= 2) return { outcome: ROTATION_OUTCOMES.inProgress, registryId: row.registryId, actions: [] };
    // Asked for (rotate now, near-expiry): recorded, so it outlives the run holding the lease.
    const trigger = options.trigger ?? {};
    const by = trigger.caller ?? (trigger.eventId ? `event ${trigger.eventId}` : rotate.reason);
    const recorded = await recordRotationRequest(deps, row.registryId, { by, reason: rotate.reason }, options);
    if (recorded.kind === 'not-enrolled') return { outcome: ROTATION_OUTCOMES.notEnrolled, registryId: row.registryId, actions: [] };
    if (recorded.kind === 'recorded') return requestRecordedResult(deps, recorded.row);
    row = recorded.row; // the holder let go meanwhile: take the lease ourselves
  }
}

/**
 * After a rotation (issue 19.4): the resources that hold the previous password by value (container
 * groups whose imageRegistryCredentials name the pull application) fail at their next restart once
 * it is removed — one audit row names them and the time, so they can be redeployed in time. A failed
 * look-up is recorded and never fails the rotation.
 */
async function notePasswordConsumers(deps: CredentialsDeps, registryId: string, options: RunOptions): Promise<void> {
  const row = await deps.store.get(registryId);
  if (!row?.appId || !deps.passwordConsumers) return;
  const trigger = { ...(options.trigger?.eventId ? { eventId: options.trigger.eventId } : {}), ...(options.trigger?.correlationId ? { correlationId: options.trigger.correlationId } : {}), ...(options.trigger?.caller ? { caller: options.trigger.caller } : {}) };
  try {
    const consumers = await deps.passwordConsumers(row.appId);
    if (consumers.length === 0) return;
    const removeAfter = row.previousRemoveAfter ?? 'the end of the grace period';
    await deps.audit.record({
      action: PASSWORD_CONSUMERS_ACTION,
      outcome: AUDIT_OUTCOMES.skipped,
      reason:
        `${consumers.map((c) => c.name).join(', ')} use${consumers.length === 1 ? 's' : ''} ${row.registryName}'s pull password by value (imageRegistryCredentials username ${row.appId}) and ${consumers.length === 1 ? 'was' : 'were'} not changed: ` +
        `the previous password is removed at ${removeAfter}; redeploy ${consumers.length === 1 ? 'it' : 'them'} before then with the password Key Vault serves (${row.vaultName}/${passwordSecretName(row.registryName)}), or with a managed identity`,
      registry: row.registryId,
      resourceId: row.registryId,
      ...trigger,
      details: { passwordConsumers: consumers.map((c) => c.resourceId).join(','), ...(row.previousRemoveAfter ? { previousRemoveAfter: row.previousRemoveAfter } : {}) },
    });
  } catch (error) {
    options.log?.warn('could not list the consumers using the pull password by value', { registryId, error });
    await deps.audit.record({ action: PASSWORD_CONSUMERS_ACTION, outcome: AUDIT_OUTCOMES.failed, errorCode: errorCode(error), reason: `could not list who uses ${row.registryName}'s pull password by value (Resource Graph); the rotation itself is done`, registry: row.registryId, resourceId: row.registryId, ...trigger });
  }
}

/** The audit row's action for the resources that use a pull password by value. */
export const PASSWORD_CONSUMERS_ACTION = 'password consumers';

/** One enrolment with the resources that use its password by value (GET /api/credentials/{registry}). */
export async function getEnrolmentDetail(deps: CredentialsDeps, registryId: string): Promise<(EnrolmentView & { readonly passwordConsumers: readonly PasswordConsumer[] }) | undefined> {
  const view = await getEnrolment(deps, registryId);
  if (!view) return undefined;
  return { ...view, passwordConsumers: deps.passwordConsumers ? await deps.passwordConsumers(view.appId) : [] };
}

function notDue(deps: CredentialsDeps, row: Enrolment): RotationResult {
  const view = toEnrolmentView(row, deps.config.rotationPeriodDays);
  return {
    outcome: ROTATION_OUTCOMES.notDue,
    registryId: row.registryId,
    ...(row.currentKeyId ? { currentKeyId: row.currentKeyId } : {}),
    ...(view.nextRotationAt ? { nextRotationAt: view.nextRotationAt } : {}),
    actions: [],
  };
}

export interface SweepResult {
  readonly results: readonly RotationResult[];
  readonly failures: readonly { registryId: string; errorCode: string }[];
}

/** The timer: every active enrolment, rotated when due; one registry's failure does not stop the others. */
export async function rotateDueCredentials(deps: CredentialsDeps, options: RunOptions = {}): Promise<SweepResult> {
  const results: RotationResult[] = [];
  const failures: { registryId: string; errorCode: string }[] = [];
  for (const row of await deps.store.list()) {
    if (row.status !== ENROLMENT_STATUSES.active) continue;
    try {
      results.push(await rotateRow(deps, row, { force: false, reason: 'timer' }, options));
    } catch (error) {
      failures.push({ registryId: row.registryId, errorCode: errorCode(error) });
      options.log?.warn('rotation failed', { registryId: row.registryId, error });
      await deps.audit.record({ action: 'rotate', outcome: AUDIT_OUTCOMES.failed, errorCode: errorCode(error), reason: `scheduled rotation of ${row.registryName} failed; the next run resumes it`, registry: row.registryId, resourceId: row.registryId });
    }
  }
  return { results, failures };
}

/** Every enrolment, with ids and times only. */
export async function listEnrolments(deps: CredentialsDeps): Promise<EnrolmentView[]> {
  const rows = await deps.store.list();
  return rows.map((row) => toEnrolmentView(row, deps.config.rotationPeriodDays)).sort((a, b) => a.registryId.localeCompare(b.registryId));
}

/** One enrolment, or undefined. */
export async function getEnrolment(deps: CredentialsDeps, registryId: string): Promise<EnrolmentView | undefined> {
  parseRegistryId(registryId);
  const row = await deps.store.get(registryId);
  return row ? toEnrolmentView(row, deps.config.rotationPeriodDays) : undefined;
}

/** A registry as the resource-event handler read it from ARM, or its deletion. */
export type RegistryChange = ArmResource | { readonly id: string; readonly deleted: true };

export interface RegistryChangeResult {
  readonly outcome: 'enrolled' | 'already-enrolled' | 'in-progress' | 'unenrolled' | 'not-enrolled' | 'invalid-tags';
}

/**
 * What the resource-event handler and the sweep call for a registry write or delete, through the
 * enrolment rule: the tag enrols; a missing tag un-enrols only what the tag enrolled (an API
 * enrolment stays); a deleted registry is un-enrolled. Invalid tags change nothing and are recorded.
 */
export async function onRegistryChanged(deps: CredentialsDeps, registry: RegistryChange, options: RunOptions = {}): Promise<RegistryChangeResult> {
  const existing = await deps.store.get(registry.id);
  const deleted = 'deleted' in registry;
  const tags: CredentialTags = deleted ? { status: 'absent' } : parseCredentialTags(registry.tags);
  const decision = decideEnrolment({ via: 'registry', deleted }, enrolmentFacts(deps, tags, existing));
  switch (decision.kind) {
    case 'refuse':
      await refused(deps, registry.id, 'enrol', decision, options);
      return { outcome: 'invalid-tags' };
    case 'keep':
      options.log?.info('pull credentials unchanged', { registryId: registry.id, reason: decision.reason });
      return { outcome: decision.enrolled ? 'already-enrolled' : 'not-enrolled' };
    case 'unenrol': {
      const result = await unenrolRegistry(deps, registry.id, { ...options, reason: decision.reason });
      return { outcome: result.outcome === 'unenrolled' ? 'unenrolled' : result.outcome };
    }
    case 'enrol': {
      if (deleted) return { outcome: 'not-enrolled' };
      const result = await applyEnrolment(deps, registry, decision, existing, options);
      return { outcome: result.outcome };
    }
  }
}

/** Key Vault `Microsoft.KeyVault.SecretNearExpiry` data, PascalCase as on the wire. */
export interface SecretNearExpiry {
  readonly VaultName: string;
  readonly ObjectName: string;
  readonly Version?: string | null;
}

/**
 * A secret is near expiry: when it is one of our `-pull-pwd` secrets and the version Key Vault
 * means is the one we serve, rotate now. Anything else is not ours or already replaced.
 */
export async function onSecretNearExpiry(deps: CredentialsDeps, event: SecretNearExpiry, options: RunOptions = {}): Promise<RotationResult | { outcome: 'not-ours' | 'already-replaced' }> {
  const vaultName = event.VaultName.toLowerCase();
  const match = (await deps.store.list()).find(
    (row) => row.status === ENROLMENT_STATUSES.active && row.vaultName === vaultName && passwordSecretName(row.registryName) === event.ObjectName.toLowerCase(),
  );
  if (!match) return { outcome: 'not-ours' };
  if (event.Version && match.currentSecretVersion && event.Version !== match.currentSecretVersion && match.phase === ROTATION_PHASES.idle) {
    return { outcome: 'already-replaced' };
  }
  return rotateRow(deps, match, { force: true, reason: 'near-expiry' }, options);
}
