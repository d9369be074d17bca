/**
 * The one place a role assignment is created or deleted by the automation: registry access (tag
 * policy, registry events, deleted consumers, the sweep), manual grants, workload identity's Key
 * Vault Secrets User grants and the pull role of pull credentials. It lives apart from those
 * features so each can use it without importing another.
 *
 *   grant:  write-ahead index row (so a crash after the PUT still leaves the scope on the list to
 *           check) → PUT with the deterministic name, `principalType` and our description → audit
 *           (granted, already present, denied by platform policy, failed; would-grant in a dry run).
 *   revoke: only an assignment that is ours (`isOurs`: deterministic name AND our description);
 *           only when no consumer that holds the principal still asks for it — asked at decision
 *           time through the caller's `askers` lookup, confirmed from ARM — else it is kept, the
 *           audit row names who still asks, and the description is handed over to one of them
 *           (so it names a resource that asks, and that resource's deletion finds it);
 *           → DELETE → audit (revoked, kept, failed; would-revoke in a dry run).
 * A lookup that fails never leads to a delete: the revoke is recorded as failed and left for a retry.
 */
import { AUDIT_OUTCOMES, type AuditEntry } from '../audit/auditLog.js';
import type { DecisionRecorder } from '../audit/decisionRecorder.js';
import type { CreateRoleAssignment, RoleAssignmentInfo, RoleAssignments } from '../azure/roleAssignments.js';
import { AppError, PolicyDeniedError } from '../errors.js';
import { ownershipOf, parseOwnership, subjectOf, type Ownership } from '../policy/ownership.js';
import { REGISTRY_TYPE, resourceTypeOf, sameResourceId } from '../policy/resourceId.js';
import type { PlannedGrant } from '../policy/accessPlan.js';
import { describeRole, roleFor, type Role } from '../policy/roles.js';
import type { GrantIndex, GrantIndexEntry } from './grantIndex.js';

/** What the executor needs of the caller's dependencies: the two writes (a caller may bind its own call options to them). */
export interface ExecutorDeps {
  readonly roleAssignments: Pick<RoleAssignments, 'create' | 'delete'>;
}

/**
 * The decision record the executor writes to: every use case's run (a `DecisionRecorder`), or any
 * object that records audit rows and failures the same way (dry run: decide, but write nothing to Azure).
 */
export type ExecutorRun = Pick<DecisionRecorder, 'dryRun' | 'decide' | 'fail'>;

/** A row to write to an index before the assignment exists (the grant index, the vault grant index). */
export interface WriteAhead {
  readonly index: GrantIndex;
  readonly entry: GrantIndexEntry;
}

/** One assignment to create. */
export interface GrantSpec {
  /** Deterministic name (`roleAssignmentName`). */
  readonly name: string;
  readonly scope: string;
  /** The scope's name, for reasons (`contosoacr`, `kv-app`). */
  readonly scopeName: string;
  readonly principalId: string;
  readonly principalType: string;
  readonly role: Role;
  /** Our description (`describeOwnership`). */
  readonly description: string;
}

/** The assignment an access plan's grant creates. */
export function grantSpecOf(g: PlannedGrant): GrantSpec {
  return {
    name: g.name,
    scope: g.scope,
    scopeName: g.registryName,
    principalId: g.principalId,
    principalType: g.principalType,
    role: g.role,
    description: g.description,
  };
}

/** What a grant's or revoke's audit row says beyond the assignment itself. */
export interface DecisionRow {
  /** Default 'grant' / 'revoke' ('… (dry run)' in a dry run). */
  readonly action?: string;
  /** The consumer; absent for a bare principal. */
  readonly resourceId?: string;
  readonly reason: string;
  readonly details?: AuditEntry['details'];
}

/** A consumer confirmed (from ARM) to hold the principal and still ask for the role at the scope. */
export interface Asker {
  readonly resourceId: string;
  readonly name: string;
  /** The description that names it, for the hand-over. */
  readonly description: string;
  /** Its index row, written before the hand-over (as before a grant). */
  readonly writeAhead?: WriteAhead;
}

/** An assignment as listed (the executor checks ownership itself). */
export type ListedAssignment = Pick<
  RoleAssignmentInfo,
  'name' | 'scope' | 'principalId' | 'principalType' | 'roleDefinitionGuid' | 'description'
>;

/** What an assignment as listed stands for, when it is ours (deterministic name and our description); the test every feature uses. */
export function ownershipOfListed(a: Omit<ListedAssignment, 'principalType'>): Ownership | undefined {
  return ownershipOf({ ...a, roleDefinitionId: a.roleDefinitionGuid });
}

