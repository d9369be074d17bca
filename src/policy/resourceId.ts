/**
 * ARM resource ids: parse, validate, normalise — the one place the rest of the app compares them.
 *
 * ARM compares ids case-insensitively, and its own payloads disagree on casing: the documented
 * `ResourceWriteSuccess` sample writes `resourcegroups` in `subject`, `data.resourceUri` and
 * `data.authorization.scope` but `resourceGroups` in `topic`, and identity and AKS responses often
 * come back with `resourcegroups` too
 * (https://learn.microsoft.com/azure/event-grid/event-schema-resource-groups#example-event).
 * A tag write (`Microsoft.Resources/tags/write`) names `<resource>/providers/Microsoft.Resources/tags/default`;
 * the resource it tags is what we act on.
 */
import { fail, isGuid, ok, quote, type Result } from './result.js';

/** What an id points at. */
export const RESOURCE_ID_KINDS = {
  subscription: 'subscription',
  resourceGroup: 'resourceGroup',
  resource: 'resource',
} as const;
export type ResourceIdKind = (typeof RESOURCE_ID_KINDS)[keyof typeof RESOURCE_ID_KINDS];

export interface ParsedResourceId {
  readonly kind: ResourceIdKind;
  /** The id as ARM spells it (`resourceGroups`, `providers`), names in their original casing, tag suffix stripped. */
  readonly id: string;
  /** Lower-cased canonical form: the key for maps, comparisons and assignment names. */
  readonly normalized: string;
  /** Lower-cased subscription GUID. */
  readonly subscriptionId: string;
  /** Resource group name as written; absent for subscription-level ids. */
  readonly resourceGroup?: string;
  /** Provider namespace as written, e.g. `Microsoft.ContainerRegistry`; absent unless kind is resource. */
  readonly namespace?: string;
  /** Lower-cased full type, e.g. `microsoft.compute/virtualmachines`, `microsoft.containerregistry/registries/tasks`. */
  readonly type?: string;
  /** The last name segment (`vm-web-1`, or `build-task` for `registries/contosoacr/tasks/build-task`); for a resource group, its name. */
  readonly name: string;
  /** Every name segment from the top-level resource down, as written. */
  readonly names: readonly string[];
  /** For a child resource, the id of the resource it belongs to (in `id` spelling). */
  readonly parentId?: string;
  /** Whether the input named the resource's tags (`…/providers/Microsoft.Resources/tags/default`). */
  readonly wasTagsSuffix: boolean;
}

const MAX_LENGTH = 2048;
const NAMESPACE = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+$/;
const TYPE_SEGMENT = /^[A-Za-z][A-Za-z0-9-]*$/;
const TAGS_SUFFIX = /\/providers\/microsoft\.resources\/tags\/default$/i;

