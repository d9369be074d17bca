/**
 * Paths as ARM treats them (issue 21, item 10): empty segments are ignored
 * (`…/Microsoft.ContainerRegistry//registries/x` reaches the registry), and the fixed segments of an
 * id come back in Azure's casing whatever the request's casing (`resourceGroups`, `providers`, the
 * namespace and type names); names keep the caller's casing. The Resources_Get / ResourceGroups_Get
 * examples (resources/.../2021-04-01/examples/GetResourceGroups.json) answer `/resourceGroups/`.
 */
import { API_VERSION_TABLE } from './apiVersions.js';

/** `//` collapsed to `/`, with no trailing slash kept on a non-root path. */
export function collapseEmptySegments(path: string): string {
  const collapsed = path.replace(/\/{2,}/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

const FIXED: Readonly<Record<string, string>> = {
  subscriptions: 'subscriptions',
  resourcegroups: 'resourceGroups',
  providers: 'providers',
  tagnames: 'tagNames',
  tagvalues: 'tagValues',
  resources: 'resources',
};

/** The path with its fixed segments (and known namespaces and types) in Azure's casing. */
export function canonicalPath(path: string): string {
  const segments = path.split('/');
  const out = [...segments];
  // Walk id pairs: `subscriptions/{id}`, `resourceGroups/{name}`, `providers/{ns}/{type}/{name}/{type}/{name}…`.
  let i = 1;
  while (i < segments.length) {
    const lower = segments[i]!.toLowerCase();
    if (lower === 'providers' && i + 1 < segments.length) {
      out[i] = 'providers';
      const nsKey = segments[i + 1]!.toLowerCase();
      const ns = API_VERSION_TABLE[nsKey];
      if (ns) out[i + 1] = ns.namespace;
      // Types sit at every other segment after the namespace until the next `providers`.
      let j = i + 2;
      const typeParts: string[] = [];
      while (j < segments.length && segments[j]!.toLowerCase() !== 'providers') {
        typeParts.push(segments[j]!.toLowerCase());
        const known = ns?.types[typeParts.join('/')];
        if (known) out[j] = known.type.split('/').pop()!;
        j += 2;
      }
      i = j;
      continue;
    }
    const fixed = FIXED[lower];
    if (fixed && (i === 1 || lower !== 'subscriptions')) out[i] = fixed;
    i += 2;
  }
  return out.join('/');
}
