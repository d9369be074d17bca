/**
 * What a manual grant or revoke (POST / DELETE /api/access/grants) is asked and answers: the
 * request, its options, its outcomes and error codes, and the results the API returns.
 */
import type { AuditEntry } from '../audit/auditLog.js';
import { NOT_OURS_CODE } from '../assignments/executor.js';
import type { Logger } from '../log.js';
import type { ConsentDecision } from '../policy/consent.js';
import type { AccessPlan } from '../policy/accessPlan.js';
import type { Role } from '../policy/roles.js';
import type { Access } from '../policy/tags.js';

/** Principal types a role assignment takes (`principalType` on the PUT). */
export const PRINCIPAL_TYPES = { servicePrincipal: 'ServicePrincipal', user: 'User', group: 'Group' } as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[keyof typeof PRINCIPAL_TYPES];

/** Who gets (or loses) the access: every identity of a resource, or one principal. */
export type ManualTarget = { readonly resourceId: string } | { readonly principalId: string; readonly principalType: PrincipalType };

export type ManualRequest = ManualTarget & {
  /** The registry by name, login server or resource id. */
  readonly registry: string;
  readonly access: Access;
  /** Who asked: recorded on every audit row and in the assignment's description. */
  readonly caller: string;
};

export type ManualGrantRequest = ManualRequest & {
  /** Grant even where the registry does not consent; needs ACCESS_ALLOW_CONSENT_OVERRIDE, audited as an override. */
  readonly override?: boolean;
};

export interface ManualOptions {
  readonly log: Logger;
  readonly correlationId?: string;
  /** Decide and report only: nothing is written to ARM, the grant index or the audit log. */
  readonly dryRun?: boolean;
}

/** Error codes of the manual use cases, for problem types and audit rows. */
export const MANUAL_ERROR_CODES = {
  consentDenied: 'ConsentDenied',
  overrideDisabled: 'ConsentOverrideDisabled',
  registryNotFound: 'RegistryNotFound',
  resourceNotFound: 'ResourceNotFound',
  invalidRegistry: 'InvalidRegistryReference',
  notAConsumer: 'NotAConsumer',
  noManagedIdentity: 'NoManagedIdentity',
  notOwned: NOT_OURS_CODE,
} as const;

export const MANUAL_GRANT_OUTCOMES = {
  granted: 'granted',
  alreadyPresent: 'already-present',
  wouldGrant: 'would-grant',
  deniedByConsent: 'denied-by-consent',
} as const;
export type ManualGrantOutcome = (typeof MANUAL_GRANT_OUTCOMES)[keyof typeof MANUAL_GRANT_OUTCOMES];

export const MANUAL_REVOKE_OUTCOMES = {
  revoked: 'revoked',
  wouldRevoke: 'would-revoke',
  /** Not revoked: another consumer holding the principal still asks for it (the audit row names it). */
  kept: 'kept',
  nothingToRevoke: 'nothing-to-revoke',
} as const;
export type ManualRevokeOutcome = (typeof MANUAL_REVOKE_OUTCOMES)[keyof typeof MANUAL_REVOKE_OUTCOMES];

export interface ManualRegistry {
  readonly id: string;
  readonly name: string;
  readonly loginServer?: string;
  readonly roleAssignmentMode?: string;
}

/** One assignment the request touched. */
export interface ManualAssignment {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly role: Role;
  readonly outcome: string;
}

export interface ManualGrantResult {
  readonly outcome: ManualGrantOutcome;
  /** Whether registry consent was overridden. */
  readonly override: boolean;
  /** Why the registry consents, or does not. */
  readonly consent: ConsentDecision;
  readonly registry: ManualRegistry;
  readonly resourceId?: string;
  readonly principalIds: readonly string[];
  readonly role: Role;
  readonly assignments: readonly ManualAssignment[];
  /** The audit rows written (in a dry run, the rows a real run would write). */
  readonly decisions: readonly AuditEntry[];
  /** The plan the decision came from; absent when consent refused it before planning. */
  readonly plan?: AccessPlan;
}

export interface ManualRevokeResult {
  readonly outcome: ManualRevokeOutcome;
  readonly registry: ManualRegistry;
  readonly resourceId?: string;
  readonly principalIds: readonly string[];
  readonly assignments: readonly ManualAssignment[];
  readonly decisions: readonly AuditEntry[];
}
