/**
 * What `GET /api/health` checks: settings valid, each dependency reachable, per watched
 * subscription how many role assignments exist, how many the automation owns and the headroom
 * to Azure's 4,000 limit, pull credentials expired, close to expiry or overdue, and the last
 * reconciliation sweep. Probes run in parallel, each bounded by a timeout, and a failed probe
 * is reported, never thrown.
 */
import { ConfigError } from '../config.js';
import type { DeadLetterCount } from '../azure/deadLetters.js';
import type { EnrolmentView } from '../credentials/enrolment.js';
import { errorCode } from '../errors.js';
import type { SweepRecord } from '../state/sweepRecord.js';
import {
  HEALTH_STATUSES,
  ROLE_ASSIGNMENT_LIMIT,
  type CredentialHealth,
  type DeadLetterHealth,
  type DependencyHealth,
  type Health,
  type HealthStatus,
  type PasswordConsumersHealth,
  type SubscriptionHealth,
  type SweepHealth,
} from './schemas/health.js';

/** One call per dependency; each resolves when the dependency answered. */
export interface HealthProbes {
  readonly watchedSubscriptions: readonly string[];
  /** Settings that leave a function in error although the rest loads (see `unresolvedBindingSettings`). */
  readonly settingProblems?: readonly string[];
  tableStorage(): Promise<void>;
  arm(): Promise<void>;
  graph(): Promise<void>;
  /** Role assignments in the subscription (all scopes within it) and those carrying our marker. */
  /** Every assignment in the subscription (what the limit counts), and how many are ours when known. */
  roleAssignments(subscriptionId: string): Promise<{ total: number; owned?: number }>;
  /** Enrolled registries whose pull password is used by value (issue 19.4); informational, never changes the status. */
  passwordConsumers?(): Promise<PasswordConsumersHealth[]>;
  /** Every pull-credential enrolment (ids and times only). */
  enrolments?(): Promise<readonly EnrolmentView[]>;
  /** The last reconciliation sweep any instance recorded. */
  lastSweep?(): Promise<SweepRecord | undefined>;
  /** A sweep older than this is stale: twice the RECONCILE_SCHEDULE interval. */
  readonly sweepStaleAfterMs?: number;
  /** Event Grid's dead-letter blobs, those since `since` counted apart; absent when not configured. */
  deadLetters?(since: Date): Promise<DeadLetterCount>;
}

/** Dead letters this recent make the app `degraded`: someone should look at them. */
export const DEAD_LETTER_WINDOW_DAYS = 7;

/** A credential this close to expiry (or within a third of its life, for short lives) without a successful rotation is `degraded`. */
export const EXPIRY_WARNING_DAYS = 7;
/** A rotation this long past due is `degraded`: the timer runs daily by default, so a day's lag is normal. */
const OVERDUE_AFTER_MS = 24 * 3_600_000;
const DAY_MS = 86_400_000;

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
      credentials: { status: HEALTH_STATUSES.healthy, items: [] },
      sweep: { status: HEALTH_STATUSES.healthy, problem: 'not checked: the settings are invalid' },
      deadLetters: { status: HEALTH_STATUSES.healthy, configured: false, problem: 'not checked: the settings are invalid' },
    };
  }

  const passwordConsumers = built.passwordConsumers
    ? withTimeout(built.passwordConsumers(), 'password consumers').catch(() => undefined)
    : Promise.resolve(undefined);
  const at = now();
  const [tableStorage, arm, graph, credentials, sweep, deadLetters, ...subscriptions] = await Promise.all([
    probe('tableStorage', () => built.tableStorage()),
    probe('arm', () => built.arm()),
    probe('graph', () => built.graph()),
    checkCredentials(built, at),
    checkSweep(built, at),
    checkDeadLetters(built, at),
    ...built.watchedSubscriptions.map((id) => countAssignments(id, () => built.roleAssignments(id))),
  ]);
  const byValue = await passwordConsumers;
  const dependencies = [tableStorage, arm, graph] as DependencyHealth[];
  const roleAssignments = subscriptions as SubscriptionHealth[];
  // A dependency out of reach stops the app; everything else only warns: restarting fixes none of it.
  const unreachable = dependencies.some((d) => !d.reachable);
  const settingProblems = (built.settingProblems ?? []).map(redact);
  const nearLimit = roleAssignments.some(
    (s) => s.errorCode !== undefined || (s.headroom !== undefined && s.headroom < ROLE_ASSIGNMENT_LIMIT * HEADROOM_WARNING),
  );
  const warns = nearLimit || [credentials, sweep, deadLetters].some((part) => part.status !== HEALTH_STATUSES.healthy);
  return {
    status:
      unreachable || settingProblems.length > 0 ? HEALTH_STATUSES.unhealthy : warns ? HEALTH_STATUSES.degraded : HEALTH_STATUSES.healthy,
    time: at.toISOString(),
    settings: { valid: settingProblems.length === 0, problems: settingProblems },
    dependencies,
    roleAssignments,
    credentials,
    sweep,
    deadLetters,
    ...(byValue ? { passwordConsumers: byValue } : {}),
  };
}

