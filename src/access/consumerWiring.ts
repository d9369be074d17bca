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
import { CONTAINER_APP_SYSTEM_IDENTITY, registriesOf } from '../azure/containerApps.js';
import { siteImageRegistry, type SiteWebConfig } from '../azure/siteConfig.js';
import type { RegistryFacts } from '../policy/accessPlan.js';
import { sameResourceId } from '../policy/resourceId.js';
import type { AccessRun } from './run.js';
import {
  WIRED_KINDS,
  appRegistriesWith,
  appRegistriesWithout,
  decideAppRegistry,
  decideSiteIdentity,
  isSiteStillOurs,
  wiredKindOf,
  wiringIdentity,
  type WiredKind,
  type WiringDecision,
} from './wiringDecisions.js';
import type { GrantIndexEntry, WiredConfig } from '../assignments/grantIndex.js';
import { IDENTITY_KINDS, type ConsumerIdentity } from './identities.js';

/** The audit row's action for a consumer configuration change. */
export const PULL_CONFIG_ACTION = 'pull-config';

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
  return identity.kind === IDENTITY_KINDS.systemAssigned
    ? 'its system-assigned identity'
    : `user-assigned identity ${identity.identityResourceId ?? identity.clientId ?? identity.principalId}`;
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
      await run.decide({
        ...base,
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `user-assigned identity ${w.identity.identityResourceId ?? w.identity.principalId} on ${consumer.name} has no client id in ARM's answer, so acrUserManagedIdentityID cannot be set`,
      });
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
      await run.decide({
        ...base,
        outcome: AUDIT_OUTCOMES.alreadyPresent,
        reason: `${noun} already pulls from ${w.loginServer} with ${identityText(w.identity)} (${setting}, set outside the automation; left as it is)`,
      });
      return;
    case 'theirs':
      await run.decide({
        ...base,
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `${noun} already has a setting for ${w.loginServer} that the automation did not make (${decision.what}); it is left as it is`,
      });
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
  const next: GrantIndexEntry = {
    ...(entry ?? { consumerId: consumer.id, registryId: w.registry.id, loginServer: w.loginServer, principalIds }),
    wired,
  };
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
      if (stillOurs && !run.dryRun)
        await deps.siteConfigs.setAcrIdentity(consumer.id, { acrUseManagedIdentityCreds: false, acrUserManagedIdentityID: '' });
    }
    if (stillOurs) await run.decide({ ...base, outcome: run.dryRun ? AUDIT_OUTCOMES.wouldRevoke : AUDIT_OUTCOMES.revoked, reason });
    else
      await run.decide({
        ...base,
        outcome: AUDIT_OUTCOMES.skipped,
        reason: `${noun} no longer holds a role on ${nameOf(entry.registryId)}; the ${setting} the automation added is no longer as it was written (removed or changed by someone), so nothing is removed`,
      });
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
