/**
 * The rotation state machine (DESIGN.md, "Credential rotation — never lose a working credential"):
 *
 *   adding → addPassword → added → store new Key Vault version → stored → read back and prove
 *   → mark current (previous = old current) → after the grace period remove the previous one.
 *
 * Every phase is persisted in the enrolment row before the step it announces, under a lease
 * taken with the row's ETag, so only one run moves a registry at a time and a run that stops
 * anywhere leaves a state the next run finishes or undoes:
 *   - adding/added and Key Vault does not serve the new password: it was never stored, its value
 *     is gone, so it is removed and a fresh rotation starts;
 *   - added and Key Vault serves it: the store happened, carry on from stored;
 *   - stored: read back, prove, mark current.
 * No password is removed while Key Vault serves it, and a new password is added only after the
 * previous one is gone, so the application holds at most current + previous (+ one in flight).
 *
 * The promise: a password Key Vault has served stays valid for at least ROTATION_GRACE_HOURS after
 * it stopped being served. The previous password stopped being served when the current one was
 * marked current; it is removed at `previousRemoveAfter`, and a rotation asked for before then
 * (rotate now, near-expiry, a new vault) is deferred until then, never forced through.
 *
 * Every Key Vault, Graph and Entra call in a run carries an `abortSignal` that fires after
 * CREDENTIALS_CALL_TIMEOUT_SECONDS, and the lease is renewed before a call if less than two
 * timeouts of it remain: no call of a run outlives its lease. A write that lands late anyway (the
 * service finished what the client gave up on) is caught by the next run, which checks that Key
 * Vault serves the current password even when nothing is due, and serves it again if not.
 */
import { randomUUID } from 'node:crypto';
import { AUDIT_OUTCOMES, type AuditEntry } from '../audit/auditLog.js';
import { errorCode, NotReadyError } from '../errors.js';
import type { Secret } from '../secret.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import {
  effectivePeriodDays,
  ENROLMENT_STATUSES,
  hasOpenRequest,
  isOurPassword,
  NO_ROTATION_REQUEST,
  isLeaseHeld,
  isPreviousRemovable,
  isRotationDue,
  nextRotationAt,
  rotationBlockedUntil,
  passwordDisplayName,
  passwordExpiresOn,
  passwordSecretName,
  ROTATION_PHASES,
  ROTATION_STEPS,
  type Enrolment,
  type RotationStep,
  type StoredEnrolment,
} from './enrolment.js';
import { ConcurrencyConflictError } from './enrolmentStore.js';
import { minimumPeriodDays } from '../policy/rotationPeriod.js';

export const ROTATION_OUTCOMES = {
  rotated: 'rotated',
  /** A rotation was asked for while the previous password is in its grace period: it waits (`deferredUntil`). */
  deferred: 'deferred',
  notDue: 'not-due',
  maintained: 'maintained',
  /** Another run holds the lease and was not asked to rotate by this trigger (the timer: it rotates whatever is due). */
  inProgress: 'in-progress',
  /** Another run holds the lease: the request is recorded in the enrolment and carried out by `runsBy` at the latest. */
  recorded: 'recorded',
  notEnrolled: 'not-enrolled',
} as const;
export type RotationOutcome = (typeof ROTATION_OUTCOMES)[keyof typeof ROTATION_OUTCOMES];

export interface RotationResult {
  readonly outcome: RotationOutcome;
  readonly registryId: string;
  /** keyId of the password Key Vault serves after the run. */
  readonly currentKeyId?: string;
  readonly nextRotationAt?: string;
  /** When outcome is deferred: the earliest time the rotation may run; the first run after it does. */
  readonly deferredUntil?: string;
  /** When outcome is deferred: why it waits, in a platform engineer's words. */
  readonly reason?: string;
  /** When outcome is recorded: when the request was recorded. */
  readonly requestedAt?: string;
  /** When outcome is recorded: until when the other run holds the enrolment's lease. */
  readonly leaseUntil?: string;
  /** When outcome is recorded: the latest time the rotation runs (the rotation timer's first run after the lease and any deferral). */
  readonly runsBy?: string;
  /** What the run did, in order, for responses and logs. */
  readonly actions: readonly string[];
}

