/**
 * The decisions of a rotation run, apart from its I/O (rotation.ts): the outcomes a run answers,
 * whether a run wants a new password, whether it may add one now or must wait for the previous
 * password's grace period, and the words a deferral is explained with. Pure: no I/O.
 */
import { hasOpenRequest, isRotationDue, rotationBlockedUntil, type Enrolment } from './enrolment.js';

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

export interface RotateOptions {
  /** Rotate even when the current password is not due (rotate now, near-expiry, vault changed). */
  readonly force?: boolean;
  /** Why, for the audit trail: 'timer', 'requested', 'near-expiry', 'enrolment'. */
  readonly reason: string;
}

/**
 * Whether a run wants a new password before it looks at anything else, and why: forced, or a
 * recorded request (rotate now while another run held the lease) — which is wanted as much.
 */
export function initialWish(row: Enrolment, options: RotateOptions, now: Date): { wanted: boolean; reason: string } {
  const requested = hasOpenRequest(row, now);
  const wanted = (options.force ?? false) || requested;
  const reason = !options.force && requested ? (row.rotationRequestedReason ?? options.reason) : options.reason;
  return { wanted, reason };
}

export type NewPasswordDecision =
  | { readonly kind: 'none' }
  /** The previous password is in its grace period: the rotation waits until then. */
  | { readonly kind: 'defer'; readonly until: Date }
  /** Its grace is over but it is still there (Key Vault serves it): nothing may be added. */
  | { readonly kind: 'previous-served' }
  | { readonly kind: 'rotate' };

/**
 * Whether to add a new password now: when due or wanted, unless that would cut the previous
 * password's grace short, and only once the previous one is gone (at most current + previous).
 */
export function decideNewPassword(row: Enrolment, wanted: boolean, periodDays: number, now: Date): NewPasswordDecision {
  if (!(wanted || isRotationDue(row, periodDays, now))) return { kind: 'none' };
  const until = rotationBlockedUntil(row, now);
  if (until) return { kind: 'defer', until };
  if (row.previousKeyId) return { kind: 'previous-served' };
  return { kind: 'rotate' };
}

/** The outcome a run answers, from what it did. */
export function runOutcome(did: { rotated: boolean; deferred: boolean; removedPrevious: boolean; actions: number }): RotationOutcome {
  if (did.rotated) return ROTATION_OUTCOMES.rotated;
  if (did.deferred) return ROTATION_OUTCOMES.deferred;
  return did.removedPrevious || did.actions > 0 ? ROTATION_OUTCOMES.maintained : ROTATION_OUTCOMES.notDue;
}

/** Why a rotation waits, in a platform engineer's words (audit row and API answer). */
export function deferralReason(row: Enrolment, graceHours: number, until: Date, reason: string): string {
  return (
    `rotation (${reason}) deferred until ${until.toISOString()}: the previous password ${row.previousKeyId} was served by Key Vault ` +
    `until ${row.lastRotatedAt ?? 'the last rotation'} and stays valid for ROTATION_GRACE_HOURS (${graceHours} h); ` +
    `a new rotation now would have to remove it. The first run after that time rotates`
  );
}
