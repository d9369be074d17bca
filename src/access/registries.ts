/**
 * Registry look-ups for the planner: name, login server or resource id → the registry's facts
 * (id, login server, consent tags, role-assignment mode). One Resource Graph query per batch of
 * unknown names, cached per instance and invalidated by the registry's own events, so a burst of
 * consumer events costs one look-up per registry, not one per event.
 */
import type { ArmResource } from '../azure/arm.js';
import type { ResourceGraph, ResourceGraphRow } from '../azure/resourceGraph.js';
import { refersToRegistry } from '../policy/plan.js';
import type { RegistryFacts } from '../policy/accessPlan.js';
import { parseResourceId } from '../policy/resourceId.js';
import type { AccessRequest, RegistryRef } from '../policy/tags.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';

export interface RegistryDirectory {
  /** Facts for every registry the refs name that exists in the watched subscriptions (missing ones are left out). */
  resolve(refs: readonly RegistryRef[]): Promise<RegistryFacts[]>;
  /** Records a registry just read from ARM (fresher than any cached copy). */
  remember(resource: ArmResource): RegistryFacts;
  /** Forgets what is cached for the registry with this id (its own write or delete event). */
  invalidate(registryId: string): void;
}

export interface RegistryDirectoryOptions {
  readonly subscriptions: readonly string[];
  /** How long a found registry is trusted without its own event (other instances may have seen it change). */
  readonly ttlMs?: number;
  /** How long "no such registry" is trusted. */
  readonly negativeTtlMs?: number;
  readonly now?: () => number;
}

interface CacheEntry {
  readonly facts: RegistryFacts | undefined;
  readonly expires: number;
}

/** Creates the cached registry directory over Resource Graph. */
export function createRegistryDirectory(resourceGraph: ResourceGraph, options: RegistryDirectoryOptions): RegistryDirectory {
  const ttl = options.ttlMs ?? 5 * 60_000;
  const negativeTtl = options.negativeTtlMs ?? 30_000;
  const now = options.now ?? Date.now;
  /** Keyed by lower-cased registry name: ACR names are globally unique. */
  const cache = new Map<string, CacheEntry>();

  const put = (name: string, facts: RegistryFacts | undefined): void => {
    cache.set(name.toLowerCase(), { facts, expires: now() + (facts ? ttl : negativeTtl) });
  };

  return {
    async resolve(refs) {
      const names = [...new Set(refs.map((r) => r.name.toLowerCase()))];
      const missing = names.filter((n) => {
        const hit = cache.get(n);
        return !hit || hit.expires <= now();
      });
      if (missing.length > 0) {
        const rows = await resourceGraph.query(registriesByNameQuery(missing), options.subscriptions);
        const found = new Map<string, RegistryFacts>();
        for (const row of rows) {
          const facts = registryFactsFromRow(row);
          if (facts) found.set(facts.name.toLowerCase(), facts);
        }
        for (const name of missing) put(name, found.get(name));
      }
      const out: RegistryFacts[] = [];
      for (const name of names) {
        const facts = cache.get(name)?.facts;
        if (facts) out.push(facts);
      }
      return out;
    },
    remember(resource) {
      const facts = registryFactsFromResource(resource);
      put(facts.name, facts);
      return facts;
    },
    invalidate(registryId) {
      const parsed = parseResourceId(registryId);
      if (parsed.ok) cache.delete(parsed.value.name.toLowerCase());
    },
  };
}

/** The Resource Graph query for registries by name. Names were validated (letters and digits) by the tag parser. */
export function registriesByNameQuery(names: readonly string[]): string {
  const list = names.map((n) => `'${n.replace(/[^A-Za-z0-9]/g, '')}'`).join(', ');
  return `resources | where type =~ '${WATCHED_RESOURCE_TYPES.registry}' and name in~ (${list}) | project id, name, type, tags, properties`;
}

/** Registry facts from an ARM GET of the registry. */
export function registryFactsFromResource(resource: ArmResource): RegistryFacts {
  const properties = resource.properties ?? {};
  const loginServer = typeof properties['loginServer'] === 'string' ? properties['loginServer'] : undefined;
  const mode = typeof properties['roleAssignmentMode'] === 'string' ? properties['roleAssignmentMode'] : undefined;
  return {
    id: resource.id,
    name: resource.name,
    exists: true,
    ...(loginServer ? { loginServer: loginServer.toLowerCase() } : {}),
    ...(resource.tags ? { tags: resource.tags } : {}),
    ...(mode ? { roleAssignmentMode: mode } : {}),
  };
}

function registryFactsFromRow(row: ResourceGraphRow): RegistryFacts | undefined {
  if (typeof row['id'] !== 'string' || typeof row['name'] !== 'string') return undefined;
  return registryFactsFromResource({
    id: row['id'],
    name: row['name'],
    type: typeof row['type'] === 'string' ? row['type'] : WATCHED_RESOURCE_TYPES.registry,
    ...(isRecord(row['tags']) ? { tags: row['tags'] as Record<string, string> } : {}),
    ...(isRecord(row['properties']) ? { properties: row['properties'] } : {}),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a consumer's request names this registry (by name, login server or id). */
export function refersTo(request: AccessRequest, registry: RegistryFacts): boolean {
  return refersToRegistry(request.registryRef, registry);
}