export const PASSWORD_CONTENT_TYPE = 'text/plain; acr-pull-password';
export const USERNAME_CONTENT_TYPE = 'text/plain; acr-pull-username';
export const MANAGED_BY_TAG = { managedBy: 'acr-pull-automation' } as const;

/** How often one write takes in a newly recorded rotation request and tries again before giving up. */
const MAX_REQUEST_MERGES = 5;
/** How many recorded requests a run honours after its own work before it leaves the rest to the next run. */
const MAX_FOLLOW_UP_ROTATIONS = 3;

/** A run holding an enrolment's lease: each save is an ETag-conditional write that renews it. */
export class LeasedRun {
  readonly actions: string[] = [];
  readonly runId = randomUUID();
  #row: StoredEnrolment;

  private constructor(
    readonly deps: CredentialsDeps,
    row: StoredEnrolment,
    readonly options: RunOptions,
  ) {
    this.#row = row;
  }

  get row(): StoredEnrolment {
    return this.#row;
  }

  /**
   * Takes the enrolment's lease, or answers undefined when another live run holds it (or took it
   * between our read and our write).
   */
  static async acquire(deps: CredentialsDeps, row: StoredEnrolment, options: RunOptions): Promise<LeasedRun | undefined> {
    if (isLeaseHeld(row, deps.now())) return undefined;
    const run = new LeasedRun(deps, row, options);
    try {
      await run.save({});
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) return undefined;
      throw error;
    }
    return run;
  }

  /**
   * Writes the row with these changes (undefined clears a field) and renews the lease. A rotation
   * request recorded since our last write (the only write another run makes to a row we hold) is
   * taken in and the write made again; any other change means we lost the lease.
   */
  async save(patch: Partial<Enrolment>): Promise<StoredEnrolment> {
    for (let attempt = 0; ; attempt++) {
      const leaseUntil = new Date(this.deps.now().getTime() + this.deps.leaseSeconds * 1000).toISOString();
      try {
        this.#row = await this.deps.store.replace({ ...this.#row, ...patch, leaseOwner: this.runId, leaseUntil });
        return this.#row;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError) || attempt >= MAX_REQUEST_MERGES) throw error;
        await this.takeRequest();
      }
    }
  }

  /** Re-reads the row for a rotation request recorded since our last write; throws if we lost the lease. */
  async takeRequest(): Promise<void> {
    const fresh = await this.deps.store.get(this.#row.registryId);
    if (!fresh || fresh.leaseOwner !== this.runId) throw new ConcurrencyConflictError(`another run took the enrolment of ${this.#row.registryName}`);
    this.#row = {
      ...this.#row,
      rotationRequestedAt: fresh.rotationRequestedAt,
      rotationRequestedBy: fresh.rotationRequestedBy,
      rotationRequestedReason: fresh.rotationRequestedReason,
      etag: fresh.etag,
    };
  }

  /**
   * Options for one Azure call: an `abortSignal` that fires after the call timeout. When less than
   * two timeouts of the lease remain, the lease is renewed first, so the call ends (one way or the
   * other) while this run still holds the enrolment.
   */
  async call(): Promise<{ abortSignal: AbortSignal }> {
    const timeoutMs = this.deps.callTimeoutMs;
    const left = Date.parse(this.#row.leaseUntil ?? '') - this.deps.now().getTime();
    if (!(left > 2 * timeoutMs)) await this.save({});
    return { abortSignal: AbortSignal.timeout(timeoutMs) };
  }

  /**
   * Gives the lease back so the next run need not wait for it to lapse. When a rotation request was
   * recorded since our last write and may run now, the lease is kept and false answered: the caller
   * honours it first (`force` releases anyway, leaving the request for the next run). Best effort.
   */
  async release(patch: Partial<Enrolment> = {}, force = false): Promise<boolean> {
    const mayRotate = () => !force && this.#row.status === ENROLMENT_STATUSES.active && hasOpenRequest(this.#row, this.deps.now());
    if (mayRotate()) return false;
    for (let attempt = 0; ; attempt++) {
      try {
        this.#row = await this.deps.store.replace({ ...this.#row, ...patch, leaseOwner: undefined, leaseUntil: undefined });
        return true;
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error;
        if (attempt >= MAX_REQUEST_MERGES) return true;
        try {
          await this.takeRequest();
        } catch (lost) {
          if (lost instanceof ConcurrencyConflictError) return true;
          throw lost;
        }
        if (mayRotate()) return false;
      }
    }
  }

  async step(step: RotationStep): Promise<void> {
    this.actions.push(step);
    this.options.log?.info(`rotation step ${step}`, { registryId: this.row.registryId, step, phase: this.row.phase });
    await this.options.afterStep?.(step, this.row);
  }

  async audit(entry: Omit<AuditEntry, 'registry' | 'resourceId' | 'eventId' | 'caller' | 'correlationId'>): Promise<void> {
    const trigger = this.options.trigger ?? {};
    await this.deps.audit.record({
      ...entry,
      registry: this.row.registryId,
      resourceId: this.row.registryId,
      ...(this.row.servicePrincipalId && !entry.principalId ? { principalId: this.row.servicePrincipalId } : {}),
      ...(trigger.eventId ? { eventId: trigger.eventId } : {}),
      ...(trigger.caller ? { caller: trigger.caller } : {}),
      ...(trigger.correlationId ? { correlationId: trigger.correlationId } : {}),
      details: { ...(this.row.appId ? { appId: this.row.appId } : {}), ...entry.details },
    });
  }
}

