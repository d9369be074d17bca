/**
 * What an access plan is made of: the facts a caller gathers about one consumer (its identities,
 * requests, the registries they name and the assignments already there) and the plan's outcome
 * (grants, revokes, unchanged, denials, unresolved references), each with the reason its audit row
 * carries. Shapes only; `planAccess` in plan.ts computes one from the other.
 */
import type { ConsentDefault } from './consentSubject.js';
import type { IdentityKind } from './identityKinds.js';
import type { Tags } from './result.js';
import type { Role } from './roles.js';
import type { Access, RegistryRef } from './tags.js';

export interface PlanConsumer {
  readonly id: string;
  /** Display name for reasons; defaults to the last segment of `id`. */
  readonly name?: string;
  readonly tags?: Tags;
}

export interface PlanIdentity {
  readonly principalId: string;
  /** Sent with the PUT so a new identity does not fail with PrincipalNotFound (`ServicePrincipal` for managed identities). */
  readonly principalType: string;
  readonly kind: IdentityKind;
  /** The user-assigned identity's resource id, when there is one. */
  readonly resourceId?: string;
}

export interface PlanRequest {
  /** A parsed reference (from `parseConsumerTags`) or a raw one (from an HTTP request). */
  readonly registryRef: RegistryRef | string;
  readonly access: Access;
}

/** What the caller found out about a registry a request names (or an existing assignment sits on). */
export interface RegistryFacts {
  readonly id: string;
  readonly name: string;
  readonly loginServer?: string;
  readonly tags?: Tags;
  /** `properties.roleAssignmentMode`; absent means LegacyRegistryPermissions. */
  readonly roleAssignmentMode?: string;
  readonly exists: boolean;
}

/** A role assignment as ARM lists it; `roleDefinitionId` in any form. */
export interface ExistingAssignment {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly roleDefinitionId: string;
  readonly description?: string | null;
}

export interface PlanInput {
  readonly consumer: PlanConsumer;
  readonly identities: readonly PlanIdentity[];
  readonly requests: readonly PlanRequest[];
  readonly registries: readonly RegistryFacts[];
  /** Role assignments on those registries for those principals, ours or not. */
  readonly existing: readonly ExistingAssignment[];
  readonly defaultConsent: ConsentDefault;
}

export interface PlannedGrant {
  /** Deterministic assignment name (`roleAssignmentName`). */
  readonly name: string;
  /** The registry's resource id, as the facts gave it. */
  readonly scope: string;
  readonly registryName: string;
  readonly principalId: string;
  readonly principalType: string;
  readonly kind: IdentityKind;
  readonly identityResourceId?: string;
  readonly access: Access;
  readonly role: Role;
  /** What to write in the assignment's description: starts with OWNERSHIP_MARKER. */
  readonly description: string;
  readonly reason: string;
}

export interface PlannedRevoke {
  readonly name: string;
  readonly scope: string;
  readonly registryName: string;
  readonly principalId: string;
  readonly role: Role;
  readonly reason: string;
}

export interface PlannedUnchanged {
  readonly name: string;
  readonly scope: string;
  readonly registryName: string;
  readonly principalId: string;
  readonly role: Role;
  /** Whether the existing assignment carries our marker. */
  readonly owned: boolean;
  readonly reason: string;
}

export interface PlannedDenial {
  /** Absent when the denial is about an identity rather than a registry. */
  readonly scope?: string;
  readonly registryName?: string;
  readonly access?: Access;
  readonly principalIds: readonly string[];
  readonly reason: string;
}

export interface PlannedUnresolved {
  /** The reference as written. */
  readonly registryRef: string;
  readonly access: Access;
  readonly reason: string;
}

export interface AccessPlan {
  readonly grants: readonly PlannedGrant[];
  readonly revokes: readonly PlannedRevoke[];
  readonly unchanged: readonly PlannedUnchanged[];
  readonly denied: readonly PlannedDenial[];
  readonly unresolved: readonly PlannedUnresolved[];
}