async function checkDeadLetters(probes: HealthProbes, now: Date): Promise<DeadLetterHealth> {
  if (!probes.deadLetters)
    return {
      status: HEALTH_STATUSES.healthy,
      configured: false,
      problem: 'no blob endpoint for the dead-letter container in the settings',
    };
  try {
    const count = await withTimeout(
      probes.deadLetters(new Date(now.getTime() - DEAD_LETTER_WINDOW_DAYS * DAY_MS)),
      'the dead-letter container',
    );
    const fields = {
      configured: true,
      blobs: count.blobs,
      recent: count.recent,
      bySubscription: { ...count.bySubscription },
      ...(count.newest ? { newest: count.newest } : {}),
    };
    if (count.recent > 0) {
      return {
        ...fields,
        status: HEALTH_STATUSES.degraded,
        problem: `Event Grid dead-lettered ${count.recent}${count.truncated ? '+' : ''} blob(s) of events in the last ${DEAD_LETTER_WINDOW_DAYS} days; the sweep settles what they asked for, the blobs say why they were not delivered`,
      };
    }
    return { ...fields, status: HEALTH_STATUSES.healthy };
  } catch (error) {
    return {
      status: HEALTH_STATUSES.degraded,
      configured: true,
      errorCode: errorCode(error),
      problem: `could not read the dead-letter container: ${messageOf(error)}`,
    };
  }
}

/** How one active enrolment stands at `now`: expired, close to expiry, overdue, or fine. */
export function credentialHealth(view: EnrolmentView, now: Date): CredentialHealth {
  const base = {
    registryId: view.registryId,
    registryName: view.registryName,
    vaultName: view.vaultName,
    ...(view.currentExpiresOn ? { currentExpiresOn: view.currentExpiresOn } : {}),
    ...(view.nextRotationAt ? { nextRotationAt: view.nextRotationAt } : {}),
    ...(view.lastRotatedAt ? { lastRotatedAt: view.lastRotatedAt } : {}),
  };
  const expires = view.currentExpiresOn ? Date.parse(view.currentExpiresOn) : NaN;
  if (!Number.isFinite(expires))
    return { ...base, status: HEALTH_STATUSES.degraded, problem: 'no proven password yet: the next rotation run creates one' };
  const left = expires - now.getTime();
  if (left <= 0)
    return {
      ...base,
      status: HEALTH_STATUSES.unhealthy,
      problem: `the password Key Vault serves expired on ${view.currentExpiresOn}; consumers using it can no longer pull`,
    };
  const warnMs = Math.min(EXPIRY_WARNING_DAYS * DAY_MS, (view.periodDays * DAY_MS) / 3);
  if (left < warnMs)
    return { ...base, status: HEALTH_STATUSES.degraded, problem: `expires in ${formatDays(left)} without a successful rotation` };
  const next = view.nextRotationAt ? Date.parse(view.nextRotationAt) : NaN;
  if (Number.isFinite(next) && now.getTime() - next > OVERDUE_AFTER_MS) {
    return { ...base, status: HEALTH_STATUSES.degraded, problem: `rotation overdue since ${view.nextRotationAt}` };
  }
  return { ...base, status: HEALTH_STATUSES.healthy };
}