export interface RotateOptions {
  /** Rotate even when the current password is not due (rotate now, near-expiry, vault changed). */
  readonly force?: boolean;
  /** Why, for the audit trail: 'timer', 'requested', 'near-expiry', 'enrolment'. */
  readonly reason: string;
}

/**
 * Brings one enrolment to a settled state under a lease already held: finishes or undoes a
 * rotation in flight, makes Key Vault serve the current password again if something else landed
 * there, removes the previous password after its grace, and rotates when due (or forced) — or
 * defers the rotation while the previous password is still in its grace period.
 */
export async function rotateUnderLease(run: LeasedRun, options: RotateOptions): Promise<RotationResult> {
  const { deps } = run;
  // A recorded request (rotate now while another run held the lease) is wanted as much as a forced run.
  const requested = hasOpenRequest(run.row, deps.now());
  let wanted = (options.force ?? false) || requested;
  let reason = !options.force && requested ? (run.row.rotationRequestedReason ?? options.reason) : options.reason;
  let rotated = false;

  // 1. A rotation in flight: finish it or undo it.
  if (run.row.phase === ROTATION_PHASES.adding || run.row.phase === ROTATION_PHASES.added) {
    const served = await servedPassword(run);
    if (run.row.phase === ROTATION_PHASES.added && run.row.pendingKeyId && served?.keyId === run.row.pendingKeyId) {
      await run.save({ phase: ROTATION_PHASES.stored, pendingSecretVersion: served.version });
      await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.rotationStep, reason: 'resumed an interrupted rotation: Key Vault already serves the new password', details: { keyId: run.row.pendingKeyId, step: 'resume-stored' } });
    } else {
      await removeUnstoredPasswords(run, served?.keyId);
      await run.save({ phase: ROTATION_PHASES.idle, rotationId: undefined, rotationReason: undefined, pendingKeyId: undefined, pendingExpiresOn: undefined, pendingSecretVersion: undefined });
      // The interrupted run wanted a rotation: start a fresh one.
      wanted = true;
      reason = run.row.rotationReason ?? reason;
    }
  }
  if (run.row.phase === ROTATION_PHASES.stored) {
    await proveAndMarkCurrent(run);
    rotated = true;
  }

  if (!rotated) {
    // 2. Key Vault must serve the current password: a stalled run's late write, or a version
    //    written by hand, is replaced by the current password again.
    if ((await repairServedPassword(run)) === 'unrepairable') {
      wanted = true;
      reason = 'Key Vault served a password other than the current one';
    }
    // 3. Passwords we created that no state refers to (a run that lost its lease mid-step).
    await removeUnstoredPasswords(run, (await servedPassword(run))?.keyId);
  }

  // 4. The previous password, once its grace period is over.
  let removedPrevious = false;
  if (isPreviousRemovable(run.row, deps.now())) {
    removedPrevious = await removePrevious(run, 'its grace period is over');
  }

  // 5. A new password when due or asked for — unless that would cut the previous one's grace short.
  let deferredUntil: Date | undefined;
  if (!rotated && (wanted || isRotationDue(run.row, deps.config.rotationPeriodDays, deps.now()))) {
    deferredUntil = rotationBlockedUntil(run.row, deps.now());
    if (deferredUntil) {
      await deferRotation(run, deferredUntil, reason);
    } else if (run.row.previousKeyId) {
      // Its grace is over but it could not be removed: Key Vault serves it (step 2 could not fix that).
      throw new NotReadyError('PreviousPasswordServed', `the previous password ${run.row.previousKeyId} of ${run.row.registryName} is still served by Key Vault; rotation waits`);
    } else {
      await rotate(run, reason);
      rotated = true;
      // With ROTATION_GRACE_HOURS=0 the password just replaced is due for removal at once.
      if (isPreviousRemovable(run.row, deps.now())) removedPrevious = (await removePrevious(run, 'its grace period is over')) || removedPrevious;
    }
  }

  const next = nextRotationAt(run.row, deps.config.rotationPeriodDays);
  return {
    outcome: rotated
      ? ROTATION_OUTCOMES.rotated
      : deferredUntil
        ? ROTATION_OUTCOMES.deferred
        : removedPrevious || run.actions.length > 0
          ? ROTATION_OUTCOMES.maintained
          : ROTATION_OUTCOMES.notDue,
    registryId: run.row.registryId,
    ...(run.row.currentKeyId ? { currentKeyId: run.row.currentKeyId } : {}),
    ...(next ? { nextRotationAt: next.toISOString() } : {}),
    ...(deferredUntil ? { deferredUntil: deferredUntil.toISOString(), reason: deferralReason(run, deferredUntil, reason) } : {}),
    actions: run.actions,
  };
}

