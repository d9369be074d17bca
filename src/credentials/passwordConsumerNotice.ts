/**
 * The audit row written after a rotation for the resources that hold the pull password by value
 * (passwordConsumers.ts finds them): they must be redeployed before the previous password goes.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { errorCode } from '../errors.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import { passwordSecretName } from './enrolment.js';

/**
 * After a rotation (issue 19.4): the resources that hold the previous password by value (container
 * groups whose imageRegistryCredentials name the pull application) fail at their next restart once
 * it is removed — one audit row names them and the time, so they can be redeployed in time. A failed
 * look-up is recorded and never fails the rotation.
 */
export async function notePasswordConsumers(deps: CredentialsDeps, registryId: string, options: RunOptions): Promise<void> {
  const row = await deps.store.get(registryId);
  if (!row?.appId || !deps.passwordConsumers) return;
  const trigger = {
    ...(options.trigger?.eventId ? { eventId: options.trigger.eventId } : {}),
    ...(options.trigger?.correlationId ? { correlationId: options.trigger.correlationId } : {}),
    ...(options.trigger?.caller ? { caller: options.trigger.caller } : {}),
  };
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
      details: {
        passwordConsumers: consumers.map((c) => c.resourceId).join(','),
        ...(row.previousRemoveAfter ? { previousRemoveAfter: row.previousRemoveAfter } : {}),
      },
    });
  } catch (error) {
    options.log?.warn('could not list the consumers using the pull password by value', { registryId, error });
    await deps.audit.record({
      action: PASSWORD_CONSUMERS_ACTION,
      outcome: AUDIT_OUTCOMES.failed,
      errorCode: errorCode(error),
      reason: `could not list who uses ${row.registryName}'s pull password by value (Resource Graph); the rotation itself is done`,
      registry: row.registryId,
      resourceId: row.registryId,
      ...trigger,
    });
  }
}

/** The audit row's action for the resources that use a pull password by value. */
export const PASSWORD_CONSUMERS_ACTION = 'password consumers';
