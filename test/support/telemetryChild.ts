/**
 * Run as a child process by test/integration/status/telemetry.test.ts (it needs NODE_EXTRA_CA_CERTS
 * at start-up to trust the loopback "Application Insights"): starts the app's telemetry from the
 * environment, counts two decisions as the audit wrapper would, flushes, and prints what the
 * in-process reader saw.
 */
import { metrics } from '@opentelemetry/api';
import { inProcessMetrics, startTelemetry } from '../../src/azure/telemetry.js';
import { countDecision } from '../../src/audit/decisionMetrics.js';
import { readMetrics } from '../../src/metrics/readout.js';

const mode = await startTelemetry(process.env);
countDecision({ action: 'grant', outcome: 'granted' });
countDecision({ action: 'rotate', outcome: 'failed', errorCode: 'Authorization_RequestDenied' });
const local = await readMetrics(inProcessMetrics);
await (metrics.getMeterProvider() as unknown as { forceFlush(): Promise<void> }).forceFlush();
process.stdout.write(`${JSON.stringify({ mode, local })}\n`);
process.exit(0);