/** Whether a run has anything to do for this enrolment now (so idle rows are not written). */
export function needsRun(row: Enrolment, deps: CredentialsDeps, force: boolean): boolean {
  const now = deps.now();
  return force || row.phase !== ROTATION_PHASES.idle || isRotationDue(row, deps.config.rotationPeriodDays, now) || isPreviousRemovable(row, now);
}

/**
 * Whether Key Vault serves something other than the recorded current password (read without the
 * lease, with the call timeout): a run that finds nothing due still repairs that.
 */
export async function servesOtherThanCurrent(deps: CredentialsDeps, row: Enrolment): Promise<boolean> {
  if (row.phase !== ROTATION_PHASES.idle || !row.currentKeyId) return false;
  const served = await deps.vaults.getSecret(row.vaultName, passwordSecretName(row.registryName), { abortSignal: AbortSignal.timeout(deps.callTimeoutMs) });
  return served?.tags['keyId'] !== row.currentKeyId;
}

function deferralReason(run: LeasedRun, until: Date, reason: string): string {
  const { row, deps } = run;
  return (
    `rotation (${reason}) deferred until ${until.toISOString()}: the previous password ${row.previousKeyId} was served by Key Vault ` +
    `until ${row.lastRotatedAt ?? 'the last rotation'} and stays valid for ROTATION_GRACE_HOURS (${deps.config.rotationGraceHours} h); ` +
    `a new rotation now would have to remove it. The first run after that time rotates`
  );
}

async function deferRotation(run: LeasedRun, until: Date, reason: string): Promise<void> {
  const previousKeyId = run.row.previousKeyId ?? '';
  await run.save({ rotationDeferredUntil: until.toISOString(), rotationDeferredReason: reason });
  run.actions.push('deferred');
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.deferred,
    reason: deferralReason(run, until, reason),
    details: { deferredUntil: until.toISOString(), previousKeyId, requested: reason },
  });
}

