/**
 * Every app setting the app reads, parsed and validated once at start-up.
 *
 * `loadConfig(env)` is pure: tests pass a plain object. Each setting is trimmed, parsed and
 * either required or given a documented default. Every bad setting is reported on its own
 * line: `NAME: expected …, got "…" (example: …)`. The table `SETTINGS` is the single list the
 * README's settings table, `local.settings.sample.json` and the infra tests are held to.
 */
import { CronExpressionParser } from 'cron-parser';
import { checkKeyVaultName } from './policy/tags.js';
import { CONSENT_DEFAULTS, type ConsentDefault } from './policy/consentSubject.js';
import { MAX_PERIOD_DAYS, minimumPeriodDays, periodProblem } from './policy/rotationPeriod.js';

/** The closed set lives in policy, which decides with it; re-exported for the settings' readers. */
export { CONSENT_DEFAULTS, type ConsentDefault };

export interface Config {
  /** Entra tenant the app works in. */
  readonly tenantId: string;
  /** ARM endpoint, `https://management.azure.com` in Azure public cloud. */
  readonly armEndpoint: string;
  /** Microsoft Graph endpoint, `https://graph.microsoft.com`. */
  readonly graphEndpoint: string;
  /** Entra authority host used to prove a rotated password works. */
  readonly authorityHost: string;
  /** Subscriptions whose resource events and sweeps the app acts on. */
  readonly watchedSubscriptions: readonly string[];
  /**
   * Where a user-assigned identity must live to be federated by its workload tags: lower-case
   * `/subscriptions/<id>` or `/subscriptions/<id>/resourcegroups/<name>`. Empty (the default): none is.
   */
  readonly federationScopes: readonly string[];
  /** Table Storage: an identity-based service URI, or a connection string (local only). */
  readonly tables: { readonly serviceUri?: string; readonly connectionString?: string };
  /** Prefix of every table the app creates, so several instances can share an account. */
  readonly tablePrefix: string;
  /** What a registry without an `acr-pull-allow` tag consents to, for pull only: push needs `acr-push-allow`. */
  readonly defaultConsent: ConsentDefault;
  /** Whether a manual grant may override registry consent (audited as an override). */
  readonly allowConsentOverride: boolean;
  /** NCRONTAB schedule of the credential rotation timer. */
  readonly rotationSchedule: string;
  /** Lifetime of a pull password, in days. */
  readonly rotationPeriodDays: number;
  /** Time a replaced password stays valid after the switch, in hours. */
  readonly rotationGraceHours: number;
  /** Seconds a credentials run waits for one Key Vault, Graph or Entra call before giving it up. */
  readonly credentialsCallTimeoutSeconds: number;
  /** Whether un-enrolling a registry deletes its pull application. */
  readonly deleteApplicationOnUnenrol: boolean;
  /** NCRONTAB schedule of the reconciliation sweep. */
  readonly reconcileSchedule: string;
  /** Days audit rows are kept; older UTC days are deleted by the sweep timer. */
  readonly auditRetentionDays: number;
  /** Seconds one sweep run starts new work for; the next run carries on from its cursor. */
  readonly sweepTimeBudgetSeconds: number;
  /** Client id of a user-assigned managed identity, when the app does not use its system-assigned one. */
  readonly managedIdentityClientId?: string;
  /**
   * Key Vaults (names, lower case) that hold the app's pull credentials: never a workload-identity
   * target. Vaults that a registry's `acr-pull-credential` tag or an enrolment names count too.
   */
  readonly credentialsVaultNames: readonly string[];
  /**
   * Whether App Service Authentication is on (`WEBSITE_AUTH_ENABLED`, set by the platform): only
   * then are the `x-ms-client-principal*` headers the platform's, and only then does the HTTP API
   * read the caller and its app roles from them.
   */
  readonly appServiceAuthEnabled: boolean;
}

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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The settings the app reads. Identity-based storage follows Azure's `<Connection>__tableServiceUri`. */
export const SETTINGS: readonly SettingSpec[] = [
  { name: 'AZURE_TENANT_ID', required: true, example: '72f988bf-86f1-41af-91ab-2d7cd011db47', description: 'Entra tenant id the app works in.' },
  { name: 'ARM_ENDPOINT', required: false, default: 'https://management.azure.com', example: 'https://management.azure.com', description: 'Azure Resource Manager endpoint.' },
  { name: 'GRAPH_ENDPOINT', required: false, default: 'https://graph.microsoft.com', example: 'https://graph.microsoft.com', description: 'Microsoft Graph endpoint.' },
  { name: 'AZURE_AUTHORITY_HOST', required: false, default: 'https://login.microsoftonline.com', example: 'https://login.microsoftonline.com', description: 'Entra authority host, used to prove a new pull password works before switching to it.' },
  { name: 'WATCHED_SUBSCRIPTIONS', required: true, example: '00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000002', description: 'Comma-separated subscription ids the app acts on; events from others are skipped.' },
  {
    name: 'WORKLOAD_FEDERATION_SCOPES',
    required: false,
    example: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-apps',
    description:
      'Comma-separated subscriptions (/subscriptions/<id>) and resource groups (/subscriptions/<id>/resourceGroups/<name>), each in WATCHED_SUBSCRIPTIONS, whose user-assigned identities may be federated by their acr-workload-cluster/-subjects tags. Empty (default): no identity is federated.',
  },
  { name: 'TABLES__tableServiceUri', required: false, example: 'https://stacrpull.table.core.windows.net', description: 'Table Storage endpoint, reached with the managed identity. Either this or TABLES_CONNECTION_STRING.' },
  { name: 'TABLES_CONNECTION_STRING', required: false, example: 'UseDevelopmentStorage=true', description: 'Table Storage connection string, for local development only, where the table endpoint is plain http.' },
  { name: 'TABLE_PREFIX', required: false, default: 'acrpull', example: 'acrpull', description: 'Prefix of the tables the app creates (letters and digits).' },
  { name: 'ACCESS_DEFAULT_CONSENT', required: false, default: 'none', example: 'none', description: `What a registry without an acr-pull-allow tag consents to for pull (never push, which needs acr-push-allow): ${CONSENT_DEFAULTS.join('|')}.` },
  { name: 'ACCESS_ALLOW_CONSENT_OVERRIDE', required: false, default: 'false', example: 'false', description: 'Whether a manual grant through the HTTP API may override registry consent (audited as an override).' },
  { name: 'ROTATION_SCHEDULE', required: false, default: '0 0 3 * * *', example: '0 0 3 * * *', description: 'NCRONTAB schedule (six fields, seconds first, in UTC unless WEBSITE_TIME_ZONE says otherwise) of the rotation timer.', boundBy: 'rotateCredentials' },
  { name: 'ROTATION_PERIOD_DAYS', required: false, default: '90', example: '90', description: 'Lifetime of a pull password in days; it is replaced at two thirds of its life. At least 31 + ROTATION_GRACE_HOURS in days (32 with the default grace): Key Vault announces SecretNearExpiry 30 days before expiry.' },
  { name: 'ROTATION_GRACE_HOURS', required: false, default: '24', example: '24', description: 'Hours a password stays valid after Key Vault stopped serving it; a rotation that would cut this short is deferred.' },
  { name: 'CREDENTIALS_CALL_TIMEOUT_SECONDS', required: false, default: '30', example: '30', description: 'Seconds a credentials run waits for one Key Vault, Graph or Entra call before giving up (at most 60, well under the 300 s lease).' },
  { name: 'CREDENTIALS_DELETE_APP_ON_UNENROL', required: false, default: 'false', example: 'false', description: 'Whether un-enrolling a registry deletes its pull application.' },
  { name: 'RECONCILE_SCHEDULE', required: false, default: '0 */30 * * * *', example: '0 */30 * * * *', description: 'NCRONTAB schedule (in UTC unless WEBSITE_TIME_ZONE says otherwise) of the reconciliation sweep that catches missed events.', boundBy: 'reconcileSweep' },
  { name: 'SWEEP_TIME_BUDGET_SECONDS', required: false, default: '240', example: '240', description: 'Seconds one run of the reconciliation sweep starts new work for (10 to 3600; keep it under the function timeout, 5 minutes on the Consumption plan). A sweep that runs out saves where it stopped in Table Storage and the next run carries on from there; its summary row says so.' },
  { name: 'AUDIT_RETENTION_DAYS', required: false, default: '90', example: '90', description: 'Days audit rows are kept (1 to 3650); the sweep timer deletes whole UTC days older than this.' },
  { name: 'CREDENTIALS_VAULT_NAMES', required: false, example: 'kv-acrpull-abc123', description: "Comma-separated Key Vault names that hold the app's pull credentials (the infra sets its own vault). They, and any vault a registry's acr-pull-credential tag or an enrolment names, are never given to a workload identity." },
  { name: 'AZURE_CLIENT_ID', required: false, example: '11111111-2222-3333-4444-555555555555', description: 'Client id of a user-assigned managed identity, when the app should use it instead of its system-assigned one.' },
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
    (s) => `${s.name}: not set, so the ${s.boundBy} function is in error and never runs (its trigger binds %${s.name}%, which the Functions host resolves from app settings only) (example: ${s.example})`,
  );
}

