/**
 * Event subscription filters, as Event Grid evaluates them: includedEventTypes, subject
 * prefix/suffix and advanced filters (string comparisons are case-insensitive).
 * https://learn.microsoft.com/azure/event-grid/event-filtering
 */
import type { GridEvent } from '../core/contract.js';

export interface AdvancedFilter {
  readonly operatorType: 'StringIn' | 'StringNotIn' | 'StringBeginsWith' | 'StringEndsWith' | 'StringContains';
  readonly key: string;
  readonly values: readonly string[];
}

export interface EventFilter {
  readonly includedEventTypes?: readonly string[];
  readonly subjectBeginsWith?: string;
  readonly subjectEndsWith?: string;
  readonly advancedFilters?: readonly AdvancedFilter[];
}

/** `data.operationName` → the value at that dotted path; top-level keys (`subject`, `eventType`) too. */
export function valueAt(event: GridEvent, key: string): unknown {
  let cur: unknown = event;
  for (const part of key.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function matchesAdvanced(f: AdvancedFilter, event: GridEvent): boolean {
  const raw = valueAt(event, f.key);
  const v = raw === undefined || raw === null ? undefined : String(raw).toLowerCase();
  const values = f.values.map((x) => x.toLowerCase());
  switch (f.operatorType) {
    case 'StringIn':
      return v !== undefined && values.includes(v);
    case 'StringNotIn':
      return v === undefined || !values.includes(v);
    case 'StringBeginsWith':
      return v !== undefined && values.some((x) => v.startsWith(x));
    case 'StringEndsWith':
      return v !== undefined && values.some((x) => v.endsWith(x));
    case 'StringContains':
      return v !== undefined && values.some((x) => v.includes(x));
  }
}

/** Whether the event passes every filter of the subscription. */
export function matchesFilter(filter: EventFilter, event: GridEvent): boolean {
  if (filter.includedEventTypes?.length && !filter.includedEventTypes.some((t) => t.toLowerCase() === event.eventType.toLowerCase()))
    return false;
  if (filter.subjectBeginsWith && !event.subject.toLowerCase().startsWith(filter.subjectBeginsWith.toLowerCase())) return false;
  if (filter.subjectEndsWith && !event.subject.toLowerCase().endsWith(filter.subjectEndsWith.toLowerCase())) return false;
  return (filter.advancedFilters ?? []).every((f) => matchesAdvanced(f, event));
}

/** The CloudEvents 1.0 form of an Event Grid event, as Event Grid maps it. */
export function toCloudEvent(e: GridEvent): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: e.eventType,
    source: e.topic,
    subject: e.subject,
    id: e.id,
    time: e.eventTime,
    data: e.data,
    datacontenttype: 'application/json',
    dataschema: e.dataVersion,
  };
}
