/**
 * The chaos harness (`npm run chaos`, issue #16) at a tiny size, so it cannot rot: three instances
 * behind one address, the demo's world, generated hostile deliveries and requests through the real
 * path, a changing workload (grants, a federated identity re-tagged, a registry enrolled and rotated)
 * run clean and under faults, an instance killed with SIGKILL during a burst of grants and again
 * during forced rotations, and the leak scan over every log
 * line, table row, HTTP answer and file of the run. Unlike
 * the bench, the chaos goals hold at any size: a 5xx, a change, an unaudited event or a leak at the
 * tiny size is a bug, so the test asserts every goal is met.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { formatTable } from '../../bench/report.js';
import { runChaos } from '../../chaos/harness.js';
import { finalStateFigures, type Outcome } from '../../chaos/faults.js';
import { findLeaks } from '../../chaos/leaks.js';
import { parseArgs, settingsFor } from '../../chaos/settings.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

describe('npm run chaos', () => {
  it('meets every goal at a tiny size with three instances, and prints each figure beside its goal', { timeout: 120_000 }, async () => {
    const lines: string[] = [];
    const results = await runChaos({
      settings: settingsFor('tiny'),
      repoRoot,
      appEntry: inject('appEntry'),
      tables: { endpoint: inject('tablesEndpoint'), connectionString: inject('tablesConnectionString') },
      tablePrefix: `chaos${Date.now().toString(36)}`,
      log: (line) => lines.push(line),
    });
    const table = formatTable(results.figures);
    expect(results.errors, lines.join('\n')).toEqual([]);
    for (const name of [
      /^secrets found/,
      /^instances crashed/,
      /^deliveries answered 5xx/,
      /^requests answered 5xx/,
      /^changes on the emulator/,
      /^accepted events without an audit row/,
      /^refusals without a clear error/,
      /^routes reached/,
      /^final assignments that differ/,
      /^final federated credentials that differ/,
      /^final Key Vault state that differs/,
      /^duplicate assignments/,
      /^assignments made by hand touched/,
      /^grants missing once events settle/,
      /^grants missing after one sweep/,
      /^grants doubled/,
      /^served passwords that did not sign in/,
      /^most passwords on one application/,
      /^rotation requests answered 202 and never carried out/,
      /^credential grants lost or doubled/,
    ]) {
      const figure = results.figures.find((f) => name.test(f.name));
      expect(figure, String(name)).toBeDefined();
      expect(figure!.met, `${figure!.name}: ${JSON.stringify(figure!.detail)}\n${table}`).toBe(true);
    }
    expect(results.figures.find((f) => /^instances killed during the burst/.test(f.name))!.value).toBeGreaterThanOrEqual(1);
    expect(results.figures.find((f) => /^instances killed during the rotations/.test(f.name))!.value).toBeGreaterThanOrEqual(1);
    // The faulted run federated and rotated: the comparison had something to compare.
    expect(results.figures.find((f) => /^federated credentials at the end/.test(f.name))!.display).toBe('2 / 2');
    expect(results.figures.find((f) => /^faults met/.test(f.name))!.value).toBeGreaterThan(0);
    // The scan had something to find: the run issued tokens, a password and vault values.
    expect(results.figures.find((f) => /^secrets issued/.test(f.name))!.value).toBeGreaterThan(5);
    expect(table).toMatch(/\| 5\. No leaks +\| secrets found in them +\| 0 +\| 0 +\| met +\|/);
    // The leak scan reads what killed and replaced instances wrote too, not only the survivors' lines:
    // a tiny run kills at least two instances, and what they wrote before the kill is scanned.
    const scanned = results.figures.find((f) => /^places scanned/.test(f.name))!.display;
    expect(Number(/\((\d+) from replaced instances\)/.exec(scanned ?? '')?.[1]), String(scanned)).toBeGreaterThan(0);
  });
});

describe('chaos arithmetic', () => {
  it('finds a secret wherever it is, and reports only its first characters', () => {
    const secret = { kind: 'Graph password' as const, value: 'pA55w0rd~very-secret-1234' };
    const leaks = findLeaks(
      [secret],
      [
        { place: 'log line', where: 'instance 1 line 3', text: `rotated: ${secret.value}` },
        { place: 'audit row', where: 'row', text: 'nothing here' },
      ],
    );
    expect(leaks).toEqual([{ kind: 'Graph password', place: 'log line', where: 'instance 1 line 3', hint: 'pA55…' }]);
  });

  it('reports a final state that differs between the clean and the faulted run as MISSED, part by part', () => {
    const clean: Outcome = {
      assignments: ['acr1|id-shared|7f951dda-4ed3-4680-a7ca-43fe172d538d', 'acr1|vm-0 system|7f951dda-4ed3-4680-a7ca-43fe172d538d'],
      duplicates: 0,
      handMadeIntact: true,
      federated: [
        'name as derived|the cluster issuer|system:serviceaccount:apps:jobs',
        'name as derived|the cluster issuer|system:serviceaccount:apps:worker',
      ],
      vault: ['<run>acr3-pull-pwd', '<run>acr3-pull-usr', 'served password signs in'],
    };
    const missed = (faulted: Outcome) =>
      finalStateFigures(clean, faulted, { injected: 1, dropped: 0 })
        .filter((f) => f.met === false)
        .map((f) => f.name);
    expect(missed(clean)).toEqual([]);
    // A federated credential left behind by the re-tag, and one with another issuer.
    expect(
      missed({ ...clean, federated: [...clean.federated, 'name as derived|the cluster issuer|system:serviceaccount:apps:api'] }),
    ).toEqual(['final federated credentials that differ']);
    expect(
      missed({ ...clean, federated: ['name as derived|another issuer https://x/|system:serviceaccount:apps:jobs', clean.federated[1]!] }),
    ).toEqual(['final federated credentials that differ']);
    // A secret missing, or a served password that no longer signs in.
    expect(missed({ ...clean, vault: ['<run>acr3-pull-usr', 'served password signs in'] })).toEqual(['final Key Vault state that differs']);
    expect(
      missed({ ...clean, vault: ['<run>acr3-pull-pwd', '<run>acr3-pull-usr', 'served password does not sign in (invalid_client)'] }),
    ).toEqual(['final Key Vault state that differs']);
    expect(missed({ ...clean, assignments: clean.assignments.slice(1) })).toEqual(['final assignments that differ']);
    // Both runs equally broken is no pass: nothing federated, or a password that does not sign in in either.
    expect(
      finalStateFigures({ ...clean, federated: [] }, { ...clean, federated: [] }, { injected: 1, dropped: 0 }).find(
        (f) => f.name === 'final federated credentials that differ',
      )!.met,
    ).toBe(false);
    const broken = { ...clean, vault: ['served password does not sign in (invalid_client)'] };
    expect(
      finalStateFigures(broken, broken, { injected: 1, dropped: 0 }).find((f) => f.name === 'final Key Vault state that differs')!.met,
    ).toBe(false);
    expect(formatTable(finalStateFigures(clean, { ...clean, vault: [] }, { injected: 1, dropped: 0 }))).toMatch(
      /final Key Vault state that differs +\| 3 +\| 0 +\| MISSED/,
    );
  });

  it('reads sizes and overrides from the command line, and refuses what it does not know', () => {
    expect(parseArgs([]).settings).toMatchObject({ size: 'full', instances: 3, deliveries: 10_000, requests: 10_000 });
    expect(parseArgs(['--size', 'small', '--deliveries=50', '--seed', '7']).settings).toMatchObject({
      size: 'small',
      deliveries: 50,
      seed: 7,
      rotations: 20,
    });
    expect(parseArgs(['--rotations', '200']).settings.rotations).toBe(200);
    expect(() => parseArgs(['--size', 'huge'])).toThrow(/--size/);
    expect(() => parseArgs(['--deliveries', '-1'])).toThrow(/whole number/);
    expect(() => parseArgs(['--frobnicate', '1'])).toThrow(/unknown option/);
  });
});
