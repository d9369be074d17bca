/**
 * Role assignments through `@azure/arm-authorization` (api-version 2022-04-01).
 * Wire facts: PUT answers 201 on create and 200 when the assignment already exists under that name
 * (RoleAssignments_Create's responses, examples/RoleAssignments_CreateForResource.json: "201", "200");
 * the same (scope, principal, role) under another name is
 * 409 `RoleAssignmentExists`; responses may give `roleDefinitionId` in the tenant form
 * `/providers/Microsoft.Authorization/roleDefinitions/<id>`, so roles compare by the trailing id.
 * https://learn.microsoft.com/rest/api/authorization/role-assignments/create
 */
import { AuthorizationManagementClient, type RoleAssignment } from '@azure/arm-authorization';
import type { TokenCredential } from '@azure/identity';
import type { Config } from '../config.js';
import { AppError, NotReadyError, PolicyDeniedError } from '../errors.js';
import { armPipelineOptions, armAudience, toAppError, type AzureClientOptions } from './arm.js';

/** A role assignment as the app reads it. */
export interface RoleAssignmentInfo {
  readonly id: string;
  /** The assignment's GUID name. */
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly principalType?: string;
  /** Lower-cased role definition GUID (the trailing segment of roleDefinitionId). */
  readonly roleDefinitionGuid: string;
  readonly description?: string;
}

export interface CreateRoleAssignment {
  readonly scope: string;
  /** Deterministic GUID name. */
  readonly name: string;
  readonly principalId: string;
  /** Set so a brand-new identity does not fail with PrincipalNotFound while Entra replicates. */
  readonly principalType: 'ServicePrincipal' | 'User' | 'Group';
  readonly roleDefinitionGuid: string;
  /** Carries the ownership marker. */
  readonly description: string;
}

export const CREATE_OUTCOMES = { created: 'created', alreadyPresent: 'already-present' } as const;
export type CreateOutcome = (typeof CREATE_OUTCOMES)[keyof typeof CREATE_OUTCOMES];

export interface RoleAssignments {
  /**
   * Creates the assignment: 'created' on 201; 'already-present' on 200 (it exists under this name) or
   * 409 RoleAssignmentExists (it exists under another name).
   * Throws PolicyDeniedError (RequestDisallowedByPolicy), NotReadyError (PrincipalNotFound after a
   * bounded retry), TransientAzureError (429/5xx past the SDK's retry budget), AppError otherwise.
   */
  create(input: CreateRoleAssignment, options?: { abortSignal?: AbortSignal }): Promise<CreateOutcome>;
  /**
   * Assignments made exactly at `scope` (not inherited from above). With `principalId`, only that
   * principal's, filtered by ARM (`atScope() and assignedTo('<id>')`): one page instead of the
   * registry's whole list.
   */
  listAtScope(scope: string, options?: { principalId?: string; abortSignal?: AbortSignal }): Promise<RoleAssignmentInfo[]>;
  /**
   * Every assignment within the subscription (at it, its resource groups and resources; not those
   * inherited from management groups): what Azure's 4,000-per-subscription limit counts.
   */
  listInSubscription(subscriptionId: string, options?: { abortSignal?: AbortSignal }): Promise<RoleAssignmentInfo[]>;
  /** Deletes by scope and name; 'not-found' when it is already gone. */
  delete(scope: string, name: string, options?: { abortSignal?: AbortSignal }): Promise<'deleted' | 'not-found'>;
}

export interface RoleAssignmentsOptions {
  /** Attempts after a PrincipalNotFound before deferring with NotReadyError. */
  readonly principalNotFoundRetries?: number;
  readonly principalNotFoundDelayMs?: number;
  readonly client?: AuthorizationManagementClient;
  readonly clientOptions?: AzureClientOptions;
}

