/**
 * The steps of an enrolment's leased run, each idempotent: the pull application and its service
 * principal, the principal's AcrPull (through the role-assignment executor), the username secret,
 * and the current password carried to a new vault. Split from useCases.ts.
 */
/**
 * The credentials use cases the triggers and the HTTP API call: enrol, rotate (now, when due,
 * on near-expiry), un-enrol, list, and react to a registry's tags.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import { grantAssignment, REVOKE_RESULTS, revokeAssignment, type ExecutorDeps, type ExecutorRun } from '../assignments/executor.js';
import type { ArmResource } from '../azure/arm.js';
import { AppError, errorCode, InvalidInputError, NotReadyError, PolicyDeniedError } from '../errors.js';
import { describeOwnership, OWNERSHIP_KINDS, parseOwnership, roleAssignmentName } from '../policy/ownership.js';
import { chooseRole, type RoleChoice } from '../policy/roles.js';
import { Secret } from '../secret.js';
import { applicationDisplayName, passwordSecretName, usernameSecretName } from './enrolment.js';
import type { CredentialsRun } from './credentialsRun.js';
import { MANAGED_BY_TAG, PASSWORD_CONTENT_TYPE, USERNAME_CONTENT_TYPE } from './passwordSecret.js';

export async function ensureApplication(run: CredentialsRun, adoptAppId: string | undefined): Promise<void> {
  const { deps } = run;
  const displayName = applicationDisplayName(run.row.registryName);
  const forget = {
    currentKeyId: undefined,
    currentCreatedAt: undefined,
    currentExpiresOn: undefined,
    currentSecretVersion: undefined,
    previousKeyId: undefined,
    previousRemoveAfter: undefined,
    servicePrincipalId: undefined,
    role: undefined,
  };

  if (adoptAppId && adoptAppId !== run.row.appId) {
    const app = await deps.graph.getApplicationByAppId(adoptAppId, await run.call());
    if (!app) throw new InvalidInputError('ApplicationNotFound', `no application with appId ${adoptAppId} is visible to the app`);
    await run.save({ ...forget, appId: app.appId, applicationObjectId: app.id, adopted: true });
    // The password Key Vault serves for this application, if one of its passwords, becomes current,
    // so the first rotation retires it after the grace period.
    const served = await deps.vaults.getSecret(run.row.vaultName, passwordSecretName(run.row.registryName), await run.call());
    const servedKeyId = served?.tags['keyId'];
    if (servedKeyId && app.passwordCredentials.some((p) => p.keyId === servedKeyId))
      await run.save({ currentKeyId: servedKeyId, currentSecretVersion: served?.version });
    await run.audit({
      action: 'enrol',
      outcome: AUDIT_OUTCOMES.rotationStep,
      reason: `adopted existing application ${app.appId}`,
      details: { step: 'adopt-application', appId: app.appId },
    });
    return;
  }
  if (run.row.appId) {
    const app = await deps.graph.getApplicationByAppId(run.row.appId, await run.call());
    if (app) return;
    if (run.row.adopted) throw new InvalidInputError('ApplicationNotFound', `adopted application ${run.row.appId} no longer exists`);
    await run.save({ ...forget, appId: undefined, applicationObjectId: undefined });
  }
  // A run that stopped between creating the application and recording it left a marker.
  if (run.row.creatingApplication) {
    const found = await deps.graph.findApplicationsByDisplayName(displayName, await run.call());
    if (found.length === 1 && found[0]) {
      await run.save({ appId: found[0].appId, applicationObjectId: found[0].id, creatingApplication: undefined, adopted: undefined });
      return;
    }
  }
  await run.save({ creatingApplication: true });
  const app = await deps.graph.createApplication(displayName, {
    ...(await run.call()),
    notes: `Pull-only credentials for registry ${run.row.registryId}, managed by acr-pull-automation.`,
  });
  await run.save({ appId: app.appId, applicationObjectId: app.id, creatingApplication: undefined, adopted: undefined });
  await run.audit({
    action: 'enrol',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: `created application ${displayName} (${app.appId})`,
    details: { step: 'create-application', appId: app.appId },
  });
}

export async function ensureServicePrincipal(run: CredentialsRun): Promise<string> {
  const { deps } = run;
  const appId = run.row.appId ?? '';
  if (run.row.servicePrincipalId) return run.row.servicePrincipalId;
  const existing = await deps.graph.findServicePrincipal(appId, await run.call());
  const principal = existing ?? (await deps.graph.createServicePrincipal(appId, await run.call()));
  await run.save({ servicePrincipalId: principal.id });
  if (!existing)
    await run.audit({
      action: 'enrol',
      outcome: AUDIT_OUTCOMES.rotationStep,
      reason: `created service principal ${principal.id} for application ${appId}`,
      principalId: principal.id,
      details: { step: 'create-service-principal' },
    });
  return principal.id;
}

/** The registry's pull role for the service principal, through the executor; a grant that did not happen stops the run with its error. */
export async function grantPullRole(run: CredentialsRun, registry: ArmResource, principalId: string): Promise<void> {
  const choice = chooseRole(stringProperty(registry, 'roleAssignmentMode'), 'pull');
  const name = assignmentName(registry.id, principalId, choice);
  const executor = executorFor(run);
  const granted = await grantAssignment(
    executor.deps,
    executor.run,
    {
      name,
      scope: registry.id,
      scopeName: run.row.registryName,
      principalId,
      principalType: 'ServicePrincipal',
      role: choice.role,
      description: describeOwnership({ kind: OWNERSHIP_KINDS.pullCredential, registryName: run.row.registryName }),
    },
    { reason: `${choice.reason}, for the pull-credential service principal` },
  );
  if (!granted) throw executor.failure();
  await run.save({ role: choice.role.roleDefinitionId });
}

