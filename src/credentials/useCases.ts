/**
 * The credentials use cases the triggers and the HTTP API call: enrol, rotate (now, when due,
 * on near-expiry), un-enrol, list, and react to a registry's tags.
 */
import type { ArmResource } from '../azure/arm.js';
import { parseCredentialTags, type CredentialTags } from '../policy/tags.js';
import type { PasswordConsumer } from './passwordConsumers.js';
import type { CredentialsDeps, RunOptions } from './deps.js';
import { parseRegistryId, toEnrolmentView, type EnrolmentView } from './enrolment.js';
import { decideEnrolment } from './enrolmentRule.js';
import { applyEnrolment, enrolmentFacts, refused, unenrolRegistry } from './enrolmentUseCases.js';

// The use cases live by concern; the triggers, the API and the composition root import them from here.
export {
  ENROL_OUTCOMES,
  enrolRegistry,
  unenrolFromApi,
  unenrolRegistry,
  type EnrolOutcome,
  type EnrolRequest,
  type EnrolResult,
  type UnenrolResult,
} from './enrolmentUseCases.js';
export {
  onSecretNearExpiry,
  rotateDueCredentials,
  rotateIfDue,
  rotateNow,
  type SecretNearExpiry,
  type SweepResult,
} from './rotationUseCases.js';
export { PASSWORD_CONSUMERS_ACTION } from './passwordConsumerNotice.js';

/** One enrolment with the resources that use its password by value (GET /api/credentials/{registry}). */
export async function getEnrolmentDetail(
  deps: CredentialsDeps,
  registryId: string,
): Promise<(EnrolmentView & { readonly passwordConsumers: readonly PasswordConsumer[] }) | undefined> {
  const view = await getEnrolment(deps, registryId);
  if (!view) return undefined;
  return { ...view, passwordConsumers: deps.passwordConsumers ? await deps.passwordConsumers(view.appId) : [] };
}

/** Every enrolment, with ids and times only. */
export async function listEnrolments(deps: CredentialsDeps): Promise<EnrolmentView[]> {
  const rows = await deps.store.list();
  return rows.map((row) => toEnrolmentView(row, deps.config.rotationPeriodDays)).sort((a, b) => a.registryId.localeCompare(b.registryId));
}

/** One enrolment, or undefined. */
export async function getEnrolment(deps: CredentialsDeps, registryId: string): Promise<EnrolmentView | undefined> {
  parseRegistryId(registryId);
  const row = await deps.store.get(registryId);
  return row ? toEnrolmentView(row, deps.config.rotationPeriodDays) : undefined;
}

/** A registry as the resource-event handler read it from ARM, or its deletion. */
export type RegistryChange = ArmResource | { readonly id: string; readonly deleted: true };

export interface RegistryChangeResult {
  readonly outcome: 'enrolled' | 'already-enrolled' | 'in-progress' | 'unenrolled' | 'not-enrolled' | 'invalid-tags';
}

/**
 * What the resource-event handler and the sweep call for a registry write or delete, through the
 * enrolment rule: the tag enrols; a missing tag un-enrols only what the tag enrolled (an API
 * enrolment stays); a deleted registry is un-enrolled. Invalid tags change nothing and are recorded.
 */
export async function onRegistryChanged(
  deps: CredentialsDeps,
  registry: RegistryChange,
  options: RunOptions = {},
): Promise<RegistryChangeResult> {
  const existing = await deps.store.get(registry.id);
  const deleted = 'deleted' in registry;
  const tags: CredentialTags = deleted ? { status: 'absent' } : parseCredentialTags(registry.tags);
  const decision = decideEnrolment({ via: 'registry', deleted }, enrolmentFacts(deps, tags, existing));
  switch (decision.kind) {
    case 'refuse':
      await refused(deps, registry.id, 'enrol', decision, options);
      return { outcome: 'invalid-tags' };
    case 'keep':
      options.log?.info('pull credentials unchanged', { registryId: registry.id, reason: decision.reason });
      return { outcome: decision.enrolled ? 'already-enrolled' : 'not-enrolled' };
    case 'unenrol': {
      const result = await unenrolRegistry(deps, registry.id, { ...options, reason: decision.reason });
      return { outcome: result.outcome === 'unenrolled' ? 'unenrolled' : result.outcome };
    }
    case 'enrol': {
      if (deleted) return { outcome: 'not-enrolled' };
      const result = await applyEnrolment(deps, registry, decision, existing, options);
      return { outcome: result.outcome };
    }
  }
}
