/**
 * The `$filter` clauses real tools send to Graph for applications and service principals
 * (https://learn.microsoft.com/graph/filter-query-parameter, https://learn.microsoft.com/graph/aad-advanced-queries):
 * - `appId eq '…'`, `displayName eq '…'`, `id eq '…'`;
 * - `startswith(displayName, '…')` (`az ad sp list --display-name`, `az ad app list --display-name`);
 * - `servicePrincipalNames/any(c:c eq '…')` on service principals: how a client turns an application
 *   id (or a managed identity's resource id) into a service principal (`az ad sp show --id <appId>`,
 *   `az role assignment create --assignee <appId>`);
 * joined by `and`. Anything else answers `Request_UnsupportedQuery`, as Graph does for a clause it
 * cannot serve without advanced query parameters: the emulator never guesses at a filter.
 */

export interface GraphObjectView {
  readonly id: string;
  readonly appId: string;
  readonly displayName: string;
  /** Service principals only. */
  readonly servicePrincipalNames?: readonly string[];
}

export type GraphFilter = (o: GraphObjectView) => boolean;

const STRING = String.raw`'((?:[^']|'')*)'`;
const CLAUSES: Array<{
  pattern: RegExp;
  build: (m: RegExpExecArray, kind: 'applications' | 'servicePrincipals') => GraphFilter | undefined;
}> = [
  {
    pattern: new RegExp(String.raw`^(appId|displayName|id)\s+eq\s+${STRING}$`, 'i'),
    build: (m) => {
      const field = m[1]!.toLowerCase() === 'appid' ? 'appId' : m[1]!.toLowerCase() === 'id' ? 'id' : 'displayName';
      const value = unquote(m[2]!).toLowerCase();
      return (o) => o[field].toLowerCase() === value;
    },
  },
  {
    pattern: new RegExp(String.raw`^startswith\(\s*displayName\s*,\s*${STRING}\s*\)$`, 'i'),
    build: (m) => {
      const value = unquote(m[1]!).toLowerCase();
      return (o) => o.displayName.toLowerCase().startsWith(value);
    },
  },
  {
    pattern: new RegExp(String.raw`^servicePrincipalNames/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+${STRING}\s*\)$`, 'i'),
    build: (m, kind) => {
      // The lambda variable must be the one the lambda declares: `any(c:c eq '…')`.
      if (kind !== 'servicePrincipals' || m[1] !== m[2]) return undefined;
      const value = unquote(m[3]!).toLowerCase();
      return (o) => (o.servicePrincipalNames ?? []).some((n) => n.toLowerCase() === value);
    },
  },
];

function unquote(s: string): string {
  return s.replace(/''/g, "'");
}

/** Splits on ` and ` outside quotes and parentheses. */
function splitAnd(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && /^\s+and\s+/i.test(input.slice(i)) && /\s/.test(c!)) {
      const m = /^\s+and\s+/i.exec(input.slice(i))!;
      parts.push(input.slice(start, i));
      i += m[0].length - 1;
      start = i + 1;
    }
  }
  parts.push(input.slice(start));
  return parts.map((p) => p.trim());
}

/** The filter for `$filter`; undefined for none; 'unsupported' for a clause outside the list above. */
export function parseGraphFilter(
  filter: string | null,
  kind: 'applications' | 'servicePrincipals',
): GraphFilter | undefined | 'unsupported' {
  if (filter === null || filter.trim() === '') return undefined;
  const tests: GraphFilter[] = [];
  for (const clause of splitAnd(filter.trim())) {
    let built: GraphFilter | undefined;
    for (const c of CLAUSES) {
      const m = c.pattern.exec(clause);
      if (m) {
        built = c.build(m, kind);
        break;
      }
    }
    if (!built) return 'unsupported';
    tests.push(built);
  }
  return (o) => tests.every((t) => t(o));
}
