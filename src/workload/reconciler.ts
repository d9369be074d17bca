/**
 * Workload identity as the resources layer sees it: user-assigned identities, AKS clusters and Key
 * Vaults; one resource settled from the layer's read; its part of the sweep (identities with
 * `acr-workload-*` tags, and those our assignments name), and its vault-grant index.
 */
import { ownershipOfListed } from '../assignments/executor.js';
import { subjectOf } from '../policy/ownership.js';
import { resourceTypeOf } from '../policy/resourceId.js';
import { isTagSet } from '../policy/tags.js';
import { WORKLOAD_TAG_NAMES } from '../policy/workloadTags.js';
import { FEATURES, type ResourceReconciler } from '../reconciler.js';
import { reconcileWorkloadIdentity } from './reconcileWorkloadIdentity.js';
import type { WorkloadDeps } from './workloadDeps.js';
import { isWorkloadType, USER_ASSIGNED_IDENTITY_TYPE } from './workloadQueries.js';
import type { WorkloadReconcileResult } from './workloadRun.js';

const WORKLOAD_TAGS = [WORKLOAD_TAG_NAMES.cluster, WORKLOAD_TAG_NAMES.subjects, WORKLOAD_TAG_NAMES.vault] as const;

/** The workload-identity reconciler over `deps`; the layer's shared reads stand in for `deps.arm` during a run. */
export function createWorkloadReconciler(deps: WorkloadDeps): ResourceReconciler<WorkloadReconcileResult> {
  return {
    feature: FEATURES.workload,
    handles: (type) => isWorkloadType(type),
    reconcile: (read, options) => reconcileWorkloadIdentity({ ...deps, arm: options.reads }, read.id, options),
    sweep: {
      where: `type =~ '${USER_ASSIGNED_IDENTITY_TYPE}' and (${WORKLOAD_TAGS.map((t) => `isnotempty(tags['${t}'])`).join(' or ')})`,
      wants: (row) => row.type === USER_ASSIGNED_IDENTITY_TYPE && WORKLOAD_TAGS.some((t) => isTagSet(row.tags, t)),
      pointedAt(a) {
        const consumerId = subjectOf(ownershipOfListed(a));
        return consumerId && resourceTypeOf(consumerId) === USER_ASSIGNED_IDENTITY_TYPE ? [consumerId] : [];
      },
      forget: (consumerId, scope) => deps.vaultGrantIndex.remove(consumerId, scope),
    },
  };
}