/** Creates the role-assignment adapter; one per app, built in deps.ts. */
export function createRoleAssignments(config: Config, credential: TokenCredential, options: RoleAssignmentsOptions = {}): RoleAssignments {
  const client =
    options.client ??
    new AuthorizationManagementClient(credential, config.watchedSubscriptions[0] ?? '00000000-0000-0000-0000-000000000000', {
      ...armPipelineOptions(options.clientOptions),
      endpoint: config.armEndpoint,
      credentialScopes: [`${armAudience(config)}/.default`],
      retryOptions: { maxRetries: 4 },
    });
  const retries = options.principalNotFoundRetries ?? 2;
  const delayMs = options.principalNotFoundDelayMs ?? 2_000;

  return {
    async create(input, opts) {
      const parameters = {
        roleDefinitionId: `/subscriptions/${subscriptionOf(input.scope)}/providers/Microsoft.Authorization/roleDefinitions/${input.roleDefinitionGuid}`,
        principalId: input.principalId,
        principalType: input.principalType,
        description: input.description,
      };
      for (let attempt = 0; ; attempt++) {
        try {
          let status: number | undefined;
          await client.roleAssignments.create(sdkScope(input.scope), input.name, parameters, {
            abortSignal: opts?.abortSignal,
            // After the SDK's retries: the status of the answer that counted.
            onResponse: (raw) => {
              status = raw.status;
            },
          });
          // 201 created it; 200 found it already there under this name (a concurrent or repeated event).
          return status === 200 ? CREATE_OUTCOMES.alreadyPresent : CREATE_OUTCOMES.created;
        } catch (caught) {
          const error = toAppError(caught, `assign role ${input.roleDefinitionGuid} to ${input.principalId} on ${input.scope}`);
          const code = error instanceof AppError ? error.code : undefined;
          if (code === 'RoleAssignmentExists') return CREATE_OUTCOMES.alreadyPresent;
          if (code === 'RequestDisallowedByPolicy') throw new PolicyDeniedError(code, error.message, { cause: caught });
          // Entra replication: principalType avoids most of these; a short bounded wait covers the rest,
          // then the event is redelivered rather than failing for good.
          if (error instanceof NotReadyError && attempt < retries) {
            await sleep(delayMs * (attempt + 1), opts?.abortSignal);
            continue;
          }
          throw error;
        }
      }
    },
    async listAtScope(scope, opts) {
      const found: RoleAssignmentInfo[] = [];
      const principalId = opts?.principalId;
      // assignedTo() also matches through group membership, so the principal is checked again below.
      const filter = principalId ? `atScope() and assignedTo('${principalId.replace(/'/g, "''")}')` : 'atScope()';
      try {
        for await (const assignment of client.roleAssignments.listForScope(sdkScope(scope), { filter, abortSignal: opts?.abortSignal })) {
          const info = toInfo(assignment);
          if (!info || info.scope.toLowerCase() !== scope.toLowerCase()) continue;
          if (principalId && info.principalId.toLowerCase() !== principalId.toLowerCase()) continue;
          found.push(info);
        }
      } catch (caught) {
        throw toAppError(caught, `list role assignments on ${scope}${principalId ? ` for principal ${principalId}` : ''}`);
      }
      return found;
    },
    async listInSubscription(subscriptionId, opts) {
      const scope = `/subscriptions/${subscriptionId}`;
      const prefix = `${scope.toLowerCase()}/`;
      const found: RoleAssignmentInfo[] = [];
      try {
        // No filter: at, above and below the subscription; the SDK follows nextLink. Above (management
        // groups, root) does not count toward the subscription's limit, so it is dropped.
        for await (const assignment of client.roleAssignments.listForScope(sdkScope(scope), { abortSignal: opts?.abortSignal })) {
          const info = toInfo(assignment);
          const at = info?.scope.toLowerCase();
          if (info && at && (at === scope.toLowerCase() || at.startsWith(prefix))) found.push(info);
        }
      } catch (caught) {
        throw toAppError(caught, `list role assignments in subscription ${subscriptionId}`);
      }
      return found;
    },
    async delete(scope, name, opts) {
      try {
        const response = await client.roleAssignments.delete(sdkScope(scope), name, { abortSignal: opts?.abortSignal });
        // DELETE of a missing assignment answers 204 with no body.
        return response && response.id ? 'deleted' : 'not-found';
      } catch (caught) {
        const error = toAppError(caught, `delete role assignment ${name} on ${scope}`);
        if (error instanceof AppError && (error.code === 'RoleAssignmentNotFound' || error.code === 'Http404')) return 'not-found';
        throw error;
      }
    },
  };
}

/** The lower-cased role definition GUID from either the subscription or the tenant form of the id. */
export function roleGuidOf(roleDefinitionId: string): string {
  return (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
}

function toInfo(assignment: RoleAssignment): RoleAssignmentInfo | undefined {
  if (!assignment.id || !assignment.name || !assignment.scope || !assignment.principalId || !assignment.roleDefinitionId) return undefined;
  return {
    id: assignment.id,
    name: assignment.name,
    scope: assignment.scope,
    principalId: assignment.principalId,
    ...(assignment.principalType ? { principalType: assignment.principalType } : {}),
    roleDefinitionGuid: roleGuidOf(assignment.roleDefinitionId),
    ...(assignment.description ? { description: assignment.description } : {}),
  };
}

/** The SDK's URL templates put `/` before `{scope}` (`/{scope}/providers/…`), so scopes go without their leading slash. */
function sdkScope(scope: string): string {
  return scope.replace(/^\/+/, '');
}

function subscriptionOf(scope: string): string {
  const match = /^\/subscriptions\/([^/]+)/i.exec(scope);
  if (!match?.[1]) throw new AppError('InvalidScope', `scope ${scope} does not name a subscription`);
  return match[1];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
