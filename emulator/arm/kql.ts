/**
 * The small KQL subset Resource Graph queries in this product use; anything else is refused
 * with a message naming what is supported (see README "Differences from Azure").
 *
 *   resources | where <cond> [| where <cond>] [| project a, b, …]
 *   resources | where <cond> | summarize [name =] count()   (one row; the column is `count_` unless named,
 *     as KQL names an unnamed aggregate: https://learn.microsoft.com/kusto/query/summarize-operator)
 *   authorizationresources | …the same…   (role assignments: see resourceGraph.ts)
 *   cond: and / or / parentheses over
 *     <col> =~ 'x' | <col> == 'x' | <col> !~ 'x' | <col> != 'x' | <col> contains 'x' | <col> in~ ('a', 'b')
 *     isnotempty(<col>) | isempty(<col>)
 *   col: id, name, type, location, resourceGroup, subscriptionId, kind, tags['k'], properties.<name>, or tostring(<col>)
 *     (also identity, properties, sku, …); a dynamic column compares as its JSON text, as tostring() gives it
 */

export type Row = Readonly<Record<string, unknown>>;

type Column =
  | { readonly kind: 'column'; readonly name: string }
  | { readonly kind: 'tag'; readonly key: string }
  | { readonly kind: 'property'; readonly name: string };
type Expr =
  | { readonly op: 'and' | 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly op: '=~' | '==' | '!~' | '!=' | 'contains' | '!contains'; readonly col: Column; readonly value: string }
  | { readonly op: 'in~'; readonly col: Column; readonly values: readonly string[] }
  | { readonly op: 'isnotempty' | 'isempty'; readonly col: Column };

/** The Resource Graph tables the emulator answers. */
export const TABLES = ['resources', 'authorizationresources'] as const;
export type Table = (typeof TABLES)[number];

export interface ParsedQuery {
  readonly table: Table;
  readonly where: readonly Expr[];
  readonly project?: readonly string[];
  /** `summarize [name =] count()`: the column the count goes in. */
  readonly count?: string;
}

export class KqlError extends Error {
  override readonly name = 'KqlError';
}

const COLUMNS = [
  'id',
  'name',
  'type',
  'location',
  'resourceGroup',
  'subscriptionId',
  'kind',
  'tags',
  'identity',
  'properties',
  'sku',
  'tenantId',
  'managedBy',
];
const SUPPORTED =
  "supported: resources|authorizationresources | where <cond> [| where <cond>] [| project col, …] or [| summarize [name =] count()]; cond uses =~, ==, !~, !=, contains, in~, isnotempty(), isempty() on id, name, type, location, resourceGroup, subscriptionId, kind, tags['key'], properties.<name> or tostring(col), combined with and/or/()";