/**
 * Who still asks for this (principal, scope, role), other than the resources in `except` (those
 * whose decision is being made from a fresh read already). Must confirm each from ARM: an index or
 * a search may only ever add an asker (keep), never hide one.
 */
export type AskerLookup = (assignment: ListedAssignment, options: { readonly except: readonly string[] }) => Promise<readonly Asker[]>;

export interface RevokeRequest extends DecisionRow {
  /** The scope's name, for reasons. */
  readonly scopeName: string;
  /** Who still asks; absent only where nothing but the automation's own record can ask (a pull-credential principal). */
  readonly askers?: AskerLookup;
  /** Resources already decided from a fresh read (the consumer being settled, the target of a manual revoke). */
  readonly except?: readonly string[];
}

export const REVOKE_RESULTS = {
  revoked: 'revoked',
  wouldRevoke: 'would-revoke',
  kept: 'kept',
  notOurs: 'not-ours',
  failed: 'failed',
} as const;
export type RevokeResult = (typeof REVOKE_RESULTS)[keyof typeof REVOKE_RESULTS];

/** Error code on the row of a revoke refused because the assignment is not ours. */
export const NOT_OURS_CODE = 'NotOwnedByAutomation';

/**
 * Creates one assignment (index row first) and records the decision; in a dry run records
 * would-grant. True when the assignment now exists.
 */
export async function grantAssignment(
  deps: ExecutorDeps,
  run: ExecutorRun,
  g: GrantSpec,
  row: DecisionRow,
  writeAhead?: WriteAhead,
): Promise<boolean> {
  const action = row.action ?? (run.dryRun ? 'grant (dry run)' : 'grant');
  const base = {
    action,
    ...(row.resourceId ? { resourceId: row.resourceId } : {}),
    principalId: g.principalId,
    ...registryOf(g.scope),
    role: describeRole(g.role),
    ...(row.details ? { details: row.details } : {}),
  };
  // Whatever the executor creates it must recognise as its own later, or it could never revoke it.
  if (
    !ownershipOf({
      name: g.name,
      scope: g.scope,
      principalId: g.principalId,
      roleDefinitionId: g.role.roleDefinitionId,
      description: g.description,
    })
  ) {
    await run.fail(
      {
        ...base,
        reason: `not granting ${g.role.name} on ${g.scopeName}: its name or description is not one the automation would recognise as its own`,
      },
      new AppError('InvalidAssignment', `assignment ${g.name} is not named or described as ours`),
    );
    return false;
  }
  if (run.dryRun) {
    await run.decide({ ...base, outcome: AUDIT_OUTCOMES.wouldGrant, reason: row.reason });
    return false;
  }
  try {
    if (writeAhead) await writeAhead.index.upsert(writeAhead.entry);
    const outcome = await deps.roleAssignments.create({
      scope: g.scope,
      name: g.name,
      principalId: g.principalId,
      principalType: g.principalType as CreateRoleAssignment['principalType'],
      roleDefinitionGuid: g.role.roleDefinitionId,
      description: g.description,
    });
    await run.decide({
      ...base,
      outcome: outcome === 'created' ? AUDIT_OUTCOMES.granted : AUDIT_OUTCOMES.alreadyPresent,
      reason:
        outcome === 'created'
          ? `${row.reason}; granted, propagation pending (Azure RBAC can take minutes to take effect)`
          : `${row.reason}; already assigned`,
    });
    return true;
  } catch (error) {
    if (error instanceof PolicyDeniedError) {
      await run.decide({
        ...base,
        outcome: AUDIT_OUTCOMES.deniedByPlatformPolicy,
        reason: `a platform policy refused the assignment: ${error.message}`,
        errorCode: error.code,
      });
    } else {
      await run.fail({ ...base, reason: `could not grant ${g.role.name} on ${g.scopeName}` }, error);
    }
    return false;
  }
}

/**
 * Deletes one assignment if it is ours and nobody else holding its principal still asks for it;
 * otherwise keeps it and records why. Every path writes one audit row (or a would-… row in a dry run).
 */
