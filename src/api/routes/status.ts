/** `GET /api/status`: the status page, HTML for a person (the same read app role as the audit trail). */
import { renderStatusPage, STATUS_PAGE_CSP } from '../status/statusPage.js';
import { collectStatus, type StatusSources } from '../status/statusReport.js';
import { AUTH_LEVELS, operation, type ApiRoute } from '../http.js';

/** The route's path after `/api/`. */
export const STATUS_ROUTE = 'status';

/**
 * The status page. Function-level and `Access.Read` like the other read routes: it names
 * subscriptions, registries, principals and denials, which an anonymous caller should not read.
 */
export function statusRoute(sources: () => StatusSources): ApiRoute {
  return {
    name: 'statusPage',
    route: STATUS_ROUTE,
    authLevel: AUTH_LEVELS.function,
    operations: [
      operation({
        method: 'GET',
        operationId: 'getStatusPage',
        appRole: 'read',
        summary: 'The status page: a read-only HTML page for a person',
        description:
          'Per registry, who has access and why (made by the automation or by hand) and who was denied and why; pull credentials with expiry, last proof and next rotation; ' +
          'the latest failures and denials; the role-assignment headroom per subscription; the health checks; and this instance’s metrics. No secret is ever on it. For a probe use GET /api/health.',
        tags: ['operations'],
        responses: { 200: { description: 'The page (text/html, no script).', contentType: 'text/html' } },
        async handle() {
          const report = await collectStatus(sources());
          return {
            status: 200,
            text: renderStatusPage(report),
            headers: {
              'content-type': 'text/html; charset=utf-8',
              'content-security-policy': STATUS_PAGE_CSP,
              'x-content-type-options': 'nosniff',
              'referrer-policy': 'no-referrer',
              'cache-control': 'no-store',
            },
          };
        },
      }),
    ],
  };
}
