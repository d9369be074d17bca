/**
 * Issue 17: the resource id stayed a string and the product's words were written in many places —
 * resource type strings in 6 files, `CONSUMER_TYPES` defined twice (with different contents),
 * `normalizeResourceId(x) ?? x.toLowerCase()` 21 times in 7 files, three trigger types, two
 * identity-kind vocabularies. These hold src/ to one table (src/policy/resourceTypes.ts), one id key
 * (`resourceIdKey`), one trigger type and one identity-kind vocabulary.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { RESOURCE_EVENT_SUBSCRIPTION, RESOURCE_OPERATION_NAMES, TAGS_WRITE_OPERATION } from '../../src/access/eventSubscription.js';
import { apiVersionsFor } from '../../emulator/arm/apiVersions.js';
import { API_VERSIONS } from '../../src/azure/arm.js';
import {
  CONSUMER_TYPES,
  RESOURCE_ROLES,
  RESOURCE_TYPES,
  SWEPT_CONSUMER_TYPES,
  WATCHED_RESOURCE_TYPES,
} from '../../src/policy/resourceTypes.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const src = filesUnder('src').map((path) => ({ path, text: readFileSync(path, 'utf8') }));
const TABLE = join('src', 'policy', 'resourceTypes.ts');

/** Every string the code spells out: string literals, template pieces and regular expressions (comments are not code). */
function literalsOf(path: string, text: string): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    )
      out.push(node.text);
    else if (ts.isRegularExpressionLiteral(node)) out.push(node.text.replace(/\\/g, ''));
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true));
  return out;
}

/** A sample resource id (an OpenAPI example): a value, not a type definition. */
const isSampleId = (literal: string) => /^\/subscriptions\/[0-9a-f-]{36}\/resourceGroups\//i.test(literal);

/** The table's type strings that a file spells out itself, case-insensitively. */
function typeLiteralsIn(path: string, text: string): string[] {
  const types = Object.values(RESOURCE_TYPES).map((row) => row.type.toLowerCase());
  return literalsOf(path, text).filter((literal) => !isSampleId(literal) && types.some((type) => literal.toLowerCase().includes(type)));
}

