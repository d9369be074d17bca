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
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { NotReadyError } from '../errors.js';
import type { CredentialsDeps } from './deps.js';
import {
  effectivePeriodDays,
  isPreviousRemovable,
  isRotationDue,
  nextRotationAt,
  NO_ROTATION_REQUEST,
  passwordDisplayName,
  passwordExpiresOn,
  passwordSecretName,
  ROTATION_PHASES,
  ROTATION_STEPS,
  type Enrolment,
} from './enrolment.js';
import { CredentialsRun } from './credentialsRun.js';
import { removePrevious, removeUnstoredPasswords, requireObjectId } from './passwordRemoval.js';
import { repairServedPassword, servedPassword, storePassword } from './passwordSecret.js';
import { decideNewPassword, deferralReason, initialWish, runOutcome, type RotateOptions, type RotationResult } from './rotationPlan.js';
import { minimumPeriodDays } from '../policy/rotationPeriod.js';

// Where the API and the tests find a run's outcomes.
export { ROTATION_OUTCOMES, type RotateOptions, type RotationOutcome, type RotationResult } from './rotationPlan.js';

/** The row's fields of a rotation in flight, cleared: back to idle, nothing pending. */
const NO_ROTATION_IN_FLIGHT = {
  phase: ROTATION_PHASES.idle,
  rotationId: undefined,
  rotationReason: undefined,
  pendingKeyId: undefined,
  pendingExpiresOn: undefined,
  pendingSecretVersion: undefined,
} as const;

/**
 * Brings one enrolment to a settled state under a lease already held: finishes or undoes a
 * rotation in flight, makes Key Vault serve the current password again if something else landed
 * there, removes the previous password after its grace, and rotates when due (or forced) — or
 * defers the rotation while the previous password is still in its grace period.
 */
export async function rotateUnderLease(run: CredentialsRun, options: RotateOptions): Promise<RotationResult> {
  const { deps } = run;
  let { wanted, reason } = initialWish(run.row, options, deps.now());
  let rotated = false;

  // 1. A rotation in flight: finish it or undo it.
  if (run.row.phase === ROTATION_PHASES.adding || run.row.phase === ROTATION_PHASES.added) {
    const served = await servedPassword(run);
    if (run.row.phase === ROTATION_PHASES.added && run.row.pendingKeyId && served?.keyId === run.row.pendingKeyId) {
      await run.save({ phase: ROTATION_PHASES.stored, pendingSecretVersion: served.version });
      await run.audit({
        action: 'rotate',
        outcome: AUDIT_OUTCOMES.rotationStep,
        reason: 'resumed an interrupted rotation: Key Vault already serves the new password',
        details: { keyId: run.row.pendingKeyId, step: 'resume-stored' },
      });
    } else {
      await removeUnstoredPasswords(run, served?.keyId);
      await run.save({
        ...NO_ROTATION_IN_FLIGHT,
      });
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
  const decision = rotated ? ({ kind: 'none' } as const) : decideNewPassword(run.row, wanted, deps.config.rotationPeriodDays, deps.now());
  if (decision.kind === 'defer') {
    deferredUntil = decision.until;
    await deferRotation(run, deferredUntil, reason);
  } else if (decision.kind === 'previous-served') {
    // Its grace is over but it could not be removed: Key Vault serves it (step 2 could not fix that).
    throw new NotReadyError(
      'PreviousPasswordServed',
      `the previous password ${run.row.previousKeyId} of ${run.row.registryName} is still served by Key Vault; rotation waits`,
    );
  } else if (decision.kind === 'rotate') {
    await rotate(run, reason);
    rotated = true;
    // With ROTATION_GRACE_HOURS=0 the password just replaced is due for removal at once.
    if (isPreviousRemovable(run.row, deps.now()))
      removedPrevious = (await removePrevious(run, 'its grace period is over')) || removedPrevious;
  }

  const next = nextRotationAt(run.row, deps.config.rotationPeriodDays);
  return {
    outcome: runOutcome({ rotated, deferred: deferredUntil !== undefined, removedPrevious, actions: run.actions.length }),
    registryId: run.row.registryId,
    ...(run.row.currentKeyId ? { currentKeyId: run.row.currentKeyId } : {}),
    ...(next ? { nextRotationAt: next.toISOString() } : {}),
    ...(deferredUntil
      ? {
          deferredUntil: deferredUntil.toISOString(),
          reason: deferralReason(run.row, deps.config.rotationGraceHours, deferredUntil, reason),
        }
      : {}),
    actions: run.actions,
  };
}

/** Whether a run has anything to do for this enrolment now (so idle rows are not written). */
export function needsRun(row: Enrolment, deps: CredentialsDeps, force: boolean): boolean {
  const now = deps.now();
  return (
    force || row.phase !== ROTATION_PHASES.idle || isRotationDue(row, deps.config.rotationPeriodDays, now) || isPreviousRemovable(row, now)
  );
}

/**
 * Whether Key Vault serves something other than the recorded current password (read without the
 * lease, with the call timeout): a run that finds nothing due still repairs that.
 */
export async function servesOtherThanCurrent(deps: CredentialsDeps, row: Enrolment): Promise<boolean> {
  if (row.phase !== ROTATION_PHASES.idle || !row.currentKeyId) return false;
  const served = await deps.vaults.getSecret(row.vaultName, passwordSecretName(row.registryName), {
    abortSignal: AbortSignal.timeout(deps.callTimeoutMs),
  });
  return served?.tags['keyId'] !== row.currentKeyId;
}

async function deferRotation(run: CredentialsRun, until: Date, reason: string): Promise<void> {
  const previousKeyId = run.row.previousKeyId ?? '';
  await run.save({ rotationDeferredUntil: until.toISOString(), rotationDeferredReason: reason });
  run.actions.push('deferred');
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.deferred,
    reason: deferralReason(run.row, run.deps.config.rotationGraceHours, until, reason),
    details: { deferredUntil: until.toISOString(), previousKeyId, requested: reason },
  });
}

