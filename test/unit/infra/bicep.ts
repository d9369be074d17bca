/**
 * Just enough Bicep reading for the infra tests. Bicep can't be compiled on our machines, so the
 * tests read the text: comment stripping, resource blocks, top-level object properties and string
 * literals, over the well-structured Bicep in infra/ (one property per line, no nested lambdas
 * in the places read here).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const INFRA_DIR = new URL('../../../infra/', import.meta.url).pathname;

/** Every .bicep file under infra/, relative path → text with comments removed. */
export function readInfra(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.bicep')) files.set(relative(INFRA_DIR, path), stripComments(readFileSync(path, 'utf8')));
    }
  };
  walk(INFRA_DIR);
  return files;
}

/** Removes `//` and `/* … *\/` comments, leaving string literals (which may hold `//`) intact. */
export function stripComments(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      const stop = end < 0 ? text.length : end + 3;
      out += text.slice(i, stop);
      i = stop;
    } else if (text[i] === "'") {
      const stop = endOfString(text, i);
      out += text.slice(i, stop);
      i = stop;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** Index just past the single-quoted string starting at `start` (Bicep escapes with backslash). */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === "'") return i + 1;
    else i++;
  }
  return text.length;
}

/** The text between the bracket at `open` and its match, strings skipped. */
export function balanced(text: string, open: number): string {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  let i = open;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'") {
      i = endOfString(text, i);
      continue;
    }
    if (c in pairs) stack.push(pairs[c]!);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return text.slice(open + 1, i);
    }
    i++;
  }
  throw new Error(`unbalanced bracket at ${open}`);
}

export interface BicepResource {
  readonly file: string;
  readonly symbol: string;
  readonly type: string;
  readonly existing: boolean;
  /** The condition of `= if (…)`, when there is one. */
  readonly condition?: string;
  /** The resource's body: the text inside its outer braces. */
  readonly body: string;
}

/** Every `resource` declaration in the files. */
export function resources(files: Map<string, string>): BicepResource[] {
  const found: BicepResource[] = [];
  for (const [file, text] of files) {
    const declaration = /^resource\s+(\w+)\s+'([^'@]+)@[^']+'\s*(existing\s*)?=\s*(?:if\s*\(|\[|\{)/gm;
    for (const m of text.matchAll(declaration)) {
      const start = m.index! + m[0].length - 1;
      let condition: string | undefined;
      let brace: number;
      if (text[start] === '(') {
        condition = balanced(text, start);
        brace = text.indexOf('{', start + condition.length + 2);
      } else {
        brace = text.indexOf('{', start);
      }
      found.push({ file, symbol: m[1]!, type: m[2]!, existing: Boolean(m[3]), condition, body: balanced(text, brace) });
    }
  }
  return found;
}

/** The text of a top-level property of an object body (`key: value`), or undefined. */
export function property(body: string, key: string): string | undefined {
  for (const [k, v] of topLevelProperties(body)) if (k === key) return v;
  return undefined;
}

/** The top-level `key: value` pairs of an object body (with or without its braces), values as raw text. */
export function topLevelProperties(text: string): Array<[string, string]> {
  const trimmed = text.trim();
  const body = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : text;
  const pairs: Array<[string, string]> = [];
  let depth = 0;
  let i = 0;
  let lineStart = true;
  while (i < body.length) {
    const c = body[i]!;
    if (c === "'") {
      i = endOfString(body, i);
      lineStart = false;
      continue;
    }
    if (depth === 0 && lineStart) {
      const m = /^[ \t]*([A-Za-z_][\w]*|'[^']*')[ \t]*:[ \t]*/.exec(body.slice(i));
      if (m) {
        const key = m[1]!.replace(/^'|'$/g, '');
        const valueStart = i + m[0].length;
        const valueEnd = endOfValue(body, valueStart);
        pairs.push([key, body.slice(valueStart, valueEnd).trim()]);
        i = valueEnd;
        continue;
      }
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    lineStart = c === '\n';
    i++;
  }
  return pairs;
}

/** Index where a property value starting at `start` ends: the end of its line at bracket depth 0. */
function endOfValue(body: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < body.length) {
    const c = body[i]!;
    if (c === "'") {
      i = endOfString(body, i);
      continue;
    }
    if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') depth--;
    else if (c === '\n' && depth === 0) return i;
    i++;
  }
  return i;
}

/** The value of a single-quoted Bicep string literal, escapes resolved; interpolations kept as `${…}`. */
export function stringValue(literal: string): string {
  const m = /^'((?:[^'\\]|\\.)*)'$/s.exec(literal.trim());
  if (!m) throw new Error(`not a string literal: ${literal}`);
  return m[1]!.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

/** The raw text of `var <name> = …` (to the end of its statement). */
export function variable(text: string, name: string): string | undefined {
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(text);
  if (!m) return undefined;
  const start = m.index + m[0].length;
  if (text[start] === '{' || text[start] === '[') return text.slice(start, start + balanced(text, start).length + 2);
  return text.slice(start, endOfValue(text, start)).trim();
}

/** `param` declarations: name → { type, default (raw text) , decorators (raw text before it) }. */
export function params(text: string): Map<string, { type: string; defaultValue?: string; decorators: string }> {
  const found = new Map<string, { type: string; defaultValue?: string; decorators: string }>();
  const lines = text.split('\n');
  let decorators: string[] = [];
  for (const line of lines) {
    const m = /^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+))?$/.exec(line.trim());
    if (m) {
      found.set(m[1]!, { type: m[2]!, defaultValue: m[3]?.trim(), decorators: decorators.join('\n') });
      decorators = [];
    } else if (line.trim().startsWith('@')) decorators.push(line.trim());
    else if (line.trim() !== '') decorators = [];
  }
  return found;
}

/** The string literals of an array literal's text: `['a', 'b']` → ['a', 'b']. */
export function stringArray(text: string): string[] {
  return [...text.matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((m) => stringValue(`'${m[1]}'`));
}
