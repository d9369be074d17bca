/**
 * From role to working pull (issue 19): a role assignment alone does not make every consumer pull.
 *   Container App — `configuration.registries` needs `{ server: <login server>, identity: 'system' | <identity id> }`;
 *   App Service / Function app running a container from the registry — `config/web` needs
 *     `acrUseManagedIdentityCreds: true` (and `acrUserManagedIdentityID: <client id>` for a user-assigned identity).
 * After the access plan is applied, each registry where one of the consumer's identities holds a role
 * (ours or assigned by hand) gets that setting, pointing at the identity that holds it; when the role
 * goes, the setting goes with it. Only what the automation added (recorded write-ahead in the grant
 * index, `wired`) is ever changed back or removed: an entry or setting already there — a password,
 * another identity, set by hand — is left as it is and the audit row says so. An entry of ours someone
 * removed is added again on the next event or sweep; one someone changed is theirs from then on.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { ArmResource } from '../azure/arm.js';
import { CONTAINER_APP_SYSTEM_IDENTITY, registriesOf, type RegistryCredential } from '../azure/containerApps.js';
import { siteImageRegistry, type SiteWebConfig } from '../azure/siteConfig.js';
import type { RegistryFacts } from '../policy/plan.js';
import { sameResourceId } from '../policy/resourceId.js';
import type { AccessRun } from './run.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';
import type { GrantIndexEntry, WiredConfig } from '../assignments/grantIndex.js';
import { IDENTITY_KINDS, type ConsumerIdentity } from './identities.js';

/** The audit row's action for a consumer configuration change. */
export const PULL_CONFIG_ACTION = 'pull-config';

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
export function decideAppRegistry(current: readonly RegistryCredential[], server: string, identity: string, recorded: WiredConfig | undefined): WiringDecision {
  const ours = recorded?.kind === 'containerAppRegistry' ? recorded : undefined;
  const entry = current.find((r) => same(r.server, server));
  if (!entry) return { kind: 'write', restore: ours !== undefined };
  const isOurs = ours !== undefined && !entry.username && same(entry.identity, ours.identity);
  if (isOurs) return same(ours.identity, identity) ? { kind: 'none' } : { kind: 'write', restore: false };
  if (!entry.username && same(entry.identity, identity)) return ours ? { kind: 'theirs', dropClaim: true, what: describeEntry(entry) } : { kind: 'present' };
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
  const isOurs = ours !== undefined && config.acrUseManagedIdentityCreds && same(config.acrUserManagedIdentityID, ours.acrUserManagedIdentityID);
  if (isOurs) return same(ours.acrUserManagedIdentityID, clientId) ? { kind: 'none' } : { kind: 'write', restore: false };
  const asWanted = config.acrUseManagedIdentityCreds && same(config.acrUserManagedIdentityID, clientId);
  if (asWanted) return ours ? { kind: 'theirs', dropClaim: true, what: describeSite(config) } : { kind: 'present' };
  if (!config.acrUseManagedIdentityCreds && !config.acrUserManagedIdentityID) return { kind: 'write', restore: ours !== undefined };
  return { kind: 'theirs', dropClaim: ours !== undefined, what: describeSite(config) };
}

/** Whether the site's settings are still exactly what the automation recorded writing. */
export function isSiteStillOurs(config: SiteWebConfig, recorded: WiredConfig): boolean {
  return recorded.kind === 'siteAcrIdentity' && config.acrUseManagedIdentityCreds && same(config.acrUserManagedIdentityID, recorded.acrUserManagedIdentityID);
}

function describeEntry(entry: RegistryCredential): string {
  return entry.username ? `a user name and password (${entry.username})` : entry.identity ? `identity ${entry.identity}` : 'no credential';
}