async function rotate(run: LeasedRun, reason: string): Promise<void> {
  const { deps } = run;
  const rotationId = randomUUID();
  // A period stored before the minimum existed is clamped: shorter would rotate on every near-expiry.
  const period = Math.max(effectivePeriodDays(run.row, deps.config.rotationPeriodDays), minimumPeriodDays(deps.config.rotationGraceHours));
  const expiresOn = passwordExpiresOn(deps.now(), period);
  await run.save({ phase: ROTATION_PHASES.adding, rotationId, rotationReason: reason, lastErrorCode: undefined });
  await run.step(ROTATION_STEPS.started);

  const password = await deps.graph.addPassword(requireObjectId(run), { displayName: passwordDisplayName(rotationId), endDateTime: expiresOn }, await run.call());
  // The last write before Key Vault stores the new password: a request recorded before it is
  // honoured by this rotation (the password served when it was asked for is replaced), so it is
  // cleared here, atomically with the step (ETag). A request recorded after it stays for the next run.
  await run.save({ phase: ROTATION_PHASES.added, pendingKeyId: password.keyId, pendingExpiresOn: password.endDateTime, ...NO_ROTATION_REQUEST });
  await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.rotationStep, reason: `added a new password to application ${run.row.appId} (${reason})`, details: { keyId: password.keyId, step: ROTATION_STEPS.passwordAdded, expiresOn: password.endDateTime } });
  await run.step(ROTATION_STEPS.passwordAdded);

  const stored = await storePassword(run, password.secretText, password.keyId, new Date(password.endDateTime));
  await run.save({ phase: ROTATION_PHASES.stored, pendingSecretVersion: stored.version });
  await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.rotationStep, reason: `stored the new password in ${run.row.vaultName} as ${passwordSecretName(run.row.registryName)}`, details: { keyId: password.keyId, step: ROTATION_STEPS.secretStored, secretVersion: stored.version } });
  await run.step(ROTATION_STEPS.secretStored);

  await proveAndMarkCurrent(run);
}

/** Writes the password as a new version of `<registry>-pull-pwd` with expiry, content type and tags. */
export async function storePassword(run: LeasedRun, value: Secret, keyId: string, expiresOn: Date): Promise<{ version: string }> {
  const { row } = run;
  return run.deps.vaults.setSecret(row.vaultName, passwordSecretName(row.registryName), value, {
    ...(await run.call()),
    expiresOn,
    contentType: PASSWORD_CONTENT_TYPE,
    tags: { ...MANAGED_BY_TAG, appId: row.appId ?? '', keyId, rotatedAt: run.deps.now().toISOString() },
  });
}

/** Reads the stored password back from Key Vault, proves it with Entra, then makes it current. */
async function proveAndMarkCurrent(run: LeasedRun): Promise<void> {
  const { deps, row } = run;
  const pendingKeyId = row.pendingKeyId ?? '';
  const secret = await deps.vaults.getSecret(row.vaultName, passwordSecretName(row.registryName), await run.call());
  if (!secret || secret.tags['keyId'] !== pendingKeyId) {
    // Someone wrote another version over ours. Ours is not served: undo it, start again next run.
    await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.failed, errorCode: 'SecretChangedDuringRotation', reason: `Key Vault no longer serves the new password ${pendingKeyId}; it is removed and the rotation starts again`, details: { keyId: pendingKeyId } });
    await removeUnstoredPasswords(run, secret?.tags['keyId']);
    await run.save({ phase: ROTATION_PHASES.idle, rotationId: undefined, rotationReason: undefined, pendingKeyId: undefined, pendingExpiresOn: undefined, pendingSecretVersion: undefined, lastErrorCode: 'SecretChangedDuringRotation' });
    throw new NotReadyError('SecretChangedDuringRotation', `Key Vault secret ${passwordSecretName(row.registryName)} changed during the rotation`);
  }
  const proof = await deps.proof.prove(row.appId ?? '', secret.value, await run.call());
  if (!proof.ok) {
    // Entra may not have replicated the new password yet. The old one is still on the
    // application, so nothing is lost: the next run proves again from `stored`.
    await run.save({ lastErrorCode: proof.errorCode });
    await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.failed, errorCode: proof.errorCode, reason: `the new password ${pendingKeyId} did not get a token yet; the previous password stays until it does`, details: { keyId: pendingKeyId, step: 'prove' } });
    throw new NotReadyError('PasswordNotProven', `the new password ${pendingKeyId} for application ${row.appId} did not get a token: ${proof.errorCode}`);
  }
  await run.step(ROTATION_STEPS.proven);

  const now = deps.now();
  const graceMs = deps.config.rotationGraceHours * 3_600_000;
  const oldKeyId = row.currentKeyId;
  await run.save({
    phase: ROTATION_PHASES.idle,
    currentKeyId: pendingKeyId,
    currentCreatedAt: now.toISOString(),
    currentExpiresOn: row.pendingExpiresOn ?? secret.expiresOn?.toISOString(),
    currentSecretVersion: row.pendingSecretVersion ?? secret.version,
    previousKeyId: oldKeyId,
    previousRemoveAfter: oldKeyId ? new Date(now.getTime() + graceMs).toISOString() : undefined,
    rotationId: undefined,
    rotationReason: undefined,
    pendingKeyId: undefined,
    pendingExpiresOn: undefined,
    pendingSecretVersion: undefined,
    rotationDeferredUntil: undefined,
    rotationDeferredReason: undefined,
    lastRotatedAt: now.toISOString(),
    lastErrorCode: undefined,
  });
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.rotated,
    reason: oldKeyId
      ? `new password ${pendingKeyId} proven and current in ${row.vaultName}; the previous password ${oldKeyId} is removed after ${deps.config.rotationGraceHours} h`
      : `first password ${pendingKeyId} proven and current in ${row.vaultName}`,
    details: { keyId: pendingKeyId, ...(oldKeyId ? { previousKeyId: oldKeyId } : {}), expiresOn: run.row.currentExpiresOn ?? '', secretVersion: run.row.currentSecretVersion ?? '' },
  });
  await run.step(ROTATION_STEPS.markedCurrent);
}

