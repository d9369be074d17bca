/**
 * One workload-identity reconciliation: its decision record, the plans made, and what it read from
 * ARM once however many identities need it (clusters, vaults, whether a vault holds pull
 * credentials). Nothing here outlives the run.
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { DecisionRecorder, type DecisionOptions } from '../audit/decisionRecorder.js';
import type { ArmResource } from '../azure/arm.js';
import type { CredentialPlan } from './credentialPlan.js';
import type { VaultPlan } from './vaultPlan.js';
import { key } from './workloadQueries.js';
import type { WorkloadDeps } from './workloadDeps.js';

/** `dryRun`: plan only — nothing is written to ARM, the index or the audit log. */
export type WorkloadReconcileOptions = DecisionOptions;

export interface WorkloadReconcileResult {
  readonly resourceId: string;
  /** One entry per decision, in the order made; in a dry run the would-be audit rows. */
  readonly decisions: readonly AuditEntry[];
  /** One per identity settled. */
  readonly plans: readonly { readonly identityId: string; readonly credentials: CredentialPlan; readonly vaults: VaultPlan }[];
}

/** A cluster as the run knows it: ARM's current copy, or null when it does not exist. */
export type KnownClusters = Map<string, ArmResource | null>;

/** State of one reconciliation: its decision record, the plans made, and the vaults read. */
export class WorkloadRun extends DecisionRecorder {
  readonly plans: { identityId: string; credentials: CredentialPlan; vaults: VaultPlan }[] = [];
  /** Key Vaults as ARM has them now (null: gone), read once per run however many identities name them. */
  readonly vaults = new Map<string, ArmResource | null>();
  /** Whether a vault (by lower-case name) holds the app's pull credentials, and how we know; read once per run. */
  readonly credentialsVaults = new Map<string, Promise<string | undefined>>();
  constructor(
    readonly deps: WorkloadDeps,
    override readonly options: WorkloadReconcileOptions,
  ) {
    super(deps.audit, options);
  }

  action(name: string): string {
    return this.dryRun ? `${name} (dry run)` : name;
  }

  result(resourceId: string): WorkloadReconcileResult {
    return { resourceId, decisions: this.decisions, plans: this.plans };
  }
}

/** A Key Vault as ARM has it now (null: gone), read once per run. */
export async function readVault(run: WorkloadRun, vaultId: string): Promise<ArmResource | null> {
  const k = key(vaultId);
  let vault = run.vaults.get(k);
  if (vault === undefined) {
    vault = (await run.deps.arm.getResource(vaultId)) ?? null;
    run.vaults.set(k, vault);
  }
  return vault;
}
