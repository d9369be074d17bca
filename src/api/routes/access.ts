/** `/api/access/*`: preview, and manual grant and revoke. */
import type { AccessDeps } from '../../access/accessDeps.js';
import { grantManually, revokeManually } from '../../access/manualGrants.js';
import { MANUAL_GRANT_OUTCOMES, PRINCIPAL_TYPES, type ManualTarget } from '../../access/manualRequests.js';
import { isAccessResult } from '../../access/run.js';
import { FEATURES } from '../../reconciler.js';
import { reconcileChangedResource, type ResourcesDeps } from '../../resources/changedResource.js';
import { AUTH_LEVELS, operation, type ApiRoute, type OperationInput } from '../http.js';
import {
  GrantRequestSchema,
  GrantResultSchema,
  PreviewRequestSchema,
  PreviewResultSchema,
  RevokeRequestSchema,
  RevokeResultSchema,
  type RevokeRequest,
} from '../schemas/access.js';

const runOptions = (input: OperationInput<unknown, unknown, unknown>) => ({ log: input.log, correlationId: input.invocationId });

/** The target of a manual request: a resource's identities or one principal (a managed identity unless told otherwise). */
function targetOf(body: RevokeRequest): ManualTarget {
  return 'resourceId' in body
    ? { resourceId: body.resourceId }
    : { principalId: body.principalId, principalType: body.principalType ?? PRINCIPAL_TYPES.servicePrincipal };
}

/** The access routes; `deps` is called only when a request arrives. */
export function accessRoutes(deps: () => AccessDeps & ResourcesDeps): ApiRoute[] {
  return [
    {
      name: 'accessPreviewApi',
      route: 'access/preview',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'POST',
          operationId: 'previewAccess',
          appRole: 'read',
          summary: 'Preview what the tag policy, or a manual grant, would do',
          description:
            'With { resourceId }: runs the same reconciliation as a resource event with writes turned off — the resource’s identities, the grants its tags ask for, ' +
            'which exist, which would be created or revoked, and why. With { resourceId | principalId, registry, access }: runs the manual grant of POST /api/access/grants ' +
            'with writes turned off — what would be granted or refused by registry consent, with which role, and why. Nothing is written to ARM, the grant index or the audit trail.',
          tags: ['access'],
          body: PreviewRequestSchema,
          responses: { 200: { description: 'The plan.', schema: PreviewResultSchema } },
          problems: [404, 409, 503],
          async handle(input) {
            const { body, caller, invocationId, log } = input;
            if (!('registry' in body)) {
              // The event path's own code with writes off: every feature registered for the resource's type.
              const result = await reconcileChangedResource(deps(), body.resourceId, {
                dryRun: true,
                log,
                trigger: { caller, correlationId: invocationId },
              });
              const access = result.features.find((f) => f.feature === FEATURES.access)?.result;
              return {
                status: 200,
                body: {
                  resourceId: result.resourceId,
                  dryRun: true,
                  decisions: result.decisions,
                  plans: access && isAccessResult(access) ? access.plans : [],
                },
              };
            }
            const result = await grantManually(
              deps(),
              { ...targetOf(body), registry: body.registry, access: body.access, caller, override: body.override === true },
              { ...runOptions(input), dryRun: true },
            );
            const subject = result.resourceId ? { resourceId: result.resourceId } : { principalId: result.principalIds[0] ?? '' };
            const consumerId = result.resourceId ?? result.principalIds[0] ?? '';
            return {
              status: 200,
              body: {
                ...subject,
                dryRun: true,
                outcome: result.outcome,
                decisions: result.decisions,
                plans: result.plan ? [{ consumerId, plan: result.plan }] : [],
              },
            };
          },
        }),
      ],
    },
    {
      name: 'accessGrantsApi',
      route: 'access/grants',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'POST',
          operationId: 'grantAccess',
          appRole: 'write',
          summary: 'Grant pull or push on a registry by hand',
          description:
            'Assigns the registry’s pull or push role (AcrPull/AcrPush, or the repository roles on an ABAC registry) to every managed identity of a resource, or to one principal. ' +
            'Still subject to the registry’s consent: acr-pull-allow for pull, acr-push-allow for push, which has no default (a bare principal needs acr-pull-allow=* or acr-push-allow=*); override: true needs ACCESS_ALLOW_CONSENT_OVERRIDE and is audited as an override. ' +
            'The assignment is the automation’s (its description says manual, and who asked): the tag policy does not revoke it; DELETE /api/access/grants does. Idempotent.',
          tags: ['access'],
          body: GrantRequestSchema,
          responses: {
            201: { description: 'Granted; Azure RBAC can take minutes to take effect (propagation pending).', schema: GrantResultSchema },
            200: { description: 'Already granted; nothing was written.', schema: GrantResultSchema },
          },
          problems: [403, 404, 409, 503],
          async handle(input) {
            const { body, caller } = input;
            const result = await grantManually(
              deps(),
              { ...targetOf(body), registry: body.registry, access: body.access, caller, override: body.override === true },
              runOptions(input),
            );
            return { status: result.outcome === MANUAL_GRANT_OUTCOMES.granted ? 201 : 200, body: result };
          },
        }),
        operation({
          method: 'DELETE',
          operationId: 'revokeAccess',
          appRole: 'write',
          summary: 'Revoke pull or push on a registry by hand',
          description:
            'Deletes the automation’s assignments that give this access (either mode’s role) to the resource’s identities or the principal. ' +
            'Assignments made outside the automation are never deleted: when they are all there is, the answer is 403 NotOwnedByAutomation. ' +
            'A grant that came from the tag policy comes back on the consumer’s next event while its tag asks for it. ' +
            'One that another resource holding the same principal (a shared identity) still asks for is kept, and the audit row names it.',
          tags: ['access'],
          body: RevokeRequestSchema,
          responses: { 200: { description: 'Revoked, or nothing to revoke.', schema: RevokeResultSchema } },
          problems: [403, 404, 409, 503],
          async handle(input) {
            const { body, caller } = input;
            const result = await revokeManually(
              deps(),
              { ...targetOf(body), registry: body.registry, access: body.access, caller },
              runOptions(input),
            );
            return { status: 200, body: result };
          },
        }),
      ],
    },
  ];
}
