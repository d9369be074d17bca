/**
 * What `GET /api/health` checks: settings valid, each dependency reachable, and per watched
 * subscription how many role assignments exist, how many the automation owns and the headroom
 * to Azure's 4,000 limit. Probes run in parallel, each bounded by a timeout, and a failed probe
 * is reported, never thrown.
 */
import { ConfigError } from '../config.js';
import { errorCode } from '../errors.js';
import { HEALTH_STATUSES, ROLE_ASSIGNMENT_LIMIT, type DependencyHealth, type Health, type PasswordConsumersHealth, type SubscriptionHealth } from './schemas/health.js';

/** One call per dependency; each resolves when the dependency answered. */
export interface HealthProbes {
  readonly watchedSubscriptions: readonly string[];
  /** Settings that leave a function in error although the rest loads (see `unresolvedBindingSettings`). */
  readonly settingProblems?: readonly string[];
  tableStorage(): Promise<void>;
  arm(): Promise<void>;
  graph(): Promise<void>;
  /** Role assignments in the subscription (all scopes within it) and those carrying our marker. */
  roleAssignments(subscriptionId: string): Promise<{ total: number; owned: number }>;
  /** Enrolled registries whose pull password is used by value (issue 19.4); informational, never changes the status. */
  passwordConsumers?(): Promise<PasswordConsumersHealth[]>;
}

/** A subscription within this share of the limit makes the app `degraded`. */
const HEADROOM_WARNING = 0.1;
const PROBE_TIMEOUT_MS = 10_000;

/** Runs every check. `probes` throws `ConfigError` when the settings are invalid; that is reported too. */
export async function checkHealth(probes: () => HealthProbes, now: () => Date = () => new Date()): Promise<Health> {
  let built: HealthProbes;
  try {
    built = probes();
  } catch (error) {
    const problems = error instanceof ConfigError ? [...error.problems] : [`${errorCode(error)}: the app could not start its dependencies`];
    return {
      status: HEALTH_STATUSES.unhealthy,
      time: now().toISOString(),
      settings: { valid: false, problems: problems.map(redact) },
      dependencies: [],
      roleAssignments: [],
    };
  }

  const passwordConsumers = built.passwordConsumers ? withTimeout(built.passwordConsumers(), 'password consumers').catch(() => undefined) : Promise.resolve(undefined);
  const [tableStorage, arm, graph, ...subscriptions] = await Promise.all([
    probe('tableStorage', () => built.tableStorage()),
    probe('arm', () => built.arm()),
    probe('graph', () => built.graph()),
    ...built.watchedSubscriptions.map((id) => countAssignments(id, () => built.roleAssignments(id))),
  ]);
  const byValue = await passwordConsumers;
  const dependencies = [tableStorage, arm, graph] as DependencyHealth[];
  const roleAssignments = subscriptions as SubscriptionHealth[];
  // A dependency out of reach stops the app; a subscription we cannot count (or near its limit) only warns.
  const unreachable = dependencies.some((d) => !d.reachable);
  const settingProblems = (built.settingProblems ?? []).map(redact);
  const nearLimit = roleAssignments.some((s) => s.errorCode !== undefined || (s.headroom !== undefined && s.headroom < ROLE_ASSIGNMENT_LIMIT * HEADROOM_WARNING));
  return {
    status: unreachable || settingProblems.length > 0 ? HEALTH_STATUSES.unhealthy : nearLimit ? HEALTH_STATUSES.degraded : HEALTH_STATUSES.healthy,
    time: now().toISOString(),
    settings: { valid: settingProblems.length === 0, problems: settingProblems },
    dependencies,
    roleAssignments,
    ...(byValue ? { passwordConsumers: byValue } : {}),
  };
}

async function probe(name: DependencyHealth['name'], call: () => Promise<void>): Promise<DependencyHealth> {
  const started = performance.now();
  try {
    await withTimeout(call(), name);
    return { name, reachable: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { name, reachable: false, latencyMs: Math.round(performance.now() - started), errorCode: errorCode(error), message: messageOf(error) };
  }
}

async function countAssignments(subscriptionId: string, call: () => Promise<{ total: number; owned: number }>): Promise<SubscriptionHealth> {
  try {
    const { total, owned } = await withTimeout(call(), `role assignments of ${subscriptionId}`);
    return { subscriptionId, total, owned, limit: ROLE_ASSIGNMENT_LIMIT, headroom: Math.max(ROLE_ASSIGNMENT_LIMIT - total, 0) };
  } catch (error) {
    return { subscriptionId, limit: ROLE_ASSIGNMENT_LIMIT, errorCode: errorCode(error), message: messageOf(error) };
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} did not answer within ${PROBE_TIMEOUT_MS / 1000} s`), { code: 'Timeout' })), PROBE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return redact((error instanceof Error ? error.message : String(error)).slice(0, 300));
}

/** Storage keys and SAS signatures must never reach a response, whatever an SDK put in a message. */
export function redact(text: string): string {
  return text
    .replace(/(AccountKey|SharedAccessSignature|SharedAccessKey|Password|client_secret)=([^;&\s]+)/gi, '$1=[redacted]')
    .replace(/([?&]sig=)[^&\s]+/gi, '$1[redacted]')
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1[redacted]');
}
