/**
 * Issue 18.1: on Azure the status page sits behind the same authentication as the API's read
 * routes, and a person can open it in a browser: App Service Authentication's sign-in
 * (`/.auth/login/aad`) needs the registration to send ID tokens to App Service's callback, since
 * App Service holds no client secret for the code flow. Bicep is read as text.
 */
import { describe, expect, it } from 'vitest';
import { UNAUTHENTICATED_PATHS } from '../../../src/api/appRoles.js';
import { readInfra, stripComments } from './bicep.js';

const apiAuth = stripComments(readInfra().get('app/apiAuth.bicep') ?? '');

describe('the status page in Azure', () => {
  it('needs a sign-in like every read route: it is not among the paths App Service lets through', () => {
    expect(UNAUTHENTICATED_PATHS.some((p) => p.startsWith('/api/status'))).toBe(false);
  });

  it('lets a browser sign in: ID tokens to App Service callback of this Function App, no access tokens by the implicit flow', () => {
    expect(apiAuth).toContain("'https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback'");
    expect(apiAuth).toMatch(/implicitGrantSettings: \{\s*enableIdTokenIssuance: true\s*enableAccessTokenIssuance: false\s*\}/);
  });
});