/** Characters that never belong in an ARM id we act on: URL or OData syntax, quotes, escapes. */
const FORBIDDEN: ReadonlyArray<readonly [RegExp, string]> = [
  [/\s/, 'whitespace'],
  [/%/, 'a percent-encoded character (%); write the id unencoded'],
  [/\?/, 'a query string (?)'],
  [/#/, 'a fragment (#)'],
  [/['"`]/, 'a quote'],
  [/\\/, 'a backslash'],
  // Control characters are exactly what we reject.
  [/[\u0000-\u001f\u007f]/, 'a control character'],
  [/[<>*|]/, 'one of < > * |'],
];

/** Parses an ARM resource id; invalid ids come back with the reason, never as a throw. */
export function parseResourceId(input: string): Result<ParsedResourceId> {
  if (typeof input !== 'string' || input.length === 0) return fail('resource id is empty');
  const bad = (why: string): Result<ParsedResourceId> => fail(`resource id ${quote(input)} is not valid: ${why}`);
  if (input.length > MAX_LENGTH) return bad(`it is longer than ${MAX_LENGTH} characters`);
  for (const [pattern, what] of FORBIDDEN) if (pattern.test(input)) return bad(`it contains ${what}`);
  if (!input.startsWith('/')) return bad('it must start with /subscriptions/<subscription id>');

  const wasTagsSuffix = TAGS_SUFFIX.test(input);
  const path = wasTagsSuffix ? input.replace(TAGS_SUFFIX, '') : input;
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '')) return bad('it has an empty segment (a doubled or trailing /)');
  if (segments.some((s) => s === '.' || s === '..')) return bad('it has a . or .. segment');

  const [subscriptionsKeyword, subscription, ...rest] = segments;
  if (subscriptionsKeyword?.toLowerCase() !== 'subscriptions' || subscription === undefined) {
    return bad('it must start with /subscriptions/<subscription id> (tenant and management-group ids are not supported)');
  }
  if (!isGuid(subscription)) return bad(`subscription ${quote(subscription)} is not a GUID`);
  const subscriptionId = subscription.toLowerCase();

  let index = 0;
  let resourceGroup: string | undefined;
  if (rest[index]?.toLowerCase() === 'resourcegroups') {
    resourceGroup = rest[index + 1];
    if (resourceGroup === undefined) return bad('resourceGroups is not followed by a resource group name');
    if (!isResourceGroupName(resourceGroup)) {
      return bad(`resource group name ${quote(resourceGroup)} is not valid (1-90 letters, digits, _ - . ( ), not ending in .)`);
    }
    index += 2;
  }

  const base = `/subscriptions/${subscriptionId}`;
  const groupPart = resourceGroup === undefined ? '' : `/resourceGroups/${resourceGroup}`;
  if (index === rest.length) {
    const id = `${base}${groupPart}`;
    return ok({
      kind: resourceGroup === undefined ? RESOURCE_ID_KINDS.subscription : RESOURCE_ID_KINDS.resourceGroup,
      id,
      normalized: id.toLowerCase(),
      subscriptionId,
      ...(resourceGroup === undefined ? {} : { resourceGroup }),
      name: resourceGroup ?? subscriptionId,
      names: [],
      wasTagsSuffix,
    });
  }

  if (rest[index]?.toLowerCase() !== 'providers') {
    return bad(
      `expected "providers" or "resourceGroups" after the ${resourceGroup === undefined ? 'subscription' : 'resource group'}, found ${quote(rest[index] ?? '')}`,
    );
  }
  const namespace = rest[index + 1];
  if (namespace === undefined || !NAMESPACE.test(namespace)) {
    return bad(`provider namespace ${quote(namespace ?? '')} is not valid (expected something like Microsoft.Compute)`);
  }
  const pairs = rest.slice(index + 2);
  if (pairs.length === 0) return bad(`it names provider ${namespace} but no resource type and name`);
  if (pairs.some((s) => s.toLowerCase() === 'providers')) {
    return bad('it names an extension resource; only <resource>/providers/Microsoft.Resources/tags/default is understood');
  }
  if (pairs.length % 2 !== 0) return bad(`resource type ${quote(pairs[pairs.length - 1] ?? '')} has no name after it`);

  const types: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const type = pairs[i] ?? '';
    const name = pairs[i + 1] ?? '';
    if (!TYPE_SEGMENT.test(type)) return bad(`resource type ${quote(type)} is not valid`);
    types.push(type);
    names.push(name);
  }

  const providerPart = `/providers/${namespace}`;
  const pathOf = (depth: number): string =>
    types
      .slice(0, depth)
      .map((t, i) => `/${t}/${names[i] ?? ''}`)
      .join('');
  const id = `${base}${groupPart}${providerPart}${pathOf(types.length)}`;
  return ok({
    kind: RESOURCE_ID_KINDS.resource,
    id,
    normalized: id.toLowerCase(),
    subscriptionId,
    ...(resourceGroup === undefined ? {} : { resourceGroup }),
    namespace,
    type: [namespace, ...types].join('/').toLowerCase(),
    name: names[names.length - 1] ?? '',
    names,
    ...(types.length > 1 ? { parentId: `${base}${groupPart}${providerPart}${pathOf(types.length - 1)}` } : {}),
    wasTagsSuffix,
  });
}

/** Resource group names: 1-90 of letters, digits, underscore, hyphen, period, parentheses; not ending in a period. */
export function isResourceGroupName(name: string): boolean {
  return /^[\p{L}\p{N}_\-.()]{1,90}$/u.test(name) && !name.endsWith('.');
}

/** The lower-cased canonical id for comparisons and keys, or undefined when the id is not valid. */
export function normalizeResourceId(input: string): string | undefined {
  const parsed = parseResourceId(input);
  return parsed.ok ? parsed.value.normalized : undefined;
}

/**
 * The comparable key of an id: its canonical form when it parses, otherwise the input lower-cased
 * (an id ARM or a row handed us that we cannot parse still compares with itself, case-insensitively).
 * The one place maps, sets and comparisons get their keys from.
 */
export function resourceIdKey(input: string): string {
  return normalizeResourceId(input) ?? input.toLowerCase();
}

/** Whether two ids name the same resource (case-insensitive, `resourcegroups` = `resourceGroups`, tag suffix ignored). Invalid ids never match. */
export function sameResourceId(a: string, b: string): boolean {
  const left = normalizeResourceId(a);
  return left !== undefined && left === normalizeResourceId(b);
}

/** Lower-cased subscription GUID of a valid id. */
export function subscriptionIdOf(input: string): string | undefined {
  const parsed = parseResourceId(input);
  return parsed.ok ? parsed.value.subscriptionId : undefined;
}

/** Resource group name of a valid id, as written. */
export function resourceGroupOf(input: string): string | undefined {
  const parsed = parseResourceId(input);
  return parsed.ok ? parsed.value.resourceGroup : undefined;
}

/** Lower-cased full resource type of a valid resource id, e.g. `microsoft.compute/virtualmachines`. */
export function resourceTypeOf(input: string): string | undefined {
  const parsed = parseResourceId(input);
  return parsed.ok ? parsed.value.type : undefined;
}

/** Last name segment of a valid id, as written. */
export function resourceNameOf(input: string): string | undefined {
  const parsed = parseResourceId(input);
  return parsed.ok ? parsed.value.name : undefined;
}

/** The ARM type of a container registry, lower-cased as `ParsedResourceId.type` gives it (from the one table). */
export { REGISTRY_TYPE } from './resourceTypes.js';