async function removePrevious(run: LeasedRun, why: string): Promise<boolean> {
  const keyId = run.row.previousKeyId;
  if (!keyId) return false;
  const removed = await removePasswordUnlessServed(run, keyId, `previous password ${keyId}: ${why}`);
  if (!removed) return false;
  await run.save({ previousKeyId: undefined, previousRemoveAfter: undefined });
  await run.step(ROTATION_STEPS.previousRemoved);
  return true;
}

/**
 * Removes passwords we created (displayName prefix) that are neither current, previous nor the
 * one Key Vault serves: created by a run that stopped before storing them.
 */
async function removeUnstoredPasswords(run: LeasedRun, servedKeyId: string | undefined): Promise<void> {
  const { deps, row } = run;
  if (!row.appId) return;
  const app = await deps.graph.getApplicationByAppId(row.appId, await run.call());
  if (!app) return;
  const keep = new Set([row.currentKeyId, row.previousKeyId, servedKeyId].filter((k): k is string => k !== undefined));
  for (const password of app.passwordCredentials) {
    const isPending = password.keyId === row.pendingKeyId || (row.rotationId !== undefined && password.displayName === passwordDisplayName(row.rotationId));
    if (keep.has(password.keyId) || !(isPending || isOurPassword(password.displayName))) continue;
    await removePasswordUnlessServed(run, password.keyId, `password ${password.keyId} was created but never stored in Key Vault`);
  }
}

/** The one way a password is removed: never the one Key Vault serves at this moment. */
async function removePasswordUnlessServed(run: LeasedRun, keyId: string, reason: string): Promise<boolean> {
  const { deps, row } = run;
  const served = await servedPassword(run);
  if (served?.keyId === keyId) {
    await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.skipped, reason: `kept ${keyId}: Key Vault serves it`, details: { keyId } });
    return false;
  }
  const result = await deps.graph.removePassword(requireObjectId(run), keyId, await run.call());
  run.actions.push(`removed ${keyId}`);
  run.options.log?.info('removed a password', { registryId: row.registryId, keyId, result });
  await run.audit({ action: 'rotate', outcome: AUDIT_OUTCOMES.rotationStep, reason: result === 'removed' ? `removed ${reason}` : `${reason}; it was already gone`, details: { keyId, step: 'remove-password' } });
  return true;
}

/**
 * Key Vault must serve the recorded current password. A run that stalled in a Key Vault call past
 * its lease can land its write after another run finished (the service completes what the client
 * gave up on), or someone writes a version by hand: Key Vault then serves a password that may
 * already be removed from the application. The current password — read back from its own version
 * and proven — is stored again as the newest version, with its own expiry. When that version can
 * no longer be read or no longer signs in, the caller rotates instead.
 */