async function checkCredentials(probes: HealthProbes, now: Date): Promise<Health['credentials']> {
  if (!probes.enrolments) return { status: HEALTH_STATUSES.healthy, items: [] };
  try {
    const views = await withTimeout(probes.enrolments(), 'pull-credential enrolments');
    const items = views.filter((v) => v.status === 'active').map((v) => credentialHealth(v, now));
    return { status: worst(items.map((i) => i.status)), items };
  } catch (error) {
    return { status: HEALTH_STATUSES.degraded, items: [], errorCode: errorCode(error), message: messageOf(error) };
  }
}

async function checkSweep(probes: HealthProbes, now: Date): Promise<SweepHealth> {
  if (!probes.lastSweep) return { status: HEALTH_STATUSES.healthy, problem: 'not recorded' };
  let last: SweepRecord | undefined;
  try {
    last = await withTimeout(probes.lastSweep(), 'the last sweep');
  } catch (error) {
    return { status: HEALTH_STATUSES.degraded, errorCode: errorCode(error), problem: `could not read the last sweep: ${messageOf(error)}` };
  }
  if (!last) return { status: HEALTH_STATUSES.healthy, problem: 'no sweep has finished yet' };
  const fields = {
    lastFinishedAt: last.finishedAt,
    outcome: last.outcome,
    resources: last.resources,
    failedResources: last.failedResources,
    ...(last.errorCode ? { errorCode: last.errorCode } : {}),
  };
  if (last.outcome === 'failed')
    return {
      ...fields,
      status: HEALTH_STATUSES.degraded,
      problem: `the last sweep failed (${last.errorCode ?? 'unknown error'}); missed events are not being caught up`,
    };
  if (last.outcome === 'partial')
    return {
      ...fields,
      status: HEALTH_STATUSES.degraded,
      problem: `the last sweep could not reconcile ${last.failedResources} of ${last.resources} resources (see the failed audit rows)`,
    };
  const age = now.getTime() - Date.parse(last.finishedAt);
  if (probes.sweepStaleAfterMs !== undefined && age > probes.sweepStaleAfterMs) {
    return {
      ...fields,
      status: HEALTH_STATUSES.degraded,
      problem: `no sweep has finished for ${formatDays(age)}; the reconcileSweep timer may not be running`,
    };
  }
  return { ...fields, status: HEALTH_STATUSES.healthy };
}

const RANK: Readonly<Record<HealthStatus, number>> = { healthy: 0, degraded: 1, unhealthy: 2 };
function worst(statuses: readonly HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), HEALTH_STATUSES.healthy);
}

function formatDays(ms: number): string {
  const hours = ms / 3_600_000;
  return hours < 48 ? `${Math.max(1, Math.round(hours))} h` : `${Math.round(hours / 24)} days`;
}

async function probe(name: DependencyHealth['name'], call: () => Promise<void>): Promise<DependencyHealth> {
  const started = performance.now();
  try {
    await withTimeout(call(), name);
    return { name, reachable: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      name,
      reachable: false,
      latencyMs: Math.round(performance.now() - started),
      errorCode: errorCode(error),
      message: messageOf(error),
    };
  }
}

async function countAssignments(
  subscriptionId: string,
  call: () => Promise<{ total: number; owned?: number }>,
): Promise<SubscriptionHealth> {
  try {
    const { total, owned } = await withTimeout(call(), `role assignments of ${subscriptionId}`);
    return {
      subscriptionId,
      total,
      ...(owned !== undefined ? { owned } : {}),
      limit: ROLE_ASSIGNMENT_LIMIT,
      headroom: Math.max(ROLE_ASSIGNMENT_LIMIT - total, 0),
    };
  } catch (error) {
    return { subscriptionId, limit: ROLE_ASSIGNMENT_LIMIT, errorCode: errorCode(error), message: messageOf(error) };
  }
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`${what} did not answer within ${PROBE_TIMEOUT_MS / 1000} s`), { code: 'Timeout' })),
      PROBE_TIMEOUT_MS,
    );
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
