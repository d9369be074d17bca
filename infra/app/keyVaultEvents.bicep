// Key Vault's SecretNearExpiry events of the credentials vault → the rotation function, so a
// pull password about to expire is rotated even if the timer missed it. Same delivery rules as
// the resource events (eventGrid.bicep): retries, dead letters with the topic's identity, and
// the event subscription only once the function exists.

param systemTopicName string
param keyVaultName string
param location string

@description('Resource id of the Function App.')
param functionAppId string

param deadLetterStorageAccountId string
param deadLetterContainerName string
param eventSubscriptionEnabled bool
param tags object = {}

// Function name and event types, generated from src/functions/rotateCredentials.ts.
var subscriptionFilter = loadJsonContent('../generated/keyVaultEventSubscription.json')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource secretNearExpiry 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (eventSubscriptionEnabled) {
  parent: systemTopic
  name: 'acr-pull-secret-near-expiry'
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
    }
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
