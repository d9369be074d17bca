/**
 * The resource-event use case: one delivered event → parse → audit a skip or a rejection, or
 * reconcile the resource it names. Never throws for bad or unwanted input (Event Grid would retry
 * it forever); throws only what redelivery can fix (TransientAzureError, NotReadyError).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Logger } from '../log.js';
import type { AccessDeps } from './accessDeps.js';
import { parseResourceEvent } from './resourceEvent.js';
import { reconcileResource, type ReconcileOptions, type ReconcileResult } from './reconcile.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import { normalizeResourceId, resourceTypeOf } from '../policy/resourceId.js';
import type { ArmResource, ArmResources } from '../azure/arm.js';
import { withArmPriority } from '../azure/armPacing.js';
import { isWorkloadResource, reconcileWorkloadIdentity, type WorkloadReconcileResult } from '../workload/reconcileWorkloadIdentity.js';
import { hasWorkloadDeps } from '../workload/workloadDeps.js';

/**
 * How long one event's ARM requests may wait for their turns in all: Event Grid waits 30 s for an
 * answer (https://learn.microsoft.com/azure/event-grid/delivery-and-retry) and redelivers after that
 * whatever happens, so a longer wait buys nothing; 5 s are left for the work itself.
 */
export const EVENT_PACING_BUDGET_MS = 25_000;

/** Handles one delivered resource event (Event Grid schema or CloudEvents). */
export async function handleResourceEvent(deps: AccessDeps, input: unknown, log: Logger): Promise<ReconcileResult | undefined> {
  const parsed = await parseResourceEvent(input, { watchedSubscriptions: deps.config.watchedSubscriptions });
  switch (parsed.kind) {
    case 'rejected':
      log.warn(`event rejected: ${parsed.reason}`);
      await deps.audit.record({
        action: 'event',
        outcome: AUDIT_OUTCOMES.rejectedInput,
        reason: parsed.reason,
        errorCode: 'InvalidEvent',
        ...(parsed.eventId ? { eventId: parsed.eventId } : {}),
      });
      return undefined;
    case 'skipped':
      log.info(`event skipped: ${parsed.reason}`, { resourceId: parsed.resourceId });
      await deps.audit.record({
        action: 'event',
        outcome: AUDIT_OUTCOMES.skipped,
        reason: parsed.reason,
        eventId: parsed.eventId,
        ...(parsed.resourceId ? { resourceId: parsed.resourceId } : {}),
        ...(parsed.correlationId ? { correlationId: parsed.correlationId } : {}),
        ...(parsed.caller ? { caller: parsed.caller } : {}),
      });
      return undefined;
    case 'handled': {
      const { event } = parsed;
      const child = log.child({ resourceId: event.resourceId, operationName: event.operationName });
      const options = {
        log: child,
        trigger: {
          eventId: event.eventId,
          ...(event.correlationId ? { correlationId: event.correlationId } : {}),
          ...(event.caller ? { caller: event.caller } : {}),
        },
      };
      // Under ARM's throttle, the oldest event's requests go first (armPacing.ts): a burst finishes what it
      // started. Waits end in time to answer Event Grid within its 30 s, else it redelivers anyway.
      return withArmPriority(event.eventTime ? Date.parse(event.eventTime) : Date.now(), () => reconcileChangedResource(deps, event.resourceId, options), { deadline: Date.now() + EVENT_PACING_BUDGET_MS });
    }
  }
}

/**
 * Every feature that acts on a changed resource, from ARM's current state: registry access
 * (consumers and registries), workload identity (identities, clusters, Key Vaults) and pull
 * credentials (registries). The event path runs it; the HTTP preview runs it with `dryRun`.
 */
export async function reconcileChangedResource(given: AccessDeps, resourceId: string, options: ReconcileOptions): Promise<ReconcileResult & { workload?: WorkloadReconcileResult }> {
  // Both features read the resource; within one event that is one ARM read (the budget), not one each.
  const deps = { ...given, arm: readOnce(given.arm) };
  const workloadDeps = hasWorkloadDeps(deps) && isWorkloadResource(resourceId) ? deps : undefined;
  // A Key Vault matters only to workload identity (its acr-workload-allow consent).
  const accessToo = !(workloadDeps && resourceTypeOf(resourceId) === WATCHED_RESOURCE_TYPES.keyVault);
  // Run both, then rethrow the first retry, so one feature's transient error doesn't hide the other's work.
  const [access, workload] = await Promise.allSettled([
    accessToo ? reconcileResource(deps, resourceId, options) : Promise.resolve<ReconcileResult>({ resourceId, decisions: [], plans: [] }),
    workloadDeps ? reconcileWorkloadIdentity(workloadDeps, resourceId, options) : Promise.resolve(undefined),
  ]);
  if (access.status === 'rejected') throw access.reason;
  if (workload.status === 'rejected') throw workload.reason;
  const result = access.value;
  // A registry event also drives its pull credentials (acr-pull-credential), from the same read.
  // Enrolment has no dry run: a preview shows only what access would do for the registry.
  if (result.registry && deps.onRegistryChanged && !options.dryRun) {
    const { resource } = result.registry;
    await deps.onRegistryChanged(resource ?? { id: result.resourceId, deleted: true }, options);
  }
  return workload.value ? { ...result, workload: workload.value } : result;
}

/** ARM reads shared for the length of one event: each resource is read once; a write through it drops the copy. */
function readOnce(arm: ArmResources): ArmResources {
  const reads = new Map<string, Promise<ArmResource | undefined>>();
  const keyOf = (id: string) => normalizeResourceId(id) ?? id.toLowerCase();
  return {
    getResource(id, options) {
      const key = keyOf(id);
      let read = reads.get(key);
      if (!read) {
        read = arm.getResource(id, options);
        // A failed read is not shared: the next caller asks ARM again.
        read.catch(() => reads.delete(key));
        reads.set(key, read);
      }
      return read;
    },
    async patchResource(id, body, options) {
      reads.delete(keyOf(id));
      return arm.patchResource(id, body, options);
    },
  };
}