/** Thrown by `loadConfig`: its message has one line per bad setting. */
export class ConfigError extends Error {
  readonly code = 'InvalidConfiguration';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * `WEBSITE_AUTH_ENABLED` alone, parsed as `loadConfig` parses it, for the one decision made before
 * the settings are read: each HTTP route's auth level when it is registered. Never throws: a value
 * `loadConfig` refuses counts as off here (so the host keeps asking for keys, and the API ignores
 * principal headers), and `loadConfig` reports it.
 */
export function isAppServiceAuthEnabled(env: Env): boolean {
  return env[APP_SERVICE_AUTH_SETTING]?.trim().toLowerCase() === 'true';
}

/** Reads and validates every setting; throws `ConfigError` listing each bad one. */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const spec = (name: string): SettingSpec => {
    const found = SETTINGS.find((s) => s.name === name);
    if (!found) throw new Error(`setting ${name} is not declared in SETTINGS`);
    return found;
  };
  const bad = (name: string, expected: string, got: string | undefined): undefined => {
    const shown = got === undefined ? 'nothing' : JSON.stringify(got);
    problems.push(`${name}: expected ${expected}, got ${shown} (example: ${spec(name).example})`);
    return undefined;
  };
  const raw = (name: string): string | undefined => {
    const s = spec(name);
    const value = env[name]?.trim();
    if (value) return value;
    if (s.default !== undefined) return s.default;
    if (s.required) bad(name, 'a value (required)', undefined);
    return undefined;
  };
  const url = (name: string): string | undefined => {
    const value = raw(name);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return bad(name, 'an https URL', value);
      return value.replace(/\/+$/, '');
    } catch {
      return bad(name, 'an https URL', value);
    }
  };
  const guid = (name: string): string | undefined => {
    const value = raw(name);
    if (value === undefined) return undefined;
    return GUID.test(value) ? value.toLowerCase() : bad(name, 'a GUID', value);
  };
  const bool = (name: string): boolean => {
    const value = raw(name)?.toLowerCase();
    if (value === 'true') return true;
    if (value === 'false' || value === undefined) return false;
    bad(name, 'true|false', env[name]);
    return false;
  };
  const integer = (name: string, min: number, max: number): number => {
    const value = raw(name);
    const parsed = value !== undefined && /^\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    bad(name, `a whole number from ${min} to ${max}`, value);
    return min;
  };
  const vaultNames = (name: string): string[] => {
    const value = env[name]?.trim() ?? '';
    const names: string[] = [];
    for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
      const checked = checkKeyVaultName(part);
      if (checked.ok) names.push(checked.value);
      else bad(name, 'comma-separated Key Vault names', value);
    }
    return [...new Set(names)];
  };
  const ncrontab = (name: string): string => {
    const value = raw(name) ?? '';
    const fields = value.split(/\s+/);
    if (fields.length !== 6) {
      bad(name, 'an NCRONTAB expression of six fields (second minute hour day month weekday)', value);
      return value;
    }
    try {
      CronExpressionParser.parse(value);
    } catch {
      bad(name, 'a valid NCRONTAB expression', value);
    }
    return value;
  };

  const tenantId = guid('AZURE_TENANT_ID') ?? '';
  const armEndpoint = url('ARM_ENDPOINT') ?? '';
  const graphEndpoint = url('GRAPH_ENDPOINT') ?? '';
  const authorityHost = url('AZURE_AUTHORITY_HOST') ?? '';

  const watchedRaw = raw('WATCHED_SUBSCRIPTIONS');
  const watchedSubscriptions: string[] = [];
  if (watchedRaw !== undefined) {
    for (const part of watchedRaw.split(',').map((p) => p.trim()).filter(Boolean)) {
      if (GUID.test(part)) watchedSubscriptions.push(part.toLowerCase());
      else bad('WATCHED_SUBSCRIPTIONS', 'comma-separated subscription GUIDs', watchedRaw);
    }
    if (watchedSubscriptions.length === 0 && problems.length === 0) bad('WATCHED_SUBSCRIPTIONS', 'at least one subscription GUID', watchedRaw);
  }

  const federationScopes = parseFederationScopes(env['WORKLOAD_FEDERATION_SCOPES'], watchedSubscriptions, (expected, got) => bad('WORKLOAD_FEDERATION_SCOPES', expected, got));

  const serviceUri = env['TABLES__tableServiceUri']?.trim() ? url('TABLES__tableServiceUri') : undefined;
  const connectionString = env['TABLES_CONNECTION_STRING']?.trim() || undefined;
  if (!serviceUri && !connectionString && !problems.some((p) => p.startsWith('TABLES__'))) {
    problems.push(
      `TABLES__tableServiceUri: expected a Table Storage URL (or TABLES_CONNECTION_STRING for local development), got nothing (example: ${spec('TABLES__tableServiceUri').example})`,
    );
  }

  const tablePrefix = raw('TABLE_PREFIX') ?? 'acrpull';
  if (!/^[A-Za-z][A-Za-z0-9]{0,29}$/.test(tablePrefix)) bad('TABLE_PREFIX', 'letters and digits, starting with a letter, at most 30', tablePrefix);

  const consentRaw = raw('ACCESS_DEFAULT_CONSENT') ?? 'none';
  const defaultConsent = (CONSENT_DEFAULTS as readonly string[]).includes(consentRaw)
    ? (consentRaw as ConsentDefault)
    : (bad('ACCESS_DEFAULT_CONSENT', CONSENT_DEFAULTS.join('|'), consentRaw), 'none' as const);

  const config: Config = {
    tenantId,
    armEndpoint,
    graphEndpoint,
    authorityHost,
    watchedSubscriptions,
    federationScopes,
    tables: { serviceUri, connectionString },
    tablePrefix,
    defaultConsent,
    allowConsentOverride: bool('ACCESS_ALLOW_CONSENT_OVERRIDE'),
    rotationSchedule: ncrontab('ROTATION_SCHEDULE'),
    rotationPeriodDays: integer('ROTATION_PERIOD_DAYS', 1, 730),
    rotationGraceHours: integer('ROTATION_GRACE_HOURS', 0, 24 * 30),
    credentialsCallTimeoutSeconds: integer('CREDENTIALS_CALL_TIMEOUT_SECONDS', 1, 60),
    deleteApplicationOnUnenrol: bool('CREDENTIALS_DELETE_APP_ON_UNENROL'),
    reconcileSchedule: ncrontab('RECONCILE_SCHEDULE'),
    auditRetentionDays: integer('AUDIT_RETENTION_DAYS', 1, 3650),
    sweepTimeBudgetSeconds: integer('SWEEP_TIME_BUDGET_SECONDS', 10, 3600),
    managedIdentityClientId: env['AZURE_CLIENT_ID']?.trim() ? guid('AZURE_CLIENT_ID') : undefined,
    credentialsVaultNames: vaultNames('CREDENTIALS_VAULT_NAMES'),
    appServiceAuthEnabled: bool(APP_SERVICE_AUTH_SETTING),
  };
  // A period inside Key Vault's near-expiry window would rotate every new password at once.
  if (!problems.some((p) => p.startsWith('ROTATION_'))) {
    const min = minimumPeriodDays(config.rotationGraceHours);
    if (config.rotationPeriodDays < min) {
      bad('ROTATION_PERIOD_DAYS', `a whole number from ${min} to ${MAX_PERIOD_DAYS} (${periodProblem(config.rotationPeriodDays, config.rotationGraceHours)})`, raw('ROTATION_PERIOD_DAYS'));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

const SUBSCRIPTION_SCOPE = /^\/subscriptions\/([^/]+)$/i;
const RESOURCE_GROUP_SCOPE = /^\/subscriptions\/([^/]+)\/resourcegroups\/([-\w.()]{1,90})$/i;

/**
 * `WORKLOAD_FEDERATION_SCOPES`: comma-separated `/subscriptions/<id>` and
 * `/subscriptions/<id>/resourceGroups/<name>`, each in a watched subscription (the role check that
 * goes with federation only sees the watched subscriptions). Answers them lower-cased, deduplicated.
 */
function parseFederationScopes(value: string | undefined, watched: readonly string[], bad: (expected: string, got: string) => void): string[] {
  const scopes: string[] = [];
  for (const part of (value ?? '').split(',').map((p) => p.trim().replace(/\/+$/, '')).filter(Boolean)) {
    const sub = SUBSCRIPTION_SCOPE.exec(part) ?? RESOURCE_GROUP_SCOPE.exec(part);
    const subscriptionId = sub?.[1]?.toLowerCase();
    const rg = sub?.[2];
    if (!subscriptionId || !GUID.test(subscriptionId) || (rg !== undefined && rg.endsWith('.'))) {
      bad('comma-separated /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>', part);
      continue;
    }
    if (watched.length > 0 && !watched.includes(subscriptionId)) {
      bad(`scopes in WATCHED_SUBSCRIPTIONS (${subscriptionId} is not watched, so the identity's roles there could not be checked)`, part);
      continue;
    }
    const scope = rg === undefined ? `/subscriptions/${subscriptionId}` : `/subscriptions/${subscriptionId}/resourcegroups/${rg.toLowerCase()}`;
    if (!scopes.includes(scope)) scopes.push(scope);
  }
  return scopes;
}