/** A resource id compared by "its normal form, or else lower-cased" written out again instead of `resourceIdKey`. */
function idKeyCopiesIn(text: string): string[] {
  return [...text.matchAll(/normalizeResourceId\([^()]*\)\s*\?\?[^;\n]*|\?\?\s*[\w$.[\]'"]+\.toLowerCase\(\)/g)].map((m) => m[0]);
}

/** Where a closed set or type of the shared vocabulary is defined (not imported or re-exported). */
function definitionsOf(name: string): string[] {
  const definition = new RegExp(`\\b(const|let|var|interface|type|enum)\\s+${name}\\b(?!\\s*\\})`);
  return src.filter(({ text }) => definition.test(text)).map(({ path }) => path);
}

describe('one vocabulary in src/', () => {
  it('spells resource type strings only in the table (src/policy/resourceTypes.ts)', () => {
    const offending = src
      .filter(({ path }) => path !== TABLE)
      .flatMap(({ path, text }) => typeLiteralsIn(path, text).map((literal) => `${path}: ${literal}`));
    expect(offending).toEqual([]);
  });

  it('keys resource ids with resourceIdKey, never `normalizeResourceId(x) ?? x.toLowerCase()` again', () => {
    const offending = src
      .filter(({ path }) => path !== join('src', 'policy', 'resourceId.ts'))
      .flatMap(({ path, text }) => idKeyCopiesIn(text).map((copy) => `${path}: ${copy}`));
    expect(offending).toEqual([]);
    // resourceId.ts holds the one copy: resourceIdKey itself.
    expect(idKeyCopiesIn(readFileSync(join('src', 'policy', 'resourceId.ts'), 'utf8'))).toHaveLength(1);
  });

  it.each([
    ['CONSUMER_TYPES', TABLE],
    ['WATCHED_RESOURCE_TYPES', TABLE],
    ['API_VERSIONS', TABLE],
    ['REGISTRY_TYPE', TABLE],
    ['Trigger', join('src', 'audit', 'auditLog.ts')],
    ['IDENTITY_KINDS', join('src', 'policy', 'identityKinds.ts')],
    ['IdentityKind', join('src', 'policy', 'identityKinds.ts')],
  ])('defines %s once, in %s', (name, where) => {
    expect(definitionsOf(name)).toEqual([where]);
  });

  it('has no second trigger type or identity vocabulary under another name', () => {
    expect(definitionsOf('DecisionTrigger')).toEqual([]);
    expect(definitionsOf('IDENTITY_SOURCES')).toEqual([]);
    expect(definitionsOf('IdentitySource')).toEqual([]);
  });

  it("names a run one way: each feature's run is <Feature>Run, never Run, LeasedRun or SweepState again", () => {
    const runClass = /\bclass\s+(\w*Run|SweepState)\b/g;
    const runs = src.flatMap(({ path, text }) => [...text.matchAll(runClass)].map((m) => `${m[1]} in ${path}`)).sort();
    expect(runs).toEqual([
      `AccessRun in ${join('src', 'access', 'run.ts')}`,
      `CredentialsRun in ${join('src', 'credentials', 'credentialsRun.ts')}`,
      `SweepRun in ${join('src', 'resources', 'sweepRun.ts')}`,
      `WorkloadRun in ${join('src', 'workload', 'workloadRun.ts')}`,
    ]);
    for (const old of ['Run', 'LeasedRun', 'SweepState']) expect(definitionsOf(old)).toEqual([]);
  });

  it('catches the copies it is meant to catch (a check that finds nothing proves nothing)', () => {
    const code = [
      "const t = 'microsoft.compute/virtualmachines';",
      "const q = `resources | where type =~ 'Microsoft.KeyVault/vaults' and name =~ '${n}'`;",
      'const r = /providers\\/microsoft\\.containerregistry\\/registries\\//i;',
      '// a comment naming Microsoft.Web/sites is not code',
      "const example = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Web/sites/app';",
    ].join('\n');
    expect(typeLiteralsIn('x.ts', code)).toEqual([
      'microsoft.compute/virtualmachines',
      "resources | where type =~ 'Microsoft.KeyVault/vaults' and name =~ '",
      '/providers/microsoft.containerregistry/registries//i',
    ]);
    expect(
      idKeyCopiesIn(
        'const k = normalizeResourceId(id) ?? id.toLowerCase();\nconst j = normalizeResourceId(a.scope) ?? a.scope.toLowerCase();\nconst ok = resourceIdKey(id);',
      ),
    ).toHaveLength(2);
    expect(idKeyCopiesIn('const k = parsed?.normalized ?? row.id.toLowerCase();')).toHaveLength(1);
    expect(/\b(const|let|var|interface|type|enum)\s+CONSUMER_TYPES\b(?!\s*\})/.test('const CONSUMER_TYPES = new Set<string>();')).toBe(
      true,
    );
    expect(/\b(const|let|var|interface|type|enum)\s+Trigger\b(?!\s*\})/.test('export type { Trigger } from "./x.js";')).toBe(false);
  });
});

describe('the resource type table', () => {
  const rows = Object.values(RESOURCE_TYPES);

  it('gives every watched type an api-version, and the generic ARM reads use exactly the table’s versions', () => {
    for (const row of rows.filter((r) => r.watched)) expect(API_VERSIONS[row.type.toLowerCase()], row.type).toBeDefined();
    expect(API_VERSIONS).toEqual(
      Object.fromEntries(rows.flatMap((r) => ('apiVersion' in r ? [[r.type.toLowerCase(), r.apiVersion]] : []))),
    );
  });

  it('is what the Event Grid filter subscribes to: write and delete of each watched type, plus tag writes', () => {
    const expected = rows.filter((r) => r.watched).flatMap((r) => [`${r.type}/write`, `${r.type}/delete`]);
    expect([...RESOURCE_OPERATION_NAMES].sort()).toEqual([...expected, TAGS_WRITE_OPERATION].sort());
    expect(RESOURCE_EVENT_SUBSCRIPTION.advancedFilters[0]?.values).toBe(RESOURCE_OPERATION_NAMES);
    // Event Grid's StringIn filter takes at most 25 values.
    expect(RESOURCE_OPERATION_NAMES.length).toBeLessThanOrEqual(25);
  });

  // The emulator keeps its own table (emulator/ never imports src/), taken from the REST specs'
  // folders; the two must name each type alike, in ARM's casing, and the emulator must accept the
  // version the app reads it with.
  it.each(rows.map((r) => [r.type, r] as const))('spells %s as the emulator’s table (the REST specs) does', (_, row) => {
    const [namespace, ...types] = row.type.split('/');
    const found = apiVersionsFor(
      `/subscriptions/s/resourceGroups/rg/providers/${namespace}/${types.map((t, i) => `${t}/n${i}`).join('/')}`,
    );
    expect(found && `${found.namespace}/${found.type}`).toBe(row.type);
    if ('apiVersion' in row) expect(found?.versions).toContain(row.apiVersion);
  });

  it('derives the watched types and consumer kinds from the roles', () => {
    expect(new Set(Object.values(WATCHED_RESOURCE_TYPES))).toEqual(new Set(rows.filter((r) => r.watched).map((r) => r.type.toLowerCase())));
    expect(CONSUMER_TYPES).toEqual(new Set(rows.filter((r) => r.role === RESOURCE_ROLES.consumer).map((r) => r.type.toLowerCase())));
    expect([...CONSUMER_TYPES]).not.toContain(WATCHED_RESOURCE_TYPES.registry);
    expect([...CONSUMER_TYPES]).not.toContain(WATCHED_RESOURCE_TYPES.keyVault);
    // The sweep settles every consumer kind but container groups (as before the table; see issue 19.3).
    expect([...CONSUMER_TYPES].filter((t) => !SWEPT_CONSUMER_TYPES.has(t))).toEqual([WATCHED_RESOURCE_TYPES.containerGroup]);
  });
});
