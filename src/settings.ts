/**
 * The app settings the app reads, as a table: each one's name, whether it is required, its
 * documented default, an example and what it means. The README's settings table,
 * `local.settings.sample.json` and the infra tests are held to `SETTINGS`; `loadConfig`
 * (config.ts) parses and validates them.
 */
import { CONSENT_DEFAULTS } from './policy/consentSubject.js';

type Env = Readonly<Record<string, string | undefined>>;

/** One setting: its name, whether required, its default, an example, and what it means. */
export interface SettingSpec {
  readonly name: string;
  readonly required: boolean;
  readonly default?: string;
  readonly example: string;
  readonly description: string;
  /**
   * The function whose trigger binding names this setting as `%NAME%`. The Functions host resolves
   * those from app settings only, so `default` is what the infra sets, not what the host would use.
   */
  readonly boundBy?: string;
}

/**
 * The platform setting App Service sets to `true` (it writes `True`) when App Service Authentication
 * (Easy Auth) is on for the app, and then strips any `x-ms-client-principal*` header a client sends
 * (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
 */
export const APP_SERVICE_AUTH_SETTING = 'WEBSITE_AUTH_ENABLED';

/** The settings the app reads. Identity-based storage follows Azure's `<Connection>__tableServiceUri`. */
export const SETTINGS: readonly SettingSpec[] = [
  {
    name: 'AZURE_TENANT_ID',
    required: true,
    example: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    description: 'Entra tenant id the app works in.',
  },
  {
    name: 'ARM_ENDPOINT',
    required: false,
    default: 'https://management.azure.com',
    example: 'https://management.azure.com',
    description: 'Azure Resource Manager endpoint.',
  },
  {
    name: 'GRAPH_ENDPOINT',
    required: false,
    default: 'https://graph.microsoft.com',
    example: 'https://graph.microsoft.com',
    description: 'Microsoft Graph endpoint.',
  },
  {
    name: 'AZURE_AUTHORITY_HOST',
    required: false,
    default: 'https://login.microsoftonline.com',
    example: 'https://login.microsoftonline.com',
    description: 'Entra authority host, used to prove a new pull password works before switching to it.',
  },
  {
    name: 'WATCHED_SUBSCRIPTIONS',
    required: true,
    example: '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002',
    description: 'Comma-separated subscription ids the app acts on; events from others are skipped.',
  },
  {
    name: 'WORKLOAD_FEDERATION_SCOPES',
    required: false,
    example: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-apps',
    description:
      'Comma-separated subscriptions (/subscriptions/<id>) and resource groups (/subscriptions/<id>/resourceGroups/<name>), each in WATCHED_SUBSCRIPTIONS, whose user-assigned identities may be federated by their acr-workload-cluster/-subjects tags. Empty (default): no identity is federated.',
  },
  {
    name: 'TABLES__tableServiceUri',
    required: false,
    example: 'https://stacrpull.table.core.windows.net',
    description: 'Table Storage endpoint, reached with the managed identity. Either this or TABLES_CONNECTION_STRING.',
  },
  {
    name: 'TABLES_CONNECTION_STRING',
    required: false,
    example: 'UseDevelopmentStorage=true',
    description: 'Table Storage connection string, for local development only, where the table endpoint is plain http.',
  },
  {
    name: 'TABLE_PREFIX',
    required: false,
    default: 'acrpull',
    example: 'acrpull',
    description: 'Prefix of the tables the app creates (letters and digits).',
  },
  {
    name: 'ACCESS_DEFAULT_CONSENT',
    required: false,
    default: 'none',
    example: 'none',
    description: `What a registry without an acr-pull-allow tag consents to for pull (never push, which needs acr-push-allow): ${CONSENT_DEFAULTS.join('|')}.`,
  },
  {
    name: 'ACCESS_ALLOW_CONSENT_OVERRIDE',
    required: false,
    default: 'false',
    example: 'false',
    description: 'Whether a manual grant through the HTTP API may override registry consent (audited as an override).',
  },
  {
    name: 'ROTATION_SCHEDULE',
    required: false,
    default: '0 0 3 * * *',
    example: '0 0 3 * * *',
    description: 'NCRONTAB schedule (six fields, seconds first, in UTC unless WEBSITE_TIME_ZONE says otherwise) of the rotation timer.',
    boundBy: 'rotateCredentials',
  },
  {
    name: 'ROTATION_PERIOD_DAYS',
    required: false,
    default: '90',
    example: '90',
    description:
      'Lifetime of a pull password in days; it is replaced at two thirds of its life. At least 31 + ROTATION_GRACE_HOURS in days (32 with the default grace): Key Vault announces SecretNearExpiry 30 days before expiry.',
  },
  {
    name: 'ROTATION_GRACE_HOURS',
    required: false,
    default: '24',
    example: '24',
    description: 'Hours a password stays valid after Key Vault stopped serving it; a rotation that would cut this short is deferred.',
  },
  {
    name: 'CREDENTIALS_CALL_TIMEOUT_SECONDS',
    required: false,
    default: '30',
    example: '30',
    description:
      'Seconds a credentials run waits for one Key Vault, Graph or Entra call before giving up (at most 60, well under the 300 s lease).',
  },
  {
    name: 'CREDENTIALS_LEASE_SECONDS',
    required: false,
    default: '300',
    example: '300',
    description:
      "Seconds a credentials run holds a registry's enrolment (10 to 900, at least 3 × CREDENTIALS_CALL_TIMEOUT_SECONDS); renewed while the run is alive, so a run that died blocks the registry this long at most. A rotate-now request meanwhile is recorded and carried out by the next run.",
  },
  {
    name: 'CREDENTIALS_DELETE_APP_ON_UNENROL',
    required: false,
    default: 'false',
    example: 'false',
    description: 'Whether un-enrolling a registry deletes its pull application.',
  },
  {
    name: 'RECONCILE_SCHEDULE',
    required: false,
    default: '0 */30 * * * *',
    example: '0 */30 * * * *',
    description:
      'NCRONTAB schedule (in UTC unless WEBSITE_TIME_ZONE says otherwise) of the reconciliation sweep that catches missed events.',
    boundBy: 'reconcileSweep',
  },
  {
    name: 'SWEEP_TIME_BUDGET_SECONDS',
    required: false,
    default: '240',
    example: '240',
    description:
      'Seconds one run of the reconciliation sweep starts new work for (10 to 3600; keep it under the function timeout, 5 minutes on the Consumption plan). A sweep that runs out saves where it stopped in Table Storage and the next run carries on from there; its summary row says so.',
  },
  {
    name: 'AUDIT_RETENTION_DAYS',
    required: false,
    default: '90',
    example: '90',
    description: 'Days audit rows are kept (1 to 3650); the sweep timer deletes whole UTC days older than this.',
  },
  {
    name: 'CREDENTIALS_VAULT_NAMES',
    required: false,
    example: 'kv-acrpull-abc123',
    description:
      "Comma-separated Key Vault names that hold the app's pull credentials (the infra sets its own vault). They, and any vault a registry's acr-pull-credential tag or an enrolment names, are never given to a workload identity.",
  },
  {
    name: 'AZURE_CLIENT_ID',
    required: false,
    example: '11111111-2222-3333-4444-555555555555',
    description: 'Client id of a user-assigned managed identity, when the app should use it instead of its system-assigned one.',
  },
  {
    name: APP_SERVICE_AUTH_SETTING,
    required: false,
    default: 'false',
    example: 'false',
    description:
      'Set by App Service, never by you or the infra: true when App Service Authentication is on. Only then does the HTTP API take the caller from the x-ms-client-principal headers and require the app role of each route; otherwise those headers are ignored and the caller is the function key.',
  },
];

