/**
 * The pull password as Key Vault holds it: `<registry>-pull-pwd` versions with expiry, content type
 * and tags naming the password's keyId. Written, read back, and put right when Key Vault serves
 * something other than the current password.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Secret } from '../secret.js';
import { passwordSecretName, ROTATION_PHASES } from './enrolment.js';
import type { CredentialsRun } from './credentialsRun.js';

export const PASSWORD_CONTENT_TYPE = 'text/plain; acr-pull-password';
export const USERNAME_CONTENT_TYPE = 'text/plain; acr-pull-username';
export const MANAGED_BY_TAG = { managedBy: 'acr-pull-automation' } as const;

/** Writes the password as a new version of `<registry>-pull-pwd` with expiry, content type and tags. */
export async function storePassword(run: CredentialsRun, value: Secret, keyId: string, expiresOn: Date): Promise<{ version: string }> {
  const { row } = run;
  return run.deps.vaults.setSecret(row.vaultName, passwordSecretName(row.registryName), value, {
    ...(await run.call()),
    expiresOn,
    contentType: PASSWORD_CONTENT_TYPE,
    tags: { ...MANAGED_BY_TAG, appId: row.appId ?? '', keyId, rotatedAt: run.deps.now().toISOString() },
  });
}

/**
 * Key Vault must serve the recorded current password. A run that stalled in a Key Vault call past
 * its lease can land its write after another run finished (the service completes what the client
 * gave up on), or someone writes a version by hand: Key Vault then serves a password that may
 * already be removed from the application. The current password — read back from its own version
 * and proven — is stored again as the newest version, with its own expiry. When that version can
 * no longer be read or no longer signs in, the caller rotates instead.
 */
export async function repairServedPassword(run: CredentialsRun): Promise<'ok' | 'repaired' | 'unrepairable'> {
  const { deps, row } = run;
  if (row.phase !== ROTATION_PHASES.idle || !row.currentKeyId) return 'ok';
  const name = passwordSecretName(row.registryName);
  const served = await deps.vaults.getSecret(row.vaultName, name, await run.call());
  if (served?.tags['keyId'] === row.currentKeyId) return 'ok';
  const what = served
    ? `version ${served.version} (${served.tags['keyId'] ? `password ${served.tags['keyId']}` : 'not one of ours'})`
    : 'no version';
  const current = row.currentSecretVersion
    ? await deps.vaults.getSecret(row.vaultName, name, { ...(await run.call()), version: row.currentSecretVersion })
    : undefined;
  const works =
    current?.tags['keyId'] === row.currentKeyId ? (await deps.proof.prove(row.appId ?? '', current.value, await run.call())).ok : false;
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
export async function servedPassword(run: CredentialsRun): Promise<{ keyId: string; version: string } | undefined> {
  const secret = await run.deps.vaults.getSecret(run.row.vaultName, passwordSecretName(run.row.registryName), await run.call());
  const keyId = secret?.tags['keyId'];
  return secret && keyId ? { keyId, version: secret.version } : undefined;
}