function describeSite(config: SiteWebConfig): string {
  if (!config.acrUseManagedIdentityCreds) return `acrUserManagedIdentityID ${config.acrUserManagedIdentityID} without acrUseManagedIdentityCreds`;
  return config.acrUserManagedIdentityID ? `acrUseManagedIdentityCreds with user-assigned identity ${config.acrUserManagedIdentityID}` : 'acrUseManagedIdentityCreds with its system-assigned identity';
}

/** A registry a consumer's identities hold a role on now (or would, in a dry run). */
export interface HeldRegistry {
  readonly registry: { readonly id: string; readonly name: string; readonly loginServer?: string };
  /** The consumer's principals (lower-cased) holding a role there. */
  readonly principals: ReadonlySet<string>;
}

export interface WiringInput {
  readonly consumer: ArmResource;
  readonly identities: readonly ConsumerIdentity[];
  /** By normalized registry id. */
  readonly held: ReadonlyMap<string, HeldRegistry>;
  /** The consumer's index rows by normalized registry id; kept in step with what is written here. */
  readonly indexedByScope: Map<string, GrantIndexEntry>;
  /** The consumer's principals (lower-cased, sorted), for a row this creates. */
  readonly principalIds: readonly string[];
  /** The registry-event path: settle this registry only. */
  readonly only?: RegistryFacts;
}


/**
 * Points a Container App's or site's own pull configuration at the identity holding the role, for
 * each registry in `held`, and takes back what the automation wrote for registries no longer held.
 * Answers the registries (normalized id) whose index rows must stay: set here, or a take-back that failed.
 */
export async function wireConsumer(run: AccessRun, input: WiringInput): Promise<ReadonlySet<string>> {
  const kind = wiredKindOf(input.consumer);
  const keep = new Set<string>();
  if (!kind) return keep;
  const { consumer, indexedByScope, only } = input;
  const inScope = (registryId: string) => !only || sameResourceId(registryId, only.id);
  const claimed = [...indexedByScope].filter(([, e]) => e.wired && inScope(e.registryId));
  if (input.held.size === 0 && claimed.length === 0) return keep;

  const wanted = new Map<string, { registry: HeldRegistry['registry']; loginServer: string; identity: ConsumerIdentity }>();
  for (const [scopeKey, h] of input.held) {
    const identity = wiringIdentity(input.identities, h.principals);
    if (identity) wanted.set(scopeKey, { registry: h.registry, loginServer: loginServerOf(h.registry), identity });
  }

  let siteConfig: SiteWebConfig | undefined;
  if (kind === WIRED_KINDS.site) {
    siteConfig = await run.deps.siteConfigs.getWebConfig(consumer.id);
    if (!siteConfig) return keep;
    // A site pulls one image: only the registry it comes from is its to configure.
    const imageRegistry = siteImageRegistry(siteConfig);
    for (const [scopeKey, w] of wanted) {
      if (imageRegistry === w.loginServer) continue;
      wanted.delete(scopeKey);
      await run.decide({
        action: PULL_CONFIG_ACTION,
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `site ${consumer.name} does not run a container image from ${w.loginServer} (${imageRegistry ? `its image comes from ${imageRegistry}` : 'it runs no container image from a registry'}), so acrUseManagedIdentityCreds is not set for it`,
        resourceId: consumer.id,
        registry: w.registry.id,
      });
    }
  }

  // Take back first (a site's one setting may move from one registry to another).
  for (const [scopeKey, entry] of claimed) {
    if (wanted.has(scopeKey)) continue;
    if (!(await unwire(run, kind, consumer, entry, siteConfig, indexedByScope, scopeKey))) keep.add(scopeKey);
  }
  for (const [scopeKey, w] of wanted) {
    keep.add(scopeKey);
    await wire(run, kind, consumer, w, siteConfig, indexedByScope, scopeKey, input.principalIds);
  }
  return keep;
}

export function loginServerOf(registry: HeldRegistry['registry']): string {
  return (registry.loginServer ?? `${registry.name.toLowerCase()}.azurecr.io`).toLowerCase();
}

