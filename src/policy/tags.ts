/**
 * The tag grammar: consumer tags (`acr-pull`, `acr-push`) and registry-side credential tags
 * (`acr-pull-credential`, `acr-pull-credential-days`). The registry consent tags (`acr-pull-allow`,
 * `acr-push-allow`) live in `consent.ts`.
 * docs/tags.md (the tag policy reference) is the reference for engineers; keep the two in step.
 */
import { parseResourceId, REGISTRY_TYPE } from './resourceId.js';
import { fail, ok, quote, type Result, type Tags } from './result.js';
import { RESOURCE_TYPES } from './resourceTypes.js';

/** Every tag the product reads. Azure tag names are case-insensitive, so lookups are too. */
export const TAG_NAMES = {
  pull: 'acr-pull',
  push: 'acr-push',
  allow: 'acr-pull-allow',
  /** The registry's separate consent to push: pushing overwrites the images production pulls. */
  pushAllow: 'acr-push-allow',
  credential: 'acr-pull-credential',
  credentialDays: 'acr-pull-credential-days',
} as const;
export type TagName = (typeof TAG_NAMES)[keyof typeof TAG_NAMES];

/** What a consumer asks for on a registry. */
export const ACCESS = { pull: 'pull', push: 'push' } as const;
export type Access = (typeof ACCESS)[keyof typeof ACCESS];

/** The tag that asks for each kind of access. */
export const TAG_FOR_ACCESS = { pull: TAG_NAMES.pull, push: TAG_NAMES.push } as const satisfies Readonly<Record<Access, TagName>>;

/**
 * Login-server suffixes by cloud: public, Azure China (21Vianet), Azure US Government.
 * https://learn.microsoft.com/azure/container-registry/container-registry-get-started-portal
 */
export const LOGIN_SERVER_SUFFIXES = ['azurecr.io', 'azurecr.cn', 'azurecr.us'] as const;

/** A registry named in a consumer tag, before it is looked up. `name` is lower-cased. */
export type RegistryRef =
  | { readonly kind: 'name'; readonly raw: string; readonly key: string; readonly name: string }
  | { readonly kind: 'loginServer'; readonly raw: string; readonly key: string; readonly name: string; readonly loginServer: string }
  | { readonly kind: 'resourceId'; readonly raw: string; readonly key: string; readonly name: string; readonly resourceId: string };

/** One problem in one tag, said so that the person who wrote the tag can fix it. */
export interface TagError {
  readonly tag: TagName;
  /** The offending item, or the whole value when the value itself is wrong. */
  readonly item: string;
  readonly message: string;
}

/** A consumer's request for access to one registry. */
export interface AccessRequest {
  readonly registryRef: RegistryRef;
  readonly access: Access;
  readonly tag: TagName;
}

export interface ConsumerTags {
  /** Valid requests, deduplicated per tag, in the order written. */
  readonly requests: readonly AccessRequest[];
  /** One entry per invalid item; valid items in the same tag still count. */
  readonly errors: readonly TagError[];
}

/** The value of a tag, matching its name case-insensitively (Azure tag names are). Exact-case match wins. */
export function getTag(tags: Tags, name: string): string | undefined {
  if (!tags) return undefined;
  if (Object.hasOwn(tags, name)) return tags[name];
  const wanted = name.toLowerCase();
  const key = Object.keys(tags)
    .filter((k) => k.toLowerCase() === wanted)
    .sort()[0];
  return key === undefined ? undefined : tags[key];
}

/** Whether `tags` carries `name` (case-insensitive). */
export function hasTag(tags: Tags, name: string): boolean {
  return getTag(tags, name) !== undefined;
}

/** Whether `tags` carries `name` (lower-case; any casing of the key) with a value that is not blank: what the sweep looks for. */
export function isTagSet(tags: Tags, name: string): boolean {
  return Object.entries(tags ?? {}).some(([k, v]) => k.toLowerCase() === name && typeof v === 'string' && v.trim() !== '');
}

const REGISTRY_NAME = /^[a-z0-9]{5,50}$/i;

