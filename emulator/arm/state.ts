/** The ARM module's in-memory state and the plumbing every ARM handler shares. */
import { randomUUID } from 'node:crypto';
import type { EmuRequest, EmuResponse, EmulatorContext, TokenClaims } from '../core/contract.js';
import { checkApiVersion } from './apiVersions.js';
import { armErrors } from './errors.js';
import { keyOf } from './ids.js';
import { BUILT_IN_ROLES, findRole, type RoleDefinition } from './roles.js';

export interface StoredResource {
  /** In the caller's casing, as first written. */
  id: string;
  body: Record<string, unknown>;
  /** What was written but Azure does not echo (an ACR task's credentials.customRegistries). */
  hidden: Record<string, unknown>;
}

export interface RoleAssignment {
  id: string;
  name: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: string;
  description: string | null;
  condition: string | null;
  conditionVersion: string | null;
  createdOn: string;
  updatedOn: string;
  createdBy: string | null;
  updatedBy: string | null;
}

/** An admin-configured tenant policy that denies matching role assignment writes. */
export interface DenyPolicy {
  name: string;
  /** Deny when the assignment's scope starts with this (case-insensitive). */
  scopePrefix?: string;
  /** Deny when the assignment's role is this GUID (or full role definition id). */
  roleDefinitionId?: string;
  /** Deny when the assignment's principalType is this. */
  principalType?: string;
  displayName?: string;
}

export interface ArmOptions {
  /** Items per page for list operations (ARM: typically 100+). */
  pageSize: number;
  /** How long a federated identity credential write stays "in flight" on its identity. */
  ficWriteDurationMs: number;
  /** Max federated identity credentials per identity (Entra: 20). */
  ficLimit: number;
  /** Role assignments per subscription (Azure: 4,000). */
  roleAssignmentLimit: number;
  /** Answer role assignments' `roleDefinitionId` in the tenant form, as the REST spec examples do. */
  tenantFormRoleDefinitionIds: boolean;
}

export const DEFAULT_OPTIONS: ArmOptions = {
  pageSize: 100,
  ficWriteDurationMs: 25,
  ficLimit: 20,
  roleAssignmentLimit: 4000,
  tenantFormRoleDefinitionIds: false,
};

export class ArmState {
  subscriptions = new Map<string, { subscriptionId: string; displayName: string }>();
  resourceGroups = new Map<string, StoredResource>();
  resources = new Map<string, StoredResource>();
  roleAssignments = new Map<string, RoleAssignment>();
  denyPolicies = new Map<string, DenyPolicy>();
  /** Seeded custom role definitions by GUID. */
  customRoles = new Map<string, RoleDefinition>();
  ficInFlight = new Set<string>();
  options: ArmOptions = { ...DEFAULT_OPTIONS };

  /** A built-in or custom role by GUID, full role definition id or role name. */
  findRole(idOrName: string): RoleDefinition | undefined {
    return findRole(BUILT_IN_ROLES, idOrName) ?? findRole(this.customRoles.values(), idOrName);
  }

  /** Built-in roles, then the custom ones. */
  allRoles(): RoleDefinition[] {
    return [...BUILT_IN_ROLES, ...this.customRoles.values()];
  }

  getResource(id: string): StoredResource | undefined {
    return this.resources.get(keyOf(id));
  }
  getResourceGroup(subscriptionId: string, rg: string): StoredResource | undefined {
    return this.resourceGroups.get(keyOf(`/subscriptions/${subscriptionId}/resourceGroups/${rg}`));
  }
  /** Resources or resource groups at `id` (resource group, resource or child). */
  getAny(id: string): StoredResource | undefined {
    return this.resources.get(keyOf(id)) ?? this.resourceGroups.get(keyOf(id));
  }
}

/** The audiences ARM accepts: the real ARM audience and the emulator's own URL. */
export function armAudiences(baseUrl: string): string[] {
  return [
    'https://management.azure.com',
    'https://management.azure.com/',
    'https://management.core.windows.net',
    'https://management.core.windows.net/',
    baseUrl,
    `${baseUrl}/`,
  ];
}

export interface Caller {
  readonly claims: TokenClaims;
  readonly objectId: string;
  readonly correlationId: string;
}

export type ArmHandler = (req: EmuRequest, caller: Caller) => Promise<EmuResponse> | EmuResponse;

/** api-version, then the bearer token: what ARM checks before any resource provider sees the call. */
export function armEntry(ctx: EmulatorContext, handler: ArmHandler): (req: EmuRequest) => Promise<EmuResponse> {
  const audiences = armAudiences(ctx.baseUrl);
  return async (req) => {
    if (!req.url.searchParams.get('api-version')) return armErrors.missingApiVersion();
    const header = req.headers.authorization;
    if (!header) return armErrors.missingToken();
    const claims = ctx.tokens.verify(header, audiences);
    if (!claims) return armErrors.invalidToken();
    // An api-version the addressed type does not publish: ARM's 400 before any provider sees the call.
    const location =
      typeof (req.body as { location?: unknown } | undefined)?.location === 'string'
        ? (req.body as { location: string }).location
        : undefined;
    const badVersion = checkApiVersion(req.url.pathname, req.url.searchParams.get('api-version')!, location);
    if (badVersion) return badVersion;
    const correlationId = String(req.headers['x-ms-correlation-request-id'] ?? req.headers['x-ms-client-request-id'] ?? randomUUID());
    const res = await handler(req, { claims, objectId: claims.oid, correlationId });
    return { ...res, headers: { 'x-ms-correlation-request-id': correlationId, 'x-ms-request-id': randomUUID(), ...(res.headers ?? {}) } };
  };
}

/** A page of `items` with ARM's `nextLink`, using `$skipToken` as the offset. */
export function paged<T>(req: EmuRequest, items: readonly T[], pageSize: number): { value: T[]; nextLink?: string } {
  const skip = Number(req.url.searchParams.get('$skipToken') ?? '0') || 0;
  const value = items.slice(skip, skip + pageSize);
  if (skip + pageSize >= items.length) return { value };
  const next = new URL(req.url.toString());
  next.searchParams.set('$skipToken', String(skip + pageSize));
  return { value, nextLink: next.toString() };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON merge-patch style deep merge (null deletes), as ARM PATCH on properties. */
export function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = deepMerge(out[k] as Record<string, unknown>, v);
    else out[k] = v;
  }
  return out;
}