function identityText(identity: ConsumerIdentity): string {
  return identity.kind === IDENTITY_KINDS.systemAssigned ? 'its system-assigned identity' : `user-assigned identity ${identity.identityResourceId ?? identity.clientId ?? identity.principalId}`;
}

async function wire(
  run: AccessRun,
  kind: WiredKind,
  consumer: ArmResource,
  w: { registry: HeldRegistry['registry']; loginServer: string; identity: ConsumerIdentity },
  siteConfig: SiteWebConfig | undefined,
  indexedByScope: Map<string, GrantIndexEntry>,
  scopeKey: string,
  principalIds: readonly string[],
): Promise<void> {
  const { deps } = run;
  const entry = indexedByScope.get(scopeKey);
  const base = { action: PULL_CONFIG_ACTION, resourceId: consumer.id, registry: w.registry.id, principalId: w.identity.principalId };
  const isSystem = w.identity.kind === IDENTITY_KINDS.systemAssigned;

  let wired: WiredConfig;
  let decision: WiringDecision;
  let apply: () => Promise<void>;
  let setting: string;
  if (kind === WIRED_KINDS.containerApp) {
    const value = isSystem ? CONTAINER_APP_SYSTEM_IDENTITY : (w.identity.identityResourceId ?? '');
    wired = { kind: 'containerAppRegistry', server: w.loginServer, identity: value };
    setting = `registry entry { server: ${w.loginServer}, identity: ${value} }`;
    decision = decideAppRegistry(registriesOf(consumer), w.loginServer, value, entry?.wired);
    apply = async () => {
      // Read again right before writing: the list sent replaces the app's whole list.
      const fresh = await deps.containerApps.get(consumer.id);
      if (!fresh) return;
      const current = registriesOf(fresh);
      const again = decideAppRegistry(current, w.loginServer, value, entry?.wired);
      if (again.kind !== 'write') return;
      await deps.containerApps.setRegistries(consumer.id, appRegistriesWith(current, w.loginServer, value));
    };
  } else {
    const clientId = isSystem ? '' : (w.identity.clientId ?? '');
    if (!isSystem && !clientId) {
      await run.decide({ ...base, outcome: AUDIT_OUTCOMES.skipped, reason: `user-assigned identity ${w.identity.identityResourceId ?? w.identity.principalId} on ${consumer.name} has no client id in ARM's answer, so acrUserManagedIdentityID cannot be set` });
      return;
    }
    wired = { kind: 'siteAcrIdentity', acrUserManagedIdentityID: clientId };
    setting = isSystem ? 'acrUseManagedIdentityCreds: true' : `acrUseManagedIdentityCreds: true, acrUserManagedIdentityID: ${clientId}`;
    decision = decideSiteIdentity(siteConfig!, clientId, entry?.wired);
    apply = () => deps.siteConfigs.setAcrIdentity(consumer.id, { acrUseManagedIdentityCreds: true, acrUserManagedIdentityID: clientId });
  }
  const noun = kind === WIRED_KINDS.containerApp ? `container app ${consumer.name}` : `site ${consumer.name}`;

  switch (decision.kind) {
    case 'none':
      return;
    case 'present':
      await run.decide({ ...base, outcome: AUDIT_OUTCOMES.alreadyPresent, reason: `${noun} already pulls from ${w.loginServer} with ${identityText(w.identity)} (${setting}, set outside the automation; left as it is)` });
      return;
    case 'theirs':
      await run.decide({ ...base, outcome: AUDIT_OUTCOMES.skipped, reason: `${noun} already has a setting for ${w.loginServer} that the automation did not make (${decision.what}); it is left as it is` });
      if (decision.dropClaim && entry && !run.dryRun) {
        const { wired: _dropped, ...rest } = entry;
        await deps.grantIndex.upsert(rest);
        indexedByScope.set(scopeKey, rest);
      }
      return;
    case 'write':
      break;
  }

  const revision = kind === WIRED_KINDS.containerApp ? '; registries are not versioned, so no new revision is created' : '';
  const reason = `${noun} now pulls from ${w.loginServer} with ${identityText(w.identity)} (${setting}${decision.restore ? ', restored: the entry the automation added had been removed' : ''})${revision}`;
  if (run.dryRun) {
    await run.decide({ ...base, outcome: AUDIT_OUTCOMES.wouldGrant, reason });
    return;
  }
  // Write-ahead: once the index says the setting is ours, a crash after the write cannot make it look like someone else's.
  const next: GrantIndexEntry = { ...(entry ?? { consumerId: consumer.id, registryId: w.registry.id, loginServer: w.loginServer, principalIds }), wired };
  try {
    await deps.grantIndex.upsert(next);
    try {
      await apply();
    } catch (error) {
      // Not written: the index must not claim it (a setting someone makes meanwhile would look like ours).
      if (entry) await deps.grantIndex.upsert(entry);
      else await deps.grantIndex.remove(consumer.id, w.registry.id);
      throw error;
    }
    indexedByScope.set(scopeKey, next);
    await run.decide({ ...base, outcome: AUDIT_OUTCOMES.granted, reason });
  } catch (error) {
    await run.fail({ ...base, reason: `could not set ${noun}'s ${setting}` }, error);
  }
}

