/**
 * One access run: the decision record of a reconciliation, a manual grant or revoke, or the sweep's
 * check of principals — its audit rows, log lines, dry run — with the plans made.
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { DecisionRecorder, type DecisionOptions } from '../audit/decisionRecorder.js';
import type { AccessPlan } from '../policy/accessPlan.js';
import type { AccessDeps } from './accessDeps.js';
import type { UnfinishedRegistry } from '../state/unfinishedRegistries.js';

/** What started a reconciliation, for the audit row. */
export type { Trigger } from '../audit/auditLog.js';

/** `dryRun`: plan only — nothing is written to ARM, the grant index or the audit log. */
export type ReconcileOptions = DecisionOptions & {
  /** A registry settlement an earlier run left unfinished at its Resource Graph budget: carry it on from where it stopped (the sweep). */
  readonly resume?: UnfinishedRegistry;
};

export interface ReconcileResult {
  readonly resourceId: string;
  /** One entry per decision, in the order made; in a dry run the would-be audit rows. */
  readonly decisions: readonly AuditEntry[];
  /** The plans computed (one per consumer settled). */
  readonly plans: readonly { readonly consumerId: string; readonly plan: AccessPlan }[];
}

/** Whether a feature's result carries consumer access plans (registry access's: the plans the preview shows). */
export function isAccessResult(result: { readonly decisions: readonly AuditEntry[] }): result is ReconcileResult {
  const plans: unknown = (result as { plans?: unknown }).plans;
  return Array.isArray(plans) && plans.every((p: unknown) => typeof (p as { consumerId?: unknown } | null)?.consumerId === 'string');
}

/** Starts the decision record of one use-case run (reconciliation, manual grant or revoke): audit, log, dry run. */
export function startRun(deps: AccessDeps, options: ReconcileOptions): AccessRun {
  return new AccessRun(deps, options);
}

/** State of one access run: its decision record and the plans made. */
export class AccessRun extends DecisionRecorder {
  readonly plans: { consumerId: string; plan: AccessPlan }[] = [];
  constructor(
    readonly deps: AccessDeps,
    override readonly options: ReconcileOptions,
  ) {
    super(deps.audit, options);
  }

  result(resourceId: string): ReconcileResult {
    return { resourceId, decisions: this.decisions, plans: this.plans };
  }
}
