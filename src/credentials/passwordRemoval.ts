/**
 * Removing passwords from the pull application (Graph `removePassword`): the previous one after its
 * grace period, and ours that no state refers to — never the one Key Vault serves at that moment.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { NotReadyError } from '../errors.js';
import { isOurPassword, passwordDisplayName, ROTATION_STEPS } from './enrolment.js';
import type { CredentialsRun } from './credentialsRun.js';
import { servedPassword } from './passwordSecret.js';

export async function removePrevious(run: CredentialsRun, why: string): Promise<boolean> {
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
export async function removeUnstoredPasswords(run: CredentialsRun, servedKeyId: string | undefined): Promise<void> {
  const { deps, row } = run;
  if (!row.appId) return;
  const app = await deps.graph.getApplicationByAppId(row.appId, await run.call());
  if (!app) return;
  const keep = new Set([row.currentKeyId, row.previousKeyId, servedKeyId].filter((k): k is string => k !== undefined));
  for (const password of app.passwordCredentials) {
    const isPending =
      password.keyId === row.pendingKeyId || (row.rotationId !== undefined && password.displayName === passwordDisplayName(row.rotationId));
    if (keep.has(password.keyId) || !(isPending || isOurPassword(password.displayName))) continue;
    await removePasswordUnlessServed(run, password.keyId, `password ${password.keyId} was created but never stored in Key Vault`);
  }
}

/** The one way a password is removed: never the one Key Vault serves at this moment. */
async function removePasswordUnlessServed(run: CredentialsRun, keyId: string, reason: string): Promise<boolean> {
  const { deps, row } = run;
  const served = await servedPassword(run);
  if (served?.keyId === keyId) {
    await run.audit({
      action: 'rotate',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `kept ${keyId}: Key Vault serves it`,
      details: { keyId },
    });
    return false;
  }
  const result = await deps.graph.removePassword(requireObjectId(run), keyId, await run.call());
  run.actions.push(`removed ${keyId}`);
  run.options.log?.info('removed a password', { registryId: row.registryId, keyId, result });
  await run.audit({
    action: 'rotate',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: result === 'removed' ? `removed ${reason}` : `${reason}; it was already gone`,
    details: { keyId, step: 'remove-password' },
  });
  return true;
}

export function requireObjectId(run: CredentialsRun): string {
  if (!run.row.applicationObjectId)
    throw new NotReadyError('ApplicationNotCreated', `registry ${run.row.registryName} has no application yet`);
  return run.row.applicationObjectId;
}
