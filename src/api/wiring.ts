/**
 * The HTTP API over the app's real dependencies: each route gets a lazy getter over `getDeps()`,
 * so importing a function module builds nothing and invalid settings surface per request
 * (as a problem, or in the health report) rather than at load.
 */
import { isAppServiceAuthEnabled, unresolvedBindingSettings } from '../config.js';
import type { CredentialsDeps } from '../credentials/deps.js';
import { getDeps, type Deps } from '../deps.js';
import { listEnrolments } from '../credentials/useCases.js';
import { isOurs } from '../policy/ownership.js';
import { scheduleIntervalMs } from '../schedule.js';
import { inProcessMetrics } from '../azure/telemetry.js';
import { readMetrics } from '../metrics/readout.js';
import type { StatusSources } from './status/statusReport.js';
import { checkHealth, type HealthProbes } from './health.js';
import type { ApiRoute, CallerPolicy } from './http.js';
import { accessRoutes } from './routes/access.js';
import { auditRoute } from './routes/audit.js';
import { credentialsRoutes } from './routes/credentials.js';
import { healthRoute } from './routes/health.js';
import { openApiRoute } from './routes/openapi.js';
import { statusRoute } from './routes/status.js';

/** The API's version, as in package.json. */
export const API_VERSION = '0.1.0';

/** What the API routes need from the composition root. */
export interface ApiDeps {
  readonly deps: () => Deps;
  readonly credentials: () => CredentialsDeps;
  readonly health: () => HealthProbes;
  readonly status: () => StatusSources;
}

/** Every route of the HTTP API, grouped by the function module that registers it. */
export function apiRoutes(api: ApiDeps) {
  const access = accessRoutes(api.deps);
  const credentials = credentialsRoutes(api.credentials);
  const audit = auditRoute(api.deps);
  const health = healthRoute(api.health);
  const status = statusRoute(api.status);
  const all = (): ApiRoute[] => [...access, ...credentials, audit, health, status];
  return { access, credentials, audit, health, status, openapi: openApiRoute(all, API_VERSION) };
}

/** The credentials dependencies, built once by the composition root. */
function credentialsDeps(): CredentialsDeps {
  return getDeps().credentials;
}

/** The probes `GET /api/health` runs, over the same adapters the use cases use. */
export function healthProbes(
  deps: Deps,
  graph: Pick<CredentialsDeps['graph'], 'getApplicationByAppId'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): HealthProbes {
  const [first] = deps.config.watchedSubscriptions;
  return {
    watchedSubscriptions: deps.config.watchedSubscriptions,
    settingProblems: unresolvedBindingSettings(env),
    async tableStorage() {
      await deps.audit.query({ top: 1, since: new Date(Date.now() - 60_000) });
    },
    async arm() {
      if (first) await deps.roleAssignments.listAtScope(`/subscriptions/${first}`);
    },
    async graph() {
      // A lookup of an application id that never exists: one cheap authorised read.
      await graph.getApplicationByAppId('00000000-0000-0000-0000-000000000000');
    },
    async roleAssignments(subscriptionId) {
      // O(1) whatever the estate: Azure's limit counts every assignment in the subscription, which
      // Resource Graph counts in one request; ours (deterministic name and description) are what the
      // last sweep found, since it lists them anyway — none shown before the first sweep.
      const [total, last] = await Promise.all([deps.resourceGraph.countRoleAssignments(subscriptionId), deps.sweepRecords.last()]);
      const owned = last?.ownedAssignments?.[subscriptionId.toLowerCase()];
      return { total, ...(owned !== undefined ? { owned } : {}) };
    },
    async passwordConsumers() {
      const find = deps.credentials.passwordConsumers;
      if (!find) return [];
      const out: { registryName: string; previousRemoveAfter?: string; consumers: string[] }[] = [];
      for (const e of await listEnrolments(deps.credentials)) {
        if (e.status !== 'active' || !e.appId) continue;
        const consumers = await find(e.appId);
        if (consumers.length > 0)
          out.push({
            registryName: e.registryName,
            ...(e.previousRemoveAfter ? { previousRemoveAfter: e.previousRemoveAfter } : {}),
            consumers: consumers.map((c) => c.resourceId),
          });
      }
      return out;
    },
    enrolments: () => listEnrolments(deps.credentials),
    lastSweep: () => deps.sweepRecords.last(),
    sweepStaleAfterMs: 2 * scheduleIntervalMs(deps.config.reconcileSchedule),
    ...(deps.deadLetters ? { deadLetters: (since: Date) => deps.deadLetters!.count(since) } : {}),
  };
}

/**
 * What the status page reads, over the same adapters: health runs its probes with the
 * subscription's assignment list shared with the registry view, so one page costs one list per
 * watched subscription.
 */
export function statusSources(deps: Deps, graph: Pick<CredentialsDeps['graph'], 'getApplicationByAppId'>): StatusSources {
  const lists = new Map<string, ReturnType<Deps['roleAssignments']['listInSubscription']>>();
  const assignments = (subscriptionId: string) => {
    let list = lists.get(subscriptionId);
    if (!list) lists.set(subscriptionId, (list = deps.roleAssignments.listInSubscription(subscriptionId)));
    return list;
  };
  const probes = healthProbes(deps, graph);
  return {
    watchedSubscriptions: deps.config.watchedSubscriptions,
    health: () =>
      checkHealth(() => ({
        ...probes,
        async roleAssignments(subscriptionId) {
          const all = await assignments(subscriptionId);
          return { total: all.length, owned: all.filter((a) => isOurs({ ...a, roleDefinitionId: a.roleDefinitionGuid })).length };
        },
      })),
    assignments,
    enrolments: () => listEnrolments(deps.credentials),
    audit: async (since, top) => (await deps.audit.query({ since, top })).items,
    metrics: () => readMetrics(inProcessMetrics),
  };
}

/**
 * How this process knows its callers: App Service Authentication from the platform's
 * `WEBSITE_AUTH_ENABLED` (read once, here in the composition root, as src/deps.ts reads the
 * rest), and writes refused for a missing app role recorded in the audit trail.
 */
export const CALLER_POLICY: CallerPolicy = {
  appServiceAuthEnabled: isAppServiceAuthEnabled(process.env),
  audit: () => getDeps().audit,
};

/** The routes wired to the process-wide dependencies. */
export const API = apiRoutes({
  deps: getDeps,
  credentials: credentialsDeps,
  health: () => healthProbes(getDeps(), credentialsDeps().graph),
  status: () => statusSources(getDeps(), credentialsDeps().graph),
});