type Token = { t: 'str' | 'ident' | 'sym'; v: string };

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      const end = q.indexOf(c, i + 1);
      if (end < 0) throw new KqlError(`Unterminated string at ${i}`);
      out.push({ t: 'str', v: q.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    const sym = /^(=~|==|!~|!=|in~|[()[\],|])/.exec(q.slice(i));
    if (sym && !(sym[1] === 'in~' && /[A-Za-z0-9_]/.test(q[i - 1] ?? ''))) {
      out.push({ t: 'sym', v: sym[1]! });
      i += sym[1]!.length;
      continue;
    }
    const id = /^!?[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?/.exec(q.slice(i));
    if (id) {
      out.push({ t: 'ident', v: id[0] });
      i += id[0].length;
      continue;
    }
    // Anything else is a token the parser will refuse with a message naming the supported subset.
    out.push({ t: 'sym', v: c });
    i++;
  }
  return out;
}

/** Parses the supported subset; throws KqlError with a message a person can act on. */
export function parseQuery(query: string): ParsedQuery {
  const toks = tokenize(query);
  let pos = 0;
  const peek = () => toks[pos];
  const next = () => {
    const t = toks[pos++];
    if (!t) throw new KqlError(`Unexpected end of query; ${SUPPORTED}`);
    return t;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.v.toLowerCase() !== v) throw new KqlError(`Expected '${v}' but found '${t.v}'; ${SUPPORTED}`);
  };
  const table = next();
  const tableName = TABLES.find((t) => t === table.v.toLowerCase());
  if (table.t !== 'ident' || !tableName)
    throw new KqlError(`Only the ${TABLES.map((t) => `'${t}'`).join(' and ')} tables are supported, got '${table.v}'; ${SUPPORTED}`);
  const where: Expr[] = [];
  let project: string[] | undefined;
  let count: string | undefined;

  const column = (): Column => {
    const t = next();
    if (t.t !== 'ident') throw new KqlError(`Expected a column, found '${t.v}'; ${SUPPORTED}`);
    // tostring(<col>): a dynamic value as its JSON text — how every column already compares here.
    if (t.v.toLowerCase() === 'tostring' && peek()?.v === '(') {
      next();
      const inner = column();
      expect(')');
      return inner;
    }
    if (t.v.toLowerCase() === 'tags' && peek()?.v === '[') {
      next();
      const k = next();
      if (k.t !== 'str') throw new KqlError(`Expected a quoted tag name after tags[`);
      expect(']');
      return { kind: 'tag', key: k.v };
    }
    const property = /^properties\.([A-Za-z0-9_]+)$/i.exec(t.v);
    if (property) return { kind: 'property', name: property[1]! };
    const name = COLUMNS.find((c) => c.toLowerCase() === t.v.toLowerCase());
    if (!name) throw new KqlError(`Unsupported column '${t.v}'; ${SUPPORTED}`);
    return { kind: 'column', name };
  };
  const atom = (): Expr => {
    const t = peek();
    if (t?.v === '(') {
      next();
      const e = orExpr();
      expect(')');
      return e;
    }
    if (t?.t === 'ident' && (t.v.toLowerCase() === 'isnotempty' || t.v.toLowerCase() === 'isempty')) {
      next();
      expect('(');
      const col = column();
      expect(')');
      return { op: t.v.toLowerCase() as 'isnotempty' | 'isempty', col };
    }
    const col = column();
    const op = next();
    const opv = op.v.toLowerCase();
    if (opv === 'in~') {
      expect('(');
      const values: string[] = [];
      for (;;) {
        const v = next();
        if (v.t !== 'str') throw new KqlError(`Expected a quoted value in in~ list`);
        values.push(v.v);
        const sep = next();
        if (sep.v === ')') break;
        if (sep.v !== ',') throw new KqlError(`Expected ',' or ')' in in~ list`);
      }
      return { op: 'in~', col, values };
    }
    if (!['=~', '==', '!~', '!=', 'contains', '!contains'].includes(opv))
      throw new KqlError(`Unsupported operator '${op.v}'; ${SUPPORTED}`);
    const v = next();
    if (v.t !== 'str') throw new KqlError(`Expected a quoted value after '${op.v}'`);
    return { op: opv as '=~', col, value: v.v };
  };
  const andExpr = (): Expr => {
    let left = atom();
    while (peek()?.t === 'ident' && peek()!.v.toLowerCase() === 'and') {
      next();
      left = { op: 'and', left, right: atom() };
    }
    return left;
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (peek()?.t === 'ident' && peek()!.v.toLowerCase() === 'or') {
      next();
      left = { op: 'or', left, right: andExpr() };
    }
    return left;
  };

  while (pos < toks.length) {
    expect('|');
    const stage = next();
    const s = stage.v.toLowerCase();
    if (count !== undefined) throw new KqlError(`Nothing after 'summarize' is supported; ${SUPPORTED}`);
    if (s === 'summarize') {
      if (project) throw new KqlError(`'summarize' after 'project' is not supported; ${SUPPORTED}`);
      let name = 'count_';
      const first = next();
      if (first.t === 'ident' && first.v.toLowerCase() !== 'count' && peek()?.v === '=') {
        // The tokenizer reads '=' alone as a symbol.
        next();
        name = first.v;
        const fn = next();
        if (fn.v.toLowerCase() !== 'count') throw new KqlError(`Only count() is supported in summarize; ${SUPPORTED}`);
      } else if (first.v.toLowerCase() !== 'count') throw new KqlError(`Only count() is supported in summarize; ${SUPPORTED}`);
      expect('(');
      expect(')');
      if (pos < toks.length && peek()?.v.toLowerCase() === 'by') throw new KqlError(`summarize … by is not supported; ${SUPPORTED}`);
      count = name;
    } else if (s === 'where') {
      if (project) throw new KqlError(`'where' after 'project' is not supported; ${SUPPORTED}`);
      where.push(orExpr());
    } else if (s === 'project') {
      project = [];
      for (;;) {
        const t = next();
        const name = COLUMNS.find((c) => c.toLowerCase() === t.v.toLowerCase());
        if (t.t !== 'ident' || !name) throw new KqlError(`Unsupported column '${t.v}' in project; ${SUPPORTED}`);
        project.push(name);
        if (peek()?.v !== ',') break;
        next();
      }
    } else {
      throw new KqlError(`Unsupported operator '${stage.v}'; ${SUPPORTED}`);
    }
  }
  return { table: tableName, where, ...(project ? { project } : {}), ...(count !== undefined ? { count } : {}) };
}

function valueOf(row: Row, col: Column): unknown {
  if (col.kind === 'tag') {
    const tags = (row.tags ?? {}) as Record<string, unknown>;
    const key = Object.keys(tags).find((k) => k.toLowerCase() === col.key.toLowerCase());
    return key === undefined ? undefined : tags[key];
  }
  if (col.kind === 'property') {
    // Property names in Resource Graph are case-sensitive, as in the JSON ARM returns.
    const props = (row.properties ?? {}) as Record<string, unknown>;
    return props[col.name];
  }
  return row[col.name];
}

const str = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

export function evaluate(e: Expr, row: Row): boolean {
  switch (e.op) {
    case 'and':
      return evaluate(e.left, row) && evaluate(e.right, row);
    case 'or':
      return evaluate(e.left, row) || evaluate(e.right, row);
    case 'isnotempty':
      return str(valueOf(row, e.col)) !== '';
    case 'isempty':
      return str(valueOf(row, e.col)) === '';
    case 'in~': {
      const v = str(valueOf(row, e.col)).toLowerCase();
      return e.values.some((x) => x.toLowerCase() === v);
    }
    case '=~':
      return str(valueOf(row, e.col)).toLowerCase() === e.value.toLowerCase();
    case '!~':
      return str(valueOf(row, e.col)).toLowerCase() !== e.value.toLowerCase();
    case '==':
      return str(valueOf(row, e.col)) === e.value;
    case '!=':
      return str(valueOf(row, e.col)) !== e.value;
    case 'contains':
      return str(valueOf(row, e.col)).toLowerCase().includes(e.value.toLowerCase());
    case '!contains':
      return !str(valueOf(row, e.col)).toLowerCase().includes(e.value.toLowerCase());
  }
}

/** Applies a parsed query to rows: every where clause, then the projection. */
export function runQuery(q: ParsedQuery, rows: readonly Row[]): Row[] {
  const kept = rows.filter((r) => q.where.every((w) => evaluate(w, r)));
  if (q.count !== undefined) return [{ [q.count]: kept.length }];
  if (!q.project) return kept;
  const cols = q.project;
  return kept.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? null])));
}
