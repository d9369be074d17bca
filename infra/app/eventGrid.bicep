// Resource events of one watched subscription → the resourceEvents function.
// A system topic of type Microsoft.Resources.Subscriptions (location 'global', in a resource group
// of that subscription) and one event subscription filtered to exactly the event types and
// `data.operationName` values the handler handles (infra/generated/resourceEventSubscription.json,
// from src/access/eventSubscription.ts). Undeliverable events go to a blob container, written with
// the topic's own identity because the storage account accepts no keys.
//
// The event subscription is created only once the function exists (eventSubscriptionEnabled):
// Event Grid rejects an Azure Function endpoint whose function isn't deployed yet. See the
// postdeploy hook in azure.yaml.

@description('Subscription id whose resource events are delivered.')
param watchedSubscriptionId string

param systemTopicName string

@description('Resource id of the Function App.')
param functionAppId string

param deadLetterStorageAccountId string
param deadLetterContainerName string
param eventSubscriptionEnabled bool
param tags object = {}

var subscriptionFilter = loadJsonContent('../generated/resourceEventSubscription.json')

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: '/subscriptions/${watchedSubscriptionId}'
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource resourceEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (eventSubscriptionEnabled) {
  parent: systemTopic
  name: 'acr-pull-resource-events'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${subscriptionFilter.functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: subscriptionFilter.includedEventTypes
      advancedFilters: subscriptionFilter.advancedFilters
    }
    // At least once, within a day: the handler is idempotent and the reconciliation sweep
    // (RECONCILE_SCHEDULE) catches whatever still falls through.
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output systemTopicName string = systemTopic.name
output principalId string = systemTopic.identity.principalId
