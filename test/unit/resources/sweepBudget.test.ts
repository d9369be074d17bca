/**
 * The sweep's place in a pass that spans runs (issue 15, point 3: a huge sweep split across runs):
 * what a run resumed from a cursor still has to do, and where a run out of time stops.
 */
import { describe, expect, it } from 'vitest';
import { SweepBudget, sweepLeaseMs } from '../../../src/resources/sweepBudget.js';
import type { SweepCursor } from '../../../src/state/sweepProgress.js';

const SUBS = ['sub-a', 'sub-b'];
const cursor = (over: Partial<SweepCursor>): SweepCursor => ({
  passId: 'run-1',
  passStartedAt: '2026-12-06T00:00:00Z',
  runs: 1,
  subscriptionId: 'sub-a',
  phase: 'targets',
  after: 'b',
  left: 2,
  ...over,
});
const id = (x: string) => x;
const later = () => Date.now() + 60_000;

describe('SweepBudget', () => {
  it('a new pass does everything, in a fixed order', () => {
    const budget = new SweepBudget(later(), undefined, SUBS);
    expect(budget.remaining('sub-a', 'targets', ['c', 'a', 'b'], id)).toEqual(['a', 'b', 'c']);
    expect(budget.isSubscriptionDone('sub-a')).toBe(false);
  });

  it.each([
    ['the same phase: only what follows the cursor', 'targets', 'sub-a', 'targets', ['a', 'b', 'c', 'd'], ['c', 'd'], 2],
    ['an earlier phase: nothing', 'principals', 'sub-a', 'targets', ['a'], [], 1],
    ['a later phase: everything', 'targets', 'sub-a', 'principals', ['a', 'b'], ['a', 'b'], 0],
    ['a later subscription: everything', 'targets', 'sub-b', 'targets', ['a', 'b'], ['a', 'b'], 0],
  ] as const)('resumed, %s', (_name, cursorPhase, sub, phase, items, rest, skipped) => {
    const budget = new SweepBudget(later(), cursor({ phase: cursorPhase }), SUBS);
    expect(budget.remaining(sub, phase, items, id)).toEqual(rest);
    expect(budget.skippedDone).toBe(skipped);
  });

  it('skips subscriptions an earlier run finished, and starts over when the cursor names one no longer watched', () => {
    expect(new SweepBudget(later(), cursor({ subscriptionId: 'sub-b' }), SUBS).isSubscriptionDone('sub-a')).toBe(true);
    const orphan = new SweepBudget(later(), cursor({ subscriptionId: 'sub-gone' }), SUBS);
    expect(orphan.resumeFrom).toBeUndefined();
    expect(orphan.remaining('sub-a', 'targets', ['a', 'b'], id)).toEqual(['a', 'b']);
  });

  it('out of time, starts one item (so a pass always moves on), then stops with a cursor after it', async () => {
    const budget = new SweepBudget(Date.now() - 1, undefined, SUBS);
    const done: string[] = [];
    await budget.forEach(
      'SUB-A',
      'targets',
      ['a', 'b', 'c'],
      id,
      4,
      async (x) => void done.push(x),
      async () => undefined,
    );
    expect(done).toEqual(['a']);
    expect(budget.stopped).toBe(true);
    expect(budget.cursorFor({ passId: 'run-1', passStartedAt: 't', runs: 1 })).toEqual({
      passId: 'run-1',
      passStartedAt: 't',
      runs: 1,
      subscriptionId: 'sub-a',
      phase: 'targets',
      after: 'a',
      left: 2,
    });
    // A later phase in the same run starts nothing more.
    await budget.forEach(
      'sub-a',
      'principals',
      ['x'],
      id,
      4,
      async (x) => void done.push(x),
      async () => undefined,
    );
    expect(done).toEqual(['a']);
  });

  it('within time, does everything, hands failures to onError, and leaves no cursor', async () => {
    const budget = new SweepBudget(later(), undefined, SUBS);
    const failed: string[] = [];
    await budget.forEach(
      'sub-a',
      'targets',
      ['a', 'b', 'c'],
      id,
      2,
      async (x) => {
        if (x === 'b') throw new Error('boom');
      },
      async (x) => void failed.push(x),
    );
    expect(failed).toEqual(['b']);
    expect(budget.stopped).toBe(false);
    expect(budget.cursorFor({ passId: 'p', passStartedAt: 't', runs: 1 })).toBeUndefined();
  });

  it('leases for the budget plus as long again, at least 5 minutes more', () => {
    expect(sweepLeaseMs(240)).toBe(240_000 + 300_000);
    expect(sweepLeaseMs(1200)).toBe(2_400_000);
  });
});
