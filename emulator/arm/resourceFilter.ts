/**
 * The `$filter` of Resources_List (resources/.../Microsoft.Resources/stable/2021-04-01/resources.json,
 * the `$filter` parameter's description): `eq` / `ne` on `location`, `resourceType`, `name`,
 * `resourceGroup` and `identity/principalId`; `substringof('x', name|resourceGroup)`; tags as
 * `tagName eq 'k' [and tagValue eq 'v']` or `startswith(tagName, 'prefix')`; clauses combined with
 * `and` / `or` and parentheses. Names, types, groups and locations compare case-insensitively, tag
 * values exactly. Anything else is refused: the emulator never guesses at a filter.
 */

export interface FilterView {
  readonly name: string;
  readonly resourceType: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly identityPrincipalId?: string;
}

export interface ResourceFilter {
  matches(r: FilterView): boolean;
  /** Filtering by tag name and value: ARM then leaves each resource's `tags` out of the answer. */
  readonly hidesTags: boolean;
}

type Token = { kind: 'word'; text: string } | { kind: 'string'; text: string } | { kind: 'punct'; text: '(' | ')' | ',' };

function tokenize(input: string): Token[] | string {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= input.length) return 'unterminated string';
        if (input[i] === "'") {
          if (input[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += input[i]!;
        i++;
      }
      tokens.push({ kind: 'string', text });
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_/]*/.exec(input.slice(i));
      if (!m) return `unexpected '${c}'`;
      tokens.push({ kind: 'word', text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

type Node =
  | { op: 'and' | 'or'; left: Node; right: Node }
  | { op: 'cmp'; field: string; negate: boolean; value: string }
  | { op: 'substringof'; field: string; value: string }
  | { op: 'startswithTag'; value: string };

const FIELDS = new Set(['location', 'resourcetype', 'name', 'resourcegroup', 'tagname', 'tagvalue', 'identity/principalid']);

/** Parses a Resources_List `$filter`; a clause outside the grammar is an error, never ignored. */
export function parseResourceFilter(input: string): { ok: true; filter: ResourceFilter } | { ok: false; error: string } {
  const tokens = tokenize(input);
  if (typeof tokens === 'string') return { ok: false, error: tokens };
  let pos = 0;
  const peekWord = () => (tokens[pos]?.kind === 'word' ? (tokens[pos] as { text: string }).text.toLowerCase() : undefined);
  const expect = (kind: Token['kind'], text?: string): Token => {
    const t = tokens[pos];
    if (!t || t.kind !== kind || (text !== undefined && t.text.toLowerCase() !== text))
      throw new Error(`expected ${text ?? kind} at token ${pos + 1}`);
    pos++;
    return t;
  };
  const parseOr = (): Node => {
    let left = parseAnd();
    while (peekWord() === 'or') {
      pos++;
      left = { op: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): Node => {
    let left = parseFactor();
    while (peekWord() === 'and') {
      pos++;
      left = { op: 'and', left, right: parseFactor() };
    }
    return left;
  };
  const parseFactor = (): Node => {
    const t = tokens[pos];
    if (t?.kind === 'punct' && t.text === '(') {
      pos++;
      const inner = parseOr();
      expect('punct', ')');
      return inner;
    }
    const word = peekWord();
    if (word === 'substringof') {
      pos++;
      expect('punct', '(');
      const value = expect('string').text;
      expect('punct', ',');
      const field = expect('word').text.toLowerCase();
      expect('punct', ')');
      if (field !== 'name' && field !== 'resourcegroup') throw new Error(`substringof() applies to name and resourceGroup, not '${field}'`);
      return { op: 'substringof', field, value };
    }
    if (word === 'startswith') {
      pos++;
      expect('punct', '(');
      const field = expect('word').text.toLowerCase();
      expect('punct', ',');
      const value = expect('string').text;
      expect('punct', ')');
      if (field !== 'tagname') throw new Error(`startswith() applies to tagName only, not '${field}'`);
      return { op: 'startswithTag', value };
    }
    if (word === undefined || !FIELDS.has(word)) throw new Error(`unsupported property '${t && 'text' in t ? t.text : ''}'`);
    pos++;
    const operator = expect('word').text.toLowerCase();
    if (operator !== 'eq' && operator !== 'ne') throw new Error(`unsupported operator '${operator}' (eq and ne are)`);
    if ((word === 'tagname' || word === 'tagvalue') && operator === 'ne') throw new Error('tagName and tagValue take eq only');
    return { op: 'cmp', field: word, negate: operator === 'ne', value: expect('string').text };
  };
  let root: Node;
  try {
    root = parseOr();
    if (pos < tokens.length) throw new Error(`unexpected '${'text' in tokens[pos]! ? tokens[pos]!.text : ''}'`);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  return { ok: true, filter: { matches: (r) => evaluate(root, r), hidesTags: hasTagValue(root) } };
}

function hasTagValue(n: Node): boolean {
  if (n.op === 'and' || n.op === 'or') return hasTagValue(n.left) || hasTagValue(n.right);
  return n.op === 'cmp' && n.field === 'tagvalue';
}

/** The `tagName eq` of an `and` chain, so `tagValue eq` is judged on that tag. */
function tagNameOf(n: Node): string | undefined {
  if (n.op === 'cmp' && n.field === 'tagname') return n.value;
  if (n.op === 'and') return tagNameOf(n.left) ?? tagNameOf(n.right);
  return undefined;
}

function evaluate(n: Node, r: FilterView, tagName?: string): boolean {
  const ci = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  switch (n.op) {
    case 'or':
      return evaluate(n.left, r, tagName) || evaluate(n.right, r, tagName);
    case 'and': {
      const name = tagName ?? tagNameOf(n);
      return evaluate(n.left, r, name) && evaluate(n.right, r, name);
    }
    case 'substringof':
      return (n.field === 'name' ? r.name : r.resourceGroup).toLowerCase().includes(n.value.toLowerCase());
    case 'startswithTag':
      return Object.keys(r.tags).some((k) => k.toLowerCase().startsWith(n.value.toLowerCase()));
    case 'cmp': {
      let hit: boolean;
      switch (n.field) {
        case 'tagname':
          hit = Object.keys(r.tags).some((k) => ci(k, n.value));
          break;
        case 'tagvalue':
          hit = Object.entries(r.tags).some(([k, v]) => (tagName === undefined || ci(k, tagName)) && v === n.value);
          break;
        case 'identity/principalid':
          hit = r.identityPrincipalId !== undefined && ci(r.identityPrincipalId, n.value);
          break;
        default: {
          const value =
            n.field === 'resourcetype'
              ? r.resourceType
              : n.field === 'resourcegroup'
                ? r.resourceGroup
                : n.field === 'location'
                  ? r.location
                  : r.name;
          hit = ci(value, n.value);
        }
      }
      return n.negate ? !hit : hit;
    }
  }
}
