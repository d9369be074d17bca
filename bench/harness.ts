/**
 * Runs the bench: cold start first (fresh processes, no stack running), then one stack on free
 * ports for the scenarios that go through the real path. Each scenario's failure is recorded and
 * the others still run; the stack is always stopped.
 */
import { resolve } from 'node:path';
import { startBenchStack } from './benchStack.js';
import { currentCommit, describeMachine, type BenchResults, type Figure } from './report.js';
import { runBurst } from './scenarios/burst.js';
import { runCalls } from './scenarios/calls.js';
import { runColdStart } from './scenarios/coldStart.js';
import { runLatency } from './scenarios/latency.js';
import { runRotation } from './scenarios/rotation.js';
import { runScale } from './scenarios/scale.js';
import { burstBucket, type BenchSettings, type ScenarioName } from './settings.js';
import { loadavg } from 'node:os';

export interface RunBenchOptions {
  readonly settings: BenchSettings;
  readonly repoRoot: string;
  /** The bundle the host loads and the cold start measures; default dist/index.cjs. */
  readonly appEntry?: string;
  /** Shared Table Storage (the harness test's Azurite) instead of the stack's own. */
  readonly tables?: { readonly endpoint: string; readonly connectionString: string };
  readonly tablePrefix?: string;
  readonly command?: string;
  readonly log?: (line: string) => void;
}

export async function runBench(options: RunBenchOptions): Promise<BenchResults> {
  const { settings, repoRoot } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const appEntry = resolve(repoRoot, options.appEntry ?? 'dist/index.cjs');
  const machine = describeMachine();
  const startedAt = new Date();
  const figures: Figure[] = [];
  const errors: { scenario: string; error: string }[] = [];
  const wants = (name: ScenarioName) => settings.scenarios.includes(name);
  const attempt = async (scenario: ScenarioName, run: () => Promise<Figure[]>) => {
    if (!wants(scenario)) return;
    const t = Date.now();
    log(`${scenario} …`);
    try {
      figures.push(...(await run()));
    } catch (error) {
      errors.push({ scenario, error: error instanceof Error ? error.message : String(error) });
      log(`  ${scenario} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
    log(`  ${scenario} took ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };

  await attempt('coldStart', () => runColdStart(repoRoot, appEntry, settings, log));
  if (settings.scenarios.some((s) => s !== 'coldStart')) {
    const s = await startBenchStack({
      appEntry,
      ...(options.tables ? { tables: options.tables } : {}),
      ...(options.tablePrefix ? { tablePrefix: options.tablePrefix } : {}),
    });
    log(`stack: emulator ${s.stack.endpoints.arm}, functions ${s.stack.endpoints.functions} (host pid ${s.stack.host.pid})`);
    try {
      await attempt('latency', () => runLatency(s, settings, log));
      await attempt('calls', () => runCalls(s, settings, log));
      if (settings.burstInstances.includes(1)) await attempt('burst', () => runBurst(s, settings, log));
      await attempt('rotation', () => runRotation(s, settings, log));
      // Last: its 5,000 seeded consumers would weigh on every scenario after it.
      await attempt('scale', () => runScale(s, settings, log));
    } finally {
      await s.stop();
    }
  }
  // The burst again with several instances behind one address, each its own process with its own pacer (issue 15.1).
  for (const instances of wants('burst') ? settings.burstInstances.filter((n) => n > 1) : []) {
    const many = await startBenchStack({
      appEntry,
      instances,
      ...(options.tables ? { tables: options.tables } : {}),
      tablePrefix: `${options.tablePrefix ?? 'bench'}x${instances}`,
    });
    log(`stack: ${instances} instances behind ${many.stack.endpoints.functions}`);
    try {
      await attempt('burst', () => runBurst(many, settings, log, { instances }));
    } finally {
      await many.stop();
    }
  }

  // The table's order: by scenario number, as the issue lists them.
  figures.sort((a, b) => a.scenario.localeCompare(b.scenario, 'en', { numeric: true }));
  return {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    command: options.command ?? 'npm run bench',
    commit: currentCommit(repoRoot),
    machine: { ...machine, loadAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    settings: { ...settings, burstBucket: burstBucket(settings), appEntry },
    figures,
    errors,
  };
}
