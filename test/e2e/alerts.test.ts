/**
 * Issue 18.2, "Done when": each alert rule's query is tested against what the app really writes.
 * The run, through the local host: a registry enrols by tag; the app loses its Microsoft Graph
 * permission (as when the post-provision step was never run); 85 days pass, so Key Vault's
 * SecretNearExpiry arrives and the rotation timer fires, and both rotations fail for the missing
 * permission. Then:
 * - "rotation-failed" and "missing-permission" (customMetrics) find the metric points the app's
 *   counters derive from the audit rows it wrote (`decisionAttributes`, the wrapper's own function);
 * - "credential-needs-attention" (traces) finds the warning line the timer printed, whose JSON is
 *   what Application Insights stores in `message`.
 * A renamed metric, attribute, log field or message makes a query find nothing here.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { METRIC_NAMES } from '../../src/metrics/names.js';
import { decisionAttributes, ROTATE_ACTION, rotationAttributes } from '../../src/audit/decisionMetrics.js';
import { filterRows, ruleNamed, tableOf, type Row } from '../support/alertQueries.js';
import { aRegistryBody, API_VERSIONS, CREDENTIAL_TAGS, startCredentialsStack, type CredentialsStack } from '../support/e2eCredentials.js';

let s: CredentialsStack;
beforeAll(async () => {
  s = await startCredentialsStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

/** What the exporter sends for each audit row the counters saw (the wrapper's own attribute functions): Application Insights' customMetrics rows. */
function metricRows(audit: readonly { action: string; outcome: string; errorCode?: string }[]): Row[] {
  const toDimensions = (attributes: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)]));
  return audit.flatMap((row) => {
    const attributes = decisionAttributes(row as Parameters<typeof decisionAttributes>[0]);
    const rows: Row[] = [{ name: METRIC_NAMES.decisions, valueSum: 1, customDimensions: toDimensions(attributes) }];
    const rotation = rotationAttributes(row as Parameters<typeof rotationAttributes>[0]);
    if (rotation) rows.push({ name: METRIC_NAMES.rotations, valueSum: 1, customDimensions: toDimensions(rotation) });
    return rows;
  });
}

it('finds a failed rotation, the missing Graph permission and a credential near expiry in the output of a real run', {
  timeout: 180_000,
}, async () => {
  const rg = s.rgId('rg-alerts');
  await s.put(rg, API_VERSIONS.resourceGroup, { location: 'westeurope' });
  const registry = `${rg}/providers/Microsoft.ContainerRegistry/registries/acralerts`;
  await s.put(registry, API_VERSIONS.registry, aRegistryBody({ [CREDENTIAL_TAGS.vault]: s.vaultName }));
  await s.idle();

  // The app loses Application.ReadWrite.OwnedBy: Graph answers 403 Authorization_RequestDenied.
  await s.admin('POST', '/seed', { graph: { permissions: { [s.stack.endpoints.app!.objectId]: [] } } });
  await s.advanceDays(85);
  await s.fireRotationTimer();

  const audit = await s.audit(registry);
  const failedRotations = audit.filter((r) => r.action === ROTATE_ACTION && r.outcome === 'failed');
  expect(failedRotations.length).toBeGreaterThan(0);
  const metrics = metricRows(audit);

  // Rotation failed: the query keeps the failed rotations' points, and nothing else.
  const rotationFailed = ruleNamed('rotation-failed');
  expect(tableOf(rotationFailed.query)).toBe('customMetrics');
  const found = filterRows(rotationFailed.query, metrics);
  expect(found.length).toBe(failedRotations.length);
  expect(found.every((r) => r['name'] === METRIC_NAMES.rotations)).toBe(true);
  expect(filterRows(rotationFailed.query, metricRows(audit.filter((r) => r.outcome !== 'failed')))).toEqual([]);

  // Missing permission: Graph's refusal is among the codes the query names.
  const missing = filterRows(ruleNamed('missing-permission').query, metrics);
  expect(missing.map((r) => r.customDimensions?.['errorCode'])).toContain('Authorization_RequestDenied');

  // Credential near expiry without a successful rotation: the timer's warning line, as Application Insights stores it.
  const traces: Row[] = s.stack.host.logs().map((l) => ({ message: l.message }));
  const attention = filterRows(ruleNamed('credential-needs-attention').query, traces);
  expect(attention).toHaveLength(1);
  const line = JSON.parse(String(attention[0]!['message'])) as Record<string, unknown>;
  expect(line).toMatchObject({ registryName: 'acralerts', status: 'degraded', level: 'warning' });
  expect(String(line['problem'])).toMatch(/expires in 5 days without a successful rotation/);
});