/** Takes back what the automation wrote for a registry no longer held; true when settled (the row may go). */
async function unwire(
  run: AccessRun,
  kind: WiredKind,
  consumer: ArmResource,
  entry: GrantIndexEntry,
  siteConfig: SiteWebConfig | undefined,
  indexedByScope: Map<string, GrantIndexEntry>,
  scopeKey: string,
): Promise<boolean> {
  const { deps } = run;
  const wired = entry.wired!;
  const base = { action: PULL_CONFIG_ACTION, resourceId: consumer.id, registry: entry.registryId };
  const noun = kind === WIRED_KINDS.containerApp ? `container app ${consumer.name}` : `site ${consumer.name}`;
  const setting = wired.kind === 'containerAppRegistry' ? `registry entry for ${wired.server}` : 'acrUseManagedIdentityCreds';
  const reason = `${noun} no longer holds a role on ${nameOf(entry.registryId)}, so the ${setting} the automation added is removed`;
  try {
    let stillOurs: boolean;
    if (kind === WIRED_KINDS.containerApp) {
      const fresh = run.dryRun ? consumer : await deps.containerApps.get(consumer.id);
      const without = fresh ? appRegistriesWithout(registriesOf(fresh), wired) : undefined;
      stillOurs = without !== undefined;
      if (stillOurs && !run.dryRun) await deps.containerApps.setRegistries(consumer.id, without!);
    } else {
      stillOurs = siteConfig !== undefined && isSiteStillOurs(siteConfig, wired);
      if (stillOurs && !run.dryRun) await deps.siteConfigs.setAcrIdentity(consumer.id, { acrUseManagedIdentityCreds: false, acrUserManagedIdentityID: '' });
    }
    if (stillOurs) await run.decide({ ...base, outcome: run.dryRun ? AUDIT_OUTCOMES.wouldRevoke : AUDIT_OUTCOMES.revoked, reason });
    else await run.decide({ ...base, outcome: AUDIT_OUTCOMES.skipped, reason: `${noun} no longer holds a role on ${nameOf(entry.registryId)}; the ${setting} the automation added is no longer as it was written (removed or changed by someone), so nothing is removed` });
    if (!run.dryRun) {
      const { wired: _gone, ...rest } = entry;
      await deps.grantIndex.upsert(rest);
      indexedByScope.set(scopeKey, rest);
    }
    return true;
  } catch (error) {
    await run.fail({ ...base, reason: `could not remove ${noun}'s ${setting}` }, error);
    return false;
  }
}

function nameOf(resourceId: string): string {
  return resourceId.split('/').filter(Boolean).pop() ?? resourceId;
}
