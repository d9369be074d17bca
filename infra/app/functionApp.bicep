// The Function App on Flex Consumption (Linux, Node 20, Functions v4) with a system-assigned
// identity. Host storage, the deployment package and the app's tables are all reached with that
// identity: no connection strings, no keys.
//
// App settings: every setting src/config.ts requires, plus the ones this deployment decides
// (test/unit/infra/infra.test.ts holds this list to `SETTINGS`). FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION are not app settings on Flex Consumption: functionAppConfig.runtime
// says node 20, and Flex Consumption only runs Functions v4.

param name string
param planName string
param location string
param tags object = {}

@description('azd service name in azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string = 'api'

param storageAccountName string
param storageBlobEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param applicationInsightsConnectionString string

@description('Comma-separated subscription ids the app acts on (WATCHED_SUBSCRIPTIONS).')
param watchedSubscriptions string

@allowed(['none', 'same-resource-group', 'same-subscription', 'any'])
param defaultConsent string

@description('Where user-assigned identities may be federated by their workload tags (WORKLOAD_FEDERATION_SCOPES); empty: none is.')
param workloadFederationScopes string = ''

@description('NCRONTAB (six fields) of the rotation timer.')
param rotationSchedule string

@description('NCRONTAB (six fields) of the reconciliation sweep. The host resolves %RECONCILE_SCHEDULE% from app settings only.')
param reconcileSchedule string

@minValue(32)
@maxValue(730)
param rotationPeriodDays int

@description('Days audit rows are kept (AUDIT_RETENTION_DAYS); the sweep timer deletes older UTC days.')
@minValue(1)
@maxValue(3650)
param auditRetentionDays int

@description('Seconds one sweep run starts new work for (SWEEP_TIME_BUDGET_SECONDS); the next run carries on from where it stopped.')
@minValue(10)
@maxValue(3600)
param sweepTimeBudgetSeconds int = 240

@description('Name of the Key Vault that holds the pull credentials (CREDENTIALS_VAULT_NAMES).')
param keyVaultName string

@description('Microsoft Graph endpoint of the cloud (environment() has no Microsoft Graph entry).')
param graphEndpoint string = 'https://graph.microsoft.com'

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}

// Host settings (AzureWebJobsStorage__*, APPLICATIONINSIGHTS_*) first, then the app's own.
var appSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  AZURE_TENANT_ID: tenant().tenantId
  WATCHED_SUBSCRIPTIONS: watchedSubscriptions
  TABLES__tableServiceUri: storageTableEndpoint
  ACCESS_DEFAULT_CONSENT: defaultConsent
  WORKLOAD_FEDERATION_SCOPES: workloadFederationScopes
  ROTATION_SCHEDULE: rotationSchedule
  RECONCILE_SCHEDULE: reconcileSchedule
  ROTATION_PERIOD_DAYS: string(rotationPeriodDays)
  AUDIT_RETENTION_DAYS: string(auditRetentionDays)
  // How long a credentials run holds a registry (src/config.ts default): a run that died blocks it this long at most.
  CREDENTIALS_LEASE_SECONDS: '300'
  SWEEP_TIME_BUDGET_SECONDS: string(sweepTimeBudgetSeconds)
  ARM_ENDPOINT: environment().resourceManager
  GRAPH_ENDPOINT: graphEndpoint
  AZURE_AUTHORITY_HOST: environment().authentication.loginEndpoint
  // The vault holding every pull password: never a workload-identity target.
  CREDENTIALS_VAULT_NAMES: keyVaultName
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
}

output id string = functionApp.id
output name string = functionApp.name
output principalId string = functionApp.identity.principalId
output defaultHostName string = functionApp.properties.defaultHostName
