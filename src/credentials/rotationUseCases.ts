/**
 * The rotation use cases: rotate now (the HTTP API), when due (the timer), on Key Vault's
 * near-expiry event. A request that meets another run's lease is recorded (rotationRequests.ts).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { errorCode } from '../errors.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import {
  ENROLMENT_STATUSES,
  parseRegistryId,
  passwordSecretName,
  ROTATION_PHASES,
  toEnrolmentView,
  type Enrolment,
  type StoredEnrolment,
} from './enrolment.js';
import { notePasswordConsumers } from './passwordConsumerNotice.js';
import { recordRotationRequest, requestRecordedResult } from './rotationRequests.js';
import { needsRun, ROTATION_OUTCOMES, rotateUnderLease, servesOtherThanCurrent, type RotationResult } from './rotation.js';
import { withLease } from './withLease.js';

/** Rotates one registry's password now, whatever its age. Concurrent requests make one new password. */
export async function rotateNow(
  deps: CredentialsDeps,
  registryId: string,
  options: RunOptions & { reason?: string } = {},
): Promise<RotationResult> {
  parseRegistryId(registryId);
  const row = await deps.store.get(registryId);
  if (!row || row.status !== ENROLMENT_STATUSES.active) return { outcome: ROTATION_OUTCOMES.notEnrolled, registryId, actions: [] };
  return rotateRow(deps, row, { force: true, reason: options.reason ?? 'requested' }, options);
}

/** Rotates the registry's password if due, and finishes any step left over. */
export async function rotateIfDue(
  deps: CredentialsDeps,
  registryId: string,
  options: RunOptions & { reason?: string } = {},
): Promise<RotationResult> {
  const row = await deps.store.get(registryId);
  if (!row || row.status !== ENROLMENT_STATUSES.active) return { outcome: ROTATION_OUTCOMES.notEnrolled, registryId, actions: [] };
  return rotateRow(deps, row, { force: false, reason: options.reason ?? 'timer' }, options);
}

async function rotateRow(
  deps: CredentialsDeps,
  row: StoredEnrolment,
  rotate: { force: boolean; reason: string },
  options: RunOptions,
): Promise<RotationResult> {
  // Nothing due still means one read: Key Vault must serve the current password (rotation.ts).
  if (!needsRun(row, deps, rotate.force) && !(await servesOtherThanCurrent(deps, row))) return notDue(deps, row);
  for (let attempt = 0; ; attempt++) {
    const outcome = await withLease(deps, row, options, (run) => rotateUnderLease(run, rotate));
    if (outcome.kind === 'done') {
      if ([outcome.value, ...outcome.followUps].some((r) => r.outcome === ROTATION_OUTCOMES.rotated))
        await notePasswordConsumers(deps, row.registryId, options);
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
      await deps.audit.record({
        action: 'rotate',
        outcome: AUDIT_OUTCOMES.failed,
        errorCode: errorCode(error),
        reason: `scheduled rotation of ${row.registryName} failed; the next run resumes it`,
        registry: row.registryId,
        resourceId: row.registryId,
      });
    }
  }
  return { results, failures };
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
export async function onSecretNearExpiry(
  deps: CredentialsDeps,
  event: SecretNearExpiry,
  options: RunOptions = {},
): Promise<RotationResult | { outcome: 'not-ours' | 'already-replaced' }> {
  const vaultName = event.VaultName.toLowerCase();
  const match = (await deps.store.list()).find(
    (row) =>
      row.status === ENROLMENT_STATUSES.active &&
      row.vaultName === vaultName &&
      passwordSecretName(row.registryName) === event.ObjectName.toLowerCase(),
  );
  if (!match) return { outcome: 'not-ours' };
  if (event.Version && match.currentSecretVersion && event.Version !== match.currentSecretVersion && match.phase === ROTATION_PHASES.idle) {
    return { outcome: 'already-replaced' };
  }
  return rotateRow(deps, match, { force: true, reason: 'near-expiry' }, options);
}
