/**
 * What the status page shows, gathered from the same sources the use cases write: health (settings,
 * dependencies, headroom, credentials, the last sweep), the role assignments on every registry of the
 * watched subscriptions, pull-credential enrolments, the recent audit trail and this instance's
 * metrics. Read-only; a source that fails is named on the page, never thrown.
 */
import type { AuditRecord } from '../../audit/auditLog.js';
import type { EnrolmentView } from '../../credentials/enrolment.js';
import { errorCode } from '../../errors.js';
import { isOurs, OWNERSHIP_MARKER } from '../../policy/ownership.js';
import { parseResourceId, RESOURCE_ID_KINDS } from '../../policy/resourceId.js';
import { REGISTRY_ROLES } from '../../policy/roles.js';
import type { Health } from '../schemas/health.js';
import type { MetricsSnapshot } from '../../metrics/readout.js';
import { REGISTRY_TYPE } from '../../policy/resourceTypes.js';

/** A role assignment as the status page needs it (`RoleAssignmentInfo` has this shape). */
export interface AssignmentView {
  /** ARM's name of the assignment: ours only under our deterministic name. */
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly principalType?: string;
  readonly roleDefinitionGuid: string;
  readonly description?: string;
}

export interface StatusSources {
  readonly watchedSubscriptions: readonly string[];
  health(): Promise<Health>;
  /** Every role assignment within a subscription. */
  assignments(subscriptionId: string): Promise<readonly AssignmentView[]>;
  enrolments(): Promise<readonly EnrolmentView[]>;
  /** Audit rows since `since`, newest first, at most `top`. */
  audit(since: Date, top: number): Promise<readonly AuditRecord[]>;
  metrics(): Promise<MetricsSnapshot>;
}

export const ACCESS_KINDS = { ours: 'ours', handMade: 'hand-made' } as const;
export type AccessKind = (typeof ACCESS_KINDS)[keyof typeof ACCESS_KINDS];

export interface AccessEntry {
  readonly principalId: string;
  readonly principalType?: string;
  readonly role: string;
  readonly kind: AccessKind;
  /** The consumer the assignment is for, when the description names one. */
  readonly consumer?: string;
  /** Why it exists: our description after the marker, or the hand-made assignment's own. */
  readonly why: string;
}

export interface DeniedEntry {
  readonly time: string;
  readonly outcome: string;
  readonly resourceId?: string;
  readonly principalId?: string;
  readonly reason: string;
}

export interface RegistryStatus {
  readonly registryId: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly subscriptionId: string;
  readonly access: readonly AccessEntry[];
  readonly denied: readonly DeniedEntry[];
  /** Grants and revocations in the window, newest first. */
  readonly changes: readonly DeniedEntry[];
  readonly credential?: EnrolmentView;
}

export interface StatusReport {
  readonly generatedAt: string;
  readonly health: Health;
  readonly registries: readonly RegistryStatus[];
  readonly enrolments: readonly EnrolmentView[];
  /** The latest failures, denials and rejected input, newest first. */
  readonly problems: readonly AuditRecord[];
  readonly metrics: MetricsSnapshot;
  /** How far back the audit trail was read, in days. */
  readonly auditWindowDays: number;
  /** Sources that could not be read: what and why (never a secret). */
  readonly unavailable: readonly string[];
}

export const AUDIT_WINDOW_DAYS = 7;
const AUDIT_ROWS = 500;
const PROBLEMS_SHOWN = 25;
const DENIED_OUTCOMES = new Set(['denied-by-consent', 'denied-by-platform-policy', 'denied', 'denied-ineligible', 'denied-by-app-role']);
const PROBLEM_OUTCOMES = new Set([...DENIED_OUTCOMES, 'failed', 'rejected-input']);
const CHANGE_OUTCOMES = new Set(['granted', 'revoked']);
const CHANGES_SHOWN = 10;
const REGISTRY_ROLE_NAMES = new Map(REGISTRY_ROLES.map((r) => [r.roleDefinitionId, r.name]));

/** Gathers the report; every source is read at once and a failed one is listed in `unavailable`. */
export async function collectStatus(sources: StatusSources, now: () => Date = () => new Date()): Promise<StatusReport> {
  const at = now();
  const unavailable: string[] = [];
  const attempt = async <T>(what: string, read: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await read();
    } catch (error) {
      unavailable.push(`${what}: ${errorCode(error)}`);
      return fallback;
    }
  };
  const since = new Date(at.getTime() - AUDIT_WINDOW_DAYS * 86_400_000);
  const [health, enrolments, audit, metrics, ...assignmentLists] = await Promise.all([
    sources.health(),
    attempt('pull-credential enrolments', () => sources.enrolments(), [] as readonly EnrolmentView[]),
    attempt('audit trail', () => sources.audit(since, AUDIT_ROWS), [] as readonly AuditRecord[]),
    sources.metrics(),
    ...sources.watchedSubscriptions.map((id) =>
      attempt(`role assignments of subscription ${id}`, () => sources.assignments(id), [] as readonly AssignmentView[]),
    ),
  ]);
  const registries = registryStatuses(assignmentLists.flat(), enrolments, audit);
  return {
    generatedAt: at.toISOString(),
    health,
    registries,
    enrolments,
    problems: audit.filter((r) => PROBLEM_OUTCOMES.has(r.outcome)).slice(0, PROBLEMS_SHOWN),
    metrics,
    auditWindowDays: AUDIT_WINDOW_DAYS,
    unavailable,
  };
}