async function rotate(run: CredentialsRun, reason: string): Promise<void> {
  const { deps } = run;
  const rotationId = randomUUID();
  // A period stored before the minimum existed is clamped: shorter would rotate on every near-expiry.
  const period = Math.max(effectivePeriodDays(run.row, deps.config.rotationPeriodDays), minimumPeriodDays(deps.config.rotationGraceHours));
  const expiresOn = passwordExpiresOn(deps.now(), period);
  await run.save({ phase: ROTATION_PHASES.adding, rotationId, rotationReason: reason, lastErrorCode: undefined });
  await run.step(ROTATION_STEPS.started);

  const password = await deps.graph.addPassword(
    requireObjectId(run),
    { displayName: passwordDisplayName(rotationId), endDateTime: expiresOn },
    await run.call(),
  );
  // The last write before Key Vault stores the new password: a request recorded before it is
  // honoured by this rotation (the password served when it was asked for is replaced), so it is
  // cleared here, atomically with the step (ETag). A request recorded after it stays for the next run.
  await run.save({
    phase: ROTATION_PHASES.added,
    pendingKeyId: password.keyId,
    pendingExpiresOn: password.endDateTime,
    ...NO_ROTATION_REQUEST,
  });
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: `added a new password to application ${run.row.appId} (${reason})`,
    details: { keyId: password.keyId, step: ROTATION_STEPS.passwordAdded, expiresOn: password.endDateTime },
  });
  await run.step(ROTATION_STEPS.passwordAdded);

  const stored = await storePassword(run, password.secretText, password.keyId, new Date(password.endDateTime));
  await run.save({ phase: ROTATION_PHASES.stored, pendingSecretVersion: stored.version });
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: `stored the new password in ${run.row.vaultName} as ${passwordSecretName(run.row.registryName)}`,
    details: { keyId: password.keyId, step: ROTATION_STEPS.secretStored, secretVersion: stored.version },
  });
  await run.step(ROTATION_STEPS.secretStored);

  await proveAndMarkCurrent(run);
}

/** Reads the stored password back from Key Vault, proves it with Entra, then makes it current. */
async function proveAndMarkCurrent(run: CredentialsRun): Promise<void> {
  const { deps, row } = run;
  const pendingKeyId = row.pendingKeyId ?? '';
  const secret = await deps.vaults.getSecret(row.vaultName, passwordSecretName(row.registryName), await run.call());
  if (!secret || secret.tags['keyId'] !== pendingKeyId) {
    // Someone wrote another version over ours. Ours is not served: undo it, start again next run.
    await run.audit({
      action: 'rotate',
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: 'SecretChangedDuringRotation',
      reason: `Key Vault no longer serves the new password ${pendingKeyId}; it is removed and the rotation starts again`,
      details: { keyId: pendingKeyId },
    });
    await removeUnstoredPasswords(run, secret?.tags['keyId']);
    await run.save({
      ...NO_ROTATION_IN_FLIGHT,
      lastErrorCode: 'SecretChangedDuringRotation',
    });
    throw new NotReadyError(
      'SecretChangedDuringRotation',
      `Key Vault secret ${passwordSecretName(row.registryName)} changed during the rotation`,
    );
  }
  const proof = await deps.proof.prove(row.appId ?? '', secret.value, await run.call());
  if (!proof.ok) {
    // Entra may not have replicated the new password yet. The old one is still on the
    // application, so nothing is lost: the next run proves again from `stored`.
    await run.save({ lastErrorCode: proof.errorCode });
    await run.audit({
      action: 'rotate',
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: proof.errorCode,
      reason: `the new password ${pendingKeyId} did not get a token yet; the previous password stays until it does`,
      details: { keyId: pendingKeyId, step: 'prove' },
    });
    throw new NotReadyError(
      'PasswordNotProven',
      `the new password ${pendingKeyId} for application ${row.appId} did not get a token: ${proof.errorCode}`,
    );
  }
  await run.step(ROTATION_STEPS.proven);

  const now = deps.now();
  const graceMs = deps.config.rotationGraceHours * 3_600_000;
  const oldKeyId = row.currentKeyId;
  await run.save({
    currentKeyId: pendingKeyId,
    currentCreatedAt: now.toISOString(),
    currentExpiresOn: row.pendingExpiresOn ?? secret.expiresOn?.toISOString(),
    currentSecretVersion: row.pendingSecretVersion ?? secret.version,
    previousKeyId: oldKeyId,
    previousRemoveAfter: oldKeyId ? new Date(now.getTime() + graceMs).toISOString() : undefined,
    ...NO_ROTATION_IN_FLIGHT,
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
    details: {
      keyId: pendingKeyId,
      ...(oldKeyId ? { previousKeyId: oldKeyId } : {}),
      expiresOn: run.row.currentExpiresOn ?? '',
      secretVersion: run.row.currentSecretVersion ?? '',
    },
  });
  await run.step(ROTATION_STEPS.markedCurrent);
}
