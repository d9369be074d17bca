/**
 * Issue 18.4: `/api/health` says what is wrong — pull credentials expired, close to expiry or
 * overdue, the last sweep's time and outcome — each with a status a probe can act on.
 */
import { describe, expect, it } from 'vitest';
import { checkHealth, credentialHealth, type HealthProbes } from '../../../src/api/health.js';
import type { EnrolmentView } from '../../../src/credentials/enrolment.js';
import type { SweepRecord } from '../../../src/state/sweepRecord.js';
import { recordSweep } from '../../../src/state/recordSweep.js';
import { scheduleIntervalMs } from '../../../src/schedule.js';

const NOW = new Date('2026-12-06T12:00:00.000Z');
const day = (n: number) => new Date(NOW.getTime() + n * 86_400_000).toISOString();
const anEnrolment = (overrides: Partial<EnrolmentView> = {}): EnrolmentView => ({
  registryId:
    '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoacr',
  registryName: 'contosoacr',
  vaultName: 'kv-platform',
  status: 'active',
  source: 'tag',
  usernameSecret: 'contosoacr-pull-usr',
  passwordSecret: 'contosoacr-pull-pwd',
  periodDays: 90,
  phase: 'idle',
  currentExpiresOn: day(60),
  nextRotationAt: day(30),
  lastRotatedAt: day(-30),
  ...overrides,
});

function probes(overrides: Partial<HealthProbes> = {}): () => HealthProbes {
  return () => ({
    watchedSubscriptions: ['00000000-0000-0000-0000-000000000001'],
    tableStorage: async () => undefined,
    arm: async () => undefined,
    graph: async () => undefined,
    roleAssignments: async () => ({ total: 10, owned: 2 }),
    ...overrides,
  });
}

describe('credential health', () => {
  it.each([
    ['fine', {}, 'healthy', undefined],
    ['expired', { currentExpiresOn: day(-1) }, 'unhealthy', /expired on .*can no longer pull/],
    [
      'within 7 days of expiry',
      { currentExpiresOn: day(5), nextRotationAt: day(-25) },
      'degraded',
      /expires in 5 days without a successful rotation/,
    ],
    ['more than a day overdue', { nextRotationAt: day(-2) }, 'degraded', /rotation overdue since/],
    ["due, but within the timer's day", { nextRotationAt: day(-0.5) }, 'healthy', undefined],
    ['no proven password yet', { currentExpiresOn: undefined }, 'degraded', /no proven password yet/],
    [
      'a short life, not yet within its last third',
      { periodDays: 9, currentExpiresOn: day(4), nextRotationAt: day(1) },
      'healthy',
      undefined,
    ],
  ])('%s → %s', (_name, overrides, status, problem) => {
    const result = credentialHealth(anEnrolment(overrides as Partial<EnrolmentView>), NOW);
    expect(result.status).toBe(status);
    if (problem) expect(result.problem).toMatch(problem);
    else expect(result.problem).toBeUndefined();
  });
});