/**
 * One entry per registry that has a registry role assigned on it, an enrolment, or a denial in the
 * window: who has access and why (ours or hand-made), who was denied and why.
 */
export function registryStatuses(
  assignments: readonly AssignmentView[],
  enrolments: readonly EnrolmentView[],
  audit: readonly AuditRecord[],
): RegistryStatus[] {
  const byId = new Map<
    string,
    { registryId: string; access: AccessEntry[]; denied: DeniedEntry[]; changes: DeniedEntry[]; credential?: EnrolmentView }
  >();
  const entry = (id: string) => {
    const key = id.toLowerCase();
    let found = byId.get(key);
    if (!found) byId.set(key, (found = { registryId: id, access: [], denied: [], changes: [] }));
    return found;
  };
  for (const a of assignments) {
    const role = REGISTRY_ROLE_NAMES.get(a.roleDefinitionGuid.toLowerCase());
    if (!role || !isRegistryId(a.scope)) continue;
    // Ours only with our deterministic name and our description: a copied description is hand-made.
    const ours = isOurs({ ...a, roleDefinitionId: a.roleDefinitionGuid });
    const detail = ours ? (a.description ?? '').trim().slice(OWNERSHIP_MARKER.length).replace(/^:\s*/, '') : (a.description ?? '').trim();
    const consumer = ours ? / on (\/subscriptions\/\S+)$/i.exec(detail)?.[1] : undefined;
    entry(a.scope).access.push({
      principalId: a.principalId,
      ...(a.principalType ? { principalType: a.principalType } : {}),
      role,
      kind: ours ? ACCESS_KINDS.ours : ACCESS_KINDS.handMade,
      ...(consumer ? { consumer } : {}),
      why: ours
        ? detail || 'made by the automation'
        : detail
          ? `assigned outside the automation: ${detail}`
          : 'assigned outside the automation (left alone)',
    });
  }
  for (const e of enrolments) if (e.status !== 'unenrolled') entry(e.registryId).credential = e;
  // The newest denial per (consumer or principal) and registry; the latest grants and revocations.
  const seen = new Set<string>();
  for (const r of audit) {
    if (CHANGE_OUTCOMES.has(r.outcome) && r.registry && isRegistryId(r.registry)) {
      const changes = entry(r.registry).changes;
      if (changes.length < CHANGES_SHOWN)
        changes.push({
          time: r.time,
          outcome: r.outcome,
          reason: r.reason,
          ...(r.resourceId ? { resourceId: r.resourceId } : {}),
          ...(r.principalId ? { principalId: r.principalId } : {}),
        });
      continue;
    }
    if (!DENIED_OUTCOMES.has(r.outcome) || !r.registry || !isRegistryId(r.registry)) continue;
    const who = `${r.registry}|${r.resourceId ?? r.principalId ?? ''}`.toLowerCase();
    if (seen.has(who)) continue;
    seen.add(who);
    entry(r.registry).denied.push({
      time: r.time,
      outcome: r.outcome,
      reason: r.reason,
      ...(r.resourceId ? { resourceId: r.resourceId } : {}),
      ...(r.principalId ? { principalId: r.principalId } : {}),
    });
  }
  return [...byId.values()]
    .map((r) => {
      const parsed = parseResourceId(r.registryId);
      const name = parsed.ok ? parsed.value.name : r.registryId;
      const resourceGroup = parsed.ok ? (parsed.value.resourceGroup ?? '') : '';
      const subscriptionId = parsed.ok ? parsed.value.subscriptionId : '';
      const access = [...r.access].sort(
        (a, b) => a.kind.localeCompare(b.kind) || (a.consumer ?? a.principalId).localeCompare(b.consumer ?? b.principalId),
      );
      return { ...r, access, name, resourceGroup, subscriptionId };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function isRegistryId(id: string): boolean {
  const parsed = parseResourceId(id);
  return parsed.ok && parsed.value.kind === RESOURCE_ID_KINDS.resource && parsed.value.type === REGISTRY_TYPE;
}

/** The last segment of a resource id: what a person calls the resource. */
export function nameOfId(id: string): string {
  const parsed = parseResourceId(id);
  return parsed.ok && parsed.value.name ? parsed.value.name : (id.split('/').filter(Boolean).pop() ?? id);
}
