/**
 * The one rule that decides a registry's enrolment, whichever path asks: a registry event, the
 * reconciliation sweep, or the HTTP API. Pure: facts in, a decision out; no I/O.
 *
 * The rule (docs/pull-credentials.md, "Who decides the enrolment"):
 *   - A registry carrying `acr-pull-credential` is enrolled by its tag: the tag's vault and
 *     `acr-pull-credential-days` win. The API refuses (409) to enrol it with another vault or
 *     period, and refuses to un-enrol it while the tag is there — otherwise the next registry
 *     event would undo the API's change, and the two would flip back and forth.
 *   - A registry without the tag may be enrolled through the API. Such an enrolment is marked
 *     `source: api`, and registry events and the sweep respect it: a missing tag un-enrols only
 *     enrolments the tag made. An API enrolment ends through the API (DELETE), or when the
 *     registry itself is deleted.
 *   - Adding the tag to an API-enrolled registry hands it to the tag (source becomes `tag`).
 *   - A bad tag changes nothing and is recorded; a period too short for Key Vault's near-expiry
 *     window is refused everywhere (see policy/rotationPeriod.ts).
 */
import type { CredentialTags } from '../policy/tags.js';
import { periodProblem } from '../policy/rotationPeriod.js';
import { ENROLMENT_SOURCES, ENROLMENT_STATUSES, type EnrolmentSource, type EnrolmentStatus } from './enrolment.js';

export { ENROLMENT_SOURCES, type EnrolmentSource } from './enrolment.js';

/** What asks for a decision. */
export type EnrolmentAsk =
  /** A registry event or the sweep, with the registry as ARM has it now (or gone). */
  | { readonly via: 'registry'; readonly deleted?: boolean }
  /** POST /api/credentials. */
  | { readonly via: 'api-enrol'; readonly vaultName: string; readonly periodDays?: number }
  /** DELETE /api/credentials/{registry}. */
  | { readonly via: 'api-unenrol' };

/** The registry's enrolment row as stored, where one exists. */
export interface ExistingEnrolment {
  readonly status: EnrolmentStatus;
  /** Who made it; rows from before sources were recorded count as the tag's. */
  readonly source?: EnrolmentSource;
  readonly vaultName: string;
}

export interface EnrolmentFacts {
  /** The registry's credential tags, read from ARM for this decision (`absent` when deleted). */
  readonly tags: CredentialTags;
  readonly existing?: ExistingEnrolment;
  readonly graceHours: number;
  readonly defaultPeriodDays: number;
}

export type EnrolmentDecision =
  | { readonly kind: 'enrol'; readonly source: EnrolmentSource; readonly vaultName: string; readonly periodDays?: number }
  | { readonly kind: 'unenrol'; readonly reason: string }
  /** Nothing to change; `reason` says why (for logs and the API's 404). */
  | { readonly kind: 'keep'; readonly reason: string; readonly enrolled: boolean }
  /** Bad input: change nothing. From a tag: an audit row. From the API: this problem. */
  | { readonly kind: 'refuse'; readonly code: EnrolmentRefusal; readonly message: string };

export const ENROLMENT_REFUSALS = {
  /** The registry's tag is malformed. */
  invalidTag: 'InvalidTag',
  /** The period is too short for Key Vault's near-expiry window and the grace period. */
  invalidPeriod: 'InvalidPeriod',
  /** The API asked for something the registry's tag decides differently. */
  managedByTag: 'EnrolmentManagedByTag',
} as const;
export type EnrolmentRefusal = (typeof ENROLMENT_REFUSALS)[keyof typeof ENROLMENT_REFUSALS];

const TAG = 'acr-pull-credential';
const DAYS_TAG = 'acr-pull-credential-days';

