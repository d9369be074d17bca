// acr-pull-automation on Azure, for `azd up`.
//
// Subscription scope, because the app acts on several subscriptions: the home resource group
// (Function App, storage, Key Vault, monitoring) is created in the deployment's subscription, and
// each watched subscription gets the app identity's roles and an Event Grid system topic (in a
// `<group>-events` resource group there, or in the home group for the home subscription).
// The deploying user therefore needs Owner (or Contributor + Role Based Access Control
// Administrator) on every watched subscription. See docs/deployment.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region of the home resources (must offer Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Name of the home resource group; empty for rg-<environmentName>.')
param resourceGroupName string = ''

@description('Comma-separated ids of the subscriptions the app watches and acts on; empty for the deployment subscription.')
param watchedSubscriptions string = ''

@description('Comma-separated subscriptions (/subscriptions/<id>) and resource groups (/subscriptions/<id>/resourceGroups/<name>) whose user-assigned identities may be federated by their workload tags (WORKLOAD_FEDERATION_SCOPES); empty: none is.')
param workloadFederationScopes string = ''

@allowed(['none', 'same-resource-group', 'same-subscription', 'any'])
@description('What a registry without an acr-pull-allow tag consents to (ACCESS_DEFAULT_CONSENT).')
param defaultConsent string = 'none'

@description('NCRONTAB schedule (six fields, seconds first) of the credential rotation timer (ROTATION_SCHEDULE).')
param rotationSchedule string = '0 0 3 * * *'

@description('NCRONTAB schedule (six fields, seconds first) of the reconciliation sweep that catches missed events (RECONCILE_SCHEDULE).')
param reconcileSchedule string = '0 */30 * * * *'

@minValue(32)
@maxValue(730)
@description('Lifetime of a pull password in days (ROTATION_PERIOD_DAYS); at least 32 with the default 24 h grace, as Key Vault announces SecretNearExpiry 30 days before expiry.')
param rotationPeriodDays int = 90

@description('Days audit rows are kept (AUDIT_RETENTION_DAYS); the sweep timer deletes older UTC days.')
@minValue(1)
@maxValue(3650)
param auditRetentionDays int = 90

@description('Seconds one run of the reconciliation sweep starts new work for (SWEEP_TIME_BUDGET_SECONDS); keep it under the function timeout. The next run carries on from where it stopped.')
@minValue(10)
@maxValue(3600)
param sweepTimeBudgetSeconds int = 240

@description('Whether the AKS workload identity feature is on: gives the app Managed Identity Contributor on the watched subscriptions, and lets its role-assignment right assign Key Vault Secrets User (otherwise it can assign only registry roles).')
param workloadIdentityEnabled bool = false

@description('Whether to turn on App Service Authentication with Microsoft Entra ID for the HTTP API: an app registration with the app roles Access.Read and Access.Write, tokens required on every route but the Event Grid webhook and the OpenAPI document. Off: function keys only, and callers are recorded as function-key.')
param apiAuthEnabled bool = true

@description('Object id of the principal given Access.Write on the API; empty for the deploying user (azd passes nothing), "none" for nobody.')
param apiWriterPrincipalId string = ''

@description('Whether to create the Event Grid subscriptions. Off on the first provision: Event Grid refuses an Azure Function endpoint until the code is deployed (the postdeploy hook turns it on).')
param eventSubscriptionsEnabled bool = false

@minValue(7)
@maxValue(90)
@description('Days a deleted credentials vault or secret stays recoverable (purge protection keeps the vault name taken that long).')
param keyVaultSoftDeleteRetentionInDays int = 90

@description('E-mail address the alert rules notify (azd env ALERT_EMAIL); empty creates the rules with no receiver.')
param alertEmail string = ''

var abbrs = {
  resourceGroup: 'rg-'
  functionApp: 'func-'
  plan: 'plan-'
  storage: 'st'
  keyVault: 'kv-'
  logAnalytics: 'log-'
  applicationInsights: 'appi-'
  systemTopic: 'evgt-'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var homeSubscriptionId = toLower(subscription().subscriptionId)
var homeResourceGroupName = !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
var eventsResourceGroupName = '${homeResourceGroupName}-events'
var watchedSubscriptionIds = empty(trim(watchedSubscriptions))
  ? [homeSubscriptionId]
  : map(filter(split(watchedSubscriptions, ','), value => !empty(trim(value))), value => toLower(trim(value)))
var functionAppName = '${abbrs.functionApp}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: homeResourceGroupName
  location: location
  tags: tags
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    applicationInsightsName: '${abbrs.applicationInsights}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storage}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module keyVault 'app/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVault}${resourceToken}'
    location: location
    tags: tags
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
  }
}

module functionApp 'app/functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.plan}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    watchedSubscriptions: join(watchedSubscriptionIds, ',')
    defaultConsent: defaultConsent
    keyVaultName: keyVault.outputs.name
    workloadFederationScopes: workloadFederationScopes
    rotationSchedule: rotationSchedule
    reconcileSchedule: reconcileSchedule
    rotationPeriodDays: rotationPeriodDays
    auditRetentionDays: auditRetentionDays
    sweepTimeBudgetSeconds: sweepTimeBudgetSeconds
  }
}

