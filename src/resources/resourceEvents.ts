/**
 * The resource-event use case: one delivered event → parse → audit a skip or a rejection, or
 * reconcile the resource it names with every feature registered for its type. Never throws for bad
 * or unwanted input (Event Grid would retry it forever); throws only what redelivery can fix
 * (TransientAzureError, NotReadyError).
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { reconcileChangedResource, type ChangedResourceResult, type ResourcesDeps } from './changedResource.js';
import { parseResourceEvent } from './resourceEvent.js';
import { withArmPriority } from '../azure/armPacing.js';

/**
 * How long one event's ARM requests may wait for their turns in all: Event Grid waits 30 s for an
 * answer (https://learn.microsoft.com/azure/event-grid/delivery-and-retry) and redelivers after that
 * whatever happens, so a longer wait buys nothing; 5 s are left for the work itself.
 */
export const EVENT_PACING_BUDGET_MS = 25_000;

/** Handles one delivered resource event (Event Grid schema or CloudEvents). */
export async function handleResourceEvent(
  deps: ResourcesDeps & { readonly config: Pick<Config, 'watchedSubscriptions'> },
  input: unknown,
  log: Logger,
): Promise<ChangedResourceResult | undefined> {
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
      return withArmPriority(
        event.eventTime ? Date.parse(event.eventTime) : Date.now(),
        () => reconcileChangedResource(deps, event.resourceId, options),
        { deadline: Date.now() + EVENT_PACING_BUDGET_MS },
      );
    }
  }
}
