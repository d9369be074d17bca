/**
 * Resource ids: compared case-insensitively, returned in the caller's casing (as ARM does).
 * Events use the lower-case `resourcegroups` segment, as ARM's own event samples do:
 * https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions
 */

export interface ParsedResourceId {
  readonly subscriptionId: string;
  readonly resourceGroup?: string;
  /** `Microsoft.Compute` */
  readonly namespace?: string;
  /** `virtualMachines` or `registries/tasks` */
  readonly typePath?: string;
  /** `vm1` or `acr1/task1` */
  readonly namePath?: string;
}

export function keyOf(id: string): string {
  return id.replace(/\/+$/, '').toLowerCase();
}

/** Parses `/subscriptions/{s}[/resourceGroups/{rg}[/providers/{ns}/{t}/{n}[/{t2}/{n2}]]]`. */
export function parseResourceId(id: string): ParsedResourceId | undefined {
  const m = /^\/subscriptions\/([^/]+)(?:\/resourcegroups\/([^/]+)(?:\/providers\/([^/]+)\/(.+))?)?\/?$/i.exec(id);
  if (!m) return undefined;
  const [, subscriptionId, resourceGroup, namespace, rest] = m;
  if (!subscriptionId) return undefined;
  if (!namespace || !rest) return { subscriptionId, resourceGroup };
  const parts = rest.split('/');
  if (parts.length % 2 !== 0) return undefined;
  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < parts.length; i += 2) {
    types.push(parts[i]!);
    names.push(parts[i + 1]!);
  }
  return { subscriptionId, resourceGroup, namespace, typePath: types.join('/'), namePath: names.join('/') };
}

/** `Microsoft.Compute/virtualMachines` for a resource id, lower-cased. */
export function typeKeyOf(id: string): string | undefined {
  const p = parseResourceId(id);
  return p?.namespace && p.typePath ? `${p.namespace}/${p.typePath}`.toLowerCase() : undefined;
}

/** Whether `scope` is `child` or one of its ancestors. `/` is the root of everything. */
export function isScopeAtOrAbove(scope: string, child: string): boolean {
  const s = keyOf(scope);
  const c = keyOf(child);
  if (s === '' || s === '/') return true;
  return c === s || c.startsWith(s + '/');
}

/** The id with the `resourcegroups` segment lower-cased, as in ARM's Event Grid samples. */
export function toEventResourceId(id: string): string {
  return id.replace(/\/resourcegroups\//i, '/resourcegroups/');
}

export function parentIdOf(id: string): string {
  return id.replace(/\/[^/]+\/[^/]+\/?$/, '');
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isGuid(s: string): boolean {
  return GUID.test(s);
}
