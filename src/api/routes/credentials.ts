/** `/api/credentials`: list, enrol, rotate now and un-enrol pull credentials. */
import type { CredentialsDeps } from '../../credentials/deps.js';
import type { EnrolmentView } from '../../credentials/enrolment.js';
import { ROTATION_OUTCOMES } from '../../credentials/rotation.js';
import {
  ENROL_OUTCOMES,
  enrolRegistry,
  getEnrolmentDetail,
  listEnrolments,
  rotateNow,
  unenrolFromApi,
} from '../../credentials/useCases.js';
import { AppError } from '../../errors.js';
import { AUTH_LEVELS, operation, type ApiRoute, type OperationInput } from '../http.js';
import {
  EnrolmentDetailSchema,
  EnrolmentListSchema,
  EnrolRequestSchema,
  EnrolResultSchema,
  RegistryPathSchema,
  RotationResultSchema,
  UnenrolResultSchema,
} from '../schemas/credentials.js';

const runOptions = (input: OperationInput<unknown, unknown, unknown>) => ({
  log: input.log,
  trigger: { caller: input.caller, correlationId: input.invocationId },
});

/** The credentials routes; `deps` is called only when a request arrives. */
export function credentialsRoutes(deps: () => CredentialsDeps): ApiRoute[] {
  /** An enrolled (or enrolling) registry by name: registry names are globally unique in Azure. */
  const byName = async (name: string): Promise<EnrolmentView> => {
    const found = (await listEnrolments(deps())).find(
      (e) => e.registryName.toLowerCase() === name.toLowerCase() && e.status !== 'unenrolled',
    );
    if (!found) throw new AppError('NotEnrolled', `registry ${name} is not enrolled for pull credentials`);
    return found;
  };
  return [
    {
      name: 'credentialsApi',
      route: 'credentials',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'GET',
          operationId: 'listEnrolments',
          appRole: 'read',
          summary: 'List registries enrolled for pull credentials',
          description:
            'Each enrolled registry with its service principal, password expiry, last rotation and next rotation due. Secret values are never returned.',
          tags: ['credentials'],
          responses: { 200: { description: 'The enrolments.', schema: EnrolmentListSchema } },
          async handle() {
            return { status: 200, body: { items: await listEnrolments(deps()) } };
          },
        }),
        operation({
          method: 'POST',
          operationId: 'enrolRegistry',
          appRole: 'write',
          summary: 'Enrol a registry for pull credentials',
          description:
            'Creates (or adopts) a pull-only application and service principal with the registry’s pull role, and stores its username and a proven password ' +
            'in the vault as <registry>-pull-usr / <registry>-pull-pwd. Idempotent: the same request again changes nothing (200). ' +
            'A registry without the acr-pull-credential tag is enrolled with source api, which registry events and the sweep respect; ' +
            'a registry carrying the tag is the tag’s: another vault or period is refused (409 EnrolmentManagedByTag).',
          tags: ['credentials'],
          body: EnrolRequestSchema,
          responses: {
            201: { description: 'Enrolled; the first password is stored.', schema: EnrolResultSchema },
            200: { description: 'Already enrolled with these settings.', schema: EnrolResultSchema },
            202: {
              description: 'Another run is enrolling or rotating this registry; poll GET /api/credentials.',
              schema: EnrolResultSchema,
            },
          },
          problems: [403, 404, 409, 503],
          async handle(input) {
            const result = await enrolRegistry(deps(), input.body, runOptions(input));
            const status = result.outcome === ENROL_OUTCOMES.enrolled ? 201 : result.outcome === ENROL_OUTCOMES.inProgress ? 202 : 200;
            return { status, body: result };
          },
        }),
      ],
    },
    {
      name: 'credentialsRotateApi',
      route: 'credentials/{registry}/rotate',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'POST',
          operationId: 'rotateCredentials',
          appRole: 'write',
          summary: 'Rotate a registry’s pull password now',
          description:
            'Adds a new password, stores it in Key Vault, proves it and makes it current; the previous one is removed after the grace period. ' +
            'While the previous password is still in its grace period (ROTATION_GRACE_HOURS after Key Vault stopped serving it), the rotation is deferred: ' +
            '202 with outcome deferred and deferredUntil; the first run after that time rotates.',
          tags: ['credentials'],
          params: RegistryPathSchema,
          responses: {
            200: { description: 'Rotated.', schema: RotationResultSchema },
            202: {
              description:
                'Deferred (outcome deferred, deferredUntil: the previous password’s grace period ends then), or another run holds this registry’s lease (outcome recorded): ' +
                'the request is recorded in the enrolment (requestedAt) and carried out by the run holding the lease when it finishes, or, if that run stopped, by the first run after its lease lapses (leaseUntil) — ' +
                'at the latest by the rotation timer at runsBy. The grace period still rules: a recorded request that would cut into it is deferred.',
              schema: RotationResultSchema,
            },
          },
          problems: [404, 409, 503],
          async handle(input) {
            const enrolment = await byName(input.params.registry);
            const result = await rotateNow(deps(), enrolment.registryId, { ...runOptions(input), reason: `requested by ${input.caller}` });
            if (result.outcome === ROTATION_OUTCOMES.notEnrolled)
              throw new AppError('NotEnrolled', `registry ${input.params.registry} is not enrolled for pull credentials`);
            const waits =
              result.outcome === ROTATION_OUTCOMES.inProgress ||
              result.outcome === ROTATION_OUTCOMES.recorded ||
              result.outcome === ROTATION_OUTCOMES.deferred;
            return { status: waits ? 202 : 200, body: result };
          },
        }),
      ],
    },
    {
      name: 'credentialsRegistryApi',
      route: 'credentials/{registry}',
      authLevel: AUTH_LEVELS.function,
      operations: [
        operation({
          method: 'GET',
          operationId: 'getEnrolment',
          appRole: 'read',
          summary: 'One enrolled registry, and who still uses its password by value',
          description:
            'The enrolment (ids and times, never a secret value) with passwordConsumers: the container groups whose imageRegistryCredentials name the pull application by value (Resource Graph). ' +
            'They hold the password itself, so they fail at their next restart once the previous password is removed at previousRemoveAfter: redeploy them before then.',
          tags: ['credentials'],
          params: RegistryPathSchema,
          responses: { 200: { description: 'The enrolment.', schema: EnrolmentDetailSchema } },
          problems: [404, 503],
          async handle(input) {
            const enrolment = await byName(input.params.registry);
            const detail = await getEnrolmentDetail(deps(), enrolment.registryId);
            if (!detail) throw new AppError('NotEnrolled', `registry ${input.params.registry} is not enrolled for pull credentials`);
            return { status: 200, body: detail };
          },
        }),
        operation({
          method: 'DELETE',
          operationId: 'unenrolRegistry',
          appRole: 'write',
          summary: 'Stop managing a registry’s pull credentials',
          description:
            'Stops rotation. The application and its role assignment are deleted only when CREDENTIALS_DELETE_APP_ON_UNENROL is true; the Key Vault secrets stay. ' +
            'A registry still carrying the acr-pull-credential tag is refused (409 EnrolmentManagedByTag): remove the tag instead.',
          tags: ['credentials'],
          params: RegistryPathSchema,
          responses: {
            200: { description: 'Un-enrolled.', schema: UnenrolResultSchema },
            202: { description: 'Another run holds this registry; retry shortly.', schema: UnenrolResultSchema },
          },
          problems: [404, 409, 503],
          async handle(input) {
            const enrolment = await byName(input.params.registry);
            const result = await unenrolFromApi(deps(), enrolment.registryId, {
              ...runOptions(input),
              reason: `requested by ${input.caller}`,
            });
            if (result.outcome === 'not-enrolled')
              throw new AppError('NotEnrolled', `registry ${input.params.registry} is not enrolled for pull credentials`);
            return {
              status: result.outcome === 'in-progress' ? 202 : 200,
              body: { outcome: result.outcome, registryId: enrolment.registryId, applicationDeleted: result.applicationDeleted },
            };
          },
        }),
      ],
    },
  ];
}
