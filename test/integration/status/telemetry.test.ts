/**
 * Issue 18.3: with APPLICATIONINSIGHTS_CONNECTION_STRING set, the app's counters leave the process
 * through `@azure/monitor-opentelemetry` as Application Insights metric envelopes (and stay readable
 * in process for the status page). A loopback HTTPS server stands in for the ingestion endpoint's
 * `POST /v2.1/track` (the exporter refuses plain http), trusted by the child through
 * NODE_EXTRA_CA_CERTS; the envelopes are `MetricData` with the attributes as `properties`
 * (https://learn.microsoft.com/azure/azure-monitor/app/api-custom-events-metrics#trackmetric).
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTls } from '../../../emulator/core/tls.js';
import { METRIC_NAMES } from '../../../src/metrics/names.js';
import { REPO_ROOT } from '../../support/hostProcess.js';

interface Envelope {
  readonly name?: string;
  readonly data?: {
    baseType?: string;
    baseData?: { metrics?: Array<{ name: string; value: number }>; properties?: Record<string, string> };
  };
}
const received: Envelope[] = [];
const paths: string[] = [];
let server: Server;
let port = 0;
let caCertPath = '';

beforeAll(async () => {
  const tls = await createTls();
  caCertPath = tls.caCertPath;
  server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url}`);
      const body = Buffer.concat(chunks);
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body).toString('utf8') : body.toString('utf8');
      try {
        const parsed = JSON.parse(text) as Envelope | Envelope[];
        received.push(...(Array.isArray(parsed) ? parsed : [parsed]));
      } catch {
        // Not JSON: nothing to count.
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((done) => server?.close(() => done()));
});

it('exports decision and rotation counters to Application Insights when its connection string is set', { timeout: 60_000 }, async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'test/support/telemetryChild.ts'],
      {
        cwd: REPO_ROOT,
        timeout: 45_000,
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: caCertPath,
          APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
          // Statsbeat (the SDK's own usage telemetry) would go to Microsoft: off.
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
        },
      },
      (error, out) => (error ? reject(error) : resolve(out)),
    );
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
    mode: string;
    local: { decisions: Record<string, number>; rotations: Record<string, number> };
  };
  expect(result.mode).toBe('application-insights');
  expect(result.local.decisions).toMatchObject({ granted: 1, failed: 1 });
  expect(result.local.rotations).toMatchObject({ failed: 1 });

  expect(paths).toContain('POST /v2.1/track');
  const points = received
    .filter((e) => e.data?.baseType === 'MetricData')
    .flatMap((e) =>
      (e.data!.baseData!.metrics ?? []).map((m) => ({ name: m.name, value: m.value, properties: e.data!.baseData!.properties ?? {} })),
    );
  expect(points).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        name: METRIC_NAMES.decisions,
        value: 1,
        properties: expect.objectContaining({ outcome: 'granted', action: 'grant' }),
      }),
      expect.objectContaining({
        name: METRIC_NAMES.rotations,
        value: 1,
        properties: expect.objectContaining({ outcome: 'failed', errorCode: 'Authorization_RequestDenied' }),
      }),
    ]),
  );
});
