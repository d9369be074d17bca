/**
 * Which principals a consumer resource stands for, read from the resource as ARM returns it —
 * no extra call when the resource carries the principal ids.
 *   VM, VMSS, ACR task, Container App, App Service: `identity.principalId` (system-assigned) and
 *     `identity.userAssignedIdentities[<id>].{principalId, clientId}`
 *     (https://learn.microsoft.com/rest/api/compute/virtual-machines/get#virtualmachineidentity)
 *   AKS: the kubelet identity `properties.identityProfile.kubeletidentity.{objectId, clientId, resourceId}`
 *   a user-assigned identity tagged directly: `properties.{principalId, clientId}`
 */
import type { ArmResource, ArmResources } from '../azure/arm.js';
import { NotReadyError } from '../errors.js';
import type { PlanIdentity } from '../policy/accessPlan.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';

import { IDENTITY_KINDS, type IdentityKind } from '../policy/identityKinds.js';
export { IDENTITY_KINDS, type IdentityKind } from '../policy/identityKinds.js';

/** One principal the consumer acts as. */
export interface ConsumerIdentity {
  readonly principalId: string;
  readonly kind: IdentityKind;
  /** Client id, when known: an ACR task's custom-registry credential names a user-assigned identity by it. */
  readonly clientId?: string;
  /** The user-assigned identity resource, for user-assigned and kubelet identities. */
  readonly identityResourceId?: string;
}

export interface IdentityResolution {
  readonly identities: readonly ConsumerIdentity[];
  /** User-assigned identities attached without a principal id in the response: read them to learn it. */
  readonly lookups: readonly string[];
  /** Why the resource's identities are not complete yet (still provisioning): defer to redelivery. */
  readonly notReady?: string;
}

const TERMINAL_STATES = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

/** The identities of a consumer resource, plus what still needs a read and whether it is not ready yet. */
export function resolveIdentities(resource: ArmResource): IdentityResolution {
  const type = resource.type.toLowerCase();
  const provisioning = provisioningState(resource);
  const stillProvisioning = provisioning !== undefined && !TERMINAL_STATES.has(provisioning.toLowerCase());

  if (type === WATCHED_RESOURCE_TYPES.userAssignedIdentity) {
    const principalId = stringAt(resource.properties, 'principalId');
    if (!principalId) return { identities: [], lookups: [], notReady: `user-assigned identity ${resource.name} has no principalId yet` };
    const clientId = stringAt(resource.properties, 'clientId');
    return {
      identities: [{ principalId, kind: IDENTITY_KINDS.userAssigned, identityResourceId: resource.id, ...(clientId ? { clientId } : {}) }],
      lookups: [],
    };
  }

  if (type === WATCHED_RESOURCE_TYPES.managedCluster) {
    const profile = recordAt(resource.properties, 'identityProfile');
    const kubelet = recordAt(profile, 'kubeletidentity') ?? recordAt(profile, 'kubeletIdentity');
    const objectId = stringAt(kubelet, 'objectId');
    if (!objectId) {
      return stillProvisioning
        ? { identities: [], lookups: [], notReady: `AKS cluster ${resource.name} is ${provisioning} and has no kubelet identity yet` }
        : { identities: [], lookups: [] };
    }
    const clientId = stringAt(kubelet, 'clientId');
    const identityResourceId = stringAt(kubelet, 'resourceId');
    return {
      identities: [
        {
          principalId: objectId,
          kind: IDENTITY_KINDS.kubelet,
          ...(clientId ? { clientId } : {}),
          ...(identityResourceId ? { identityResourceId } : {}),
        },
      ],
      lookups: [],
    };
  }

  const identity = resource.identity;
  const identityType = (identity?.type ?? 'None').toLowerCase();
  const identities: ConsumerIdentity[] = [];
  const lookups: string[] = [];
  let notReady: string | undefined;
  if (identityType.includes('systemassigned')) {
    if (identity?.principalId) identities.push({ principalId: identity.principalId, kind: IDENTITY_KINDS.systemAssigned });
    else notReady = `${resource.name} has a system-assigned identity without a principalId yet`;
  }
  if (identityType.includes('userassigned')) {
    for (const [id, entry] of Object.entries(identity?.userAssignedIdentities ?? {})) {
      if (entry?.principalId) {
        identities.push({
          principalId: entry.principalId,
          kind: IDENTITY_KINDS.userAssigned,
          identityResourceId: id,
          ...(entry.clientId ? { clientId: entry.clientId } : {}),
        });
      } else {
        lookups.push(id);
      }
    }
  }
  return { identities: dedupe(identities), lookups, ...(notReady ? { notReady } : {}) };
}

/** The identity an ACR task names in its custom-registry credential: `[system]` when it has one, else a user-assigned client id. */
export function taskCredentialIdentity(identities: readonly ConsumerIdentity[]): string | undefined {
  if (identities.some((i) => i.kind === IDENTITY_KINDS.systemAssigned)) return '[system]';
  return identities.find((i) => i.kind === IDENTITY_KINDS.userAssigned && i.clientId)?.clientId;
}

/** A user-assigned identity resource read for its principal id (when the consumer's response lacked it). */
export function userAssignedFromResource(resource: ArmResource): ConsumerIdentity | undefined {
  const principalId = stringAt(resource.properties, 'principalId');
  if (!principalId) return undefined;
  const clientId = stringAt(resource.properties, 'clientId');
  return { principalId, kind: IDENTITY_KINDS.userAssigned, identityResourceId: resource.id, ...(clientId ? { clientId } : {}) };
}

function dedupe(identities: ConsumerIdentity[]): ConsumerIdentity[] {
  const seen = new Set<string>();
  return identities.filter((i) => {
    const key = i.principalId.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function provisioningState(resource: ArmResource): string | undefined {
  return stringAt(resource.properties, 'provisioningState');
}

function recordAt(value: unknown, key: string): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const inner = (value as Record<string, unknown>)[key];
  return typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : undefined;
}

function stringAt(value: unknown, key: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const inner = (value as Record<string, unknown>)[key];
  return typeof inner === 'string' && inner ? inner : undefined;
}

/** Identities from the resource, reading a user-assigned identity only when the response lacks its principal id. */
export async function identitiesOf(
  deps: { readonly arm: Pick<ArmResources, 'getResource'> },
  consumer: ArmResource,
): Promise<ConsumerIdentity[]> {
  const resolution = resolveIdentities(consumer);
  if (resolution.notReady) throw new NotReadyError('ResourceNotReady', resolution.notReady);
  const identities = [...resolution.identities];
  for (const id of resolution.lookups) {
    const identity = await deps.arm.getResource(id);
    const resolved = identity ? userAssignedFromResource(identity) : undefined;
    if (resolved) identities.push(resolved);
    else throw new NotReadyError('IdentityNotReady', `user-assigned identity ${id} on ${consumer.name} has no principal id yet`);
  }
  return identities;
}

/** A resolved identity as the planner sees it (managed identities are service principals). */
export function toPlanIdentity(identity: ConsumerIdentity): PlanIdentity {
  return {
    principalId: identity.principalId,
    principalType: 'ServicePrincipal',
    kind: identity.kind,
    ...(identity.identityResourceId ? { resourceId: identity.identityResourceId } : {}),
  };
}
