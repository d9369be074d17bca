// A custom role for pointing a consumer's own pull configuration at its managed identity (issue 19,
// src/access/consumerWiring.ts), which none of the app's other roles include:
// - a Container App's `properties.configuration.registries` entry { server, identity } — a PATCH of
//   the app (src/azure/containerApps.ts): Microsoft.App/containerApps/read and /write;
// - a site's `config/web` acrUseManagedIdentityCreds / acrUserManagedIdentityID — a GET and PATCH of
//   sites/config (src/azure/siteConfig.ts): Microsoft.Web/sites/config/read and /write.
// No finer action exists: containerApps/write could change the app's image or secrets, sites/config/write
// any site setting. The code sends only the registries list (others' entries passed back as read) and
// those two settings; docs/security.md says so. Never the list actions that return secrets
// (Microsoft.App/containerApps/listSecrets/action, Microsoft.Web/sites/config/list/action).
// Actions: https://learn.microsoft.com/azure/role-based-access-control/permissions/containers#microsoftapp
// and https://learn.microsoft.com/azure/role-based-access-control/permissions/web-and-mobile#microsoftweb
// One definition, created in the deployment's subscription and assignable in every watched one;
// watchedScopeAccess.bicep assigns it there.
targetScope = 'subscription'

@description('azd environment name: custom role names are unique per tenant.')
param environmentName string

@description('Ids of the subscriptions the app watches and acts on.')
param watchedSubscriptionIds array

var actions = [
  'Microsoft.App/containerApps/read'
  'Microsoft.App/containerApps/write'
  'Microsoft.Web/sites/config/read'
  'Microsoft.Web/sites/config/write'
]

resource consumerPullConfig 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'acr-pull-automation-consumer-pull-config')
  properties: {
    roleName: 'acr-pull-automation consumer pull settings (${environmentName})'
    description: 'Read Container Apps and site configurations, and point their registry pull at their own managed identity (az containerapp registry set --identity, acrUseManagedIdentityCreds).'
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for id in watchedSubscriptionIds: '/subscriptions/${id}']
  }
}

@description('The role definition GUID, the same in every assignable subscription.')
output roleDefinitionGuid string = consumerPullConfig.name
