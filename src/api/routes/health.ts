/** `GET /api/health`: settings, dependencies and role-assignment headroom. */
import { checkHealth, type HealthProbes } from '../health.js';
import { AUTH_LEVELS, operation, type ApiRoute } from '../http.js';
import { HEALTH_STATUSES, HealthSchema } from '../schemas/health.js';

/**
 * The health route. Function-level like the rest: its answer names subscriptions and setting
 * problems, which an anonymous caller should not read. A probe sends the key like any client.
 */
export function healthRoute(probes: () => HealthProbes): ApiRoute {
  return {
    name: 'healthApi',
    route: 'health',
    authLevel: AUTH_LEVELS.function,
    operations: [
      operation({
        method: 'GET',
        operationId: 'getHealth',
        appRole: 'read',
        summary: 'Check settings, dependencies and role-assignment headroom',
        description:
          'Validates the app settings, reaches Table Storage, ARM and Microsoft Graph, and counts per watched subscription the role assignments ' +
          'that exist and those the automation owns, with the headroom to the 4,000 limit. Answers 503 when unhealthy, so a probe can use the status alone.',
        tags: ['operations'],
        responses: {
          200: { description: 'Healthy or degraded (a subscription is near the role-assignment limit).', schema: HealthSchema },
          503: { description: 'Unhealthy: invalid settings or an unreachable dependency.', schema: HealthSchema },
        },
        async handle() {
          const health = await checkHealth(probes);
          return {
            status: health.status === HEALTH_STATUSES.unhealthy ? 503 : 200,
            body: health,
            headers: { 'cache-control': 'no-store' },
          };
        },
      }),
    ],
  };
}
