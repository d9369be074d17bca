import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
const imports = (text: string) => [...text.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);

describe('src/ layering', () => {
  it('never mentions or imports the emulator, Azurite, the local host or tests', () => {
    const offending = src.filter(({ text }) => /emulator|azurite/i.test(text) || imports(text).some((i) => /(^|\/)(emulator|devhost|test|scripts)\//.test(i)));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('imports Azure SDK clients only in src/azure/', () => {
    const sdk = /^@azure\/(arm-|identity|keyvault-|data-tables|core-rest-pipeline)|^@azure-rest\//;
    const offending = src.filter(({ path, text }) => !path.startsWith(join('src', 'azure')) && imports(text).some((i) => sdk.test(i) && !/^import type/m.test(text.split('\n').find((l) => l.includes(`'${i}'`)) ?? '')));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('imports @azure/functions only in src/functions/ and the entry point', () => {
    const offending = src.filter(({ path, text }) => !path.startsWith(join('src', 'functions')) && path !== join('src', 'index.ts') && imports(text).includes('@azure/functions'));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('keeps src/policy/ pure: no Node I/O (hashing aside), no SDK, no other layer', () => {
    const offending = src.filter(({ path, text }) => path.startsWith(join('src', 'policy')) && imports(text).some((i) => (/^node:/.test(i) && i !== 'node:crypto') || /^@azure|^\.\.\/(azure|access|assignments|credentials|workload|audit|functions|api)\//.test(i)));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  // Issue 14: one role-assignment executor for every feature, below them all, so no feature imports another for it.
  it('keeps src/assignments/ below the features: it imports none of them', () => {
    const offending = src.filter(({ path, text }) => path.startsWith(join('src', 'assignments')) && imports(text).some((i) => /^\.\.\/(access|credentials|workload|functions|api)\//.test(i)));
    expect(offending.map((f) => f.path)).toEqual([]);
  });

  it('keeps workload identity and pull credentials apart from registry access: they share the executor, not each other', () => {
    const offending = src.filter(({ path, text }) => (path.startsWith(join('src', 'workload')) || path.startsWith(join('src', 'credentials'))) && imports(text).some((i) => /^\.\.\/(access|workload|credentials)\//.test(i)));
    expect(offending.map((f) => f.path)).toEqual([]);
  });
});
