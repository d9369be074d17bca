/**
 * Consent: the `acr-pull-allow` tag on a registry (and, with the same grammar, `acr-push-allow` for
 * push and `acr-workload-allow` on a Key Vault) says which consumers the automation may grant.
 *
 * Both sides opt in. Without this tag, anyone allowed to write tags on a VM could give that VM
 * pull access to any registry through the automation, which holds role-assignment rights. Push
 * overwrites the images production pulls, so it has its own tag and never follows the default.
 */
import type { ConsentDefault, ConsentSubject } from './consentSubject.js';
import { isResourceGroupName, parseResourceId, type ParsedResourceId } from './resourceId.js';
import { fail, isGuid, ok, quote, type Result, type Tags } from './result.js';
import { getTag, TAG_NAMES, type Access } from './tags.js';
import { WORKLOAD_TAG_NAMES } from './workloadTags.js';

export { CONSENT_DEFAULTS, type ConsentDefault, type ConsentSubject } from './consentSubject.js';

export type ConsentTerm =
  | { readonly kind: 'any' }
  | { readonly kind: 'same-resource-group' }
  | { readonly kind: 'same-subscription' }
  /** `subscriptionId` absent: the registry's own subscription. */
  | { readonly kind: 'resource-group'; readonly name: string; readonly subscriptionId?: string }
  | { readonly kind: 'subscription'; readonly subscriptionId: string }
  | { readonly kind: 'tag'; readonly key: string; readonly value: string };

/** A parsed `acr-pull-allow` value; `none` is the empty list. */
export interface ConsentRule {
  readonly terms: readonly ConsentTerm[];
}

export interface ConsentParty {
  readonly id: string;
  readonly tags?: Tags;
}

/** A registry consents to pull with `acr-pull-allow`. */
export const REGISTRY_CONSENT: ConsentSubject = { noun: 'registry', tag: TAG_NAMES.allow };

/**
 * A registry consents to push with `acr-push-allow`, separately: pull consent does not imply it, and
 * no default stands in for it (issue 13: push through pull consent).
 */
export const REGISTRY_PUSH_CONSENT: ConsentSubject = {
  noun: 'registry',
  tag: TAG_NAMES.pushAllow,
  allows: 'allows push by',
  withoutDefault: `push needs the registry's own ${TAG_NAMES.pushAllow} consent (${TAG_NAMES.allow} and ACCESS_DEFAULT_CONSENT cover pull only)`,
};

/** The registry consent that covers `access`. */
export function registryConsentFor(access: Access): ConsentSubject {
  return access === 'push' ? REGISTRY_PUSH_CONSENT : REGISTRY_CONSENT;
}

export interface ConsentDecision {
  readonly allowed: boolean;
  /** Plain words for the audit row: which rule, and the fact about the consumer it turned on. */
  readonly reason: string;
}

const TERMS_HELP =
  'none, *, same-resource-group, same-subscription, rg:<name>, rg:<subscription id>/<name>, sub:<subscription id>, tag:<key>=<value>';
/**
 * Tags that a consumer writes itself (or could write on itself): consenting on them would let any
 * consumer consent to itself. The workload tags sit on the user-assigned identity that asks.
 */
const SELF_SERVICE_TAGS: readonly string[] = [
  TAG_NAMES.pull,
  TAG_NAMES.push,
  TAG_NAMES.allow,
  TAG_NAMES.pushAllow,
  ...Object.values(WORKLOAD_TAG_NAMES),
];

/** Parses an `acr-pull-allow` (or `acr-push-allow`, `acr-workload-allow`) value: comma-separated terms; unknown or malformed terms are named in the error. */
export function parseConsent(value: string, tag: string = TAG_NAMES.allow): Result<ConsentRule> {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return fail(`${tag} is empty; write none to refuse every consumer, or one or more of ${TERMS_HELP}`);
  const terms: ConsentTerm[] = [];
  const problems: string[] = [];
  let sawNone = false;
  for (const part of parts) {
    const term = parseTerm(part);
    if (term === 'none') sawNone = true;
    else if (term.ok) terms.push(term.value);
    else problems.push(term.error);
  }
  if (sawNone && parts.length > 1) problems.unshift('none cannot be combined with other terms');
  if (problems.length > 0) return fail(`${problems.join('; ')} (expected ${TERMS_HELP})`);
  return ok({ terms });
}

