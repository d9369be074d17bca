/**
 * The audit trail: one row per decision, the user's record of what the automation did.
 * The Table Storage implementation lives beside this file; use cases depend on this interface.
 */

/** What happened. Closed set, shared by access, credentials and workload identity. */
export const AUDIT_OUTCOMES = {
  granted: 'granted',
  alreadyPresent: 'already-present',
  revoked: 'revoked',
  /** A revoke withheld: another consumer holding the principal still asks for it (the row names it). */
  kept: 'kept',
  deniedByConsent: 'denied-by-consent',
  deniedByPlatformPolicy: 'denied-by-platform-policy',
  /** Refused by the automation's own rule, whatever the target consents to; `errorCode` names the rule. */
  denied: 'denied',
  /** An HTTP API write refused because the caller lacks the app role (App Service Authentication on). */
  deniedByAppRole: 'denied-by-app-role',
  /** The identity may not be federated: outside WORKLOAD_FEDERATION_SCOPES, or it holds a role beyond the managed ones. */
  deniedIneligible: 'denied-ineligible',
  skipped: 'skipped',
  failed: 'failed',
  rejectedInput: 'rejected-input',
  enrolled: 'enrolled',
  unenrolled: 'unenrolled',
  rotated: 'rotated',
  rotationStep: 'rotation-step',
  /** A rotation that would cut a password's grace period short waits (credentials). */
  deferred: 'deferred',
  /** Key Vault served a version other than the current password and was put right (credentials). */
  repaired: 'repaired',
  /** One row per reconciliation sweep: what it checked, and its decisions by outcome in `details` (those that changed nothing have no rows of their own). */
  swept: 'swept',
  /** Work an earlier run left unfinished (a registry's consumers past its Resource Graph budget) was carried on to the end; `details.startedBy` names that run. */
  resumed: 'resumed',
  /** Audit rows older than AUDIT_RETENTION_DAYS were deleted; `details` says how many and from which day rows are kept. */
  expired: 'expired',
  wouldGrant: 'would-grant',
  wouldRevoke: 'would-revoke',
} as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[keyof typeof AUDIT_OUTCOMES];

export interface AuditEntry {
  /** What was attempted, in a platform engineer's words: 'grant', 'revoke', 'rotate', 'enrol', 'event'. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  /** Why, in plain words: 'registry contosoacr allows same-resource-group; vm-web-1 is in rg-web'. */
  readonly reason: string;
  readonly resourceId?: string;
  readonly principalId?: string;
  /** Registry resource id. */
  readonly registry?: string;
  /** Role name and id, for example 'AcrPull (7f951dda-…)'. */
  readonly role?: string;
  readonly eventId?: string;
  readonly correlationId?: string;
  /** Who caused it: the event's caller object id or app id, or the HTTP caller. */
  readonly caller?: string;
  readonly durationMs?: number;
  /** Azure's or our error code when outcome is failed or rejected-input. */
  readonly errorCode?: string;
  /** Extra scalar facts (never secret values). */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * What started a run — a delivered event, an HTTP request, a timer or the sweep — as its audit rows
 * carry it. The one trigger type every use case takes.
 */
export interface Trigger {
  readonly eventId?: string;
  readonly correlationId?: string;
  /** Who caused it: the event's caller object id (or `app:<appid>`), the HTTP caller, or 'sweep'. */
  readonly caller?: string;
}

export interface AuditRecord extends AuditEntry {
  readonly id: string;
  readonly time: string;
}

export interface AuditQuery {
  readonly resourceId?: string;
  readonly registry?: string;
  readonly since?: Date;
  readonly until?: Date;
  readonly top?: number;
  readonly continuationToken?: string;
}

export interface AuditPage {
  readonly items: AuditRecord[];
  readonly continuationToken?: string;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<AuditRecord>;
  /** Newest first; by resource or registry without scanning the whole table. */
  query(query: AuditQuery): Promise<AuditPage>;
}
