/**
 * Step 3 of the sweep: ours whose principal is gone. For each consumer our assignments' descriptions
 * name, revoke those whose principal it no longer has — the consumer no longer exists (its delete
 * was not seen), or no longer has that principal (identity removed or replaced) — unless another
 * consumer holding that principal still asks for it (a shared identity): then it is kept, and
 * handed over to name that consumer. Once a gone consumer holds nothing of ours at a scope, every
 * feature's index forgets it there.
 */
import { ownershipOfListed, revokeAssignment, REVOKE_RESULTS } from '../assignments/executor.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError } from '../errors.js';
import { OWNERSHIP_KINDS } from '../policy/ownership.js';
import { parseResourceId } from '../policy/resourceId.js';
import { roleFor } from '../policy/roles.js';
import type { AccessDeps } from '../access/accessDeps.js';
import { registryAskers } from '../access/askers.js';
import { identitiesOf } from '../access/identities.js';
import { startRun } from '../access/run.js';
import type { ResourcesDeps } from './changedResource.js';
import type { SweepRun } from './sweepRun.js';

/** What step 3 needs: the access adapters (identities, askers, the executor) and every feature's index. */
export type GonePrincipalsDeps = AccessDeps & Pick<ResourcesDeps, 'reconcilers'>;

/**
 * Our assignments naming one consumer: revoke those whose principal is gone. Records each revoke (or
 * failure) as an audit row; an error that is not an AppError escapes for the sweep to record.
 */
export async function revokeGonePrincipals(
  sweep: SweepRun,
  deps: GonePrincipalsDeps,
  consumerId: string,
  assignments: readonly RoleAssignmentInfo[],
): Promise<void> {
  const run = startRun(deps, { log: sweep.options.log.child({ resourceId: consumerId }), trigger: sweep.trigger, quiet: true });
  const name = nameOf(consumerId);
  try {
    const consumer = await deps.arm.getResource(consumerId);
    const principals = consumer ? new Set((await identitiesOf(deps, consumer)).map((i) => i.principalId.toLowerCase())) : undefined;
    const askers = registryAskers(deps);
    for (const a of assignments) {
      if (principals?.has(a.principalId.toLowerCase())) continue;
      const scopeName = nameOf(a.scope);
      const roleName = roleFor(a.roleDefinitionGuid)?.name ?? `role ${a.roleDefinitionGuid}`;
      const result = await revokeAssignment(deps, run, a, {
        resourceId: consumerId,
        reason: principals
          ? `principal ${a.principalId} no longer belongs to ${name} (identity removed or replaced), so its ${roleName} on ${scopeName} is revoked`
          : `${name} no longer exists (its delete was not seen), so its ${roleName} on ${scopeName} is revoked`,
        scopeName,
        // A vault grant's principal is its user-assigned identity's own, which belongs to no other
        // resource; a registry grant's may be shared (a fleet's identity, a kubelet identity).
        ...(ownershipOfListed(a)?.kind === OWNERSHIP_KINDS.workloadVault ? { details: { vault: a.scope } } : { askers }),
      });
      // Gone for good (or now standing for another consumer): nothing of ours for this consumer remains there, so the indexes may forget it.
      if (!principals && (result === REVOKE_RESULTS.revoked || result === REVOKE_RESULTS.kept)) {
        for (const reconciler of deps.reconcilers) await reconciler.sweep?.forget?.(consumerId, a.scope);
      }
    }
  } catch (error) {
    sweep.count(run.decisions);
    if (!(error instanceof AppError)) throw error; // recorded by the pool's onError
    const recorded = run.decisions.length;
    await run.fail({ action: 'revoke', resourceId: consumerId, reason: `could not check the principals of ${name}` }, error);
    sweep.count(run.decisions.slice(recorded));
    return;
  }
  sweep.count(run.decisions);
}

export function nameOf(resourceId: string): string {
  const parsed = parseResourceId(resourceId);
  return parsed.ok ? parsed.value.name : resourceId;
}