async function repairServedPassword(run: LeasedRun): Promise<'ok' | 'repaired' | 'unrepairable'> {
  const { deps, row } = run;
  if (row.phase !== ROTATION_PHASES.idle || !row.currentKeyId) return 'ok';
  const name = passwordSecretName(row.registryName);
  const served = await deps.vaults.getSecret(row.vaultName, name, await run.call());
  if (served?.tags['keyId'] === row.currentKeyId) return 'ok';
  const what = served ? `version ${served.version} (${served.tags['keyId'] ? `password ${served.tags['keyId']}` : 'not one of ours'})` : 'no version';
  const current = row.currentSecretVersion ? await deps.vaults.getSecret(row.vaultName, name, { ...(await run.call()), version: row.currentSecretVersion }) : undefined;
  const works = current?.tags['keyId'] === row.currentKeyId ? (await deps.proof.prove(row.appId ?? '', current.value, await run.call())).ok : false;
  if (!current || !works) {
    await run.audit({
      action: 'rotate',
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: 'ServedPasswordNotCurrent',
      reason: `Key Vault served ${what} instead of the current password ${row.currentKeyId}, which can no longer be read back or no longer signs in; a new password replaces it`,
      details: { keyId: row.currentKeyId, servedVersion: served?.version ?? '' },
    });
    return 'unrepairable';
  }
  const stored = await deps.vaults.setSecret(row.vaultName, name, current.value, {
    ...(await run.call()),
    expiresOn: current.expiresOn ?? (row.currentExpiresOn ? new Date(row.currentExpiresOn) : undefined),
    contentType: PASSWORD_CONTENT_TYPE,
    tags: { ...current.tags, ...MANAGED_BY_TAG, keyId: row.currentKeyId, repairedAt: deps.now().toISOString() },
  });
  await run.save({ currentSecretVersion: stored.version });
  run.actions.push('repaired');
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.repaired,
    reason: `Key Vault served ${what} instead of the current password ${row.currentKeyId} (a late write of a stalled run, or a version written by hand); the current password is served again as version ${stored.version}`,
    details: { keyId: row.currentKeyId, secretVersion: stored.version, servedVersion: served?.version ?? '' },
  });
  return 'repaired';
}

/** The keyId and version of the password Key Vault serves now (from its tags), if any. */
async function servedPassword(run: LeasedRun): Promise<{ keyId: string; version: string } | undefined> {
  const secret = await run.deps.vaults.getSecret(run.row.vaultName, passwordSecretName(run.row.registryName), await run.call());
  const keyId = secret?.tags['keyId'];
  return secret && keyId ? { keyId, version: secret.version } : undefined;
}

function requireObjectId(run: LeasedRun): string {
  if (!run.row.applicationObjectId) throw new NotReadyError('ApplicationNotCreated', `registry ${run.row.registryName} has no application yet`);
  return run.row.applicationObjectId;
}

/** Runs `work` under the enrolment's lease, releasing it afterwards (recording the error code on failure). */
export async function withLease<T>(
  deps: CredentialsDeps,
  row: StoredEnrolment,
  options: RunOptions,
  work: (run: LeasedRun) => Promise<T>,
): Promise<{ kind: 'done'; value: T; followUps: RotationResult[] } | { kind: 'busy' }> {
  const run = await LeasedRun.acquire(deps, row, options);
  if (!run) return { kind: 'busy' };
  try {
    const value = await work(run);
    // Rotation requests recorded while we held the lease (rotate now answered 202 recorded): the
    // holder honours them before it lets go, so they need not wait for another run.
    const followUps: RotationResult[] = [];
    while (!(await run.release({}, followUps.length >= MAX_FOLLOW_UP_ROTATIONS))) {
      followUps.push(await rotateUnderLease(run, { reason: run.row.rotationRequestedReason ?? 'requested' }));
    }
    return { kind: 'done', value, followUps };
  } catch (error) {
    await run.release({ lastErrorCode: errorCode(error) }, true).catch(() => undefined);
    throw error;
  }
}
