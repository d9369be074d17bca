/**
 * Registry access as the resources layer sees it: the types it settles (registries and their
 * consumers), how it settles one resource the layer read, and its part of the sweep (tagged
 * consumers and consenting registries, and whatever our assignments point at).
 */
import { ownershipOfListed } from '../assignments/executor.js';
import { subjectOf } from '../policy/ownership.js';
import { REGISTRY_TYPE, resourceTypeOf } from '../policy/resourceId.js';
import { isTagSet, TAG_NAMES } from '../policy/tags.js';
import { FEATURES, type ResourceReconciler, type SweptRow } from '../reconciler.js';
import type { AccessDeps } from './accessDeps.js';
import { CONSUMER_TYPES, SWEPT_CONSUMER_TYPES } from '../policy/resourceTypes.js';
import { reconcileReadResource } from './reconcile.js';
import type { ReconcileResult } from './run.js';

const tagged = (tag: string) => `isnotempty(tags['${tag}'])`;

/** The access reconciler over `deps`; the layer's shared reads stand in for `deps.arm` during a run. */
export function createAccessReconciler(deps: AccessDeps): ResourceReconciler<ReconcileResult> {
  return {
    feature: FEATURES.access,
    // A Key Vault's tags are workload identity's consent, not a consumer's request.
    handles: (type) => type === REGISTRY_TYPE || CONSUMER_TYPES.has(type),
    reconcile: (read, options) => reconcileReadResource({ ...deps, arm: options.reads }, read, options),
    sweep: {
      where: `${tagged(TAG_NAMES.pull)} or ${tagged(TAG_NAMES.push)} or (type =~ '${REGISTRY_TYPE}' and (${tagged(TAG_NAMES.allow)} or ${tagged(TAG_NAMES.pushAllow)}))`,
      wants: (row: SweptRow) =>
        row.type === REGISTRY_TYPE ||
        (SWEPT_CONSUMER_TYPES.has(row.type) && (isTagSet(row.tags, TAG_NAMES.pull) || isTagSet(row.tags, TAG_NAMES.push))),
      pointedAt(a) {
        const ids: string[] = [];
        if (resourceTypeOf(a.scope) === REGISTRY_TYPE) ids.push(a.scope);
        const consumerId = subjectOf(ownershipOfListed(a));
        const type = consumerId ? resourceTypeOf(consumerId) : undefined;
        if (consumerId && type && SWEPT_CONSUMER_TYPES.has(type)) ids.push(consumerId);
        return ids;
      },
      forget: (consumerId, scope) => deps.grantIndex.remove(consumerId, scope),
    },
  };
}
