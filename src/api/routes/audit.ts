/** `GET /api/audit`: the audit trail, paged, newest first. */
import type { AuditLog } from '../../audit/auditLog.js';
import { AUTH_LEVELS, operation, type ApiRoute } from '../http.js';
import { AuditPageSchema, AuditQuerySchema } from '../schemas/audit.js';

export interface AuditRouteDeps {
  readonly audit: AuditLog;
}

/** The audit route; `deps` is called only when a request arrives. */
export function auditRoute(deps: () => AuditRouteDeps): ApiRoute {
  return {
    name: 'auditApi',
    route: 'audit',
    authLevel: AUTH_LEVELS.function,
    operations: [
      operation({
        method: 'GET',
        operationId: 'listAuditRecords',
        appRole: 'read',
        summary: 'Read the audit trail',
        description:
          'Every decision the automation made, newest first, optionally for one resource or registry and a time window. ' +
          'Pass the returned continuationToken (with the same filters) for the next page.',
        tags: ['audit'],
        query: AuditQuerySchema,
        responses: { 200: { description: 'A page of audit records.', schema: AuditPageSchema } },
        async handle({ query, url }) {
          const page = await deps().audit.query({
            ...(query.resourceId ? { resourceId: query.resourceId } : {}),
            ...(query.registry ? { registry: query.registry } : {}),
            ...(query.since ? { since: new Date(query.since) } : {}),
            ...(query.until ? { until: new Date(query.until) } : {}),
            ...(query.top ? { top: Number(query.top) } : {}),
            ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
          });
          return {
            status: 200,
            body: {
              items: page.items,
              ...(page.continuationToken
                ? { continuationToken: page.continuationToken, nextLink: nextLink(url, page.continuationToken) }
                : {}),
            },
          };
        },
      }),
    ],
  };
}

/** The same query with the new token; the function key (`code`) is left out so it never lands in a response. */
function nextLink(url: URL, continuationToken: string): string {
  const next = new URL(url.href);
  next.searchParams.delete('code');
  next.searchParams.set('continuationToken', continuationToken);
  return next.href;
}
