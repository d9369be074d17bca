/**
 * The pure half of consumer wiring (consumerWiring.ts): which consumers need their own pull setting,
 * which identity it names, and, given what is configured now and what the automation recorded
 * writing, whether to add, change back, leave or remove it. No I/O.
 */
import type { ArmResource } from '../azure/arm.js';
import type { RegistryCredential } from '../azure/containerApps.js';
import type { SiteWebConfig } from '../azure/siteConfig.js';
import type { WiredConfig } from '../assignments/grantIndex.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import { IDENTITY_KINDS, type ConsumerIdentity } from './identities.js';

/** The consumers whose own configuration must name the identity to pull with. */
export const WIRED_KINDS = { containerApp: 'container-app', site: 'site' } as const;
export type WiredKind = (typeof WIRED_KINDS)[keyof typeof WIRED_KINDS];

/** Which kind of wiring a consumer needs, if any. */
export function wiredKindOf(consumer: Pick<ArmResource, 'type'>): WiredKind | undefined {
  const type = consumer.type.toLowerCase();
  if (type === WATCHED_RESOURCE_TYPES.containerApp) return WIRED_KINDS.containerApp;
  if (type === WATCHED_RESOURCE_TYPES.site) return WIRED_KINDS.site;
  return undefined;
}

/** The identity to pull with: of the consumer's identities that hold a role on the registry, the system-assigned one, else the first user-assigned by id. */
export function wiringIdentity(identities: readonly ConsumerIdentity[], holders: ReadonlySet<string>): ConsumerIdentity | undefined {
  const holding = identities.filter((i) => holders.has(i.principalId.toLowerCase()));
  const system = holding.find((i) => i.kind === IDENTITY_KINDS.systemAssigned);
  if (system) return system;
  return holding
    .filter((i) => i.kind === IDENTITY_KINDS.userAssigned && i.identityResourceId)
    .sort((a, b) => (a.identityResourceId ?? '').toLowerCase().localeCompare((b.identityResourceId ?? '').toLowerCase()))[0];
}

/** What to do with one consumer's setting for one registry. */
export type WiringDecision =
  /** Ours, and as wanted: nothing to write. */
  | { readonly kind: 'none' }
  /** Already as wanted, but not written by the automation: nothing written, nothing claimed. */
  | { readonly kind: 'present' }
  /** Write ours: add it (`restore`: ours was there and someone removed it) or change ours to the wanted identity. */
  | { readonly kind: 'write'; readonly restore: boolean }
  /** Someone else's setting is there: left as it is; `dropClaim` when it was ours and someone changed it. */
  | { readonly kind: 'theirs'; readonly dropClaim: boolean; readonly what: string };

const same = (a: string | undefined, b: string | undefined) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** A Container App's registry entry for `server`, given what the automation recorded writing there. */
export function decideAppRegistry(
  current: readonly RegistryCredential[],
  server: string,
  identity: string,
  recorded: WiredConfig | undefined,
): WiringDecision {
  const ours = recorded?.kind === 'containerAppRegistry' ? recorded : undefined;
  const entry = current.find((r) => same(r.server, server));
  if (!entry) return { kind: 'write', restore: ours !== undefined };
  const isOurs = ours !== undefined && !entry.username && same(entry.identity, ours.identity);
  if (isOurs) return same(ours.identity, identity) ? { kind: 'none' } : { kind: 'write', restore: false };
  if (!entry.username && same(entry.identity, identity))
    return ours ? { kind: 'theirs', dropClaim: true, what: describeEntry(entry) } : { kind: 'present' };
  return { kind: 'theirs', dropClaim: ours !== undefined, what: describeEntry(entry) };
}

/** The registries list with ours for `server` set to `identity` (replacing only an entry of ours, else appended). */
export function appRegistriesWith(current: readonly RegistryCredential[], server: string, identity: string): RegistryCredential[] {
  const rest = current.filter((r) => !same(r.server, server));
  const at = current.findIndex((r) => same(r.server, server));
  const ours: RegistryCredential = { server, identity };
  if (at < 0) return [...current, ours];
  return [...rest.slice(0, at), ours, ...rest.slice(at)];
}

/** The registries list without the entry the automation recorded; undefined when that entry is not there as written (gone, or changed by someone). */
export function appRegistriesWithout(current: readonly RegistryCredential[], recorded: WiredConfig): RegistryCredential[] | undefined {
  if (recorded.kind !== 'containerAppRegistry') return undefined;
  const isOurs = (r: RegistryCredential) => same(r.server, recorded.server) && !r.username && same(r.identity, recorded.identity);
  if (!current.some(isOurs)) return undefined;
  return current.filter((r) => !isOurs(r));
}

/** A site's acrUseManagedIdentityCreds / acrUserManagedIdentityID, wanted for `clientId` ('' for the system-assigned identity). */
export function decideSiteIdentity(config: SiteWebConfig, clientId: string, recorded: WiredConfig | undefined): WiringDecision {
  const ours = recorded?.kind === 'siteAcrIdentity' ? recorded : undefined;
  const isOurs =
    ours !== undefined && config.acrUseManagedIdentityCreds && same(config.acrUserManagedIdentityID, ours.acrUserManagedIdentityID);
  if (isOurs) return same(ours.acrUserManagedIdentityID, clientId) ? { kind: 'none' } : { kind: 'write', restore: false };
  const asWanted = config.acrUseManagedIdentityCreds && same(config.acrUserManagedIdentityID, clientId);
  if (asWanted) return ours ? { kind: 'theirs', dropClaim: true, what: describeSite(config) } : { kind: 'present' };
  if (!config.acrUseManagedIdentityCreds && !config.acrUserManagedIdentityID) return { kind: 'write', restore: ours !== undefined };
  return { kind: 'theirs', dropClaim: ours !== undefined, what: describeSite(config) };
}

/** Whether the site's settings are still exactly what the automation recorded writing. */
export function isSiteStillOurs(config: SiteWebConfig, recorded: WiredConfig): boolean {
  return (
    recorded.kind === 'siteAcrIdentity' &&
    config.acrUseManagedIdentityCreds &&
    same(config.acrUserManagedIdentityID, recorded.acrUserManagedIdentityID)
  );
}

function describeEntry(entry: RegistryCredential): string {
  return entry.username ? `a user name and password (${entry.username})` : entry.identity ? `identity ${entry.identity}` : 'no credential';
}

function describeSite(config: SiteWebConfig): string {
  if (!config.acrUseManagedIdentityCreds)
    return `acrUserManagedIdentityID ${config.acrUserManagedIdentityID} without acrUseManagedIdentityCreds`;
  return config.acrUserManagedIdentityID
    ? `acrUseManagedIdentityCreds with user-assigned identity ${config.acrUserManagedIdentityID}`
    : 'acrUseManagedIdentityCreds with its system-assigned identity';
}
