import type { AuditLog } from '../audit/auditLog.js';
import type { AcrTasks } from '../azure/acrTasks.js';
import type { ArmResources } from '../azure/arm.js';
import type { ResourceGraph } from '../azure/resourceGraph.js';
import type { RoleAssignments } from '../azure/roleAssignments.js';
import type { Config } from '../config.js';
import type { GrantIndex } from './grantIndex.js';
import type { RegistryDirectory } from './registries.js';

/** What the access use cases need; `Deps` (src/deps.ts) provides it, tests may build it directly. */
export interface AccessDeps {
  readonly config: Config;
  readonly audit: AuditLog;
  readonly arm: ArmResources;
  readonly roleAssignments: RoleAssignments;
  readonly resourceGraph: ResourceGraph;
  readonly acrTasks: AcrTasks;
  readonly grantIndex: GrantIndex;
  readonly registries: RegistryDirectory;
}