/** Checks a registry name (5-50 letters and digits); the error says what is wrong. */
export function checkRegistryName(name: string): Result<string> {
  if (name.length < 5 || name.length > 50) {
    return fail(`${quote(name)} is ${name.length} characters long; registry names are 5-50 letters and digits`);
  }
  const odd = name.match(/[^a-z0-9]/i)?.[0];
  if (odd !== undefined) return fail(`${quote(name)} contains ${quote(odd)}; registry names are 5-50 letters and digits only`);
  return REGISTRY_NAME.test(name) ? ok(name.toLowerCase()) : fail(`${quote(name)} is not a registry name`);
}

/**
 * Parses one item of an `acr-pull`/`acr-push` value: a registry name, a login server
 * (`contosoacr.azurecr.io`, sovereign `.azurecr.cn`/`.azurecr.us`, or a domain-name-label form
 * `contosoacr-<hash>.azurecr.io`), or a registry resource id.
 */
export function parseRegistryRef(item: string): Result<RegistryRef> {
  const raw = item.trim();
  if (raw === '') return fail('empty registry reference');
  if (raw.includes('://')) {
    return fail(`${quote(raw)} looks like a URL; write the login server alone (contosoacr.azurecr.io), a registry name or a resource id`);
  }
  if (raw.startsWith('/')) {
    const parsed = parseResourceId(raw);
    if (!parsed.ok) return fail(parsed.error);
    if (parsed.value.type !== REGISTRY_TYPE) {
      const what = parsed.value.type ?? `a ${parsed.value.kind}`;
      return fail(`${quote(raw)} is not a container registry (it is ${what}); expected …/providers/${RESOURCE_TYPES.registry.type}/<name>`);
    }
    const name = checkRegistryName(parsed.value.name);
    if (!name.ok) return fail(name.error);
    return ok({ kind: 'resourceId', raw, key: `id:${parsed.value.normalized}`, name: name.value, resourceId: parsed.value.id });
  }
  if (raw.includes('/')) {
    return fail(`${quote(raw)} has a path; name the registry only (contosoacr or contosoacr.azurecr.io), not a repository or image`);
  }
  if (raw.includes('.')) {
    const lower = raw.toLowerCase();
    const suffix = LOGIN_SERVER_SUFFIXES.find((s) => lower.endsWith(`.${s}`));
    if (suffix === undefined) {
      return fail(`${quote(raw)} is not a registry login server; expected <name>.${LOGIN_SERVER_SUFFIXES.join(' or <name>.')}`);
    }
    const label = lower.slice(0, -(suffix.length + 1));
    // Registries created with a domain-name-label scope get `<name>-<hash>.azurecr.io`; names have no hyphen.
    const [registryName = '', hash, ...more] = label.split('-');
    if (more.length > 0 || (hash !== undefined && !/^[a-z0-9]+$/.test(hash))) {
      return fail(`${quote(raw)} is not a registry login server; expected <name>.${suffix} or <name>-<hash>.${suffix}`);
    }
    const name = checkRegistryName(registryName);
    if (!name.ok) return fail(`login server ${quote(raw)}: ${name.error}`);
    return ok({ kind: 'loginServer', raw, key: `login:${lower}`, name: name.value, loginServer: lower });
  }
  const name = checkRegistryName(raw);
  if (!name.ok) return fail(name.error);
  return ok({ kind: 'name', raw, key: `name:${name.value}`, name: name.value });
}

/** Splits a tag value into items: commas, semicolons and whitespace all separate; empty items are ignored. */
export function splitTagValue(value: string): string[] {
  return value.split(/[,;\s]+/).filter((s) => s !== '');
}

/** Parses one `acr-pull`/`acr-push` value: valid items become requests, each invalid item an error. */
export function parseRegistryList(value: string, access: Access): ConsumerTags {
  const tag = TAG_FOR_ACCESS[access];
  const requests: AccessRequest[] = [];
  const errors: TagError[] = [];
  const seen = new Set<string>();
  for (const item of splitTagValue(value)) {
    const ref = parseRegistryRef(item);
    if (!ref.ok) {
      errors.push({ tag, item, message: `${tag}: ${ref.error}` });
      continue;
    }
    if (seen.has(ref.value.key)) continue;
    seen.add(ref.value.key);
    requests.push({ registryRef: ref.value, access, tag });
  }
  return { requests, errors };
}

