/**
 * Issue 18.3: counters by decision outcome, rotation outcomes and event-to-decision latency,
 * through the OpenTelemetry SDK as the exporter would receive them, and as the status page reads them.
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog, AuditRecord } from '../../../src/audit/auditLog.js';
import { DecisionRecorder } from '../../../src/audit/decisionRecorder.js';
import { METRIC_NAMES } from '../../../src/metrics/names.js';
import { recordEventToDecision, withDecisionMetrics } from '../../../src/audit/decisionMetrics.js';
import { InProcessMetricReader, readMetrics } from '../../../src/metrics/readout.js';

const reader = new InProcessMetricReader();
beforeAll(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

/** Our own AuditLog interface over an array: the rows the wrapper sees. */
function anAuditLog(fail = false): AuditLog & { rows: AuditRecord[] } {
  const rows: AuditRecord[] = [];
  return {
    rows,
    async record(entry: AuditEntry) {
      if (fail) throw new Error('Table Storage is down');
      const record = { ...entry, id: String(rows.length), time: new Date().toISOString() };
      rows.push(record);
      return record;
    },
    async query() {
      return { items: rows };
    },
  };
}
const log = { info: () => undefined, warn: () => undefined, error: () => undefined, child: () => log };

describe('decision metrics', () => {
  it('counts every recorded decision by outcome, rotations by outcome, and nothing a dry run or a failed write did not record', async () => {
    const before = await readMetrics(reader);
    const audit = withDecisionMetrics(anAuditLog());
    const recorder = new DecisionRecorder(audit, { trigger: { eventId: 'e1' }, log });
    await recorder.decide({ action: 'grant', outcome: 'granted', reason: 'r' });
    await recorder.decide({ action: 'grant', outcome: 'denied-by-consent', reason: 'r' });
    await recorder.fail({ action: 'grant', reason: 'r' }, Object.assign(new Error('no'), { code: 'AuthorizationFailed' }));
    await audit.record({ action: 'rotate', outcome: 'rotated', reason: 'r' });
    await audit.record({ action: 'rotate', outcome: 'failed', reason: 'r', errorCode: 'Forbidden' });
    await audit.record({ action: 'rotate', outcome: 'rotation-step', reason: 'r' });
    // A dry run records nothing, so counts nothing.
    await new DecisionRecorder(audit, { trigger: {}, log, dryRun: true }).decide({ action: 'grant', outcome: 'would-grant', reason: 'r' });
    // A row that could not be written was not decided.
    await expect(withDecisionMetrics(anAuditLog(true)).record({ action: 'grant', outcome: 'granted', reason: 'r' })).rejects.toThrow();

    const after = await readMetrics(reader);
    const delta = (m: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>, k: string) => (m[k] ?? 0) - (b[k] ?? 0);
    expect(
      ['granted', 'denied-by-consent', 'failed', 'rotated', 'rotation-step', 'would-grant'].map((k) =>
        delta(after.decisions, before.decisions, k),
      ),
    ).toEqual([1, 1, 2, 1, 1, 0]);
    expect(['rotated', 'failed'].map((k) => delta(after.rotations, before.rotations, k))).toEqual([1, 1]);
  });

  it('records event-to-decision latency from the event time, and ignores an event without one', async () => {
    const before = (await readMetrics(reader)).eventToDecision.count;
    expect(recordEventToDecision('2026-12-06T12:00:00.000Z', new Date('2026-12-06T12:00:00.250Z'))).toBe(250);
    expect(recordEventToDecision(undefined)).toBeUndefined();
    expect(recordEventToDecision('not a time')).toBeUndefined();
    const after = (await readMetrics(reader)).eventToDecision;
    expect(after.count - before).toBe(1);
    expect(after.maxMs).toBeGreaterThanOrEqual(250);
  });

  it('exports under the names and attributes the alert rules query', async () => {
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name));
    expect(names).toEqual(expect.arrayContaining([METRIC_NAMES.decisions, METRIC_NAMES.rotations, METRIC_NAMES.eventToDecision]));
    const failed = resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .find((m) => m.descriptor.name === METRIC_NAMES.decisions)!
      .dataPoints.find((p) => p.attributes['outcome'] === 'failed' && p.attributes['action'] === 'grant');
    expect(failed?.attributes).toEqual({ outcome: 'failed', action: 'grant', errorCode: 'AuthorizationFailed' });
  });
});
