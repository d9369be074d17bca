/** `/api/access/*`: preview (and, when the use cases land, manual grant and revoke). */
import type { AccessDeps } from '../../access/accessDeps.js';
import { reconcileResource } from '../../access/reconcile.js';
import { AUTH_LEVELS, operation, type ApiRoute } from '../http.js';
import { PreviewRequestSchema, PreviewResultSchema } from '../schemas/access.js';

/** The access routes; `deps` is called only when a request arrives. */
export function accessRoutes(deps: () => AccessDeps): ApiRoute[] {
  return [
    {
      name: 'accessPreviewApi',
      route: 'access/preview',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'POST',
          operationId: 'previewAccess',
          summary: 'Preview what the tag policy would do for a resource',
          description:
            'Runs the same reconciliation as a resource event with writes turned off: the resource’s identities, the grants its tags ask for, ' +
            'which exist, which would be created or revoked, and why. Nothing is written to ARM, the grant index or the audit trail.',
          tags: ['access'],
          body: PreviewRequestSchema,
          responses: { 200: { description: 'The plan.', schema: PreviewResultSchema } },
          problems: [503],
          async handle({ body, caller, invocationId, log }) {
            const result = await reconcileResource(deps(), body.resourceId, { dryRun: true, log, trigger: { caller, correlationId: invocationId } });
            return { status: 200, body: { resourceId: result.resourceId, dryRun: true, decisions: result.decisions, plans: result.plans } };
          },
        }),
      ],
    },
  ];
}