function parseTerm(term: string): Result<ConsentTerm> | 'none' {
  const lower = term.toLowerCase();
  if (lower === 'none') return 'none';
  if (lower === '*' || lower === 'any') return ok({ kind: 'any' });
  if (lower === 'same-resource-group') return ok({ kind: 'same-resource-group' });
  if (lower === 'same-subscription') return ok({ kind: 'same-subscription' });
  const colon = term.indexOf(':');
  const prefix = colon < 0 ? '' : lower.slice(0, colon);
  const arg = colon < 0 ? '' : term.slice(colon + 1).trim();
  if (prefix === 'rg') {
    const slash = arg.indexOf('/');
    const sub = slash < 0 ? undefined : arg.slice(0, slash);
    const name = slash < 0 ? arg : arg.slice(slash + 1);
    if (sub !== undefined && !isGuid(sub)) return fail(`term ${quote(term)}: ${quote(sub)} is not a subscription GUID`);
    if (!isResourceGroupName(name)) return fail(`term ${quote(term)}: ${quote(name)} is not a resource group name`);
    return ok({ kind: 'resource-group', name, ...(sub === undefined ? {} : { subscriptionId: sub.toLowerCase() }) });
  }
  if (prefix === 'sub') {
    if (!isGuid(arg)) return fail(`term ${quote(term)}: ${quote(arg)} is not a subscription GUID`);
    return ok({ kind: 'subscription', subscriptionId: arg.toLowerCase() });
  }
  if (prefix === 'tag') {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq).trim();
    const value = eq < 0 ? '' : arg.slice(eq + 1).trim();
    if (eq < 0 || key === '' || value === '') return fail(`term ${quote(term)}: expected tag:<key>=<value> with both parts`);
    if (SELF_SERVICE_TAGS.includes(key.toLowerCase())) {
      return fail(`term ${quote(term)}: ${key} is written by consumers themselves, so it cannot express consent`);
    }
    return ok({ kind: 'tag', key, value });
  }
  return fail(`unknown term ${quote(term)}`);
}

/** Writes a rule back in the tag's own grammar, for reasons. */
export function formatConsent(rule: ConsentRule): string {
  if (rule.terms.length === 0) return 'none';
  return rule.terms
    .map((t) => {
      switch (t.kind) {
        case 'any':
          return '*';
        case 'same-resource-group':
        case 'same-subscription':
          return t.kind;
        case 'resource-group':
          return `rg:${t.subscriptionId ? `${t.subscriptionId}/` : ''}${t.name}`;
        case 'subscription':
          return `sub:${t.subscriptionId}`;
        case 'tag':
          return `tag:${t.key}=${t.value}`;
      }
    })
    .join(', ');
}

/** The rule a registry without an `acr-pull-allow` tag (or a vault without `acr-workload-allow`) follows (`ACCESS_DEFAULT_CONSENT`). */
export function defaultConsentRule(defaultConsent: ConsentDefault): ConsentRule {
  switch (defaultConsent) {
    case 'none':
      return { terms: [] };
    case 'any':
      return { terms: [{ kind: 'any' }] };
    case 'same-resource-group':
    case 'same-subscription':
      return { terms: [{ kind: defaultConsent }] };
  }
}

/** Whether `term` lets the consumer in, judged from the two ids and the consumer's tags. */
function matches(term: ConsentTerm, registry: ParsedResourceId, consumer: ParsedResourceId, consumerTags: Tags): boolean {
  const sameSub = registry.subscriptionId === consumer.subscriptionId;
  const consumerGroup = consumer.resourceGroup?.toLowerCase();
  switch (term.kind) {
    case 'any':
      return true;
    case 'same-subscription':
      return sameSub;
    case 'same-resource-group':
      return sameSub && consumerGroup !== undefined && consumerGroup === registry.resourceGroup?.toLowerCase();
    case 'resource-group':
      return (term.subscriptionId ?? registry.subscriptionId) === consumer.subscriptionId && consumerGroup === term.name.toLowerCase();
    case 'subscription':
      return consumer.subscriptionId === term.subscriptionId;
    case 'tag':
      // Tag names are case-insensitive in Azure; tag values are not.
      return getTag(consumerTags, term.key) === term.value;
  }
}

/** Where the consumer sits, in the words the terms use. */
function whereIs(consumer: ParsedResourceId): string {
  return consumer.resourceGroup === undefined
    ? `is in subscription ${consumer.subscriptionId}`
    : `is in ${consumer.resourceGroup} (subscription ${consumer.subscriptionId})`;
}

/** The consumer fact a matching term turned on. */
function factFor(term: ConsentTerm, consumer: ParsedResourceId): string {
  if (term.kind === 'any') return 'any consumer';
  if (term.kind === 'tag') return `${consumer.name} has tag ${term.key}=${term.value}`;
  if (term.kind === 'same-subscription' || term.kind === 'subscription')
    return `${consumer.name} is in subscription ${consumer.subscriptionId}`;
  return `${consumer.name} is in ${consumer.resourceGroup ?? ''}`;
}

/**
 * Whether the registry (or, with `subject`, another resource such as a Key Vault) consents to the
 * automation granting this consumer access, and why. An invalid consent tag denies everything; so do invalid ids.
 */