/** Reads a consumer's `acr-pull` and `acr-push` tags. A missing or empty tag asks for nothing. */
export function parseConsumerTags(tags: Tags): ConsumerTags {
  const requests: AccessRequest[] = [];
  const errors: TagError[] = [];
  for (const access of [ACCESS.pull, ACCESS.push] as const) {
    const value = getTag(tags, TAG_FOR_ACCESS[access]);
    if (value === undefined) continue;
    const parsed = parseRegistryList(value, access);
    requests.push(...parsed.requests);
    errors.push(...parsed.errors);
  }
  return { requests, errors };
}

/** A registry's pull-credential enrolment as its tags describe it. */
export type CredentialTags =
  /** No `acr-pull-credential` tag: not enrolled (an `acr-pull-credential-days` tag alone means nothing). */
  | { readonly status: 'absent' }
  | { readonly status: 'enrolled'; readonly vaultName: string; readonly days?: number }
  /** Something is wrong: change nothing, keep any existing enrolment, record the errors. */
  | { readonly status: 'invalid'; readonly errors: readonly TagError[] };

/** Checks a Key Vault name: 3-24 letters, digits and hyphens, starting with a letter, ending with a letter or digit, no `--`. */
export function checkKeyVaultName(value: string): Result<string> {
  const name = value.trim();
  const rule =
    'Key Vault names are 3-24 letters, digits and hyphens, start with a letter, end with a letter or digit, and have no consecutive hyphens';
  if (name.length < 3 || name.length > 24) return fail(`${quote(name)} is ${name.length} characters long; ${rule}`);
  if (!/^[a-z0-9-]+$/i.test(name)) return fail(`${quote(name)} contains ${quote(name.match(/[^a-z0-9-]/i)?.[0] ?? '')}; ${rule}`);
  if (!/^[a-z]/i.test(name)) return fail(`${quote(name)} does not start with a letter; ${rule}`);
  if (name.endsWith('-')) return fail(`${quote(name)} ends with a hyphen; ${rule}`);
  if (name.includes('--')) return fail(`${quote(name)} has consecutive hyphens; ${rule}`);
  return ok(name.toLowerCase());
}

export const CREDENTIAL_DAYS = { min: 1, max: 730 } as const;

/** Checks a credential lifetime in days: a whole number from 1 to 730. */
export function checkCredentialDays(value: string): Result<number> {
  const text = value.trim();
  const days = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (Number.isInteger(days) && days >= CREDENTIAL_DAYS.min && days <= CREDENTIAL_DAYS.max) return ok(days);
  return fail(`${quote(text)} is not a whole number of days from ${CREDENTIAL_DAYS.min} to ${CREDENTIAL_DAYS.max}`);
}

/** Reads a registry's `acr-pull-credential` and `acr-pull-credential-days` tags. */
export function parseCredentialTags(tags: Tags): CredentialTags {
  const vault = getTag(tags, TAG_NAMES.credential);
  if (vault === undefined) return { status: 'absent' };
  const errors: TagError[] = [];
  const vaultName = checkKeyVaultName(vault);
  if (!vaultName.ok) errors.push({ tag: TAG_NAMES.credential, item: vault, message: `${TAG_NAMES.credential}: ${vaultName.error}` });
  const daysText = getTag(tags, TAG_NAMES.credentialDays);
  const days = daysText === undefined ? undefined : checkCredentialDays(daysText);
  if (days && !days.ok) {
    errors.push({ tag: TAG_NAMES.credentialDays, item: daysText ?? '', message: `${TAG_NAMES.credentialDays}: ${days.error}` });
  }
  if (errors.length > 0 || !vaultName.ok) return { status: 'invalid', errors };
  return { status: 'enrolled', vaultName: vaultName.value, ...(days?.ok ? { days: days.value } : {}) };
}
