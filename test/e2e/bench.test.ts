/**
 * The bench harness (`npm run bench`, issue #10) at a tiny size, so it cannot rot: every scenario
 * runs through the real path — its own emulator and local host on free ports, the shared Azurite —
 * and produces every figure, the table and the results' shape. No timing is asserted here: this
 * machine's timings belong in bench/results.json, not in a test.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { runBench } from '../../bench/harness.js';
import { formatTable, summarise, type BenchResults } from '../../bench/report.js';
import { checkRetries } from '../../bench/scenarios/burst.js';
import { burstBucket, parseArgs, settingsFor } from '../../bench/settings.js';
import { percentile } from '../../bench/benchStack.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Every figure the issue asks for, by scenario: a name each figure's name starts with. */
const EXPECTED: ReadonlyArray<readonly [RegExp, RegExp]> = [
  [/^1\. Event → grant, ARM \+0 ms/, /^p50/],
  [/^1\. Event → grant, ARM \+0 ms/, /^p95/],
  [/^1\. Event → grant, ARM \+0 ms/, /^p99/],
  [/^1\. Event → grant, ARM \+100 ms/, /^p99/],
  [/^2\. ARM calls per event/, /^new tagged VM/],
  [/^2\. ARM calls per event/, /^same event redelivered/],
  [/^2\. ARM calls per event/, /^tag removed/],
  [/^2\. ARM calls per event/, /^registry created, 3 consumers waiting/],
  [/^3\. Burst/, /^all granted \/ bucket bound/],
  [/^3\. Burst/, /^429s \/ write attempts/],
  [/^3\. Burst/, /^failed deliveries/],
  [/^3\. Burst/, /^ARM calls per event/],
  [/^3\. Burst/, /^duplicate \/ missing assignments/],
  [/^3\. Burst/, /^429s retried after Retry-After/],
  [/^4\. Rotation/, /^one rotation/],
  [/^4\. Rotation/, /^2 due at once/],
  [/^4\. Rotation/, /^Graph calls per rotation/],
  [/^4\. Rotation/, /^Key Vault calls per rotation/],
  [/^5\. Cold start/, /^bundled: min \/ median/],
  [/^5\. Cold start/, /^unbundled: min \/ median/],
  [/^5\. Cold start/, /^bundled \/ unbundled/],
  [/^5\. Cold start/, /^bundle size/],
  [/^6\. Memory/, /^host peak RSS during the burst/],
  [/^7a\. At scale: registry event/, /^Resource Graph rows read/],
  [/^7a\. At scale: registry event/, /^grants written/],
  [/^7b\. At scale: quiet sweep/, /^ARM writes/],
  [/^7b\. At scale: quiet sweep/, /^audit rows/],
  [/^7b\. At scale: quiet sweep/, /^ARM calls/],
  [/^7b\. At scale: quiet sweep/, /^Resource Graph calls/],
  [/^7b\. At scale: quiet sweep/, /^time/],
];

