/**
 * Event Grid trigger for ARM resource events (the list in src/access/eventSubscription.ts).
 * A throw means "redeliver": only transient and not-ready errors escape.
 */
import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import { RESOURCE_EVENTS_FUNCTION } from '../access/eventSubscription.js';
import { handleResourceEvent } from '../resources/resourceEvents.js';
import { getDeps } from '../deps.js';
import { invocationLogger } from '../log.js';
import { recordEventToDecision } from '../audit/decisionMetrics.js';

export async function resourceEvents(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const log = invocationLogger(context, { eventId: (event as { id?: unknown }).id });
  const result = await handleResourceEvent(getDeps(), event, log);
  // Event Grid schema names it eventTime, CloudEvents time.
  if (result) recordEventToDecision((event as { eventTime?: string }).eventTime ?? (event as { time?: string }).time);
}

app.eventGrid(RESOURCE_EVENTS_FUNCTION, { handler: resourceEvents });