export function evaluateConsent(
  registry: ConsentParty,
  consumer: ConsentParty,
  defaultConsent: ConsentDefault,
  subject: ConsentSubject = REGISTRY_CONSENT,
): ConsentDecision {
  const { noun, tag: tagName, withoutDefault, allows = 'allows' } = subject;
  const registryId = parseResourceId(registry.id);
  if (!registryId.ok) return { allowed: false, reason: `${noun} id is not valid, so nothing is granted: ${registryId.error}` };
  const consumerId = parseResourceId(consumer.id);
  if (!consumerId.ok) return { allowed: false, reason: `consumer id is not valid, so nothing is granted: ${consumerId.error}` };
  const r = registryId.value;
  const c = consumerId.value;
  const tag = getTag(registry.tags, tagName);

  let rule: ConsentRule;
  let source: string;
  if (tag === undefined && withoutDefault !== undefined) {
    return { allowed: false, reason: `${noun} ${r.name} has no ${tagName} tag; ${withoutDefault}` };
  }
  if (tag === undefined) {
    rule = defaultConsentRule(defaultConsent);
    source = `${noun} ${r.name} has no ${tagName} tag and the default is ${defaultConsent}`;
    if (rule.terms.length === 0) return { allowed: false, reason: source };
  } else {
    const parsed = parseConsent(tag, tagName);
    if (!parsed.ok) {
      return { allowed: false, reason: `${noun} ${r.name} has an invalid ${tagName} tag, so it allows nobody: ${parsed.error}` };
    }
    rule = parsed.value;
    source = `${noun} ${r.name} ${allows} ${formatConsent(rule)}`;
    if (rule.terms.length === 0) return { allowed: false, reason: `${noun} ${r.name} ${allows} none (${tagName}=${tag.trim()})` };
  }

  const hit = rule.terms.find((t) => matches(t, r, c, consumer.tags));
  if (hit) return { allowed: true, reason: `${source}; ${factFor(hit, c)}` };
  return { allowed: false, reason: `${source}; ${c.name} ${whereIs(c)}, which that does not cover${describeRegistryPlace(rule, r, noun)}` };
}

/** For same-* rules, where the consenting resource itself sits, so the engineer sees both sides. */
function describeRegistryPlace(rule: ConsentRule, registry: ParsedResourceId, noun: string): string {
  if (rule.terms.some((t) => t.kind === 'same-resource-group')) {
    return ` (the ${noun} is in ${registry.resourceGroup ?? '?'}, subscription ${registry.subscriptionId})`;
  }
  if (rule.terms.some((t) => t.kind === 'same-subscription')) return ` (the ${noun} is in subscription ${registry.subscriptionId})`;
  return '';
}

/** Whether the registry consents; the boolean half of `evaluateConsent`. */
export function hasConsent(
  registry: ConsentParty,
  consumer: ConsentParty,
  defaultConsent: ConsentDefault,
  subject: ConsentSubject = REGISTRY_CONSENT,
): boolean {
  return evaluateConsent(registry, consumer, defaultConsent, subject).allowed;
}

/**
 * Consent for a bare principal: the registry's rules say where a consumer may be (resource group,
 * subscription, tag), and a principal is not anywhere, so only `*` covers it — `acr-pull-allow=*`
 * for pull, `acr-push-allow=*` for push (which has no default).
 */
export function consentForPrincipal(
  registry: { readonly name: string; readonly tags?: Tags },
  defaultConsent: ConsentDefault,
  label: string,
  access: Access = 'pull',
): ConsentDecision {
  const { tag: tagName, withoutDefault, allows = 'allows' } = registryConsentFor(access);
  const tag = getTag(registry.tags, tagName);
  let rule: ConsentRule;
  let source: string;
  if (tag === undefined && withoutDefault !== undefined)
    return { allowed: false, reason: `registry ${registry.name} has no ${tagName} tag; ${withoutDefault}` };
  if (tag === undefined) {
    rule = defaultConsentRule(defaultConsent);
    source = `registry ${registry.name} has no ${tagName} tag and the default is ${defaultConsent}`;
  } else {
    const parsed = parseConsent(tag, tagName);
    if (!parsed.ok)
      return { allowed: false, reason: `registry ${registry.name} has an invalid ${tagName} tag, so it allows nobody: ${parsed.error}` };
    rule = parsed.value;
    source = `registry ${registry.name} ${allows} ${formatConsent(rule)}`;
  }
  if (rule.terms.some((t) => t.kind === 'any')) return { allowed: true, reason: `${source}; any consumer` };
  return {
    allowed: false,
    reason: `${source}; ${label} is a principal, not a resource, so only ${tagName}=* covers it (or grant to the resource that holds the identity)`,
  };
}