describe('checkHealth', () => {
  it('reports an expired credential as degraded with 200 semantics: restarting the app would not fix it', async () => {
    const health = await checkHealth(
      probes({
        enrolments: async () => [
          anEnrolment({ currentExpiresOn: day(-1) }),
          anEnrolment({ registryName: 'fabrikamacr', status: 'unenrolled', currentExpiresOn: day(-9) }),
        ],
      }),
      () => NOW,
    );
    expect(health.status).toBe('degraded');
    expect(health.credentials.status).toBe('unhealthy');
    expect(health.credentials.items.map((c) => c.registryName)).toEqual(['contosoacr']); // un-enrolled ones are not watched
  });

  it('stays unhealthy when a dependency is out of reach, whatever else is fine', async () => {
    const health = await checkHealth(
      probes({
        graph: async () => {
          throw Object.assign(new Error('nope'), { code: 'ECONNREFUSED' });
        },
      }),
      () => NOW,
    );
    expect(health.status).toBe('unhealthy');
  });

  it.each<[string, SweepRecord | undefined, string, RegExp | undefined]>([
    ['no sweep yet', undefined, 'healthy', /no sweep has finished yet/],
    [
      'a recent success',
      { finishedAt: day(-0.01), outcome: 'succeeded', resources: 4, failedResources: 0, durationMs: 80 },
      'healthy',
      undefined,
    ],
    [
      'a partial sweep',
      { finishedAt: day(-0.01), outcome: 'partial', resources: 4, failedResources: 1, durationMs: 80 },
      'degraded',
      /could not reconcile 1 of 4/,
    ],
    [
      'a failed sweep',
      { finishedAt: day(-0.01), outcome: 'failed', resources: 0, failedResources: 0, durationMs: 80, errorCode: 'AuthorizationFailed' },
      'degraded',
      /failed \(AuthorizationFailed\)/,
    ],
    [
      'a stale sweep',
      { finishedAt: day(-1), outcome: 'succeeded', resources: 4, failedResources: 0, durationMs: 80 },
      'degraded',
      /no sweep has finished for 24 h/,
    ],
  ])('the last sweep: %s → %s', async (_name, last, status, problem) => {
    const health = await checkHealth(
      probes({ lastSweep: async () => last, sweepStaleAfterMs: 2 * scheduleIntervalMs('0 */30 * * * *') }),
      () => NOW,
    );
    expect(health.sweep.status).toBe(status);
    expect(health.status).toBe(status === 'healthy' ? 'healthy' : 'degraded');
    if (problem) expect(health.sweep.problem).toMatch(problem);
    if (last) expect(health.sweep).toMatchObject({ lastFinishedAt: last.finishedAt, outcome: last.outcome });
  });
});

describe('recordSweep', () => {
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined, child: () => log };
  it('records a finished sweep, and a sweep that throws as failed before rethrowing', async () => {
    const saved: SweepRecord[] = [];
    const records = { save: async (r: SweepRecord) => void saved.push(r), last: async () => saved.at(-1) };
    await recordSweep(records, log, async () => ({ resources: 3, failedResources: 1, durationMs: 5 }));
    await expect(
      recordSweep(records, log, async () => {
        throw Object.assign(new Error('denied'), { code: 'AuthorizationFailed' });
      }),
    ).rejects.toThrow('denied');
    expect(saved.map((r) => [r.outcome, r.resources, r.failedResources, r.errorCode])).toEqual([
      ['partial', 3, 1, undefined],
      ['failed', 0, 0, 'AuthorizationFailed'],
    ]);
  });

  // Issue 15: a sweep split across runs, or refused for a held lease, must not blank health's count of ours.
  it('records nothing for a run another sweep held the lease against, and keeps the owned count of subscriptions a partial run did not reach', async () => {
    const saved: SweepRecord[] = [];
    const records = { save: async (r: SweepRecord) => void saved.push(r), last: async () => saved.at(-1) };
    await recordSweep(records, log, async () => ({
      resources: 9,
      failedResources: 0,
      durationMs: 5,
      ownedAssignments: { 'sub-a': 4, 'sub-b': 7 },
    }));
    await recordSweep(records, log, async () => ({
      resources: 0,
      failedResources: 0,
      durationMs: 1,
      ownedAssignments: {},
      busy: { holder: 'run-1' },
    }));
    await recordSweep(records, log, async () => ({ resources: 2, failedResources: 0, durationMs: 5, ownedAssignments: { 'sub-a': 5 } }));
    expect(saved.map((r) => [r.resources, r.ownedAssignments])).toEqual([
      [9, { 'sub-a': 4, 'sub-b': 7 }],
      [2, { 'sub-a': 5, 'sub-b': 7 }],
    ]);
  });

  it('reads a 30-minute schedule as a 30-minute interval', () => {
    expect(scheduleIntervalMs('0 */30 * * * *', NOW)).toBe(30 * 60_000);
  });
});
