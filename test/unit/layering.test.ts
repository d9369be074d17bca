import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

// STYLE.md: dependencies flow functions → use cases → azure → SDK, and production code does not
// know about the emulator. These hold the tree to it.
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}
const src = filesUnder('src').map((path) => ({ path, text: readFileSync(path, 'utf8') }));
const imports = (text: string) => importStatements(text).map((i) => i.from);
/** Every import and re-export at the top level, with whether it brings in types only (erased at build). */
function importStatements(text: string): { from: string; typeOnly: boolean }[] {
  return [...text.matchAll(/^(import|export)(\s+type\b)?([^'";]*?\bfrom\s+|\s+)['"]([^'"]+)['"]/gm)]
    .filter((m) => m[1] === 'import' || /\bfrom\s+$/.test(m[3]!))
    .map((m) => ({ from: m[4]!, typeOnly: Boolean(m[2]) }));
}
/** The src/ files one file imports by relative path, type-only imports included (a type import ties modules too). */
function localImports(path: string, text: string): string[] {
  return imports(text)
    .filter((i) => i.startsWith('.'))
    .map((i) => normalize(join(dirname(path), i.replace(/\.js$/, '.ts'))));
}
/** Each import circle among the given files, as the path that closes it (depth-first, each circle once per entry file). */
function circles(files: readonly { path: string; text: string }[]): string[][] {
  const edges = new Map(files.map(({ path, text }) => [path, localImports(path, text)]));
  const found: string[][] = [];
  const done = new Set<string>();
  const walk = (path: string, trail: string[]) => {
    const at = trail.indexOf(path);
    if (at >= 0) return void found.push([...trail.slice(at), path]);
    if (done.has(path)) return;
    for (const next of edges.get(path) ?? []) walk(next, [...trail, path]);
    done.add(path);
  };
  for (const { path } of files) walk(path, []);
  return found;
}

/** The folder (or top-level file) under src/ a path sits in: `access`, `resources`, `reconciler.ts`. */
function areaOf(path: string): string {
  return normalize(path).split(/[\\/]/)[1] ?? '';
}
const FEATURE_AREAS = ['access', 'workload', 'credentials'];
/** Shared by the features, so below them all: they import no feature and not the resources layer. */
const BELOW_FEATURES = ['assignments', 'reconciler.ts', 'state', 'metrics', 'schedule.ts'];
/**
 * Issue 17, the resources layer: the imports that break it, as `from → to`. A feature imports no
 * other feature and not src/resources/ (the layer above them that hands each a changed resource);
 * what features share lives below them and imports none of them.
 */
function layerCrossings(files: readonly { path: string; text: string }[]): string[] {
  return files.flatMap(({ path, text }) => {
    const from = areaOf(path);
    const forbidden = (to: string) =>
      FEATURE_AREAS.includes(from)
        ? to !== from && (FEATURE_AREAS.includes(to) || to === 'resources')
        : BELOW_FEATURES.includes(from)
          ? FEATURE_AREAS.includes(to) || to === 'resources'
          : false;
    return localImports(path, text)
      .filter((to) => forbidden(areaOf(to)))
      .map((to) => `${path} → ${to}`);
  });
}

describe('src/ layering', () => {
  it('never mentions or imports the emulator, Azurite, the local host or tests', () => {
    const offending = src.filter(
      ({ text }) => /emulator|azurite/i.test(text) || imports(text).some((i) => /(^|\/)(emulator|devhost|test|scripts)\//.test(i)),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 17: `@azure/eventgrid` slipped past a list of SDK names; now every @azure package but the
  // Functions runtime counts, and only type imports (erased at build) may stand outside src/azure/.
  it('imports Azure SDK packages only in src/azure/ (types aside)', () => {
    const sdk = /^@azure(-rest)?\//;
    const offending = src.filter(
      ({ path, text }) =>
        !path.startsWith(join('src', 'azure')) &&
        importStatements(text).some((i) => sdk.test(i.from) && i.from !== '@azure/functions' && !i.typeOnly),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('reads `import type` and re-exports as the layering rules need', () => {
    const text = [
      "import type { A } from '@azure/data-tables';",
      "import { EventGridDeserializer } from '@azure/eventgrid';",
      "import {\n  b,\n  type C,\n} from './multi.js';",
      "export { D } from './reexported.js';",
      "export const e = 'not an import';",
    ].join('\n');
    expect(importStatements(text)).toEqual([
      { from: '@azure/data-tables', typeOnly: true },
      { from: '@azure/eventgrid', typeOnly: false },
      { from: './multi.js', typeOnly: false },
      { from: './reexported.js', typeOnly: false },
    ]);
    expect(
      circles([
        { path: join('src', 'policy', 'a.ts'), text: "import type { B } from './b.js';" },
        { path: join('src', 'policy', 'b.ts'), text: "import { a } from './a.js';" },
      ]),
    ).toEqual([[join('src', 'policy', 'a.ts'), join('src', 'policy', 'b.ts'), join('src', 'policy', 'a.ts')]]);
  });

  it('imports @azure/functions only in src/functions/ and the entry point', () => {
    const offending = src.filter(
      ({ path, text }) =>
        !path.startsWith(join('src', 'functions')) && path !== join('src', 'index.ts') && imports(text).includes('@azure/functions'),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 17: policy imported config.ts for a type (ConsentDefault); the closed set now lives in
  // policy and config imports it. Policy reaches nothing outside its own folder.
  it('keeps src/policy/ pure: no Node I/O (hashing aside), no SDK, nothing outside src/policy/', () => {
    const offending = src.filter(
      ({ path, text }) =>
        path.startsWith(join('src', 'policy')) &&
        imports(text).some(
          (i) => (/^node:/.test(i) && i !== 'node:crypto') || /^@azure/.test(i) || (i.startsWith('.') && !i.startsWith('./')),
        ),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 17: policy/consent.ts and policy/workloadTags.ts imported each other.
  it('has no import circles between src/ files, type imports included', () => {
    expect(circles(src)).toEqual([]);
  });

  // Issue 14: one role-assignment executor for every feature, below them all, so no feature imports another for it.
  it('keeps src/assignments/ below the features: it imports none of them', () => {
    const offending = src.filter(
      ({ path, text }) =>
        path.startsWith(join('src', 'assignments')) &&
        imports(text).some((i) => /^\.\.\/(access|credentials|workload|functions|api)\//.test(i)),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('keeps workload identity and pull credentials apart from registry access: they share the executor, not each other', () => {
    const offending = src.filter(
      ({ path, text }) =>
        (path.startsWith(join('src', 'workload')) || path.startsWith(join('src', 'credentials'))) &&
        imports(text).some((i) => /^\.\.\/(access|workload|credentials)\//.test(i)),
    );
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 17: access/ was also the dispatcher, importing workload identity and calling pull credentials back.
  it('keeps the features siblings under the resources layer: access/, workload/ and credentials/ import neither each other nor src/resources/', () => {
    expect(layerCrossings(src)).toEqual([]);
  });

  it('finds a feature importing another feature or the resources layer, and shared code importing a feature', () => {
    const file = (path: string, text: string) => ({ path: join('src', ...path.split('/')), text });
    expect(
      layerCrossings([
        file('access/sweep.ts', "import { reconcileWorkloadIdentity } from '../workload/reconcileWorkloadIdentity.js';"),
        file('workload/x.ts', "import type { ResourcesDeps } from '../resources/changedResource.js';"),
        file(
          'credentials/y.ts',
          "import { FEATURES } from '../reconciler.js';\nimport { ownershipOfListed } from '../assignments/executor.js';",
        ),
        file('assignments/z.ts', "import { identitiesOf } from '../access/identities.js';"),
        file('reconciler.ts', "import type { AccessDeps } from './access/accessDeps.js';"),
        file('resources/sweep.ts', "import { identitiesOf } from '../access/identities.js';\nimport { FEATURES } from '../reconciler.js';"),
      ]),
    ).toEqual([
      `${join('src', 'access', 'sweep.ts')} → ${join('src', 'workload', 'reconcileWorkloadIdentity.ts')}`,
      `${join('src', 'workload', 'x.ts')} → ${join('src', 'resources', 'changedResource.ts')}`,
      `${join('src', 'assignments', 'z.ts')} → ${join('src', 'access', 'identities.ts')}`,
      `${join('src', 'reconciler.ts')} → ${join('src', 'access', 'accessDeps.ts')}`,
    ]);
  });

  // Issue 17: `hasWorkloadDeps` let production code branch on the shape tests built; the composition root registers reconcilers instead.
  it('has no production code asking whether a dependency object carries a feature', () => {
    const offending = src.filter(({ text }) => /\bhas\w*Deps\b/.test(text));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 17: no file in src/ passes about 350 lines; a newcomer reads a module in one sitting.
  // The HTTP API (with the status page it serves) sits on top: only the trigger registrations hand
  // requests to it. Below it nothing reaches up for its types or helpers (status/ once did).
  it('lets only src/functions/ import the HTTP API', () => {
    const offending = src
      .filter(({ path }) => !['functions', 'api'].includes(areaOf(path)))
      .flatMap(({ path, text }) =>
        localImports(path, text)
          .filter((to) => areaOf(to) === 'api')
          .map((to) => `${path} → ${to}`),
      );
    expect(offending).toEqual([]);
  });

  // Counted as the formatter lays them out (npm test checks that every file is).
  it('keeps every file of the product (src/, emulator/, devhost/) at most 350 lines', () => {
    const product = [
      ...src,
      ...['emulator', 'devhost'].flatMap((dir) => filesUnder(dir).map((path) => ({ path, text: readFileSync(path, 'utf8') }))),
    ];
    const long = product
      .filter(({ text }) => text.split('\n').length > 350)
      .map(({ path, text }) => `${path}: ${text.split('\n').length} lines`);
    expect(long).toEqual([]);
  });
});
