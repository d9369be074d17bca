/**
 * An in-process OpenTelemetry metric reader, so the status page (and tests) can read the app's
 * metrics without an exporter: the same instruments and SDK aggregation Application Insights
 * receives, collected on demand. Cumulative since this instance started.
 */
import { DataPointType, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { METER_NAME, METRIC_ATTRIBUTES, METRIC_NAMES } from './names.js';

/** A pull reader: nothing happens until `collect()`. */
export class InProcessMetricReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** What the status page shows of the metrics. */
export interface MetricsSnapshot {
  /** Decisions by outcome (all actions). */
  readonly decisions: Readonly<Record<string, number>>;
  /** Rotations by outcome. */
  readonly rotations: Readonly<Record<string, number>>;
  /** Event-to-decision latency: how many events, their mean and the slowest, in ms. */
  readonly eventToDecision: { readonly count: number; readonly meanMs?: number; readonly maxMs?: number };
}

export const EMPTY_METRICS: MetricsSnapshot = { decisions: {}, rotations: {}, eventToDecision: { count: 0 } };

/** Reads the app's instruments out of collected resource metrics. */
export function toMetricsSnapshot(resourceMetrics: ResourceMetrics): MetricsSnapshot {
  const decisions: Record<string, number> = {};
  const rotations: Record<string, number> = {};
  let count = 0;
  let sum = 0;
  let max: number | undefined;
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== METER_NAME) continue;
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name;
      if (metric.dataPointType === DataPointType.SUM && (name === METRIC_NAMES.decisions || name === METRIC_NAMES.rotations)) {
        const into = name === METRIC_NAMES.decisions ? decisions : rotations;
        for (const point of metric.dataPoints) {
          const outcome = String(point.attributes[METRIC_ATTRIBUTES.outcome] ?? 'unknown');
          into[outcome] = (into[outcome] ?? 0) + point.value;
        }
      } else if (metric.dataPointType === DataPointType.HISTOGRAM && name === METRIC_NAMES.eventToDecision) {
        for (const point of metric.dataPoints) {
          count += point.value.count;
          sum += point.value.sum ?? 0;
          if (point.value.max !== undefined) max = Math.max(max ?? 0, point.value.max);
        }
      }
    }
  }
  return {
    decisions,
    rotations,
    eventToDecision: {
      count,
      ...(count > 0 ? { meanMs: Math.round(sum / count) } : {}),
      ...(max !== undefined && count > 0 ? { maxMs: Math.round(max) } : {}),
    },
  };
}

/** Collects from the reader; a reader not attached to a provider yet reads as no metrics. */
export async function readMetrics(reader: MetricReader): Promise<MetricsSnapshot> {
  try {
    const { resourceMetrics } = await reader.collect();
    return toMetricsSnapshot(resourceMetrics);
  } catch {
    return EMPTY_METRICS;
  }
}
