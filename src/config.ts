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
import { APP_SERVICE_AUTH_SETTING, SETTINGS, type SettingSpec } from './settings.js';

/** The settings' table lives in settings.ts; re-exported for the code that reads it beside the config. */
export {
  APP_SERVICE_AUTH_SETTING,
  isAppServiceAuthEnabled,
  SETTING_DEFAULTS,
  SETTINGS,
  unresolvedBindingSettings,
  type SettingSpec,
} from './settings.js';

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
  /** Seconds a credentials run holds an enrolment's lease; a run that died blocks the registry this long at most. */
  readonly credentialsLeaseSeconds: number;
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

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Thrown by `loadConfig`: its message has one line per bad setting. */
export class ConfigError extends Error {
  readonly code = 'InvalidConfiguration';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

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
    for (const part of value
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
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
    for (const part of watchedRaw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (GUID.test(part)) watchedSubscriptions.push(part.toLowerCase());
      else bad('WATCHED_SUBSCRIPTIONS', 'comma-separated subscription GUIDs', watchedRaw);
    }
    if (watchedSubscriptions.length === 0 && problems.length === 0)
      bad('WATCHED_SUBSCRIPTIONS', 'at least one subscription GUID', watchedRaw);
  }

  const federationScopes = parseFederationScopes(env['WORKLOAD_FEDERATION_SCOPES'], watchedSubscriptions, (expected, got) =>
    bad('WORKLOAD_FEDERATION_SCOPES', expected, got),
  );

  const serviceUri = env['TABLES__tableServiceUri']?.trim() ? url('TABLES__tableServiceUri') : undefined;
  const connectionString = env['TABLES_CONNECTION_STRING']?.trim() || undefined;
  if (!serviceUri && !connectionString && !problems.some((p) => p.startsWith('TABLES__'))) {
    problems.push(
      `TABLES__tableServiceUri: expected a Table Storage URL (or TABLES_CONNECTION_STRING for local development), got nothing (example: ${spec('TABLES__tableServiceUri').example})`,
    );
  }

  const tablePrefix = raw('TABLE_PREFIX') ?? 'acrpull';
  if (!/^[A-Za-z][A-Za-z0-9]{0,29}$/.test(tablePrefix))
    bad('TABLE_PREFIX', 'letters and digits, starting with a letter, at most 30', tablePrefix);

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
    credentialsLeaseSeconds: integer('CREDENTIALS_LEASE_SECONDS', 10, 900),
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
      bad(
        'ROTATION_PERIOD_DAYS',
        `a whole number from ${min} to ${MAX_PERIOD_DAYS} (${periodProblem(config.rotationPeriodDays, config.rotationGraceHours)})`,
        raw('ROTATION_PERIOD_DAYS'),
      );
    }
  }
  // The lease is renewed before a call when less than two call timeouts of it remain: a shorter lease could end during a call.
  if (config.credentialsLeaseSeconds < 3 * config.credentialsCallTimeoutSeconds && !problems.some((p) => p.startsWith('CREDENTIALS_'))) {
    bad(
      'CREDENTIALS_LEASE_SECONDS',
      `at least 3 × CREDENTIALS_CALL_TIMEOUT_SECONDS (${3 * config.credentialsCallTimeoutSeconds})`,
      String(config.credentialsLeaseSeconds),
    );
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
function parseFederationScopes(
  value: string | undefined,
  watched: readonly string[],
  bad: (expected: string, got: string) => void,
): string[] {
  const scopes: string[] = [];
  for (const part of (value ?? '')
    .split(',')
    .map((p) => p.trim().replace(/\/+$/, ''))
    .filter(Boolean)) {
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
    const scope =
      rg === undefined ? `/subscriptions/${subscriptionId}` : `/subscriptions/${subscriptionId}/resourcegroups/${rg.toLowerCase()}`;
    if (!scopes.includes(scope)) scopes.push(scope);
  }
  return scopes;
}
