// A custom role for the one thing the app's built-in roles don't cover: setting an ACR task's
// custom-registry credential to the task's identity (`az acr task credential add --use-identity`,
// src/azure/acrTasks.ts), which is a PATCH of the task — Microsoft.ContainerRegistry/registries/tasks/write.
// Reader doesn't write; Role Based Access Control Administrator writes role assignments only;
// Contributor would give far more. The PATCH needs no listDetails/action: that action returns the
// task with its secrets (Tasks_GetDetails), which the app never reads.
// Actions: https://learn.microsoft.com/azure/role-based-access-control/permissions/containers#microsoftcontainerregistry
// One definition, created in the deployment's subscription and assignable in every watched one;
// watchedScopeAccess.bicep assigns it there.
targetScope = 'subscription'

@description('azd environment name: custom role names are unique per tenant.')
param environmentName string

@description('Ids of the subscriptions the app watches and acts on.')
param watchedSubscriptionIds array

var actions = [
  'Microsoft.ContainerRegistry/registries/tasks/read'
  'Microsoft.ContainerRegistry/registries/tasks/write'
]

resource taskCredentials 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, 'acr-pull-automation-task-credentials')
  properties: {
    roleName: 'acr-pull-automation ACR task credentials (${environmentName})'
    description: 'Read ACR tasks and set their custom-registry credentials to the task identity (az acr task credential add --use-identity).'
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
output roleDefinitionGuid string = taskCredentials.name
