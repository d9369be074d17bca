import type { GrantIndex } from '../assignments/grantIndex.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { ArmResources } from '../azure/arm.js';
import type { FederatedCredentials } from '../azure/federatedCredentials.js';
import type { ResourceGraph } from '../azure/resourceGraph.js';
import type { RoleAssignments } from '../azure/roleAssignments.js';
import type { Config } from '../config.js';
import type { IdentityLeases } from './identityLeases.js';
import type { IdentityLocks } from './identityLocks.js';

/** What the workload-identity use case needs; `Deps` (src/deps.ts) provides it, tests may build it directly. */
export interface WorkloadDeps {
  readonly config: Config;
  readonly audit: AuditLog;
  readonly arm: ArmResources;
  readonly roleAssignments: RoleAssignments;
  readonly resourceGraph: ResourceGraph;
  readonly federatedCredentials: FederatedCredentials;
  /**
   * Where Key Vault Secrets User was granted to an identity (consumerId = identity, registryId =
   * vault): once the identity is deleted or untagged, the vault is no longer named anywhere else.
   * Its own table, `<TABLE_PREFIX>workloadgrants`; it only narrows the search, never authorises a delete.
   */
  readonly vaultGrantIndex: GrantIndex;
  /** One reconciliation at a time per identity in this process (saves the lease table a round trip). */
  readonly identityLocks: IdentityLocks;
  /** One reconciliation at a time per identity across instances: a lease in Table Storage. */
  readonly identityLeases: IdentityLeases;
  /**
   * The Key Vaults pull-credential enrolments store passwords in, read from the credentials
   * enrolment store when asked (never cached): these vaults are never a workload-identity target.
   */
  readonly listCredentialVaults: () => Promise<readonly { readonly vaultName: string; readonly registryName: string }[]>;
}
