/**
 * The emulator's api-version table (issue 21, item 10) never refuses a version the app, the SDK
 * packages it uses or the test support send, and refuses one the type does not publish with ARM's
 * codes (https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-register-resource-provider,
 * …/error-invalid-api-version). Paths as ARM treats them: empty segments ignored, fixed segments in
 * Azure's casing (resources/.../2021-04-01/examples/GetResourceGroups.json answers `/resourceGroups/`).
 */
import { readFileSync } from 'node:fs';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { describe, expect, it } from 'vitest';
import { apiVersionsFor, checkApiVersion } from '../../../emulator/arm/apiVersions.js';
import { canonicalPath, collapseEmptySegments } from '../../../emulator/arm/paths.js';
import { API_VERSIONS as APP_VERSIONS } from '../../../src/azure/arm.js';
import { RESOURCE_GRAPH_API_VERSION } from '../../../src/azure/resourceGraph.js';

const RG = '/subscriptions/s/resourceGroups/rg';
/** A path of each lower-case type the app's `API_VERSIONS` names. */
const pathOf = (type: string) => {
  const [ns, ...types] = type.split('/');
  return `${RG}/providers/${ns}/${types.map((t, i) => `${t}/n${i}`).join('/')}`;
};

/** The api-version an @azure/arm-authorization operation group pins (its compiled Parameters). */
function authorizationVersion(operations: string): string {
  const dir = 'node_modules/@azure/arm-authorization/dist-esm/src';
  const param = /Parameters\.(apiVersion\d*)/.exec(readFileSync(`${dir}/operations/${operations}.js`, 'utf8'))![1]!;
  const parameters = readFileSync(`${dir}/models/parameters.js`, 'utf8');
  return new RegExp(`export const ${param} = \\{[\\s\\S]*?defaultValue: "([^"]+)"`).exec(parameters)![1]!;
}

describe('the api-version table', () => {
  it.each(Object.entries(APP_VERSIONS))('accepts the app’s %s version %s', (type, version) => {
    expect(apiVersionsFor(pathOf(type))?.versions).toContain(version);
  });

  it('accepts Resource Graph’s version the app sends and the versions the SDK packages pin', () => {
    expect(checkApiVersion('/providers/Microsoft.ResourceGraph/resources', RESOURCE_GRAPH_API_VERSION)).toBeUndefined();
    const msi = new ManagedServiceIdentityClient({ getToken: async () => null }, 's');
    expect(checkApiVersion(`${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1`, msi.apiVersion)).toBeUndefined();
    expect(
      checkApiVersion(
        `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f1`,
        msi.apiVersion,
      ),
    ).toBeUndefined();
    expect(
      checkApiVersion('/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a', authorizationVersion('roleAssignments')),
    ).toBeUndefined();
    expect(
      checkApiVersion('/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/d', authorizationVersion('roleDefinitions')),
    ).toBeUndefined();
  });

  it.each([
    // test/support/e2eAccess.ts, test/integration/access/harness.ts, test/integration/emulator-arm/resources.test.ts
    [RG, '2021-04-01'],
    [`${RG}/providers/Microsoft.Resources/tags/default`, '2021-04-01'],
    [`${RG}/providers/Microsoft.ContainerService/managedClusters/aks`, '2024-09-01'],
    [`${RG}/providers/Microsoft.Web/sites/app`, '2023-12-01'],
    [`${RG}/providers/Microsoft.KeyVault/vaults/kv`, '2026-02-01'],
    [`${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1`, '2023-01-31'],
    ['/subscriptions/s', '2022-12-01'],
    // scripts/demo.ts (resource groups at 2024-03-01) and bench/benchStack.ts.
    [RG, '2024-03-01'],
    [`${RG}/providers/Microsoft.Compute/virtualMachines/vm`, '2024-07-01'],
    [`${RG}/providers/Microsoft.ContainerRegistry/registries/acr`, '2025-11-01'],
    [`${RG}/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/a`, '2022-04-01'],
    // test/unit/emulator-arm/harness.ts sends 2022-04-01 wherever the type publishes it.
    [`${RG}/providers/Microsoft.ContainerService/managedClusters/aks`, '2022-04-01'],
  ])('accepts %s at %s', (path, version) => {
    expect(checkApiVersion(path, version)).toBeUndefined();
  });

  it.each([
    [`${RG}/providers/Microsoft.ContainerRegistry/registries/acr`, '2024-03-01', 'NoRegisteredProviderFound'],
    [`${RG}/providers/Microsoft.ContainerRegistry/registries/acr/tasks/t`, '2025-11-01', 'NoRegisteredProviderFound'],
    [
      `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1/federatedIdentityCredentials/f`,
      '2018-11-30',
      'NoRegisteredProviderFound',
    ],
    [RG, '2099-01-01', 'InvalidApiVersionParameter'],
    ['/subscriptions/s/providers', '2099-01-01', 'InvalidApiVersionParameter'],
    ['/subscriptions/s/providers/Microsoft.ContainerRegistry', '2099-01-01', 'InvalidApiVersionParameter'],
    ['/subscriptions/s/resources', '2099-01-01', 'InvalidApiVersionParameter'],
    [`${RG}/providers/Microsoft.Resources/deployments/d/validate`, '2020-13-01', 'InvalidApiVersionParameter'],
  ])('refuses %s at %s with %s', (path, version, code) => {
    const res = checkApiVersion(path, version);
    expect([res?.status, (res?.body as { error: { code: string } }).error.code]).toEqual([400, code]);
  });

  it('leaves types outside the table to their routes', () => {
    expect(checkApiVersion(`${RG}/providers/Microsoft.Network/virtualNetworks/v`, '1999-01-01')).toBeUndefined();
  });
});

describe('paths as ARM treats them', () => {
  it.each([
    [
      '/subscriptions/s/resourcegroups/rg/providers/microsoft.containerregistry/REGISTRIES/MyAcr/TASKS/t1',
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/MyAcr/tasks/t1',
    ],
    ['/SUBSCRIPTIONS/s/RESOURCEGROUPS/Rg', '/subscriptions/s/resourceGroups/Rg'],
    [
      '/subscriptions/s/resourcegroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/microsoft.authorization/roleassignments/a',
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/providers/Microsoft.Authorization/roleAssignments/a',
    ],
    [
      '/subscriptions/s/resourcegroups/rg/providers/Microsoft.Network/virtualNetworks/v',
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v',
    ],
    ['/subscriptions/s/tagnames', '/subscriptions/s/tagNames'],
    // A name that reads like a fixed segment stays a name.
    ['/subscriptions/s/resourcegroups/providers', '/subscriptions/s/resourceGroups/providers'],
  ])('%s → %s', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });

  it('ignores empty segments', () => {
    expect(collapseEmptySegments('/subscriptions/s//resourceGroups/rg/providers/Microsoft.ContainerRegistry//registries/x/')).toBe(
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/x',
    );
  });
});
