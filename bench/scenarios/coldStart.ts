/**
 * 5. Cold start: fresh Node processes loading the app — the bundle the host deploys
 * (`dist/index.cjs`, one file) against the unbundled build of the same sources (esbuild with
 * `bundle: false`: one file per module, `@azure/*` and the rest from node_modules).
 *
 * Each child first installs the local host's `@azure/functions-core` (devhost/functionsCore.ts,
 * built here to plain CommonJS so no TypeScript loader sits in the measured process), then times
 * the app's import alone with `performance.now()`; the parent also times the whole process, spawn
 * to exit. Both builds alternate, after one discarded run each (the OS file cache warm for both).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { median } from '../benchStack.js';
import type { Figure } from '../report.js';
import type { BenchSettings } from '../settings.js';

const CHILD = `'use strict';
const { pathToFileURL } = require('node:url');
const hook = process.argv[2];
const entry = process.argv[3];
const { installFunctionsCore } = require(hook);
const registry = installFunctionsCore(() => {});
const t0 = performance.now();
const loaded = entry.endsWith('.cjs') ? Promise.resolve(require(entry)) : import(pathToFileURL(entry).href);
loaded.then(() => {
  const t1 = performance.now();
  process.stdout.write(JSON.stringify({ importMs: t1 - t0, sinceStartMs: t1, functions: registry.functions.length }));
  process.exit(0);
}, (error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
`;

export interface ColdStartBuilds {
  readonly hook: string;
  readonly child: string;
  readonly unbundledEntry: string;
  readonly unbundledFiles: number;
}

/** Builds the hook, the child script and the unbundled app under `dir` (inside the repo, so node_modules resolves). */
export async function prepareColdStart(repoRoot: string, dir: string): Promise<ColdStartBuilds> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const hook = join(dir, 'functionsCore.cjs');
  await build({
    entryPoints: [join(repoRoot, 'devhost/functionsCore.ts')],
    outfile: hook,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  const child = join(dir, 'coldStartChild.cjs');
  writeFileSync(child, CHILD);
  const sources = listTs(join(repoRoot, 'src'));
  const outdir = join(dir, 'unbundled');
  // ESM like the sources (the repo's package.json says "type": "module"); imports keep their `.js` names.
  await build({
    entryPoints: sources,
    outdir,
    outbase: join(repoRoot, 'src'),
    bundle: false,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
  });
  return { hook, child, unbundledEntry: join(outdir, 'index.js'), unbundledFiles: sources.length };
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? listTs(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.d.ts') ? [join(dir, d.name)] : [],
  );
}

interface Sample {
  readonly importMs: number;
  readonly processMs: number;
  readonly functions: number;
}

function loadOnce(builds: ColdStartBuilds, entry: string, cwd: string): Sample {
  const env = { ...process.env };
  delete env['NODE_OPTIONS']; // no loader (tsx) in the measured process
  const started = performance.now();
  const run = spawnSync(process.execPath, [builds.child, builds.hook, entry], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  const processMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`loading ${relative(cwd, entry)} failed: ${run.stderr.slice(0, 500)}`);
  const out = JSON.parse(run.stdout) as { importMs: number; functions: number };
  return { importMs: out.importMs, processMs, functions: out.functions };
}

export async function runColdStart(
  repoRoot: string,
  bundleEntry: string,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<Figure[]> {
  // Inside the repo (git-ignored .local/), so the unbundled build finds node_modules; one directory per run.
  const dir = join(repoRoot, '.local', `bench-coldstart-${process.pid}`);
  const builds = await prepareColdStart(repoRoot, dir);
  const bundled: Sample[] = [];
  const unbundled: Sample[] = [];
  try {
    loadOnce(builds, bundleEntry, repoRoot);
    loadOnce(builds, builds.unbundledEntry, repoRoot);
    for (let i = 0; i < settings.coldStartRuns; i++) {
      bundled.push(loadOnce(builds, bundleEntry, repoRoot));
      unbundled.push(loadOnce(builds, builds.unbundledEntry, repoRoot));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const functions = new Set([...bundled, ...unbundled].map((s) => s.functions));
  if (functions.size !== 1) throw new Error(`the two builds registered different functions: ${[...functions].join(' vs ')}`);
  const stats = (samples: Sample[]) => {
    const imports = samples.map((s) => s.importMs);
    return {
      minMs: round(Math.min(...imports)),
      medianMs: round(median(imports)),
      processMedianMs: round(median(samples.map((s) => s.processMs))),
      runs: imports.map(round),
    };
  };
  const b = stats(bundled);
  const u = stats(unbundled);
  const ratio = Math.round((b.medianMs / u.medianMs) * 100) / 100;
  const sizeMb = Math.round((statSync(bundleEntry).size / 2 ** 20) * 100) / 100;
  log(`  cold start: bundled median ${b.medianMs} ms, unbundled ${u.medianMs} ms`);
  const scenario = `5. Cold start (import, ${settings.coldStartRuns} runs)`;
  return [
    {
      scenario,
      name: 'bundled: min / median',
      value: b.medianMs,
      unit: 'ms',
      display: `${b.minMs} / ${b.medianMs} ms (process ${b.processMedianMs} ms)`,
      detail: b,
    },
    {
      scenario,
      name: 'unbundled: min / median',
      value: u.medianMs,
      unit: 'ms',
      display: `${u.minMs} / ${u.medianMs} ms (process ${u.processMedianMs} ms)`,
      detail: { ...u, sourceFiles: builds.unbundledFiles },
    },
    { scenario, name: 'bundled / unbundled (median)', value: ratio, unit: '', goal: '< 1 (bundle loads faster)', met: ratio < 1 },
    {
      scenario,
      name: 'bundle size (one file)',
      value: sizeMb,
      unit: 'MB',
      detail: { bytes: statSync(bundleEntry).size, functions: [...functions][0] },
    },
  ];
}

const round = (n: number) => Math.round(n * 10) / 10;
