// An alert on one Event Grid system topic's dead-lettered events, in the topic's own resource group
// (the topics live in every watched subscription), notifying the action group of alerts.bicep.
// Events Event Grid gave up on (30 attempts within a day) land in the dead-letter container; the
// sweep catches their effect, but a person should know why they were not delivered.
// Metric: https://learn.microsoft.com/azure/event-grid/monitor-event-grid-reference (DeadLetteredCount)
// Rule shape: https://learn.microsoft.com/azure/templates/microsoft.insights/2018-03-01/metricalerts

param systemTopicName string
param actionGroupId string
param tags object = {}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: systemTopicName
}

resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${systemTopicName}-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dead-lettered events of ${systemTopicName}: they were never delivered to the app. The blobs are in the eventgrid-deadletter container of the app\'s storage account; the reconciliation sweep settles what they asked for.'
    severity: 2
    enabled: true
    scopes: [systemTopic.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DeadLetteredCount'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}