/** The decision for one registry, whichever path asks. */
export function decideEnrolment(ask: EnrolmentAsk, facts: EnrolmentFacts): EnrolmentDecision {
  const { tags, existing } = facts;
  const isEnrolled = existing !== undefined && existing.status !== ENROLMENT_STATUSES.unenrolled;
  const source = existing?.source ?? ENROLMENT_SOURCES.tag;

  switch (ask.via) {
    case 'registry': {
      if (ask.deleted)
        return isEnrolled
          ? { kind: 'unenrol', reason: 'registry deleted' }
          : { kind: 'keep', reason: 'registry deleted; it was not enrolled', enrolled: false };
      if (tags.status === 'invalid')
        return { kind: 'refuse', code: ENROLMENT_REFUSALS.invalidTag, message: tags.errors.map((e) => e.message).join('; ') };
      if (tags.status === 'absent') {
        if (!isEnrolled) return { kind: 'keep', reason: `no ${TAG} tag and not enrolled`, enrolled: false };
        if (source === ENROLMENT_SOURCES.api) {
          return {
            kind: 'keep',
            reason: `enrolled through the API (source api): a registry without ${TAG} keeps it until DELETE /api/credentials removes it`,
            enrolled: true,
          };
        }
        return { kind: 'unenrol', reason: `tag ${TAG} removed` };
      }
      const tooShort = tags.days !== undefined ? periodProblem(tags.days, facts.graceHours) : undefined;
      if (tooShort)
        return {
          kind: 'refuse',
          code: ENROLMENT_REFUSALS.invalidPeriod,
          message: `${DAYS_TAG}: ${tooShort}; the enrolment is left as it was`,
        };
      return {
        kind: 'enrol',
        source: ENROLMENT_SOURCES.tag,
        vaultName: tags.vaultName,
        ...(tags.days !== undefined ? { periodDays: tags.days } : {}),
      };
    }
    case 'api-enrol': {
      const vaultName = ask.vaultName.toLowerCase();
      const tooShort = ask.periodDays !== undefined ? periodProblem(ask.periodDays, facts.graceHours) : undefined;
      if (tooShort) return { kind: 'refuse', code: ENROLMENT_REFUSALS.invalidPeriod, message: `periodDays: ${tooShort}` };
      if (tags.status === 'invalid') {
        return {
          kind: 'refuse',
          code: ENROLMENT_REFUSALS.managedByTag,
          message: `the registry carries ${TAG}, which decides its enrolment, but the tag is not valid (${tags.errors.map((e) => e.message).join('; ')}): fix the tag instead`,
        };
      }
      if (tags.status === 'enrolled') {
        const tagTooShort = tags.days !== undefined ? periodProblem(tags.days, facts.graceHours) : undefined;
        if (tagTooShort)
          return {
            kind: 'refuse',
            code: ENROLMENT_REFUSALS.invalidPeriod,
            message: `the registry's ${DAYS_TAG}: ${tagTooShort}; fix the tag, which decides this registry's enrolment`,
          };
        const requested = ask.periodDays ?? facts.defaultPeriodDays;
        const tagged = tags.days ?? facts.defaultPeriodDays;
        if (tags.vaultName !== vaultName || requested !== tagged) {
          return {
            kind: 'refuse',
            code: ENROLMENT_REFUSALS.managedByTag,
            message:
              `the registry carries ${TAG}=${tags.vaultName}${tags.days !== undefined ? ` and ${DAYS_TAG}=${tags.days}` : ''}, which decide its enrolment ` +
              `(vault ${tags.vaultName}, ${tagged} days); the request asks for vault ${vaultName}, ${requested} days. Change or remove the registry's tags instead`,
          };
        }
        return {
          kind: 'enrol',
          source: ENROLMENT_SOURCES.tag,
          vaultName: tags.vaultName,
          ...(tags.days !== undefined ? { periodDays: tags.days } : {}),
        };
      }
      return {
        kind: 'enrol',
        source: ENROLMENT_SOURCES.api,
        vaultName,
        ...(ask.periodDays !== undefined ? { periodDays: ask.periodDays } : {}),
      };
    }
    case 'api-unenrol': {
      if (!isEnrolled) return { kind: 'keep', reason: 'not enrolled', enrolled: false };
      if (tags.status !== 'absent') {
        return {
          kind: 'refuse',
          code: ENROLMENT_REFUSALS.managedByTag,
          message: `the registry carries ${TAG}, which decides its enrolment: remove the tag to un-enrol it (an API un-enrolment would be undone by the next registry event)`,
        };
      }
      return { kind: 'unenrol', reason: 'un-enrolment requested' };
    }
  }
}
