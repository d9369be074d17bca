/**
 * After each rotation run, one warning line per pull credential that needs a person: expired, close
 * to expiry without a successful rotation, overdue, or never proven. The alert rule "pull credential
 * needs attention" (infra/app/alerts.bicep) fires on this line in Application Insights.
 */
import { credentialHealth } from '../health.js';
import type { EnrolmentView } from '../../credentials/enrolment.js';
import type { Logger } from '../../log.js';

/** The log line's `message`: the alert rule's query matches it exactly. */
export const CREDENTIAL_ATTENTION_MESSAGE = 'pull credential needs attention';

/** Logs one warning per active enrolment that is not healthy; answers how many. */
export function reportCredentialsNeedingAttention(enrolments: readonly EnrolmentView[], log: Logger, now: Date = new Date()): number {
  let count = 0;
  for (const view of enrolments) {
    if (view.status !== 'active') continue;
    const health = credentialHealth(view, now);
    if (health.status === 'healthy') continue;
    count++;
    log.warn(CREDENTIAL_ATTENTION_MESSAGE, {
      registryId: health.registryId,
      registryName: health.registryName,
      vaultName: health.vaultName,
      status: health.status,
      problem: health.problem,
      currentExpiresOn: health.currentExpiresOn,
      nextRotationAt: health.nextRotationAt,
    });
  }
  return count;
}
