/**
 * Where a manual grant or revoke starts: its decision record, the registry it names read fresh from
 * ARM, and whom it is about (a resource's identities or one principal); refusals are audited and
 * thrown. With the small conversions both use cases share.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import type { RoleAssignmentInfo } from '../azure/roleAssignments.js';
import { AppError, InvalidInputError, PolicyDeniedError } from '../errors.js';
import type { PlanIdentity, RegistryFacts } from '../policy/accessPlan.js';
import { parseResourceId, REGISTRY_TYPE, sameResourceId } from '../policy/resourceId.js';
import { parseRegistryRef, TAG_FOR_ACCESS, TAG_NAMES } from '../policy/tags.js';
import { IDENTITY_KINDS } from '../policy/identityKinds.js';
import type { AccessDeps } from './accessDeps.js';
import { identitiesOf, toPlanIdentity } from './identities.js';
import { MANUAL_ERROR_CODES, type ManualOptions, type ManualRegistry, type ManualRequest } from './manualRequests.js';
import { refersTo } from './registries.js';
import { startRun, type AccessRun } from './run.js';

/** Who the request is about, resolved from ARM. */
interface ResolvedTarget {
  readonly consumer?: ArmResource;
  readonly identities: readonly PlanIdentity[];
  /** In reasons: `vm-web-1` or `principal 3f2a…`. */
  readonly label: string;
}

/** What a manual grant or revoke starts from: its decision record, the registry read fresh from ARM, and the target's principals. */
export async function startManualRun(deps: AccessDeps, request: ManualRequest, options: ManualOptions) {
  const run = startRun(deps, {
    log: options.log,
    dryRun: options.dryRun === true,
    trigger: { caller: request.caller, ...(options.correlationId ? { correlationId: options.correlationId } : {}) },
  });
  const facts = await findRegistry(run, request);
  const target = await resolveTarget(run, request, facts);
  return {
    run,
    tag: TAG_FOR_ACCESS[request.access],
    facts,
    target,
    resourceId: target.consumer?.id,
    principalIds: target.identities.map((i) => i.principalId.toLowerCase()),
    registry: toManualRegistry(facts),
  };
}

/** The registry the request names, read fresh from ARM (its consent tag and mode decide the grant). */
async function findRegistry(run: AccessRun, request: ManualRequest): Promise<RegistryFacts> {
  const { deps } = run;
  const ref = parseRegistryRef(request.registry);
  if (!ref.ok) {
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason: `registry ${JSON.stringify(request.registry.slice(0, 100))}: ${ref.error}`,
      errorCode: MANUAL_ERROR_CODES.invalidRegistry,
    });
    throw new InvalidInputError(
      MANUAL_ERROR_CODES.invalidRegistry,
      `registry ${JSON.stringify(request.registry.slice(0, 100))}: ${ref.error}`,
    );
  }
  const found = (await deps.registries.resolve([ref.value])).filter((f) =>
    refersTo({ registryRef: ref.value, access: request.access, tag: TAG_FOR_ACCESS[request.access] }, f),
  );
  const only = found.length === 1 ? found[0] : undefined;
  const resource = only ? await deps.arm.getResource(only.id) : undefined;
  if (!only || !resource) {
    const reason =
      found.length > 1
        ? `registry ${ref.value.raw} matches more than one registry; name it by resource id`
        : `registry ${ref.value.raw} was not found in the watched subscriptions`;
    if (only) deps.registries.invalidate(only.id);
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason,
      errorCode: MANUAL_ERROR_CODES.registryNotFound,
      ...(only ? { registry: only.id } : {}),
    });
    throw new AppError(MANUAL_ERROR_CODES.registryNotFound, reason);
  }
  return deps.registries.remember(resource);
}

