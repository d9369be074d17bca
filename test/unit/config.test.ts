import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, isAppServiceAuthEnabled, loadConfig, SETTINGS, unresolvedBindingSettings } from '../../src/config.js';

const MINIMAL = {
  AZURE_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  WATCHED_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
  TABLES__tableServiceUri: 'https://stacrpull.table.core.windows.net',
} as const;

/** The problems `loadConfig` reports for `env`, or [] when it accepts it. */
function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
}

const example = (name: string) => SETTINGS.find((s) => s.name === name)!.example;

describe('loadConfig', () => {
  it('accepts the minimal settings and applies every documented default', () => {
    const config = loadConfig(MINIMAL);
    expect(config).toEqual({
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      armEndpoint: 'https://management.azure.com',
      graphEndpoint: 'https://graph.microsoft.com',
      authorityHost: 'https://login.microsoftonline.com',
      watchedSubscriptions: ['00000000-0000-0000-0000-000000000001'],
      federationScopes: [],
      tables: { serviceUri: 'https://stacrpull.table.core.windows.net', connectionString: undefined },
      tablePrefix: 'acrpull',
      defaultConsent: 'none',
      allowConsentOverride: false,
      rotationSchedule: '0 0 3 * * *',
      sweepTimeBudgetSeconds: 240,
      rotationPeriodDays: 90,
      rotationGraceHours: 24,
      credentialsCallTimeoutSeconds: 30,
      credentialsLeaseSeconds: 300,
      deleteApplicationOnUnenrol: false,
      credentialsVaultNames: [],
      reconcileSchedule: '0 */30 * * * *',
      auditRetentionDays: 90,
      managedIdentityClientId: undefined,
      appServiceAuthEnabled: false,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  // App Service writes `True`; anything loadConfig refuses counts as off for the route registration.
  it.each([
    ['True', true, true],
    ['true', true, true],
    ['false', false, false],
    ['', false, false],
    ['yes', false, 'refused'],
  ] as const)('reads WEBSITE_AUTH_ENABLED=%j as %s (registration: %s)', (value, registration, loaded) => {
    expect(isAppServiceAuthEnabled({ WEBSITE_AUTH_ENABLED: value })).toBe(registration);
    if (loaded === 'refused')
      expect(() => loadConfig({ ...MINIMAL, WEBSITE_AUTH_ENABLED: value })).toThrow(/WEBSITE_AUTH_ENABLED: expected true\|false/);
    else expect(loadConfig({ ...MINIMAL, WEBSITE_AUTH_ENABLED: value }).appServiceAuthEnabled).toBe(loaded);
  });

  it.each([
    [
      'trims and lower-cases GUIDs',
      { AZURE_TENANT_ID: '  72F988BF-86F1-41AF-91AB-2D7CD011DB47 ' },
      (c: ReturnType<typeof loadConfig>) => c.tenantId,
      '72f988bf-86f1-41af-91ab-2d7cd011db47',
    ],
    [
      'splits watched subscriptions on commas',
      { WATCHED_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001, 00000000-0000-0000-0000-000000000002' },
      (c: ReturnType<typeof loadConfig>) => c.watchedSubscriptions,
      ['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002'],
    ],
    [
      'drops a trailing slash from endpoints',
      { ARM_ENDPOINT: 'https://127.0.0.1:8443/' },
      (c: ReturnType<typeof loadConfig>) => c.armEndpoint,
      'https://127.0.0.1:8443',
    ],
    [
      'reads a connection string instead of a service URI',
      { TABLES__tableServiceUri: undefined, TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' },
      (c: ReturnType<typeof loadConfig>) => c.tables,
      { serviceUri: undefined, connectionString: 'UseDevelopmentStorage=true' },
    ],
    ['parses booleans', { ACCESS_ALLOW_CONSENT_OVERRIDE: 'TRUE' }, (c: ReturnType<typeof loadConfig>) => c.allowConsentOverride, true],
    ['parses whole numbers', { ROTATION_PERIOD_DAYS: '45' }, (c: ReturnType<typeof loadConfig>) => c.rotationPeriodDays, 45],
    ['keeps audit rows 90 days by default', {}, (c: ReturnType<typeof loadConfig>) => c.auditRetentionDays, 90],
    ['parses the audit retention', { AUDIT_RETENTION_DAYS: '400' }, (c: ReturnType<typeof loadConfig>) => c.auditRetentionDays, 400],
    [
      'accepts the shortest period the grace allows (30 near-expiry days + 1 grace day + 1)',
      { ROTATION_PERIOD_DAYS: '32' },
      (c: ReturnType<typeof loadConfig>) => c.rotationPeriodDays,
      32,
    ],
    [
      'accepts a 31-day period with no grace',
      { ROTATION_PERIOD_DAYS: '31', ROTATION_GRACE_HOURS: '0' },
      (c: ReturnType<typeof loadConfig>) => c.rotationPeriodDays,
      31,
    ],
    [
      'reads the call timeout',
      { CREDENTIALS_CALL_TIMEOUT_SECONDS: '5' },
      (c: ReturnType<typeof loadConfig>) => c.credentialsCallTimeoutSeconds,
      5,
    ],
    [
      'reads the consent default',
      { ACCESS_DEFAULT_CONSENT: 'same-subscription' },
      (c: ReturnType<typeof loadConfig>) => c.defaultConsent,
      'same-subscription',
    ],
    [
      'reads federation scopes, lower-cased and deduplicated',
      {
        WORKLOAD_FEDERATION_SCOPES:
          ' /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/RG-Apps/, /subscriptions/00000000-0000-0000-0000-000000000001 ,/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-apps',
      },
      (c: ReturnType<typeof loadConfig>) => c.federationScopes,
      ['/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-apps', '/subscriptions/00000000-0000-0000-0000-000000000001'],
    ],
    [
      'federates nothing when federation scopes are blank',
      { WORKLOAD_FEDERATION_SCOPES: '  ' },
      (c: ReturnType<typeof loadConfig>) => c.federationScopes,
      [],
    ],
    ['treats a blank optional setting as unset', { TABLE_PREFIX: '   ' }, (c: ReturnType<typeof loadConfig>) => c.tablePrefix, 'acrpull'],
    [
      'reads the credentials vaults as lower-case names, once each',
      { CREDENTIALS_VAULT_NAMES: ' KV-AcrPull-1, kv-acrpull-1,demo-vault ' },
      (c: ReturnType<typeof loadConfig>) => c.credentialsVaultNames,
      ['kv-acrpull-1', 'demo-vault'],
    ],
  ])('%s', (_name, overrides, read, expected) => {
    expect(read(loadConfig({ ...MINIMAL, ...overrides }))).toEqual(expected);
  });

  it.each([
    ['a missing required setting', { AZURE_TENANT_ID: undefined }, 'AZURE_TENANT_ID', 'expected a value (required), got nothing'],
    // Issue 14: a period inside Key Vault's 30-day near-expiry window would rotate every new password at once.
    [
      'a period inside the near-expiry window',
      { ROTATION_PERIOD_DAYS: '30' },
      'ROTATION_PERIOD_DAYS',
      'expected a whole number from 32 to 730 (a password lifetime of 30 days is too short: Key Vault announces SecretNearExpiry 30 days before',
    ],
    [
      'a period the grace does not fit in',
      { ROTATION_PERIOD_DAYS: '40', ROTATION_GRACE_HOURS: '240' },
      'ROTATION_PERIOD_DAYS',
      'expected a whole number from 41 to 730',
    ],
    [
      'an audit retention of no days',
      { AUDIT_RETENTION_DAYS: '0' },
      'AUDIT_RETENTION_DAYS',
      'expected a whole number from 1 to 3650, got "0"',
    ],
    [
      'a call timeout not well under the lease',
      { CREDENTIALS_CALL_TIMEOUT_SECONDS: '120' },
      'CREDENTIALS_CALL_TIMEOUT_SECONDS',
      'expected a whole number from 1 to 60, got "120"',
    ],
    [
      'a lease shorter than three call timeouts',
      { CREDENTIALS_CALL_TIMEOUT_SECONDS: '10', CREDENTIALS_LEASE_SECONDS: '20' },
      'CREDENTIALS_LEASE_SECONDS',
      'expected at least 3 × CREDENTIALS_CALL_TIMEOUT_SECONDS (30), got "20"',
    ],
    ['a malformed GUID', { AZURE_TENANT_ID: 'contoso' }, 'AZURE_TENANT_ID', 'expected a GUID, got "contoso"'],
    [
      'a malformed subscription list',
      { WATCHED_SUBSCRIPTIONS: 'sub-one' },
      'WATCHED_SUBSCRIPTIONS',
      'expected comma-separated subscription GUIDs, got "sub-one"',
    ],
    [
      'a URL that is not http(s)',
      { ARM_ENDPOINT: 'ftp://management.azure.com' },
      'ARM_ENDPOINT',
      'expected an https URL, got "ftp://management.azure.com"',
    ],
    [
      'an unknown consent default',
      { ACCESS_DEFAULT_CONSENT: 'maybe' },
      'ACCESS_DEFAULT_CONSENT',
      'expected none|same-resource-group|same-subscription|any, got "maybe"',
    ],
    [
      'a boolean that is not true|false',
      { CREDENTIALS_DELETE_APP_ON_UNENROL: 'yes' },
      'CREDENTIALS_DELETE_APP_ON_UNENROL',
      'expected true|false, got "yes"',
    ],
    ['a number out of range', { ROTATION_PERIOD_DAYS: '0' }, 'ROTATION_PERIOD_DAYS', 'expected a whole number from 1 to 730, got "0"'],
    [
      'a five-field cron schedule',
      { ROTATION_SCHEDULE: '0 3 * * *' },
      'ROTATION_SCHEDULE',
      'expected an NCRONTAB expression of six fields',
    ],
    [
      'an invalid cron field',
      { RECONCILE_SCHEDULE: '0 */30 * * * funday' },
      'RECONCILE_SCHEDULE',
      'expected a valid NCRONTAB expression, got "0 */30 * * * funday"',
    ],
    [
      'a table prefix with a dash',
      { TABLE_PREFIX: 'acr-pull' },
      'TABLE_PREFIX',
      'expected letters and digits, starting with a letter, at most 30, got "acr-pull"',
    ],
    [
      'no Table Storage at all',
      { TABLES__tableServiceUri: undefined },
      'TABLES__tableServiceUri',
      'expected a Table Storage URL (or TABLES_CONNECTION_STRING for local development), got nothing',
    ],
    [
      'a credentials vault that is not a Key Vault name',
      { CREDENTIALS_VAULT_NAMES: 'kv-ok,kv_bad' },
      'CREDENTIALS_VAULT_NAMES',
      'expected comma-separated Key Vault names, got "kv-ok,kv_bad"',
    ],
    [
      'a federation scope that is a bare subscription id',
      { WORKLOAD_FEDERATION_SCOPES: '00000000-0000-0000-0000-000000000001' },
      'WORKLOAD_FEDERATION_SCOPES',
      'expected comma-separated /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>, got "00000000-0000-0000-0000-000000000001"',
    ],
    [
      'a federation scope that is a resource',
      {
        WORKLOAD_FEDERATION_SCOPES:
          '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id',
      },
      'WORKLOAD_FEDERATION_SCOPES',
      'expected comma-separated /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>',
    ],
    [
      'a federation scope in a subscription that is not watched',
      { WORKLOAD_FEDERATION_SCOPES: '/subscriptions/00000000-0000-0000-0000-000000000009' },
      'WORKLOAD_FEDERATION_SCOPES',
      "expected scopes in WATCHED_SUBSCRIPTIONS (00000000-0000-0000-0000-000000000009 is not watched, so the identity's roles there could not be checked)",
    ],
    ['a malformed client id', { AZURE_CLIENT_ID: 'my-identity' }, 'AZURE_CLIENT_ID', 'expected a GUID, got "my-identity"'],
  ])('reports %s on one line naming the setting, the problem and an example', (_case, overrides, name, problem) => {
    const problems = problemsOf({ ...MINIMAL, ...overrides });
    expect(problems).toHaveLength(1);
    const [line] = problems;
    expect(line).not.toContain('\n');
    expect(line!.startsWith(`${name}: `)).toBe(true);
    expect(line).toContain(problem);
    expect(line!.endsWith(`(example: ${example(name)})`)).toBe(true);
  });

  it('reports several bad settings one line each, in one error', () => {
    const env = { ...MINIMAL, AZURE_TENANT_ID: 'contoso', ACCESS_DEFAULT_CONSENT: 'maybe', ROTATION_GRACE_HOURS: 'soon' };
    const problems = problemsOf(env);
    expect(problems.map((p) => p.split(':')[0])).toEqual(['AZURE_TENANT_ID', 'ACCESS_DEFAULT_CONSENT', 'ROTATION_GRACE_HOURS']);
    expect(() => loadConfig(env)).toThrow(problems.join('\n'));
  });

  it('gives every setting an example that loadConfig itself accepts', () => {
    const env = Object.fromEntries(SETTINGS.map((s) => [s.name, s.example]));
    expect(problemsOf(env)).toEqual([]);
  });
});

describe('local.settings.sample.json', () => {
  const sample = JSON.parse(readFileSync(new URL('../../local.settings.sample.json', import.meta.url), 'utf8')) as {
    IsEncrypted: boolean;
    Values: Record<string, string>;
  };
  const HOST_KEYS = ['FUNCTIONS_WORKER_RUNTIME', 'AzureWebJobsStorage'];

  it('lists exactly the settings the app reads, plus the host’s own keys', () => {
    expect(Object.keys(sample.Values).sort()).toEqual([...HOST_KEYS, ...SETTINGS.map((s) => s.name)].sort());
  });

  it('gives each setting its documented example and the host the node worker with local storage', () => {
    expect(sample.IsEncrypted).toBe(false);
    expect(sample.Values['FUNCTIONS_WORKER_RUNTIME']).toBe('node');
    expect(sample.Values['AzureWebJobsStorage']).toBe('UseDevelopmentStorage=true');
    for (const setting of SETTINGS) expect(sample.Values[setting.name], setting.name).toBe(setting.example);
  });
});

// Issue 21 item 2: a setting a trigger binds as %NAME% has no default on Azure's host.
describe('settings bound by a trigger', () => {
  const bound = SETTINGS.filter((s) => s.boundBy !== undefined);

  it.each(bound.map((s) => [s.name, s.boundBy!]))('%s is what the %s function binds as %%NAME%%', (name, functionName) => {
    const sources = ['rotateCredentials.ts', 'reconcileSweep.ts'].map((f) => readFileSync(`src/functions/${f}`, 'utf8')).join('\n');
    expect(sources).toMatch(new RegExp(`app\\.timer\\('${functionName}', \\{ schedule: '%${name}%'`));
  });

  it('reports each one not set, naming the function left in error, and nothing once all are set', () => {
    expect(unresolvedBindingSettings({ ...MINIMAL, RECONCILE_SCHEDULE: '0 */30 * * * *' })).toEqual([
      'ROTATION_SCHEDULE: not set, so the rotateCredentials function is in error and never runs (its trigger binds %ROTATION_SCHEDULE%, which the Functions host resolves from app settings only) (example: 0 0 3 * * *)',
    ]);
    expect(unresolvedBindingSettings(Object.fromEntries(bound.map((s) => [s.name, s.example])))).toEqual([]);
  });
});
