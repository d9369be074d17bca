/**
 * ARM's error shape `{ error: { code, message } }` with Azure's real codes and statuses.
 * https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors
 */
import type { EmuResponse } from '../core/contract.js';

export function armError(status: number, code: string, message: string, extra: Record<string, unknown> = {}): EmuResponse {
  return { status, headers: { 'x-ms-failure-cause': 'gateway' }, body: { error: { code, message, ...extra } } };
}

export const armErrors = {
  missingApiVersion: () =>
    armError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.'),
  missingToken: () => ({
    ...armError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing."),
    headers: {
      'WWW-Authenticate':
        'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The authentication failed because of missing \'Authorization\' header."',
    },
  }),
  invalidToken: () => ({
    ...armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.'),
    headers: {
      'WWW-Authenticate':
        'Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="The access token is invalid."',
    },
  }),
  authorizationFailed: (objectId: string, action: string, scope: string) =>
    armError(
      403,
      'AuthorizationFailed',
      `The client '${objectId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    ),
  subscriptionNotFound: (id: string) => armError(404, 'SubscriptionNotFound', `The subscription '${id}' could not be found.`),
  resourceGroupNotFound: (name: string) => armError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`),
  resourceNotFound: (type: string, name: string, rg: string) =>
    armError(
      404,
      'ResourceNotFound',
      `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    ),
  parentNotFound: (parent: string) =>
    armError(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${parent}' not found.`,
    ),
  noRoute: (path: string) => armError(404, 'InvalidResourceType', `The resource type could not be found for '${path}'.`),
  badRequest: (code: string, message: string) => armError(400, code, message),
} as const;