/** The principals the request is about: a resource's identities (read from ARM) or the one given. */
async function resolveTarget(run: AccessRun, request: ManualRequest, facts: RegistryFacts): Promise<ResolvedTarget> {
  if (!('resourceId' in request)) {
    return {
      identities: [
        { principalId: request.principalId.toLowerCase(), principalType: request.principalType, kind: IDENTITY_KINDS.userAssigned },
      ],
      label: `principal ${request.principalId.toLowerCase()}`,
    };
  }
  const { deps } = run;
  const parsed = parseResourceId(request.resourceId);
  const refuse = async (code: string, reason: string, error: AppError): Promise<never> => {
    await run.decide({
      action: 'grant',
      outcome: AUDIT_OUTCOMES.rejectedInput,
      reason,
      errorCode: code,
      resourceId: request.resourceId,
      registry: facts.id,
    });
    throw error;
  };
  if (!parsed.ok || !parsed.value.type) {
    const reason = parsed.ok ? `${request.resourceId} is not a resource` : parsed.error;
    return refuse('InvalidResourceId', reason, new InvalidInputError('InvalidResourceId', reason));
  }
  if (parsed.value.type === REGISTRY_TYPE || sameResourceId(parsed.value.id, facts.id)) {
    const reason = `${parsed.value.name} is a registry; grant to the resource or principal that pulls from it`;
    return refuse(MANUAL_ERROR_CODES.notAConsumer, reason, new InvalidInputError(MANUAL_ERROR_CODES.notAConsumer, reason));
  }
  const consumer = await deps.arm.getResource(parsed.value.id);
  if (!consumer) {
    const reason = `resource ${parsed.value.id} does not exist`;
    return refuse(MANUAL_ERROR_CODES.resourceNotFound, reason, new AppError(MANUAL_ERROR_CODES.resourceNotFound, reason));
  }
  const identities = await identitiesOf(deps, consumer);
  if (identities.length === 0) {
    const reason = `${consumer.name} has no managed identity to grant to`;
    return refuse(MANUAL_ERROR_CODES.noManagedIdentity, reason, new InvalidInputError(MANUAL_ERROR_CODES.noManagedIdentity, reason));
  }
  return { consumer, identities: identities.map(toPlanIdentity), label: consumer.name };
}

/** After the writes: a platform deny is a refusal, a failure is the failure (transient ones first, so the caller retries). */
export function throwIfRefused(run: AccessRun): void {
  run.throwIfRetryNeeded();
  const denied = run.decisions.find((d) => d.outcome === AUDIT_OUTCOMES.deniedByPlatformPolicy);
  if (denied) throw new PolicyDeniedError(denied.errorCode ?? 'RequestDisallowedByPolicy', denied.reason);
  const failed = run.decisions.find((d) => d.outcome === AUDIT_OUTCOMES.failed);
  if (failed) throw new AppError(failed.errorCode ?? 'InternalError', failed.reason);
}

export function actionOf(run: AccessRun, action: 'grant' | 'revoke'): string {
  return run.dryRun ? `${action} (dry run)` : action;
}

export function onePrincipal(principalIds: readonly string[]): { principalId?: string } {
  return principalIds.length === 1 && principalIds[0] ? { principalId: principalIds[0] } : {};
}

export function withResource<T extends { resourceId: string | undefined }>(value: T): Omit<T, 'resourceId'> & { resourceId?: string } {
  const { resourceId, ...rest } = value;
  return resourceId ? { ...rest, resourceId } : rest;
}

export function toManualRegistry(facts: RegistryFacts): ManualRegistry {
  return {
    id: facts.id,
    name: facts.name,
    ...(facts.loginServer ? { loginServer: facts.loginServer } : {}),
    ...(facts.roleAssignmentMode ? { roleAssignmentMode: facts.roleAssignmentMode } : {}),
  };
}

/**
 * The registry as the planner sees it once consent has been decided elsewhere: both consent tags
 * say `*` (push has no default to fall back on, so dropping the tags would not do).
 */
export function consentingToAll(facts: RegistryFacts): RegistryFacts {
  const consentTags: readonly string[] = [TAG_NAMES.allow, TAG_NAMES.pushAllow];
  const others = Object.entries(facts.tags ?? {}).filter(([k]) => !consentTags.includes(k.toLowerCase()));
  return { ...facts, tags: { ...Object.fromEntries(others), [TAG_NAMES.allow]: '*', [TAG_NAMES.pushAllow]: '*' } };
}

export function toExisting(a: RoleAssignmentInfo) {
  return {
    name: a.name,
    scope: a.scope,
    principalId: a.principalId,
    roleDefinitionId: a.roleDefinitionGuid,
    ...(a.description ? { description: a.description } : {}),
  };
}
