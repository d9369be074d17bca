/**
 * Where the app's OpenTelemetry metrics go (src/audit/decisionMetrics.ts): with
 * APPLICATIONINSIGHTS_CONNECTION_STRING set (the infra sets it), to Application Insights through
 * `@azure/monitor-opentelemetry`, the distro the Functions docs recommend for Node
 * (https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto); always to an
 * in-process reader that the status page reads. Without the setting (locally) nothing is exported.
 *
 * Only metrics: the Functions host already sends requests and the app's log lines to Application
 * Insights, so the distro's HTTP and Azure SDK instrumentations stay off (no duplicate telemetry,
 * nothing patched at cold start).
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InProcessMetricReader } from '../metrics/readout.js';

/** Read by the status page: this instance's metrics since it started. */
export const inProcessMetrics = new InProcessMetricReader();

export const TELEMETRY_MODES = { applicationInsights: 'application-insights', inProcess: 'in-process' } as const;
export type TelemetryMode = (typeof TELEMETRY_MODES)[keyof typeof TELEMETRY_MODES];

let started: Promise<TelemetryMode> | undefined;

/** Starts metrics once per process; later calls answer the same mode. */
export function startTelemetry(env: Readonly<Record<string, string | undefined>>): Promise<TelemetryMode> {
  started ??= start(env);
  return started;
}

async function start(env: Readonly<Record<string, string | undefined>>): Promise<TelemetryMode> {
  const connectionString = env['APPLICATIONINSIGHTS_CONNECTION_STRING']?.trim();
  if (!connectionString) {
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [inProcessMetrics] }));
    return TELEMETRY_MODES.inProcess;
  }
  // Loaded only here: the distro is most of the bundle's code and a local run never needs it.
  const [{ useAzureMonitor }, { ManagedIdentityCredential }] = await Promise.all([
    import('@azure/monitor-opentelemetry'),
    import('@azure/identity'),
  ]);
  // The infra turns local (key) authentication off: the exporter signs in as the app
  // (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD[;ClientId=<user-assigned id>]).
  const auth = env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'] ?? '';
  const clientId = /(?:^|;)\s*ClientId=([^;]+)/i.exec(auth)?.[1]?.trim();
  const credential = /Authorization=AAD/i.test(auth) ? new ManagedIdentityCredential(clientId ? { clientId } : {}) : undefined;
  const off = { enabled: false };
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
    enableLiveMetrics: false,
    enableStandardMetrics: false,
    instrumentationOptions: {
      http: off,
      azureSdk: off,
      mongoDb: off,
      mySql: off,
      postgreSql: off,
      redis: off,
      redis4: off,
      bunyan: off,
      winston: off,
    },
    metricReaders: [inProcessMetrics],
  });
  return TELEMETRY_MODES.applicationInsights;
}
