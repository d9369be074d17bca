import type { AuditLog } from '../audit/auditLog.js';
import type { AcrTasks } from '../azure/acrTasks.js';
import type { ArmResources } from '../azure/arm.js';
import type { ContainerApps } from '../azure/containerApps.js';
import type { SiteConfigs } from '../azure/siteConfig.js';
import type { ResourceGraph } from '../azure/resourceGraph.js';
import type { RoleAssignments } from '../azure/roleAssignments.js';
import type { Config } from '../config.js';
import type { GrantIndex } from '../assignments/grantIndex.js';
import type { RegistryDirectory } from './registries.js';
import type { RegistryContinuations } from '../state/unfinishedRegistries.js';

/** What the access use cases need; `Deps` (src/deps.ts) provides it, tests may build it directly. */
export interface AccessDeps {
  readonly config: Config;
  readonly audit: AuditLog;
  readonly arm: ArmResources;
  readonly roleAssignments: RoleAssignments;
  readonly resourceGraph: ResourceGraph;
  readonly acrTasks: AcrTasks;
  /** A Container App's registry entries (issue 19): pointed at its identity for registries it was granted. */
  readonly containerApps: ContainerApps;
  /** An App Service / Function app's acrUseManagedIdentityCreds (issue 19). */
  readonly siteConfigs: SiteConfigs;
  readonly grantIndex: GrantIndex;
  readonly registries: RegistryDirectory;
  /** Registry settlements left unfinished at their Resource Graph budget, for the next sweep to carry on; without it, the next sweep starts them over. */
  readonly registryContinuations?: RegistryContinuations;
}
