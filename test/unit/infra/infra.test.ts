/**
 * Bicep can't be compiled on our machines, so these tests read infra/ as text and hold it to the
 * code: the Event Grid filter to what the event handler handles, the app settings to what
 * src/config.ts requires, the ABAC condition to the roles the code may assign, and the house
 * rules for role assignments, storage and Key Vault. Issue #8.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  RESOURCE_EVENT_SUBSCRIPTION,
  RESOURCE_EVENT_TYPES,
  RESOURCE_OPERATION_NAMES,
  isHandledOperation,
} from '../../../src/access/eventSubscription.js';
import { APP_ROLES, EVENT_GRID_WEBHOOK_PATHS, OPENAPI_DOCUMENT_PATH, UNAUTHENTICATED_PATHS } from '../../../src/api/appRoles.js';
import { openApiRoute } from '../../../src/api/routes/openapi.js';
import { APP_SERVICE_AUTH_SETTING, CONSENT_DEFAULTS, SETTINGS } from '../../../src/config.js';
import { ASSIGNABLE_ROLE_DEFINITION_IDS, ROLES } from '../../../src/policy/roles.js';
import {
  ASSIGNABLE_ROLES_BY_FEATURE,
  RESOURCE_EVENTS_FUNCTIONS_FILE,
  ROTATION_FUNCTIONS_FILE,
  SECRET_NEAR_EXPIRY_EVENT_TYPE,
  eventGridFunctionNames,
  generatedFiles,
} from '../../../infra/scripts/generatedFiles.js';
import { INFRA_DIR, params, property, readInfra, resources, stringArray, stringValue, topLevelProperties, variable } from './bicep.js';

const infra = readInfra();
const bicep = (file: string): string => {
  const text = infra.get(file);
  if (text === undefined) throw new Error(`infra/${file} is missing`);
  return text;
};
const allResources = resources(infra);
const resourceOf = (file: string, type: string): ReturnType<typeof resources>[number] => {
  const found = allResources.filter((r) => r.file === file && r.type === type && !r.existing);
  expect(found, `one ${type} in infra/${file}`).toHaveLength(1);
  return found[0]!;
};
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(INFRA_DIR, path), 'utf8'));
const REGENERATE = 'stale: run `npx tsx infra/scripts/generate.ts`';

const expectedGeneratedFiles = await generatedFiles();

describe('generated lists', () => {
  it.each(Object.entries(expectedGeneratedFiles))('infra/generated/%s equals what the code exports', (name, content) => {
    expect(readFileSync(join(INFRA_DIR, 'generated', name), 'utf8'), REGENERATE).toBe(content);
  });

  it('every loadJsonContent path and module path exists', () => {
    for (const [file, text] of infra) {
      const dir = join(INFRA_DIR, file, '..');
      for (const m of text.matchAll(/loadJsonContent\('([^']+)'\)/g)) expect(existsSync(join(dir, m[1]!)), `${file}: ${m[1]}`).toBe(true);
      for (const m of text.matchAll(/^module\s+\w+\s+'([^']+)'/gm)) expect(existsSync(join(dir, m[1]!)), `${file}: ${m[1]}`).toBe(true);
    }
  });
});

describe('resource events: Event Grid → resourceEvents', () => {
  const text = bicep('app/eventGrid.bicep');
  const generated = readJson('generated/resourceEventSubscription.json') as typeof RESOURCE_EVENT_SUBSCRIPTION;
  const topic = resourceOf('app/eventGrid.bicep', 'Microsoft.EventGrid/systemTopics');
  const subscription = resourceOf('app/eventGrid.bicep', 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
  const properties = property(subscription.body, 'properties') ?? '';

  it('is a system topic on the watched subscription', () => {
    expect(property(topic.body, 'location')).toBe("'global'");
    const topicProperties = property(topic.body, 'properties') ?? '';
    expect(property(topicProperties, 'topicType')).toBe("'Microsoft.Resources.Subscriptions'");
    expect(property(topicProperties, 'source')).toBe("'/subscriptions/${watchedSubscriptionId}'");
  });

  it('filters with the lists generated from src/access/eventSubscription.ts', () => {
    expect(variable(text, 'subscriptionFilter')).toBe("loadJsonContent('../generated/resourceEventSubscription.json')");
    const filter = property(properties, 'filter') ?? '';
    expect(property(filter, 'includedEventTypes')).toBe('subscriptionFilter.includedEventTypes');
    expect(property(filter, 'advancedFilters')).toBe('subscriptionFilter.advancedFilters');
  });

  it('lists exactly the event types the handler handles', () => {
    expect([...generated.includedEventTypes].sort()).toEqual(Object.values(RESOURCE_EVENT_TYPES).sort());
  });

  it('lists exactly the data.operationName values the handler handles, in one StringIn filter', () => {
    expect(generated.advancedFilters).toHaveLength(1);
    const [filter] = generated.advancedFilters;
    expect(filter).toMatchObject({ operatorType: 'StringIn', key: 'data.operationName' });
    expect([...filter!.values].sort()).toEqual([...RESOURCE_OPERATION_NAMES].sort());
    expect(new Set(filter!.values.map((v) => v.toLowerCase())).size).toBe(filter!.values.length);
    expect(filter!.values.length, 'Event Grid allows at most 25 values per StringIn filter').toBeLessThanOrEqual(25);
    for (const type of generated.includedEventTypes)
      for (const op of filter!.values) expect(isHandledOperation(type, op), `${type} ${op}`).toBe(true);
  });

  it('delivers to the registered function through an Azure Function endpoint', () => {
    const destination = property(properties, 'destination') ?? '';
    expect(property(destination, 'endpointType')).toBe("'AzureFunction'");
    expect(property(property(destination, 'properties') ?? '', 'resourceId')).toBe(
      "'${functionAppId}/functions/${subscriptionFilter.functionName}'",
    );
    expect(generated.functionName).toBe(RESOURCE_EVENT_SUBSCRIPTION.functionName);
  });

  it('delivers to the Event Grid function src/functions/resourceEvents.ts registers', async () => {
    expect(await eventGridFunctionNames(RESOURCE_EVENTS_FUNCTIONS_FILE)).toEqual([generated.functionName]);
  });

  it('retries and dead-letters to blob storage with the topic identity', () => {
    expect(property(properties, 'retryPolicy')).toMatch(/maxDeliveryAttempts:\s*\d+[\s\S]*eventTimeToLiveInMinutes:\s*\d+/);
    const deadLetter = property(properties, 'deadLetterWithResourceIdentity') ?? '';
    expect(deadLetter).toMatch(/type:\s*'SystemAssigned'/);
    expect(deadLetter).toMatch(/endpointType:\s*'StorageBlob'/);
    expect(property(topic.body, 'identity')).toMatch(/type:\s*'SystemAssigned'/);
  });
});

describe('Key Vault events: SecretNearExpiry → rotation', () => {
  const text = bicep('app/keyVaultEvents.bicep');
  const generated = readJson('generated/keyVaultEventSubscription.json') as { functionName: string; includedEventTypes: string[] };
  const topic = resourceOf('app/keyVaultEvents.bicep', 'Microsoft.EventGrid/systemTopics');
  const subscription = resourceOf('app/keyVaultEvents.bicep', 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
  const properties = property(subscription.body, 'properties') ?? '';

  it('is a Key Vault system topic on the credentials vault, filtered to SecretNearExpiry', () => {
    expect(property(property(topic.body, 'properties') ?? '', 'topicType')).toBe("'Microsoft.KeyVault.vaults'");
    expect(variable(text, 'subscriptionFilter')).toBe("loadJsonContent('../generated/keyVaultEventSubscription.json')");
    expect(property(property(properties, 'filter') ?? '', 'includedEventTypes')).toBe('subscriptionFilter.includedEventTypes');
    expect(generated.includedEventTypes).toEqual([SECRET_NEAR_EXPIRY_EVENT_TYPE]);
    expect(property(properties, 'retryPolicy')).toBeDefined();
    expect(property(properties, 'deadLetterWithResourceIdentity')).toBeDefined();
  });

  it('delivers to the Event Grid function src/functions/rotateCredentials.ts registers', async () => {
    expect(existsSync(ROTATION_FUNCTIONS_FILE), 'src/functions/rotateCredentials.ts registers the rotation triggers').toBe(true);
    expect(await eventGridFunctionNames(ROTATION_FUNCTIONS_FILE)).toEqual([generated.functionName]);
    const destination = property(properties, 'destination') ?? '';
    expect(property(property(destination, 'properties') ?? '', 'resourceId')).toBe(
      "'${functionAppId}/functions/${subscriptionFilter.functionName}'",
    );
  });
});

describe('app settings', () => {
  const text = bicep('app/functionApp.bicep');
  const settingsText = variable(text, 'appSettings') ?? '';
  const appSettings = new Map(topLevelProperties(settingsText));
  const known = new Set(SETTINGS.map((s) => s.name));
  // The Functions host's own settings (identity-based host storage, Application Insights with Entra auth).
  const HOST_SETTINGS = [
    'AzureWebJobsStorage__accountName',
    'AzureWebJobsStorage__credential',
    'APPLICATIONINSIGHTS_CONNECTION_STRING',
    'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  ];
  // What this deployment decides rather than leaving to the code's default.
  const DEPLOYMENT_SETTINGS = [
    'AZURE_TENANT_ID',
    'WATCHED_SUBSCRIPTIONS',
    'TABLES__tableServiceUri',
    'ACCESS_DEFAULT_CONSENT',
    'WORKLOAD_FEDERATION_SCOPES',
    'ROTATION_SCHEDULE',
    'RECONCILE_SCHEDULE',
    'ROTATION_PERIOD_DAYS',
    'AUDIT_RETENTION_DAYS',
    'CREDENTIALS_VAULT_NAMES',
  ];
  // Trigger bindings such as schedule: '%ROTATION_SCHEDULE%' are resolved by the Functions host
  // from app settings alone (the app's own defaults never reach it): each must be set here.
  const BOUND_SETTINGS = readdirSync('src/functions').flatMap((file) =>
    [...readFileSync(join('src/functions', file), 'utf8').matchAll(/'%([A-Za-z0-9_]+)%'/g)].map((m) => m[1]!),
  );

  it('are applied as the app settings of the Function App', () => {
    const config = resourceOf('app/functionApp.bicep', 'Microsoft.Web/sites/config');
    expect(property(config.body, 'name')).toBe("'appsettings'");
    expect(property(config.body, 'properties')).toBe('appSettings');
  });

  it.each(SETTINGS.filter((s) => s.required).map((s) => s.name))('set %s, which src/config.ts requires', (name) => {
    expect(appSettings.has(name)).toBe(true);
  });

  it.each(DEPLOYMENT_SETTINGS)('set %s', (name) => {
    expect(appSettings.has(name)).toBe(true);
  });

  it("names the deployment's own Key Vault in CREDENTIALS_VAULT_NAMES, so workload identity never grants on it", () => {
    expect(appSettings.get('CREDENTIALS_VAULT_NAMES')).toBe('keyVaultName');
    const main = readFileSync('infra/main.bicep', 'utf8');
    const functionAppModule = main.slice(
      main.indexOf("module functionApp 'app/functionApp.bicep'"),
      main.indexOf('\nmodule ', main.indexOf("module functionApp 'app/functionApp.bicep'") + 1),
    );
    expect(functionAppModule).toContain('keyVaultName: keyVault.outputs.name');
  });

  it('set every setting a trigger binds as %NAME%, which the host resolves from app settings only', () => {
    expect(BOUND_SETTINGS.length).toBeGreaterThan(1);
    expect(BOUND_SETTINGS.filter((name) => !appSettings.has(name))).toEqual([]);
  });

  it('set only settings the app or the Functions host reads', () => {
    const unknown = [...appSettings.keys()].filter((name) => !known.has(name) && !HOST_SETTINGS.includes(name));
    expect(unknown).toEqual([]);
  });

  it('connect to storage with the managed identity, never with keys or a user-assigned client id', () => {
    expect(appSettings.get('AzureWebJobsStorage__credential')).toBe("'managedidentity'");
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'Authorization=AAD'");
    for (const name of [
      'TABLES_CONNECTION_STRING',
      'AzureWebJobsStorage',
      'AZURE_CLIENT_ID',
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
    ]) {
      expect(appSettings.has(name), name).toBe(false);
    }
  });

  it('take their parameter defaults and allowed values from src/config.ts', () => {
    const main = params(bicep('main.bicep'));
    const spec = (name: string) => SETTINGS.find((s) => s.name === name)!;
    expect(main.get('defaultConsent')?.defaultValue).toBe(`'${spec('ACCESS_DEFAULT_CONSENT').default}'`);
    // Empty: no identity is federated until the person who deploys the app names a scope.
    expect(main.get('workloadFederationScopes')?.defaultValue).toBe("''");
    expect(spec('WORKLOAD_FEDERATION_SCOPES').default).toBeUndefined();
    expect(main.get('rotationSchedule')?.defaultValue).toBe(`'${spec('ROTATION_SCHEDULE').default}'`);
    expect(main.get('reconcileSchedule')?.defaultValue).toBe(`'${spec('RECONCILE_SCHEDULE').default}'`);
    expect(main.get('rotationPeriodDays')?.defaultValue).toBe(spec('ROTATION_PERIOD_DAYS').default);
    expect(main.get('auditRetentionDays')?.defaultValue).toBe(spec('AUDIT_RETENTION_DAYS').default);
    for (const file of ['main.bicep', 'app/functionApp.bicep']) {
      const allowed = /@allowed\((\[[^\]]*\])\)/.exec(params(bicep(file)).get('defaultConsent')?.decorators ?? '');
      expect(stringArray(allowed?.[1] ?? ''), file).toEqual([...CONSENT_DEFAULTS]);
    }
  });
});

describe('role assignments', () => {
  const assignments = allResources.filter((r) => r.type === 'Microsoft.Authorization/roleAssignments' && !r.existing);
  const roleIdOf = (body: string): string => {
    const m = /roleDefinitions',\s*(?:roles\.(\w+)|(\w+))\)/.exec(property(body, 'properties') ?? '');
    return m?.[1] ?? m?.[2] ?? '';
  };

  it('exist in the modules', () => {
    expect(assignments.length).toBeGreaterThanOrEqual(8);
  });

  it.each(assignments.map((r) => [`${r.file} ${r.symbol}`, r] as const))('%s has a guid() name and a principalType', (_, r) => {
    expect(property(r.body, 'name')).toMatch(/^guid\(/);
    expect(property(property(r.body, 'properties') ?? '', 'principalType')).toBe("'ServicePrincipal'");
  });

  it('give the app only the least-privilege roles, Managed Identity Contributor only with workload identity on', () => {
    const granted = new Map(assignments.map((r) => [`${r.file}:${roleIdOf(r.body)}`, r.condition]));
    expect([...granted.keys()].sort()).toEqual(
      [
        'app/rbac.bicep:storageBlobDataOwner',
        'app/rbac.bicep:storageTableDataContributor',
        'app/rbac.bicep:monitoringMetricsPublisher',
        'app/rbac.bicep:keyVaultSecretsOfficer',
        'app/watchedScopeAccess.bicep:reader',
        'app/watchedScopeAccess.bicep:roleBasedAccessControlAdministrator',
        'app/watchedScopeAccess.bicep:managedIdentityContributor',
        'app/watchedScopeAccess.bicep:taskCredentialRoleGuid',
        'app/watchedScopeAccess.bicep:consumerPullConfigRoleGuid',
        'app/deadLetterAccess.bicep:storageBlobDataContributor',
      ].sort(),
    );
    expect(granted.get('app/watchedScopeAccess.bicep:managedIdentityContributor')).toBe('workloadIdentityEnabled');
    // Owner, Contributor, User Access Administrator: never.
    for (const [file, text] of infra) {
      for (const id of [
        '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
        'b24988ac-6180-42a0-ab88-20f7382dd24c',
        '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
      ]) {
        expect(text.includes(id), `${file} mentions ${id}`).toBe(false);
      }
    }
  });

  it('name the right built-in role ids', () => {
    const ids = {
      ...Object.fromEntries(topLevelProperties(variable(bicep('app/rbac.bicep'), 'roles') ?? '{}')),
      ...Object.fromEntries(topLevelProperties(variable(bicep('app/watchedScopeAccess.bicep'), 'roles') ?? '{}')),
      storageBlobDataContributor: variable(bicep('app/deadLetterAccess.bicep'), 'storageBlobDataContributor'),
    };
    expect(ids).toEqual({
      storageBlobDataOwner: "'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'",
      storageTableDataContributor: "'0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'",
      monitoringMetricsPublisher: "'3913510d-42f4-4e42-8a64-420c390055eb'",
      keyVaultSecretsOfficer: "'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'",
      reader: "'acdd72a7-3385-48ef-bd42-f606fba81ae7'",
      roleBasedAccessControlAdministrator: "'f58310d9-a9f6-439a-9e8d-f62e7b41a168'",
      managedIdentityContributor: "'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59'",
      storageBlobDataContributor: "'ba92f5b4-2d11-453d-a403-e96b0029c9fe'",
    });
  });
});

describe('the ACR task credentials custom role', () => {
  const text = bicep('app/taskCredentialRole.bicep');
  const definition = resourceOf('app/taskCredentialRole.bicep', 'Microsoft.Authorization/roleDefinitions');
  const properties = property(definition.body, 'properties') ?? '';
  const permissions = property(properties, 'permissions') ?? '';
  // What src/azure/acrTasks.ts calls on a task through ARM, and the action each call needs
  // (https://learn.microsoft.com/azure/role-based-access-control/permissions/containers). A PATCH of
  // credentials is a write; listDetails/action (Tasks_GetDetails: the task with its secrets) is never called.
  const ACTION_OF_CALL: Record<string, string> = {
    getResource: 'Microsoft.ContainerRegistry/registries/tasks/read',
    patchResource: 'Microsoft.ContainerRegistry/registries/tasks/write',
  };
  const adapter = readFileSync(join(INFRA_DIR, '..', 'src', 'azure', 'acrTasks.ts'), 'utf8');

  it('grants exactly the task actions src/azure/acrTasks.ts needs: read the task, write its credentials', () => {
    const calls = [...new Set([...adapter.matchAll(/\barm\.(\w+)\(/g)].map((m) => m[1]!))];
    expect(calls.length, 'acrTasks.ts calls ARM').toBeGreaterThan(0);
    for (const call of calls) expect(ACTION_OF_CALL[call], `an action for arm.${call}`).toBeDefined();
    expect(adapter).not.toMatch(/listDetails|getDetails/i);
    // Reading the task is what it is written with (and what `az acr task credential add` does first).
    const needed = [...new Set([ACTION_OF_CALL.getResource!, ...calls.map((c) => ACTION_OF_CALL[c]!)])].sort();
    expect(variable(text, 'actions') && stringArray(variable(text, 'actions')!).sort()).toEqual(needed);
    expect(property(permissions.replace(/^\s*\[|\]\s*$/g, ''), 'actions')).toBe('actions');
    for (const key of ['notActions', 'dataActions', 'notDataActions'])
      expect(property(permissions.replace(/^\s*\[|\]\s*$/g, ''), key), key).toBe('[]');
  });

  it('is a custom role with a guid() name, assignable at the watched subscriptions', () => {
    expect(property(definition.body, 'name')).toMatch(/^guid\(/);
    expect(property(properties, 'type')).toBe("'CustomRole'");
    expect(property(properties, 'roleName')).toContain('${environmentName}');
    expect(property(properties, 'assignableScopes')).toBe("[for id in watchedSubscriptionIds: '/subscriptions/${id}']");
    expect(bicep('main.bicep')).toMatch(
      /module taskCredentialRole 'app\/taskCredentialRole\.bicep'[\s\S]*?watchedSubscriptionIds: watchedSubscriptionIds/,
    );
  });

  it('is assigned to the app identity on each watched subscription, with principalType', () => {
    const assignment = allResources.find((r) => r.file === 'app/watchedScopeAccess.bicep' && r.symbol === 'taskCredentials')!;
    expect(assignment).toBeDefined();
    expect(assignment.condition).toBeUndefined();
    const assignmentProperties = property(assignment.body, 'properties') ?? '';
    expect(property(assignmentProperties, 'roleDefinitionId')).toBe(
      "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', taskCredentialRoleGuid)",
    );
    expect(property(assignmentProperties, 'principalId')).toBe('principalId');
    expect(property(assignmentProperties, 'principalType')).toBe("'ServicePrincipal'");
    expect(bicep('main.bicep')).toMatch(/taskCredentialRoleGuid: taskCredentialRole\.outputs\.roleDefinitionGuid/);
  });
});

describe('the consumer pull settings custom role (issue 19)', () => {
  const text = bicep('app/consumerPullConfigRole.bicep');
  const definition = resourceOf('app/consumerPullConfigRole.bicep', 'Microsoft.Authorization/roleDefinitions');
  const properties = property(definition.body, 'properties') ?? '';
  const permissions = property(properties, 'permissions') ?? '';
  // What the adapters call through ARM, and the action each call needs
  // (https://learn.microsoft.com/azure/role-based-access-control/permissions/containers#microsoftapp,
  // .../web-and-mobile#microsoftweb). Secrets are never listed: no listSecrets or config/list action.
  const ADAPTERS: Record<string, Record<string, string>> = {
    'containerApps.ts': { getResource: 'Microsoft.App/containerApps/read', patchResource: 'Microsoft.App/containerApps/write' },
    'siteConfig.ts': { getResource: 'Microsoft.Web/sites/config/read', patchResource: 'Microsoft.Web/sites/config/write' },
  };

  it('grants exactly the actions src/azure/containerApps.ts and siteConfig.ts need: read and write the app, read and write the site configuration', () => {
    const needed = new Set<string>();
    for (const [file, actionOf] of Object.entries(ADAPTERS)) {
      const adapter = readFileSync(join(INFRA_DIR, '..', 'src', 'azure', file), 'utf8');
      const calls = [...new Set([...adapter.matchAll(/\barm\.(\w+)\(/g)].map((m) => m[1]!))];
      expect(calls.length, `${file} calls ARM`).toBeGreaterThan(0);
      for (const call of calls) {
        expect(actionOf[call], `an action for arm.${call} in ${file}`).toBeDefined();
        needed.add(actionOf[call]!);
      }
      expect(adapter).not.toMatch(/listSecrets|config\/list|appsettings/i);
    }
    expect(variable(text, 'actions') && stringArray(variable(text, 'actions')!).sort()).toEqual([...needed].sort());
    expect(property(permissions.replace(/^\s*\[|\]\s*$/g, ''), 'actions')).toBe('actions');
    for (const key of ['notActions', 'dataActions', 'notDataActions'])
      expect(property(permissions.replace(/^\s*\[|\]\s*$/g, ''), key), key).toBe('[]');
  });

  it('is a custom role with a guid() name, assignable at the watched subscriptions, assigned to the app identity on each with principalType', () => {
    expect(property(definition.body, 'name')).toMatch(/^guid\(/);
    expect(property(properties, 'type')).toBe("'CustomRole'");
    expect(property(properties, 'roleName')).toContain('${environmentName}');
    expect(property(properties, 'assignableScopes')).toBe("[for id in watchedSubscriptionIds: '/subscriptions/${id}']");
    expect(bicep('main.bicep')).toMatch(
      /module consumerPullConfigRole 'app\/consumerPullConfigRole\.bicep'[\s\S]*?watchedSubscriptionIds: watchedSubscriptionIds/,
    );
    const assignment = allResources.find((r) => r.file === 'app/watchedScopeAccess.bicep' && r.symbol === 'consumerPullConfig')!;
    expect(assignment).toBeDefined();
    const assignmentProperties = property(assignment.body, 'properties') ?? '';
    expect(property(assignmentProperties, 'roleDefinitionId')).toBe(
      "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', consumerPullConfigRoleGuid)",
    );
    expect(property(assignmentProperties, 'principalType')).toBe("'ServicePrincipal'");
    expect(bicep('main.bicep')).toMatch(/consumerPullConfigRoleGuid: consumerPullConfigRole\.outputs\.roleDefinitionGuid/);
  });
});

describe('the ABAC condition on Role Based Access Control Administrator', () => {
  const text = bicep('app/watchedScopeAccess.bicep');
  const writer = allResources.find(
    (r) => r.file === 'app/watchedScopeAccess.bicep' && roleOf(r.body) === 'roleBasedAccessControlAdministrator',
  )!;
  function roleOf(body: string): string | undefined {
    return /roleDefinitions',\s*roles\.(\w+)\)/.exec(body)?.[1];
  }
  const generated = readJson('generated/assignableRoles.json') as {
    registryAccessRoleDefinitionIds: string[];
    workloadIdentityRoleDefinitionIds: string[];
  };
  const registryIds = ASSIGNABLE_ROLES_BY_FEATURE.registryAccess.map((r) => r.roleDefinitionId);
  const workloadIds = ASSIGNABLE_ROLES_BY_FEATURE.workloadIdentity.map((r) => r.roleDefinitionId);

  // Bicep's evaluation of the variables the condition uses, done here for one value of the parameter.
  const rendered = (workloadIdentityEnabled: boolean): string => {
    expect(variable(text, 'assignableRoles')).toBe("loadJsonContent('../generated/assignableRoles.json')");
    expect(variable(text, 'assignableRoleIds')).toBe(
      'workloadIdentityEnabled ? concat(assignableRoles.registryAccessRoleDefinitionIds, assignableRoles.workloadIdentityRoleDefinitionIds) : assignableRoles.registryAccessRoleDefinitionIds',
    );
    expect(variable(text, 'roleIdSet')).toBe("'{${join(assignableRoleIds, ', ')}}'");
    const ids = workloadIdentityEnabled
      ? [...generated.registryAccessRoleDefinitionIds, ...generated.workloadIdentityRoleDefinitionIds]
      : generated.registryAccessRoleDefinitionIds;
    const template = stringValue(variable(text, 'assignableRolesCondition') ?? "''");
    return template.replaceAll('${roleIdSet}', `{${ids.join(', ')}}`);
  };
  const roleSets = (condition: string) =>
    [...condition.matchAll(/GuidEquals \{([^}]*)\}/g)].map((m) =>
      m[1]!
        .split(',')
        .map((s) => s.trim())
        .sort(),
    );

  it('is version 2.0 on the assignment', () => {
    const properties = property(writer.body, 'properties') ?? '';
    expect(property(properties, 'conditionVersion')).toBe("'2.0'");
    expect(property(properties, 'condition')).toBe('assignableRolesCondition');
  });

  it('sorts every role the code may assign into exactly one feature', () => {
    expect([...registryIds, ...workloadIds].sort()).toEqual([...ASSIGNABLE_ROLE_DEFINITION_IDS].sort());
    expect(new Set([...registryIds, ...workloadIds]).size).toBe(ASSIGNABLE_ROLE_DEFINITION_IDS.length);
    expect(workloadIds).toEqual([ROLES.keyVaultSecretsUser.roleDefinitionId]);
    expect(generated).toMatchObject({ registryAccessRoleDefinitionIds: registryIds, workloadIdentityRoleDefinitionIds: workloadIds });
  });

  // Issue 13, point 6: the app's own right is no wider than the features the deployment turns on.
  it('allows Key Vault Secrets User only with workload identity on', () => {
    expect(roleSets(rendered(false))).toEqual([[...registryIds].sort(), [...registryIds].sort()]);
    expect(rendered(false)).not.toContain(ROLES.keyVaultSecretsUser.roleDefinitionId);
    expect(roleSets(rendered(true))).toEqual([[...ASSIGNABLE_ROLE_DEFINITION_IDS].sort(), [...ASSIGNABLE_ROLE_DEFINITION_IDS].sort()]);
    expect(bicep('main.bicep')).toMatch(
      /module watchedScopeAccess 'app\/watchedScopeAccess\.bicep'[\s\S]*?workloadIdentityEnabled: workloadIdentityEnabled/,
    );
    expect(params(bicep('main.bicep')).get('workloadIdentityEnabled')?.defaultValue).toBe('false');
  });

  it.each([false, true])(
    'allows writing and deleting only those roles, only for service principals (documented format), workload identity %s',
    (on) => {
      const ids = `{${(on ? [...registryIds, ...workloadIds] : registryIds).join(', ')}}`;
      const clause = (action: 'write' | 'delete', source: 'Request' | 'Resource') =>
        `((!(ActionMatches{'Microsoft.Authorization/roleAssignments/${action}'})) OR (@${source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals ${ids} AND @${source}[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}))`;
      expect(rendered(on)).toBe(`${clause('write', 'Request')} AND ${clause('delete', 'Resource')}`);
    },
  );
});

// Issue 13, point 5: `azd up` turns on App Service Authentication with Entra ID for the API, with
// the app roles and open paths the code uses.
describe('App Service Authentication for the HTTP API', () => {
  const text = bicep('app/apiAuth.bicep');
  const generated = readJson('generated/apiAuth.json') as {
    appRoles: Array<{ id: string; value: string }>;
    writeRoleId: string;
    excludedPaths: string[];
  };
  const application = resourceOf('app/apiAuth.bicep', 'Microsoft.Graph/applications');
  const servicePrincipal = resourceOf('app/apiAuth.bicep', 'Microsoft.Graph/servicePrincipals');
  const authSettings = resourceOf('app/apiAuth.bicep', 'Microsoft.Web/sites/config');
  const authProperties = property(authSettings.body, 'properties') ?? '';
  const main = bicep('main.bicep');

  it('creates the app registration with the Microsoft Graph Bicep extension', () => {
    expect(text).toMatch(/^extension microsoftGraphV1$/m);
    const config = JSON.parse(readFileSync(join(INFRA_DIR, 'bicepconfig.json'), 'utf8')) as { extensions: Record<string, string> };
    expect(config.extensions['microsoftGraphV1']).toMatch(
      /^br:mcr\.microsoft\.com\/bicep\/extensions\/microsoftgraph\/v1\.0:\d+\.\d+\.\d+$/,
    );
    expect(property(application.body, 'uniqueName')).toBe('uniqueName');
    expect(property(application.body, 'signInAudience')).toBe("'AzureADMyOrg'");
  });

  it('defines exactly the app roles src/api/appRoles.ts checks, for users and applications', () => {
    expect(variable(text, 'apiAuth')).toBe("loadJsonContent('../generated/apiAuth.json')");
    expect(generated.appRoles.map((r) => [r.value, r.id])).toEqual(Object.values(APP_ROLES).map((r) => [r.value, r.id]));
    expect(generated.writeRoleId).toBe(APP_ROLES.write.id);
    const roles = property(application.body, 'appRoles') ?? '';
    expect(roles).toMatch(/^\[\s*for role in apiAuth\.appRoles: \{/);
    for (const key of ['id', 'value', 'displayName', 'description']) expect(roles).toContain(`${key}: role.${key}`);
    expect(roles).toMatch(/allowedMemberTypes: \[\s*'User'\s*'Application'\s*\]/);
  });

  it('issues tokens only to principals holding a role, and gives the deployer Access.Write', () => {
    expect(property(servicePrincipal.body, 'appRoleAssignmentRequired')).toBe('true');
    const writer = resourceOf('app/apiAuth.bicep', 'Microsoft.Graph/appRoleAssignedTo');
    expect(property(writer.body, 'appRoleId')).toBe('apiAuth.writeRoleId');
    expect(property(writer.body, 'resourceId')).toBe('servicePrincipal.id');
    expect(main).toMatch(
      /writerPrincipalId: apiWriterPrincipalId == 'none' \? '' : \(empty\(apiWriterPrincipalId\) \? deployer\(\)\.objectId : apiWriterPrincipalId\)/,
    );
  });

  it('requires a token on every path but the Event Grid webhook and the OpenAPI document, answering 401', () => {
    expect(property(authSettings.body, 'name')).toBe("'authsettingsV2'");
    expect(property(authSettings.body, 'parent')).toBe('functionApp');
    expect(property(property(authProperties, 'platform') ?? '', 'enabled')).toBe('true');
    const validation = property(authProperties, 'globalValidation') ?? '';
    expect(property(validation, 'requireAuthentication')).toBe('true');
    expect(property(validation, 'unauthenticatedClientAction')).toBe("'Return401'");
    expect(property(validation, 'excludedPaths')).toBe('apiAuth.excludedPaths');
    expect(generated.excludedPaths).toEqual([...UNAUTHENTICATED_PATHS]);
    // Each open path is one the code means to be open.
    expect(EVENT_GRID_WEBHOOK_PATHS.map((p) => p.toLowerCase())).toEqual(['/runtime/webhooks/eventgrid', '/runtime/webhooks/eventgrid']);
    expect(OPENAPI_DOCUMENT_PATH).toBe(`/api/${openApiRoute(() => [], 'test').route}`);
    expect(openApiRoute(() => [], 'test').authLevel).toBe('anonymous');
  });

  it('validates Entra ID v2 tokens for the registration', () => {
    const aad = property(property(authProperties, 'identityProviders') ?? '', 'azureActiveDirectory') ?? '';
    expect(property(aad, 'enabled')).toBe('true');
    const registration = property(aad, 'registration') ?? '';
    expect(property(registration, 'clientId')).toBe('application.appId');
    expect(property(registration, 'openIdIssuer')).toBe("'${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'");
    expect(property(property(application.body, 'api') ?? '', 'requestedAccessTokenVersion')).toBe('2');
    expect(property(property(aad, 'validation') ?? '', 'allowedAudiences')).toContain('application.appId');
  });

  it('is on by default in azd up, and can be turned off', () => {
    expect(params(main).get('apiAuthEnabled')?.defaultValue).toBe('true');
    expect(main).toMatch(
      /^module apiAuth 'app\/apiAuth\.bicep' = if \(apiAuthEnabled\) \{[\s\S]*?functionAppName: functionApp\.outputs\.name/m,
    );
    expect(main).toMatch(/^output API_CLIENT_ID string = /m);
  });

  it('never sets WEBSITE_AUTH_ENABLED itself: only App Service may say authentication is on', () => {
    for (const [file, body] of infra) expect(body.includes(APP_SERVICE_AUTH_SETTING), file).toBe(false);
    expect(readFileSync(join(INFRA_DIR, 'main.parameters.json'), 'utf8')).not.toContain(APP_SERVICE_AUTH_SETTING);
  });
});

describe('storage, Key Vault and the Function App', () => {
  it('storage accepts no shared keys', () => {
    const storage = property(resourceOf('app/storage.bicep', 'Microsoft.Storage/storageAccounts').body, 'properties') ?? '';
    expect(property(storage, 'allowSharedKeyAccess')).toBe('false');
    expect(property(storage, 'allowBlobPublicAccess')).toBe('false');
  });

  it('Key Vault uses RBAC, soft delete and purge protection', () => {
    const vault = property(resourceOf('app/keyVault.bicep', 'Microsoft.KeyVault/vaults').body, 'properties') ?? '';
    expect(property(vault, 'enableRbacAuthorization')).toBe('true');
    expect(property(vault, 'enableSoftDelete')).toBe('true');
    expect(property(vault, 'enablePurgeProtection')).toBe('true');
    expect(property(vault, 'accessPolicies')).toBeUndefined();
  });

  it('the Function App runs Node 20 on Flex Consumption with a system-assigned identity', () => {
    const plan = resourceOf('app/functionApp.bicep', 'Microsoft.Web/serverfarms');
    expect(property(plan.body, 'sku')).toMatch(/name:\s*'FC1'[\s\S]*tier:\s*'FlexConsumption'/);
    const site = resourceOf('app/functionApp.bicep', 'Microsoft.Web/sites');
    expect(property(site.body, 'identity')).toMatch(/type:\s*'SystemAssigned'/);
    expect(property(site.body, 'tags')).toContain("'azd-service-name': serviceName");
    const config = property(property(site.body, 'properties') ?? '', 'functionAppConfig') ?? '';
    expect(property(config, 'runtime')).toMatch(/name:\s*'node'[\s\S]*version:\s*'20'/);
    expect(property(config, 'deployment')).toMatch(/type:\s*'SystemAssignedIdentity'/);
  });
});

describe('azd wiring', () => {
  const main = bicep('main.bicep');
  const mainParams = params(main);
  const parameterFile = readJson('main.parameters.json') as { parameters: Record<string, unknown> };
  const azureYaml = readFileSync(join(INFRA_DIR, '..', 'azure.yaml'), 'utf8');

  it('main.bicep is subscription-scoped', () => {
    expect(main).toMatch(/^targetScope = 'subscription'$/m);
  });

  it('main.parameters.json gives every parameter without a default, and only parameters main.bicep declares', () => {
    const given = Object.keys(parameterFile.parameters);
    expect(given.filter((name) => !mainParams.has(name))).toEqual([]);
    const needed = [...mainParams].filter(([, p]) => p.defaultValue === undefined).map(([name]) => name);
    expect(needed.filter((name) => !given.includes(name))).toEqual([]);
  });

  it('takes the issue-8 parameters: watched subscriptions, consent, rotation schedule and period, workload identity', () => {
    for (const name of ['watchedSubscriptions', 'defaultConsent', 'rotationSchedule', 'rotationPeriodDays', 'workloadIdentityEnabled'])
      expect(mainParams.has(name), name).toBe(true);
  });

  it('outputs are UPPER_SNAKE and include what the hooks read', () => {
    const outputs = [...main.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]!);
    expect(outputs.filter((name) => !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(name))).toEqual([]);
    expect(outputs).toContain('APP_PRINCIPAL_ID');
    expect(outputs).toContain('AZURE_FUNCTION_APP_NAME');
  });

  it('azure.yaml deploys service api as a TypeScript function from the root, built before packaging', () => {
    expect(azureYaml).toMatch(/^services:\n {2}api:\n(?: {4}.*\n|\s*#.*\n)*/m);
    const api = /^ {2}api:\n((?: {4}.*\n| *#.*\n)*)/m.exec(azureYaml)?.[1] ?? '';
    expect(api).toMatch(/^ {4}project: \.$/m);
    expect(api).toMatch(/^ {4}language: ts$/m);
    expect(api).toMatch(/^ {4}host: function$/m);
    expect(api).toMatch(/prepackage:[\s\S]*run: npm run build/);
  });

  it('azure.yaml hooks point at scripts that exist', () => {
    const scripts = [...azureYaml.matchAll(/run: (\.\/\S+)/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThanOrEqual(4);
    for (const script of scripts) expect(existsSync(join(INFRA_DIR, '..', script)), script).toBe(true);
  });
});
