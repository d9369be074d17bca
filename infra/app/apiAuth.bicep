// App Service Authentication (Easy Auth) with Microsoft Entra ID for the HTTP API (issue 13,
// point 5). Without it, any function-key holder could write the x-ms-client-principal headers and
// name whomever they like; with it, App Service validates a token before the host sees the
// request, strips client-sent principal headers, injects its own, and sets WEBSITE_AUTH_ENABLED,
// which the app reads to trust them and to require each route's app role (src/api/appRoles.ts).
//
// ARM can't create an Entra app registration; the Microsoft Graph Bicep extension can
// (infra/bicepconfig.json, https://learn.microsoft.com/graph/templates/bicep/reference/applications).
// The deploying user needs the right to register applications in the tenant (users have it by
// default unless the tenant restricts it; otherwise Application Developer or Application
// Administrator), or set API_AUTH_ENABLED=false and keep function keys.
//
// Role names and the paths left open come from infra/generated/apiAuth.json, generated from
// src/api/appRoles.ts (test/unit/infra holds them in step).
extension microsoftGraphV1

@description('Name of the Function App whose HTTP API Entra ID protects.')
param functionAppName string

@description('Immutable key of the app registration, so a redeployment updates the same one.')
param uniqueName string

param displayName string

@description('Object id of a principal to give Access.Write (the deploying user, so `azd up` leaves a usable API); empty for none.')
param writerPrincipalId string = ''

var apiAuth = loadJsonContent('../generated/apiAuth.json')
// Azure CLI, preauthorised for the delegated scope so `az account get-access-token` works for people.
var azureCliAppId = '04b07795-8ddb-461a-bbee-02f9e1bf7b46'
var userImpersonationScopeId = '14405be8-1342-49db-b8c2-ed010f199a16'

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  // A person signs in with a browser for the status page (`/.auth/login/aad`): App Service, holding no
  // client secret, takes an ID token (with the user's app roles) at its callback and keeps a session
  // cookie. https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad
  web: {
    redirectUris: [
      'https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback'
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: true
      enableAccessTokenIssuance: false
    }
  }
  api: {
    // v2 tokens: `aud` is the client id and `iss` the v2.0 issuer App Service validates below.
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: [
      {
        id: userImpersonationScopeId
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Call the acr-pull-automation API'
        adminConsentDescription: 'Call the acr-pull-automation API as the signed-in user, within the app roles assigned to them.'
        userConsentDisplayName: 'Call the acr-pull-automation API'
        userConsentDescription: 'Call the acr-pull-automation API as you, within the app roles assigned to you.'
      }
    ]
    preAuthorizedApplications: [
      {
        appId: azureCliAppId
        delegatedPermissionIds: [
          userImpersonationScopeId
        ]
      }
    ]
  }
  appRoles: [
    for role in apiAuth.appRoles: {
      id: role.id
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: [
        'User'
        'Application'
      ]
      isEnabled: true
    }
  ]
  owners: {
    relationships: [
      deployer().objectId
    ]
    relationshipSemantics: 'append'
  }
}

// Only principals assigned one of the app roles can get a token for the API at all.
resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
  appRoleAssignmentRequired: true
  owners: {
    relationships: [
      deployer().objectId
    ]
    relationshipSemantics: 'append'
  }
}

resource writer 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (!empty(writerPrincipalId)) {
  appRoleId: apiAuth.writeRoleId
  principalId: writerPrincipalId
  resourceId: servicePrincipal.id
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// Shape: azure-rest-api-specs web/.../2024-04-01/examples/UpdateAuthSettingsV2.json.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: true
      // An API answers 401, it does not redirect to a sign-in page.
      unauthenticatedClientAction: 'Return401'
      // The Event Grid webhook (guarded by the host's system key) and the OpenAPI document.
      excludedPaths: apiAuth.excludedPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: application.appId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            application.appId
            'api://${application.appId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}

output clientId string = application.appId
output servicePrincipalId string = servicePrincipal.id
