// Alert rules that wake the right person, and the action group that e-mails them (issue 18.2).
//
// The log alerts query what the app really writes to Application Insights:
// - `customMetrics`: the OpenTelemetry counters of src/metrics/names.ts (name `acrpull.*`, the
//   attributes in `customDimensions`), counted from every audit row the app records;
// - `traces`: the app's structured log lines (src/log.ts), one JSON object in `message`;
// - `requests`: the Functions host's record of each invocation.
// test/unit/infra/alerts.test.ts checks each query's names and values against the metric
// attributes, log lines and audit rows a real run of the app produces, so renaming a field breaks
// a test, not the alert.
// Rule shape: https://learn.microsoft.com/azure/templates/microsoft.insights/2023-12-01/scheduledqueryrules
// Dead-lettered events: app/deadLetterAlert.bicep, beside each Event Grid system topic.

param namePrefix string
param location string
param tags object = {}
param applicationInsightsId string
@description('Who gets the e-mails; empty creates the rules and an action group without a receiver.')
param alertEmail string = ''

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'acrpull'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'on-call'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

// One log alert per condition: fires when its query returns a row in the window.
var logAlerts = [
  {
    name: 'rotation-failed'
    displayName: 'acr-pull-automation: a pull-credential rotation failed'
    description: 'A rotation of a registry pull password ended in failure (timer, Key Vault near-expiry event or rotate-now). The password Key Vault serves still works; see the failed audit rows and /api/status.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: '''
customMetrics
| where name == "acrpull.rotations"
| where tostring(customDimensions["outcome"]) == "failed"
| summarize failures = sum(valueSum) by errorCode = tostring(customDimensions["errorCode"])
| where failures > 0
'''
  }
  {
    name: 'credential-needs-attention'
    displayName: 'acr-pull-automation: a pull credential is close to expiry without a successful rotation'
    description: 'After the rotation timer ran, a pull credential is expired, within 7 days of expiry without a successful rotation, more than a day overdue, or never proven. Consumers using it stop pulling when it expires.'
    severity: 1
    // The rotation timer runs daily (ROTATION_SCHEDULE): look back over a day and a bit.
    windowSize: 'P1D'
    evaluationFrequency: 'PT1H'
    query: '''
traces
| where message has "pull credential needs attention"
| extend line = parse_json(message)
| where tostring(line.message) == "pull credential needs attention"
| project timestamp, registry = tostring(line.registryId), problem = tostring(line.problem), status = tostring(line.status)
| summarize arg_max(timestamp, *) by registry
'''
  }
  {
    name: 'missing-permission'
    displayName: 'acr-pull-automation: a Graph or RBAC permission is missing'
    description: 'Azure refused the app for lack of a permission: ARM AuthorizationFailed (an RBAC role or its condition), Microsoft Graph Authorization_RequestDenied (Application.ReadWrite.OwnedBy not granted: run the post-provision step) or Key Vault Forbidden.'
    severity: 1
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: '''
customMetrics
| where name == "acrpull.decisions"
| where tostring(customDimensions["errorCode"]) in ("AuthorizationFailed", "Authorization_RequestDenied", "Forbidden")
| summarize refusals = sum(valueSum) by errorCode = tostring(customDimensions["errorCode"]), action = tostring(customDimensions["action"])
| where refusals > 0
'''
  }
  {
    name: 'invocations-failing'
    displayName: 'acr-pull-automation: function invocations are failing'
    description: 'Invocations of the app\'s functions failed (an Event Grid delivery that will be retried, a timer run, or an HTTP request answered 5xx). Several in a row usually mean Azure or the app\'s settings are broken: check /api/health.'
    severity: 2
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
    query: '''
requests
| where success == false
| summarize failures = count() by operation_Name
| where failures >= 3
'''
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in logAlerts: {
    name: 'alert-${namePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [applicationInsightsId]
      evaluationFrequency: rule.evaluationFrequency
      windowSize: rule.windowSize
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [actionGroup.id]
      }
    }
  }
]

output actionGroupId string = actionGroup.id
output ruleNames array = [for (rule, i) in logAlerts: logAlertRules[i].name]
