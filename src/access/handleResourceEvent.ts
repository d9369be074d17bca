/**
 * The resource-event use case: one delivered event → parse → audit a skip or a rejection, or
 * reconcile the resource it names. Never throws for bad or unwanted input (Event Grid would retry
 * it forever); throws only what redelivery can fix (TransientAzureError, NotReadyError).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Logger } from '../log.js';
import type { AccessDeps } from './accessDeps.js';
import { parseResourceEvent } from './resourceEvent.js';
import { reconcileResource, type ReconcileResult } from './reconcile.js';
import { isWorkloadResource, reconcileWorkloadIdentity } from '../workload/reconcileWorkloadIdentity.js';
import { hasWorkloadDeps } from '../workload/workloadDeps.js';

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
      if (!hasWorkloadDeps(deps) || !isWorkloadResource(event.resourceId)) {
        const result = await reconcileResource(deps, event.resourceId, options);
        // A registry event also drives its pull credentials (acr-pull-credential), from the same read.
        if (result.registry && deps.onRegistryChanged) {
          const { resource } = result.registry;
          await deps.onRegistryChanged(resource ?? { id: result.resourceId, deleted: true }, options);
        }
        return result;
      }
      // Identities and clusters also carry workload identity (docs/workload-identity.md): run both, then rethrow the first retry.
      const [access, workload] = await Promise.allSettled([
        reconcileResource(deps, event.resourceId, options),
        reconcileWorkloadIdentity(deps, event.resourceId, options),
      ]);
      if (access.status === 'rejected') throw access.reason;
      if (workload.status === 'rejected') throw workload.reason;
      return access.value;
    }
  }
}