/**
 * Removes the pull role before the application is deleted: the assignment as ARM lists it goes to
 * the executor, which deletes it only if it is ours (deterministic name and our description). No
 * consumer is asked: only the enrolment asks for a pull-credential principal's role.
 */
export async function revokePullRole(run: CredentialsRun, principalId: string): Promise<void> {
  const { registryId, registryName, role } = run.row;
  const listed = await run.deps.roleAssignments.listAtScope(registryId, { ...(await run.call()), principalId });
  // Ours by role or by description: one that only claims to be ours is shown to the executor, which records that it is left.
  const candidates = listed.filter(
    (a) =>
      a.principalId.toLowerCase() === principalId.toLowerCase() &&
      (a.roleDefinitionGuid === role || parseOwnership(a.description)?.kind === OWNERSHIP_KINDS.pullCredential),
  );
  if (candidates.length === 0) {
    await run.audit({
      action: 'revoke',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `the pull-credential service principal holds no pull role on ${registryName} to remove before deleting its application (it was already gone)`,
      principalId,
    });
    return;
  }
  const executor = executorFor(run);
  for (const a of candidates) {
    const result = await revokeAssignment(executor.deps, executor.run, a, {
      reason: 'pull role of the pull-credential service principal removed before deleting its application',
      scopeName: registryName,
    });
    if (result === REVOKE_RESULTS.failed) throw executor.failure();
  }
}

/**
 * The executor's view of a leased run: its rows go to the enrolment's audit trail (registry and
 * resource columns are the enrolment's), every role-assignment call carries the run's call timeout,
 * and the first failure is kept so the step that asked can stop the run with it, as any other step does.
 */
