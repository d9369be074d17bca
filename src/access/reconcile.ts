/**
 * The access use case: bring one resource's registry access in line with the tag policy.
 *
 * Event mode takes only the resource id from the event and re-reads ARM (events arrive at least
 * once, out of order, and in pairs for template deployments), so a duplicated or stale event
 * converges on the same state. Dry-run plans on the same path and writes nothing.
 *
 *   consumer (VM, VMSS, AKS, ACR task, Container App, App Service, user-assigned identity)
 *     → its identities → its acr-pull/acr-push requests → registries (cached) → assignments on
 *       those registries and on those the grant index remembers → planAccess → apply, audit
 *     (settleConsumer.ts, applyPlan.ts)
 *   consumer gone → the grant index says where we granted → revoke ours that name it
 *   registry written → every consumer tagged for it (Resource Graph) is settled for that registry,
 *     and ours there that nobody is entitled to any more are revoked (settleRegistry.ts)
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { ownershipOfListed, revokeAssignment, REVOKE_RESULTS } from '../assignments/executor.js';
import { AppError } from '../errors.js';
import { standsFor } from '../policy/ownership.js';
import { parseResourceId } from '../policy/resourceId.js';
import { roleFor } from '../policy/roles.js';
import type { AccessDeps } from './accessDeps.js';
import { registryAskers } from './askers.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import { isWatchedType } from '../policy/resourceTypes.js';
import { AccessRun, type ReconcileOptions, type ReconcileResult } from './run.js';
import { settleConsumer } from './settleConsumer.js';
import { settleRegistry } from './settleRegistry.js';

/** Reconciles the registry access of one resource (consumer or registry) from ARM's current state. */
export async function reconcileResource(deps: AccessDeps, resourceId: string, options: ReconcileOptions): Promise<ReconcileResult> {
  const run = new AccessRun(deps, options);
  const parsed = parseResourceId(resourceId);
  if (!parsed.ok || !parsed.value.type) {
    await run.decide({
      action: 'reconcile',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: parsed.ok ? `${resourceId} is not a resource` : parsed.error,
      resourceId,
      errorCode: 'InvalidResourceId',
    });
    return run.result(resourceId);
  }
  const id = parsed.value.id;
  const type = parsed.value.type;
  if (!isWatchedType(type)) {
    await run.decide({
      action: 'reconcile',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `resource type ${type} is not one the access feature watches`,
      resourceId: id,
    });
    return run.result(id);
  }

  // ARM is the truth: a delete event delivered after a re-create must not revoke, so read even then.
  let resource: ArmResource | undefined;
  try {
    resource = await deps.arm.getResource(id);
  } catch (error) {
    // Only AppErrors are decisions; anything else is a bug and escapes as it is.
    if (!(error instanceof AppError)) throw error;
    await run.fail({ action: 'reconcile', resourceId: id, reason: `could not reconcile ${parsed.value.name}` }, error);
    run.throwIfRetryNeeded();
    return run.result(id);
  }
  return settleRead(run, { id, type, name: parsed.value.name, resource });
}

/** Reconciles one resource the caller has read from ARM (the resources layer's one read); `deps.arm` serves every other read. */
export async function reconcileReadResource(
  deps: AccessDeps,
  read: { readonly id: string; readonly type: string; readonly name: string; readonly resource: ArmResource | undefined },
  options: ReconcileOptions,
): Promise<ReconcileResult> {
  return settleRead(new AccessRun(deps, options), read);
}

async function settleRead(
  run: AccessRun,
  read: { readonly id: string; readonly type: string; readonly name: string; readonly resource: ArmResource | undefined },
): Promise<ReconcileResult> {
  const { id, resource } = read;
  try {
    if (read.type === WATCHED_RESOURCE_TYPES.registry) await settleRegistry(run, id, resource);
    else if (resource) await settleConsumer(run, resource);
    else await revokeForDeletedConsumer(run, id);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await run.fail({ action: 'reconcile', resourceId: id, reason: `could not reconcile ${read.name}` }, error);
  }
  run.throwIfRetryNeeded();
  return run.result(id);
}

/** The consumer is gone: revoke ours on every registry the index remembers for it, unless another consumer holding the principal asks. */
async function revokeForDeletedConsumer(run: AccessRun, consumerId: string): Promise<void> {
  const { deps } = run;
  const indexed = await deps.grantIndex.listForConsumer(consumerId);
  const name = nameOf(consumerId);
  if (indexed.length === 0) {
    await run.decide({
      action: 'revoke',
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${name} does not exist and holds no assignments of ours`,
      resourceId: consumerId,
    });
    return;
  }
  const askers = registryAskers(deps);
  for (const entry of indexed) {
    const assignments = await deps.roleAssignments.listAtScope(entry.registryId);
    const ours = assignments.filter((a) => standsFor(ownershipOfListed(a), consumerId));
    const registryName = nameOf(entry.registryId);
    let settled = true;
    for (const a of ours) {
      const result = await revokeAssignment(deps, run, a, {
        resourceId: consumerId,
        reason: `${name} was deleted, so its ${roleNameOf(a)} on ${registryName} is revoked`,
        scopeName: registryName,
        askers,
      });
      if (result === REVOKE_RESULTS.failed) settled = false;
    }
    if (!run.dryRun && settled) await deps.grantIndex.remove(consumerId, entry.registryId);
  }
}

function roleNameOf(a: Pick<RoleAssignmentInfo, 'roleDefinitionGuid'>): string {
  return roleFor(a.roleDefinitionGuid)?.name ?? 'role';
}

function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}
