/**
 * Pull credentials as the resources layer sees it: a registry written, re-tagged or deleted is
 * enrolled or un-enrolled by its `acr-pull-credential` tags, from the layer's one read, after
 * registry access has settled it; the sweep also settles every registry still enrolled, so a lost
 * untag or delete event still un-enrols it.
 */
import { REGISTRY_TYPE, resourceTypeOf } from '../policy/resourceId.js';
import { TAG_NAMES } from '../policy/tags.js';
import { FEATURES, type FeatureResult, type ResourceReconciler } from '../reconciler.js';
import type { CredentialsDeps } from './deps.js';
import { ENROLMENT_STATUSES } from './enrolment.js';
import { listEnrolments, onRegistryChanged, type RegistryChangeResult } from './useCases.js';

/** The feature's result: its decisions are in the audit trail (enrolment keeps its own record). */
export interface CredentialsReconcileResult extends FeatureResult {
  readonly outcome?: RegistryChangeResult['outcome'];
}

/** The pull-credentials reconciler over `deps`. */
export function createCredentialsReconciler(deps: CredentialsDeps): ResourceReconciler<CredentialsReconcileResult> {
  return {
    feature: FEATURES.credentials,
    // Registry access first, as it always has: the grant index and registry cache are settled before enrolment.
    runsAfter: [FEATURES.access],
    handles: (type) => type === REGISTRY_TYPE,
    async reconcile(read, options) {
      // Enrolment has no dry run: a preview shows only what the other features would do for the registry.
      if (options.dryRun) return { decisions: [] };
      const result = await onRegistryChanged(deps, read.resource ?? { id: read.id, deleted: true }, options);
      return { decisions: [], outcome: result.outcome };
    },
    sweep: {
      where: `type =~ '${REGISTRY_TYPE}' and isnotempty(tags['${TAG_NAMES.credential}'])`,
      wants: (row) => row.type === REGISTRY_TYPE,
      pointedAt: (a) => (resourceTypeOf(a.scope) === REGISTRY_TYPE ? [a.scope] : []),
      listKnown: async () =>
        (await listEnrolments(deps)).filter((e) => e.status !== ENROLMENT_STATUSES.unenrolled).map((e) => e.registryId),
    },
  };
}
