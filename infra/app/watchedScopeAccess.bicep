// The app identity's roles on one watched subscription — all it needs to act there, and no more:
// - Reader: read resources, their tags and identities, role assignments, Resource Graph.
// - Role Based Access Control Administrator, with an ABAC condition: it may create and delete
//   only assignments of the roles the enabled features grant (infra/generated/assignableRoles.json,
//   from src/policy/roles.ts): the registry roles always, Key Vault Secrets User only when
//   workload identity is on. And only to service principals (managed identities and the pull
//   applications). It can't grant itself or anyone else anything else. ABAC conditions on role
//   assignments can't test the scope, so the code decides where (docs/security.md).
//   Condition format: https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-examples#example-constrain-roles-and-principal-types
// - Managed Identity Contributor, only when workload identity is on: federated identity
//   credentials on user-assigned identities.
// - The ACR task credentials custom role (taskCredentialRole.bicep): read tasks and set their
//   custom-registry credential, nothing else.
// - The consumer pull settings custom role (consumerPullConfigRole.bicep): a Container App's registry
//   entry and a site's acrUseManagedIdentityCreds.
targetScope = 'subscription'

param principalId string

@description('GUID of the ACR task credentials custom role (taskCredentialRole.bicep), assignable in this subscription.')
param taskCredentialRoleGuid string

@description('GUID of the consumer pull settings custom role (consumerPullConfigRole.bicep), assignable in this subscription.')
param consumerPullConfigRoleGuid string

@description('Whether the workload identity feature (federated credentials) is on.')
param workloadIdentityEnabled bool

var roles = {
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
  roleBasedAccessControlAdministrator: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168'
  managedIdentityContributor: 'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59'
}

var assignableRoles = loadJsonContent('../generated/assignableRoles.json')
// Key Vault Secrets User is assignable only while the feature that assigns it is on.
var assignableRoleIds = workloadIdentityEnabled ? concat(assignableRoles.registryAccessRoleDefinitionIds, assignableRoles.workloadIdentityRoleDefinitionIds) : assignableRoles.registryAccessRoleDefinitionIds
var roleIdSet = '{${join(assignableRoleIds, ', ')}}'
// Writes are checked against the request, deletes against the existing assignment (@Resource).
var assignableRolesCondition = '((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/write\'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${roleIdSet} AND @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'})) AND ((!(ActionMatches{\'Microsoft.Authorization/roleAssignments/delete\'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${roleIdSet} AND @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {\'ServicePrincipal\'}))'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roles.reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'acr-pull-automation: read resources, tags, identities and role assignments'
  }
}

resource roleAssignmentWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roles.roleBasedAccessControlAdministrator)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.roleBasedAccessControlAdministrator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: workloadIdentityEnabled ? 'acr-pull-automation: grant and revoke only the registry roles and Key Vault Secrets User, only to service principals' : 'acr-pull-automation: grant and revoke only the registry roles, only to service principals'
    conditionVersion: '2.0'
    condition: assignableRolesCondition
  }
}

resource identityContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (workloadIdentityEnabled) {
  name: guid(subscription().id, principalId, roles.managedIdentityContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.managedIdentityContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'acr-pull-automation: federated identity credentials for AKS workload identity'
  }
}

resource taskCredentials 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, taskCredentialRoleGuid)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', taskCredentialRoleGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'acr-pull-automation: set the custom-registry credentials of ACR tasks to their identity'
  }
}

resource consumerPullConfig 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, consumerPullConfigRoleGuid)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', consumerPullConfigRoleGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'acr-pull-automation: point Container App registry entries and site acrUseManagedIdentityCreds at their own identity'
  }
}