export async function revokeAssignment(
  deps: ExecutorDeps,
  run: ExecutorRun,
  a: ListedAssignment,
  request: RevokeRequest,
): Promise<RevokeResult> {
  const action = request.action ?? (run.dryRun ? 'revoke (dry run)' : 'revoke');
  const role = roleFor(a.roleDefinitionGuid);
  const roleText = role ? describeRole(role) : a.roleDefinitionGuid;
  const roleName = role?.name ?? `role ${a.roleDefinitionGuid}`;
  const base = {
    action,
    ...(request.resourceId ? { resourceId: request.resourceId } : {}),
    principalId: a.principalId,
    ...registryOf(a.scope),
    role: roleText,
  };
  const details = request.details;

  const ownership = ownershipOfListed(a);
  if (!ownership) {
    const why = parseOwnership(a.description)
      ? 'carries our description but not our deterministic name (copied by hand?)'
      : 'was not made by the automation';
    await run.decide({
      ...base,
      outcome: AUDIT_OUTCOMES.skipped,
      reason: `${roleName} on ${request.scopeName} for ${a.principalId} ${why}; it is left as it is`,
      errorCode: NOT_OURS_CODE,
      ...(details ? { details } : {}),
    });
    return REVOKE_RESULTS.notOurs;
  }

  let askers: readonly Asker[] = [];
  try {
    if (request.askers) askers = await request.askers(a, { except: request.except ?? [] });
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await run.fail(
      {
        ...base,
        reason: `${request.reason}; but who else still asks for ${roleName} on ${request.scopeName} could not be checked, so it is kept for now`,
        ...(details ? { details } : {}),
      },
      error,
    );
    return REVOKE_RESULTS.failed;
  }
  if (askers.length > 0) {
    const names = askers.map((x) => x.name).join(', ');
    await run.decide({
      ...base,
      outcome: AUDIT_OUTCOMES.kept,
      reason: `${request.reason}; but ${names} ${askers.length === 1 ? 'holds' : 'hold'} principal ${a.principalId} and still ${askers.length === 1 ? 'asks' : 'ask'} for ${roleName} on ${request.scopeName}, so it is kept`,
      details: { ...details, stillAskedBy: askers.map((x) => x.resourceId).join(',') },
    });
    // A failed hand-over is a failure of this decision (recorded): the caller keeps its records so it is looked at again.
    return (await handOver(deps, run, a, askers, subjectOf(ownership), base, roleName, request.scopeName))
      ? REVOKE_RESULTS.kept
      : REVOKE_RESULTS.failed;
  }

  if (run.dryRun) {
    await run.decide({ ...base, outcome: AUDIT_OUTCOMES.wouldRevoke, reason: request.reason, ...(details ? { details } : {}) });
    return REVOKE_RESULTS.wouldRevoke;
  }
  try {
    const outcome = await deps.roleAssignments.delete(a.scope, a.name);
    await run.decide({
      ...base,
      outcome: AUDIT_OUTCOMES.revoked,
      reason: outcome === 'deleted' ? request.reason : `${request.reason} (it was already gone)`,
      ...(details ? { details } : {}),
    });
    return REVOKE_RESULTS.revoked;
  } catch (error) {
    await run.fail({ ...base, reason: `could not revoke ${roleName} on ${request.scopeName}`, ...(details ? { details } : {}) }, error);
    return REVOKE_RESULTS.failed;
  }
}

/**
 * A kept assignment whose description names a resource that no longer asks is re-described to
 * name one that does (same name, principal, role and scope: ARM updates the description in place),
 * its index row written first. Then the resource it stands for is one that asks, and the
 * resource's own untag or deletion is what later revokes it.
 */
async function handOver(
  deps: ExecutorDeps,
  run: ExecutorRun,
  a: ListedAssignment,
  askers: readonly Asker[],
  subject: string | undefined,
  base: Omit<AuditEntry, 'outcome' | 'reason'>,
  roleName: string,
  scopeName: string,
): Promise<boolean> {
  if (run.dryRun || (subject && askers.some((x) => sameResourceId(x.resourceId, subject)))) return true;
  const to = askers[0]!;
  try {
    if (to.writeAhead) await to.writeAhead.index.upsert(to.writeAhead.entry);
    await deps.roleAssignments.create({
      scope: a.scope,
      name: a.name,
      principalId: a.principalId,
      principalType: (a.principalType ?? 'ServicePrincipal') as CreateRoleAssignment['principalType'],
      roleDefinitionGuid: a.roleDefinitionGuid,
      description: to.description,
    });
    return true;
  } catch (error) {
    // Still kept: only the description is stale, and the next decision about it looks again.
    await run.fail(
      { ...base, reason: `could not re-describe ${roleName} on ${scopeName} to name ${to.name}, which still asks for it` },
      error,
    );
    return false;
  }
}

/** The audit row's `registry` column, for an assignment on a registry (a vault grant names its vault in `details`). */
function registryOf(scope: string): { registry?: string } {
  return resourceTypeOf(scope) === REGISTRY_TYPE ? { registry: scope } : {};
}
