/**
 * Work on one enrolment under its lease: the lease is taken (or the caller is told the registry is
 * busy), the work runs, rotation requests recorded meanwhile are carried out before the lease is let
 * go, and a failure is recorded on the row as the lease is released.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { errorCode } from '../errors.js';
import { CredentialsRun } from './credentialsRun.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import type { StoredEnrolment } from './enrolment.js';
import { rotateUnderLease } from './rotation.js';
import type { RotationResult } from './rotationPlan.js';

/** How many recorded requests a run honours after its own work before it leaves the rest to the next run. */
const MAX_FOLLOW_UP_ROTATIONS = 3;

/** Runs `work` under the enrolment's lease, releasing it afterwards (recording the error code on failure). */
export async function withLease<T>(
  deps: CredentialsDeps,
  row: StoredEnrolment,
  options: RunOptions,
  work: (run: CredentialsRun) => Promise<T>,
): Promise<{ kind: 'done'; value: T; followUps: RotationResult[] } | { kind: 'busy' }> {
  const run = await CredentialsRun.acquire(deps, row, options);
  if (!run) return { kind: 'busy' };
  try {
    const value = await work(run);
    // Rotation requests recorded while we held the lease (rotate now answered 202 recorded): the
    // holder honours them before it lets go, so they need not wait for another run.
    const followUps: RotationResult[] = [];
    while (!(await run.release({}, followUps.length >= MAX_FOLLOW_UP_ROTATIONS))) {
      try {
        followUps.push(await rotateUnderLease(run, { reason: run.row.rotationRequestedReason ?? 'requested' }));
      } catch (error) {
        // This run's own work is done and answered as such; the request stays for the next run
        // (or its rotation, if it got that far, is finished by the next run from its phase).
        options.log?.warn('a recorded rotation request failed; the next run carries it out', { registryId: run.row.registryId, error });
        await run
          .audit({
            action: 'rotate',
            outcome: AUDIT_OUTCOMES.failed,
            errorCode: errorCode(error),
            reason: `the rotation requested while another run held ${run.row.registryName} failed; the next run carries it out`,
          })
          .catch(() => undefined);
        await run.release({ lastErrorCode: errorCode(error) }, true).catch(() => undefined);
        return { kind: 'done', value, followUps };
      }
    }
    return { kind: 'done', value, followUps };
  } catch (error) {
    await run.release({ lastErrorCode: errorCode(error) }, true).catch(() => undefined);
    throw error;
  }
}