module apiAuth 'app/apiAuth.bicep' = if (apiAuthEnabled) {
  name: 'apiAuth'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    uniqueName: 'acr-pull-automation-api-${resourceToken}'
    displayName: 'acr-pull-automation API (${environmentName})'
    writerPrincipalId: apiWriterPrincipalId == 'none' ? '' : (empty(apiWriterPrincipalId) ? deployer().objectId : apiWriterPrincipalId)
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
  }
}

module taskCredentialRole 'app/taskCredentialRole.bicep' = {
  name: 'acrpull-task-credential-role'
  params: {
    environmentName: environmentName
    watchedSubscriptionIds: watchedSubscriptionIds
  }
}

module consumerPullConfigRole 'app/consumerPullConfigRole.bicep' = {
  name: 'acrpull-consumer-pull-config-role'
  params: {
    environmentName: environmentName
    watchedSubscriptionIds: watchedSubscriptionIds
  }
}

module watchedScopeAccess 'app/watchedScopeAccess.bicep' = [
  for id in watchedSubscriptionIds: {
    name: 'acrpull-access-${take(id, 36)}'
    scope: subscription(id)
    params: {
      principalId: functionApp.outputs.principalId
      workloadIdentityEnabled: workloadIdentityEnabled
      taskCredentialRoleGuid: taskCredentialRole.outputs.roleDefinitionGuid
      consumerPullConfigRoleGuid: consumerPullConfigRole.outputs.roleDefinitionGuid
    }
  }
]

module eventsResourceGroups 'app/resourceGroup.bicep' = [
  for id in watchedSubscriptionIds: if (id != homeSubscriptionId) {
    name: 'acrpull-events-rg-${take(id, 36)}'
    scope: subscription(id)
    params: {
      name: eventsResourceGroupName
      location: location
      tags: tags
    }
  }
]

module resourceEvents 'app/eventGrid.bicep' = [
  for id in watchedSubscriptionIds: {
    name: 'acrpull-events-${take(id, 36)}'
    scope: resourceGroup(id, id == homeSubscriptionId ? homeResourceGroupName : eventsResourceGroupName)
    dependsOn: [
      rg
      eventsResourceGroups
    ]
    params: {
      watchedSubscriptionId: id
      systemTopicName: '${abbrs.systemTopic}resources-${resourceToken}'
      functionAppId: functionApp.outputs.id
      deadLetterStorageAccountId: storage.outputs.id
      deadLetterContainerName: storage.outputs.deadLetterContainerName
      eventSubscriptionEnabled: eventSubscriptionsEnabled
      tags: tags
    }
  }
]

module resourceEventsDeadLetterAccess 'app/deadLetterAccess.bicep' = [
  for (id, i) in watchedSubscriptionIds: {
    name: 'acrpull-deadletter-${take(id, 36)}'
    scope: rg
    params: {
      principalId: resourceEvents[i].outputs.principalId
      storageAccountName: storage.outputs.name
      deadLetterContainerName: storage.outputs.deadLetterContainerName
    }
  }
]

module keyVaultEvents 'app/keyVaultEvents.bicep' = {
  name: 'keyVaultEvents'
  scope: rg
  params: {
    systemTopicName: '${abbrs.systemTopic}keyvault-${resourceToken}'
    keyVaultName: keyVault.outputs.name
    location: location
    functionAppId: functionApp.outputs.id
    deadLetterStorageAccountId: storage.outputs.id
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    eventSubscriptionEnabled: eventSubscriptionsEnabled
    tags: tags
  }
}

module keyVaultEventsDeadLetterAccess 'app/deadLetterAccess.bicep' = {
  name: 'acrpull-deadletter-keyvault'
  scope: rg
  params: {
    principalId: keyVaultEvents.outputs.principalId
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
  }
}

// Alert rules and the action group that e-mails them (issue 18): rotation failures and credentials
// near expiry, missing permissions, failing invocations; dead-lettered events per system topic.
module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: resourceToken
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    alertEmail: alertEmail
  }
}

module resourceEventsDeadLetterAlerts 'app/deadLetterAlert.bicep' = [
  for (id, i) in watchedSubscriptionIds: {
    name: 'acrpull-deadletter-alert-${take(id, 36)}'
    scope: resourceGroup(id, id == homeSubscriptionId ? homeResourceGroupName : eventsResourceGroupName)
    params: {
      systemTopicName: resourceEvents[i].outputs.systemTopicName
      actionGroupId: alerts.outputs.actionGroupId
      tags: tags
    }
  }
]

module keyVaultEventsDeadLetterAlert 'app/deadLetterAlert.bicep' = {
  name: 'acrpull-deadletter-alert-keyvault'
  scope: rg
  params: {
    systemTopicName: keyVaultEvents.outputs.systemTopicName
    actionGroupId: alerts.outputs.actionGroupId
    tags: tags
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output APP_PRINCIPAL_ID string = functionApp.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TABLES_SERVICE_URI string = storage.outputs.tableEndpoint
output KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output WATCHED_SUBSCRIPTION_IDS string = join(watchedSubscriptionIds, ',')
output API_CLIENT_ID string = apiAuthEnabled ? apiAuth!.outputs.clientId : ''