describe('npm run bench', () => {
  it('produces every figure, the table and results.json at a tiny size', { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const results = await runBench({
      settings: settingsFor('tiny'),
      repoRoot,
      appEntry: inject('appEntry'),
      tables: { endpoint: inject('tablesEndpoint'), connectionString: inject('tablesConnectionString') },
      tablePrefix: `bench${Date.now().toString(36)}`,
      log: (line) => lines.push(line),
    });

    expect(results.errors, lines.join('\n')).toEqual([]);
    for (const [scenario, name] of EXPECTED) {
      const figure = results.figures.find((f) => scenario.test(f.scenario) && name.test(f.name));
      expect(figure, `${scenario} ${name}`).toBeDefined();
      expect(figure!.value, `${figure!.scenario} ${figure!.name}`).not.toBeNull();
    }
    // Outcomes that do not depend on speed: nothing missing or duplicated, every 429 honoured.
    const byName = (name: RegExp) => results.figures.find((f) => name.test(f.name))!;
    expect(byName(/^duplicate \/ missing assignments/).value).toBe(0);
    expect(byName(/^429s retried/).met).toBe(true);
    // The burst ran with one instance and with three (issue 15.1), each with its own figures.
    expect(
      results.figures
        .filter((f) => /^3\. Burst/.test(f.scenario) && /^duplicate \/ missing/.test(f.name))
        .map((f) => [f.scenario.replace(/^.*throttled, /, ''), f.value]),
    ).toEqual([
      ['1 instance', 0],
      ['3 instances', 0],
    ]);
    expect(byName(/^VMs without a grant/).value).toBe(0);
    // At scale (issue 15): rows read within twice those naming the registry, each granted, and a settled sweep writes nothing but its summaries.
    const atScale = (scenario: RegExp, name: RegExp) => results.figures.find((f) => scenario.test(f.scenario) && name.test(f.name))!;
    expect(atScale(/^7a\./, /^Resource Graph rows read/).met).toBe(true);
    expect(atScale(/^7a\./, /^grants written/).met).toBe(true);
    expect(atScale(/^7b\./, /^ARM writes/).value).toBe(0);
    expect(atScale(/^7b\./, /^audit rows/).met).toBe(true);

    const table = formatTable(results.figures).split('\n');
    expect(table[0]).toMatch(/^\| Scenario +\| Figure +\| Value +\| Goal +\| Met +\|$/);
    expect(table).toHaveLength(results.figures.length + 2);
    results.figures.forEach((f, i) => {
      const cells = table[i + 2]!.split('|').map((c) => c.trim());
      expect(cells.slice(1, 3)).toEqual([f.scenario, f.name]);
      expect(cells[5]).toBe(f.goal ? (f.met ? 'met' : 'MISSED') : '—');
    });

    const json = JSON.parse(JSON.stringify(results)) as BenchResults;
    expect(Object.keys(json).sort()).toEqual(['command', 'commit', 'durationMs', 'errors', 'figures', 'machine', 'settings', 'startedAt']);
    expect(json.machine).toMatchObject({ cores: expect.any(Number), memoryMb: expect.any(Number), node: process.version });
    expect(json.settings).toMatchObject({ size: 'tiny', burstBucket: { burst: expect.any(Number), refillPerSecond: expect.any(Number) } });
    expect(summarise(results)).toMatch(/^\d+ figures, \d+ goals met/);
  });
});

describe('bench arithmetic', () => {
  it('keeps ARM’s bucket shape for the burst size and divides time by the scale', () => {
    expect(burstBucket({ burstVms: 1000, timeScale: 1 })).toEqual({
      burst: 200,
      refillPerSecond: 10,
      boundMs: 80_000,
      reads: { burst: 250, refillPerSecond: 25 },
    });
    expect(burstBucket({ burstVms: 1000, timeScale: 2 })).toEqual({
      burst: 200,
      refillPerSecond: 20,
      boundMs: 40_000,
      reads: { burst: 250, refillPerSecond: 50 },
    });
    expect(burstBucket({ burstVms: 200, timeScale: 4 })).toEqual({
      burst: 40,
      refillPerSecond: 8,
      boundMs: 20_000,
      reads: { burst: 50, refillPerSecond: 20 },
    });
  });

  it('pairs each 429 with the next request for the same URL', () => {
    const x = (status: number, startedAt: number, finishedAt: number, retryAfterSeconds?: number) => ({
      method: 'PUT',
      path: '/a',
      status,
      startedAt,
      finishedAt,
      ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
    });
    expect(checkRetries([x(429, 0, 10, 1), x(201, 1010, 1020)])).toMatchObject({
      throttled: 1,
      retriedAfterRetryAfter: 1,
      retriedEarly: 0,
      neverRetried: 0,
    });
    expect(checkRetries([x(429, 0, 10, 1), x(201, 500, 510)])).toMatchObject({ throttled: 1, retriedAfterRetryAfter: 0, retriedEarly: 1 });
    expect(checkRetries([x(429, 0, 10, 1)])).toMatchObject({ throttled: 1, neverRetried: 1 });
  });

  it.each([
    [50, 5],
    [95, 10],
    [99, 10],
  ])('takes p%i by nearest rank', (p, expected) => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], p)).toBe(expected);
  });

  it('reads sizes and overrides from the command line, and refuses what it does not know', () => {
    expect(parseArgs(['--size', 'small', '--burst-vms=300', '--only', 'burst']).settings).toMatchObject({
      size: 'small',
      burstVms: 300,
      scenarios: ['burst'],
    });
    expect(parseArgs([]).settings).toMatchObject({
      size: 'full',
      latencyVms: 200,
      burstVms: 1000,
      waitingConsumers: 50,
      rotations: 100,
      coldStartRuns: 10,
    });
    expect(() => parseArgs(['--size', 'huge'])).toThrow(/--size/);
    expect(() => parseArgs(['--frobnicate', '1'])).toThrow(/unknown option/);
  });
});
