/**
 * A rotation asked for (rotate now, near-expiry) while another run holds the enrolment's lease is
 * recorded in the enrolment row, so it outlives that run: the holder honours it when it finishes
 * (rotation.ts, `withLease`), and if the holder died, the first run after its lease lapses does —
 * the next request or event, or at the latest the rotation timer. The grace period still rules: a
 * request that would cut into it is deferred (`rotationDeferredUntil`) like any other rotation.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { NotReadyError } from '../errors.js';
import { nextOccurrence } from '../schedule.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import { ENROLMENT_STATUSES, isLeaseHeld, rotationBlockedUntil, type StoredEnrolment } from './enrolment.js';
import { ConcurrencyConflictError } from './enrolmentStore.js';
import { ROTATION_OUTCOMES, type RotationResult } from './rotationPlan.js';

const MAX_ATTEMPTS = 5;

export type RecordedRequest =
  | { readonly kind: 'recorded'; readonly row: StoredEnrolment }
  /** No run holds the lease (any more): the caller takes it and rotates itself. */
  | { readonly kind: 'free'; readonly row: StoredEnrolment }
  | { readonly kind: 'not-enrolled' };

/**
 * Records a rotation request on a leased enrolment with an ETag-conditional write that changes only
 * the request fields (the holder takes them in on its next write). A request already recorded and
 * not yet carried out stands: the rotation that honours it honours this one too.
 */
export async function recordRotationRequest(
  deps: CredentialsDeps,
  registryId: string,
  request: { by: string; reason: string },
  options: RunOptions = {},
): Promise<RecordedRequest> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const row = await deps.store.get(registryId);
    if (!row || row.status !== ENROLMENT_STATUSES.active) return { kind: 'not-enrolled' };
    if (!isLeaseHeld(row, deps.now())) return { kind: 'free', row };
    if (row.rotationRequestedAt !== undefined) return { kind: 'recorded', row };
    let written: StoredEnrolment;
    try {
      written = await deps.store.replace({
        ...row,
        rotationRequestedAt: deps.now().toISOString(),
        rotationRequestedBy: request.by,
        rotationRequestedReason: request.reason,
      });
    } catch (error) {
      if (error instanceof ConcurrencyConflictError) continue;
      throw error;
    }
    const result = requestRecordedResult(deps, written);
    const trigger = options.trigger ?? {};
    await deps.audit.record({
      action: 'rotate',
      outcome: AUDIT_OUTCOMES.rotationStep,
      reason: result.reason ?? 'rotation request recorded',
      registry: row.registryId,
      resourceId: row.registryId,
      ...(trigger.eventId ? { eventId: trigger.eventId } : {}),
      ...(trigger.caller ? { caller: trigger.caller } : {}),
      ...(trigger.correlationId ? { correlationId: trigger.correlationId } : {}),
      details: {
        step: 'request-recorded',
        requestedAt: written.rotationRequestedAt ?? '',
        ...(result.runsBy ? { runsBy: result.runsBy } : {}),
      },
    });
    return { kind: 'recorded', row: written };
  }
  throw new NotReadyError(
    'RotationRequestNotRecorded',
    `the enrolment of ${registryId} changed ${MAX_ATTEMPTS} times while the rotation request was being recorded; ask again`,
  );
}

/**
 * What the API answers for a recorded request: when it was recorded, until when another run holds
 * the lease, and the latest time it runs — the first rotation timer run (ROTATION_SCHEDULE, read in
 * UTC) after both the lease and any grace-period deferral have passed.
 */
export function requestRecordedResult(deps: CredentialsDeps, row: StoredEnrolment): RotationResult & { reason: string } {
  const now = deps.now();
  const leaseUntil = row.leaseUntil && Date.parse(row.leaseUntil) > now.getTime() ? new Date(row.leaseUntil) : now;
  const blocked = rotationBlockedUntil(row, now);
  const earliest = blocked && blocked > leaseUntil ? blocked : leaseUntil;
  const runsBy = nextOccurrence(deps.config.rotationSchedule, earliest);
  const graceNote = blocked ? `; the previous password's grace period (ROTATION_GRACE_HOURS) defers it until ${blocked.toISOString()}` : '';
  return {
    outcome: ROTATION_OUTCOMES.recorded,
    registryId: row.registryId,
    ...(row.currentKeyId ? { currentKeyId: row.currentKeyId } : {}),
    requestedAt: row.rotationRequestedAt ?? now.toISOString(),
    leaseUntil: leaseUntil.toISOString(),
    ...(runsBy ? { runsBy: runsBy.toISOString() } : {}),
    ...(blocked ? { deferredUntil: blocked.toISOString() } : {}),
    reason:
      `another run holds ${row.registryName}'s enrolment until ${leaseUntil.toISOString()}; the rotation request is recorded (${row.rotationRequestedAt ?? now.toISOString()}) and carried out when that run finishes, ` +
      `or if it stopped, by the first run after its lease lapses${graceNote}` +
      (runsBy ? ` — at the latest by the rotation timer at ${runsBy.toISOString()}` : ''),
    actions: ['recorded'],
  };
}
