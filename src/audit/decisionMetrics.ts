/**
 * The app's metrics, through the OpenTelemetry API: decisions by outcome, rotation outcomes and
 * event-to-decision latency. Where they go is the composition root's choice (src/azure/telemetry.ts):
 * Application Insights on Azure, and always an in-process reader the status page shows. Like every
 * OpenTelemetry metric they are per instance, counted since the instance started.
 *
 * Decisions are counted where they are recorded, the audit trail (`withDecisionMetrics`), so every
 * row — event, sweep, HTTP, rotation — is counted once, and a dry run (which records nothing) is not.
 */
import { metrics, type Attributes, type Counter, type Histogram, type MeterProvider } from '@opentelemetry/api';
import { METER_NAME, METRIC_ATTRIBUTES, METRIC_NAMES } from '../metrics/names.js';
import { AUDIT_OUTCOMES, type AuditEntry, type AuditLog } from './auditLog.js';

/** The audit action of a rotation run (src/credentials). */
export const ROTATE_ACTION = 'rotate';
const ROTATION_ENDS: readonly string[] = [AUDIT_OUTCOMES.rotated, AUDIT_OUTCOMES.failed];

interface Instruments {
  readonly provider: MeterProvider;
  readonly decisions: Counter;
  readonly rotations: Counter;
  readonly eventToDecision: Histogram;
}
let instruments: Instruments | undefined;

/** The instruments of the current global meter provider (made again when telemetry starts after first use). */
function current(): Instruments {
  const provider = metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter(METER_NAME);
  instruments = {
    provider,
    decisions: meter.createCounter(METRIC_NAMES.decisions, {
      description: 'Decisions recorded in the audit trail, by outcome.',
      unit: '{decision}',
    }),
    rotations: meter.createCounter(METRIC_NAMES.rotations, {
      description: 'Pull-credential rotations that ended, by outcome.',
      unit: '{rotation}',
    }),
    eventToDecision: meter.createHistogram(METRIC_NAMES.eventToDecision, {
      description: 'Time from an ARM event to the decisions it caused.',
      unit: 'ms',
    }),
  };
  return instruments;
}

/** The attributes a decision is counted under. */
export function decisionAttributes(entry: Pick<AuditEntry, 'outcome' | 'action' | 'errorCode'>): Attributes {
  return {
    [METRIC_ATTRIBUTES.outcome]: entry.outcome,
    [METRIC_ATTRIBUTES.action]: entry.action,
    ...(entry.errorCode ? { [METRIC_ATTRIBUTES.errorCode]: entry.errorCode } : {}),
  };
}

/** The attributes a rotation is counted under; undefined for a row that does not end a rotation. */
export function rotationAttributes(entry: Pick<AuditEntry, 'outcome' | 'action' | 'errorCode'>): Attributes | undefined {
  if (entry.action !== ROTATE_ACTION || !ROTATION_ENDS.includes(entry.outcome)) return undefined;
  return { [METRIC_ATTRIBUTES.outcome]: entry.outcome, ...(entry.errorCode ? { [METRIC_ATTRIBUTES.errorCode]: entry.errorCode } : {}) };
}

/** Counts one recorded decision (and, for a rotation's end, one rotation). */
export function countDecision(entry: Pick<AuditEntry, 'outcome' | 'action' | 'errorCode'>): void {
  const { decisions, rotations } = current();
  decisions.add(1, decisionAttributes(entry));
  const rotation = rotationAttributes(entry);
  if (rotation) rotations.add(1, rotation);
}

/** Records the time from an event's `eventTime` to now; ignores a missing or unreadable time. */
export function recordEventToDecision(eventTime: string | undefined, now: Date = new Date()): number | undefined {
  const at = eventTime ? Date.parse(eventTime) : NaN;
  if (!Number.isFinite(at)) return undefined;
  const ms = Math.max(0, now.getTime() - at);
  current().eventToDecision.record(ms);
  return ms;
}

/** The audit log, counting every row it records (after it is written: a failed write counts nothing). */
export function withDecisionMetrics(audit: AuditLog): AuditLog {
  return {
    async record(entry) {
      const record = await audit.record(entry);
      countDecision(entry);
      return record;
    },
    query: (query) => audit.query(query),
  };
}