/**
 * Every setting's documented default. Not for a host or launcher to inject: the Functions host
 * resolves `%ROTATION_SCHEDULE%`-style bindings from app settings alone (`unresolvedBindingSettings`).
 */
export const SETTING_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  SETTINGS.filter((s) => s.default !== undefined).map((s) => [s.name, s.default as string]),
);

/**
 * Settings a trigger binding names as `%NAME%` that are not set: on Azure the host cannot resolve
 * them and puts that function in error ("'%NAME%' does not resolve to a value"), whatever the
 * default above says. One line per setting, for the health report.
 */
export function unresolvedBindingSettings(env: Readonly<Record<string, string | undefined>>): string[] {
  return SETTINGS.filter((s) => s.boundBy !== undefined && !env[s.name]?.trim()).map(
    (s) =>
      `${s.name}: not set, so the ${s.boundBy} function is in error and never runs (its trigger binds %${s.name}%, which the Functions host resolves from app settings only) (example: ${s.example})`,
  );
}

/**
 * `WEBSITE_AUTH_ENABLED` alone, parsed as `loadConfig` parses it, for the one decision made before
 * the settings are read: each HTTP route's auth level when it is registered. Never throws: a value
 * `loadConfig` refuses counts as off here (so the host keeps asking for keys, and the API ignores
 * principal headers), and `loadConfig` reports it.
 */
export function isAppServiceAuthEnabled(env: Env): boolean {
  return env[APP_SERVICE_AUTH_SETTING]?.trim().toLowerCase() === 'true';
}