function executorFor(run: CredentialsRun): { deps: ExecutorDeps; run: ExecutorRun; failure: () => Error } {
  let failure: Error | undefined;
  // run.audit sets the registry and resource columns to the enrolment's registry (the executor's scope).
  const recorder: ExecutorRun = {
    dryRun: false,
    async decide(entry) {
      if (entry.outcome === AUDIT_OUTCOMES.deniedByPlatformPolicy)
        failure ??= new PolicyDeniedError(entry.errorCode ?? 'RequestDisallowedByPolicy', entry.reason);
      await run.audit(entry);
    },
    async fail(entry, error) {
      const message = error instanceof Error ? error.message : String(error);
      failure ??= error instanceof Error ? error : new AppError('RoleAssignmentFailed', message);
      await run.audit({ ...entry, outcome: AUDIT_OUTCOMES.failed, errorCode: errorCode(error), reason: `${entry.reason}: ${message}` });
    },
  };
  const roleAssignments = run.deps.roleAssignments;
  return {
    deps: {
      roleAssignments: {
        create: async (input) => roleAssignments.create(input, await run.call()),
        delete: async (scope, name) => roleAssignments.delete(scope, name, await run.call()),
      },
    },
    run: recorder,
    failure: () => failure ?? new AppError('RoleAssignmentFailed', `a role assignment on ${run.row.registryName} was not made`),
  };
}

export async function storeUsername(run: CredentialsRun): Promise<void> {
  const { deps, row } = run;
  const appId = row.appId ?? '';
  const name = usernameSecretName(row.registryName);
  const existing = await deps.vaults.getSecret(row.vaultName, name, await run.call());
  if (existing?.value.reveal() === appId) return;
  await deps.vaults.setSecret(row.vaultName, name, new Secret(appId), {
    ...(await run.call()),
    contentType: USERNAME_CONTENT_TYPE,
    tags: { ...MANAGED_BY_TAG, appId },
  });
  await run.audit({
    action: 'enrol',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: `stored the username (appId) in ${row.vaultName} as ${name}`,
    details: { step: 'store-username' },
  });
}

/**
 * A new vault serves the current password at once, copied from the old vault's version of it: the
 * rotation that follows may have to wait for the previous password's grace period, and clients
 * moving to the new vault must not find it empty meanwhile. Best effort: when the old version
 * cannot be read (vault gone, access removed), the rotation fills the new vault instead.
 */
export async function carryCurrentPassword(run: CredentialsRun, oldVaultName: string): Promise<void> {
  const { deps, row } = run;
  if (!row.currentKeyId || !row.currentSecretVersion) return;
  const name = passwordSecretName(row.registryName);
  let current;
  try {
    current = await deps.vaults.getSecret(oldVaultName, name, { ...(await run.call()), version: row.currentSecretVersion });
  } catch (error) {
    run.options.log?.warn('could not read the current password from the old vault; the rotation fills the new vault', {
      registryId: row.registryId,
      errorCode: errorCode(error),
    });
    return;
  }
  if (current?.tags['keyId'] !== row.currentKeyId) return;
  const stored = await deps.vaults.setSecret(row.vaultName, name, current.value, {
    ...(await run.call()),
    expiresOn: current.expiresOn ?? (row.currentExpiresOn ? new Date(row.currentExpiresOn) : undefined),
    contentType: PASSWORD_CONTENT_TYPE,
    tags: { ...current.tags, ...MANAGED_BY_TAG, keyId: row.currentKeyId },
  });
  await run.save({ currentSecretVersion: stored.version });
  await run.audit({
    action: 'enrol',
    outcome: AUDIT_OUTCOMES.rotationStep,
    reason: `copied the current password ${row.currentKeyId} from ${oldVaultName} to ${row.vaultName}, so the new vault serves a working password at once`,
    details: { step: 'carry-current-password', keyId: row.currentKeyId, secretVersion: stored.version },
  });
}

function assignmentName(scope: string, principalId: string, choice: RoleChoice): string {
  const name = roleAssignmentName({ scope, principalId, roleDefinitionId: choice.role.roleDefinitionId });
  if (!name.ok) throw new NotReadyError('InvalidAssignment', name.error);
  return name.value;
}

function stringProperty(resource: ArmResource, key: string): string | undefined {
  const value = resource.properties?.[key];
  return typeof value === 'string' ? value : undefined;
}
