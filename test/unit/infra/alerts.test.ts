/**
 * Issue 18.2: `azd up` creates the alert rules and an action group that e-mails the address in
 * ALERT_EMAIL. Bicep cannot be compiled here, so the files are read as text. Each query's names
 * are held to the code that writes them (the e2e test test/e2e/alerts.test.ts runs them over a
 * real run's output).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_CONTAINER } from '../../../src/azure/deadLetters.js';
import { CREDENTIAL_ATTENTION_MESSAGE } from '../../../src/api/status/credentialAttention.js';
import { METRIC_ATTRIBUTES, METRIC_NAMES } from '../../../src/metrics/names.js';
import { filterRows, logAlertRules, ruleNamed, tableOf } from '../../support/alertQueries.js';
import { readInfra, stripComments } from './bicep.js';

const files = readInfra();
const alerts = stripComments(files.get('app/alerts.bicep') ?? '');
const main = stripComments(files.get('main.bicep') ?? '');

describe('alert rules (infra/app/alerts.bicep)', () => {
  it('are a module of main.bicep, fed the Application Insights id and the e-mail parameter', () => {
    expect(main).toMatch(/param alertEmail string = ''/);
    expect(JSON.parse(readFileSync('infra/main.parameters.json', 'utf8')).parameters.alertEmail).toEqual({ value: '${ALERT_EMAIL=}' });
    const module = /module alerts 'app\/alerts\.bicep' = \{([\s\S]*?)\n\}/.exec(main)?.[1] ?? '';
    expect(module).toContain('applicationInsightsId: monitoring.outputs.applicationInsightsId');
    expect(module).toContain('alertEmail: alertEmail');
  });

  it('e-mail the on-call address through one action group, with the common alert schema', () => {
    expect(alerts).toMatch(/resource actionGroup 'Microsoft\.Insights\/actionGroups@[\d-]+' = \{/);
    expect(alerts).toMatch(/emailAddress: alertEmail/);
    expect(alerts).toMatch(/useCommonAlertSchema: true/);
    expect(alerts).toMatch(/actionGroups: \[actionGroup\.id\]/);
  });

  it('cover the four conditions of the issue, each a log alert on Application Insights', () => {
    expect(
      logAlertRules()
        .map((r) => r.name)
        .sort(),
    ).toEqual(['credential-needs-attention', 'invocations-failing', 'missing-permission', 'rotation-failed']);
    expect(alerts).toMatch(/scheduledQueryRules@2023-12-01/);
    expect(alerts).toMatch(/scopes: \[applicationInsightsId\]/);
  });

  it('query the metric names and attributes src/metrics/names.ts exports', () => {
    for (const name of ['rotation-failed', 'missing-permission']) {
      const { query } = ruleNamed(name);
      expect(tableOf(query)).toBe('customMetrics');
      const metric = /where name == "([^"]+)"/.exec(query)?.[1];
      expect(Object.values(METRIC_NAMES)).toContain(metric);
      for (const [, key] of query.matchAll(/customDimensions\["(\w+)"\]/g)) expect(Object.values(METRIC_ATTRIBUTES)).toContain(key);
    }
    expect(ruleNamed('rotation-failed').query).toContain(`name == "${METRIC_NAMES.rotations}"`);
    expect(ruleNamed('missing-permission').query).toContain(`name == "${METRIC_NAMES.decisions}"`);
  });

  it('match the credential warning by the message the rotation timer logs', () => {
    const { query } = ruleNamed('credential-needs-attention');
    expect(tableOf(query)).toBe('traces');
    expect(query).toContain(`tostring(line.message) == "${CREDENTIAL_ATTENTION_MESSAGE}"`);
  });

  it('count failed invocations from the Functions host requests, by function', () => {
    const { query } = ruleNamed('invocations-failing');
    expect(tableOf(query)).toBe('requests');
    // Application Insights' requests columns: https://learn.microsoft.com/azure/azure-monitor/reference/tables/apprequests (success, operation_Name).
    const rows = [
      { success: false, operation_Name: 'resourceEvents' },
      { success: true, operation_Name: 'resourceEvents' },
    ];
    expect(filterRows(query, rows)).toEqual([{ success: false, operation_Name: 'resourceEvents' }]);
  });

  it('alert on Event Grid dead-lettered events beside every system topic: each watched subscription and the Key Vault', () => {
    const alert = stripComments(files.get('app/deadLetterAlert.bicep') ?? '');
    expect(alert).toMatch(/resource deadLetterAlert 'Microsoft\.Insights\/metricAlerts@2018-03-01'/);
    expect(alert).toContain("metricNamespace: 'Microsoft.EventGrid/systemTopics'");
    expect(alert).toContain("metricName: 'DeadLetteredCount'");
    expect(alert).toMatch(/scopes: \[systemTopic\.id\]/);
    expect(alert).toMatch(/actionGroupId: actionGroupId/);
    const perSubscription =
      /module resourceEventsDeadLetterAlerts 'app\/deadLetterAlert\.bicep' = \[\s*for \(id, i\) in watchedSubscriptionIds: \{([\s\S]*?)\n\]/.exec(
        main,
      )?.[1] ?? '';
    expect(perSubscription).toContain('systemTopicName: resourceEvents[i].outputs.systemTopicName');
    expect(perSubscription).toContain('actionGroupId: alerts.outputs.actionGroupId');
    // In the topic's own resource group, as app/eventGrid.bicep is deployed.
    expect(perSubscription).toContain(
      'scope: resourceGroup(id, id == homeSubscriptionId ? homeResourceGroupName : eventsResourceGroupName)',
    );
    expect(main).toMatch(
      /module keyVaultEventsDeadLetterAlert 'app\/deadLetterAlert\.bicep' = \{[\s\S]*?systemTopicName: keyVaultEvents\.outputs\.systemTopicName/,
    );
  });

  it('dead-letter into the container health and the status page count (src/azure/deadLetters.ts)', () => {
    expect(main).toContain(`var deadLetterContainerName = '${DEAD_LETTER_CONTAINER}'`);
  });
});
