import { describe, expect, it } from 'vitest';
import { hasOpenRequest, type Enrolment } from '../../../src/credentials/enrolment.js';
import { decideNewPassword, initialWish, runOutcome } from '../../../src/credentials/rotationPlan.js';

const registryId =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr';
const now = new Date('2026-03-01T12:00:00Z');
const hoursFromNow = (h: number) => new Date(now.getTime() + h * 3_600_000).toISOString();
// A current password made yesterday, 90-day period: not due.
const base: Enrolment = {
  registryId,
  registryName: 'contosoacr',
  vaultName: 'demo-vault',
  status: 'active',
  phase: 'idle',
  currentKeyId: 'k1',
  currentCreatedAt: hoursFromNow(-24),
};
const requested: Partial<Enrolment> = {
  rotationRequestedAt: hoursFromNow(-1),
  rotationRequestedBy: 'on-call',
  rotationRequestedReason: 'requested by on-call',
};

describe('a recorded rotation request', () => {
  it.each([
    ['none recorded', {}, false],
    ['recorded, no deferral', requested, true],
    ['recorded, deferred until later (the deferral covers it)', { ...requested, rotationDeferredUntil: hoursFromNow(5) }, false],
    ['recorded, deferral over', { ...requested, rotationDeferredUntil: hoursFromNow(-1) }, true],
  ] as const)('is open when %s: %s', (_name, patch, open) => {
    expect(hasOpenRequest({ ...base, ...patch }, now)).toBe(open);
  });

  it('is wanted like a forced rotation, with its own reason unless the run was forced', () => {
    expect(initialWish({ ...base, ...requested }, { reason: 'timer' }, now)).toEqual({ wanted: true, reason: 'requested by on-call' });
    expect(initialWish({ ...base, ...requested }, { force: true, reason: 'near-expiry' }, now)).toEqual({
      wanted: true,
      reason: 'near-expiry',
    });
    expect(initialWish(base, { reason: 'timer' }, now)).toEqual({ wanted: false, reason: 'timer' });
  });
});

describe('whether a run adds a new password', () => {
  it.each([
    ['nothing due or wanted', base, false, { kind: 'none' }],
    ['wanted, no previous password', base, true, { kind: 'rotate' }],
    ['a recorded request, no previous password', { ...base, ...requested }, false, { kind: 'rotate' }],
    [
      'wanted, previous in its grace period',
      { ...base, previousKeyId: 'k0', previousRemoveAfter: hoursFromNow(3) },
      true,
      { kind: 'defer', until: new Date(hoursFromNow(3)) },
    ],
    [
      'a recorded request, previous in its grace period',
      { ...base, ...requested, previousKeyId: 'k0', previousRemoveAfter: hoursFromNow(3) },
      false,
      { kind: 'defer', until: new Date(hoursFromNow(3)) },
    ],
    [
      'wanted, previous past its grace but still there',
      { ...base, previousKeyId: 'k0', previousRemoveAfter: hoursFromNow(-3) },
      true,
      { kind: 'previous-served' },
    ],
  ] as const)('%s', (_name, row, wanted, decision) => {
    expect(decideNewPassword(row, wanted, 90, now)).toEqual(decision);
  });

  it.each([
    [{ rotated: true, deferred: false, removedPrevious: true, actions: 4 }, 'rotated'],
    [{ rotated: false, deferred: true, removedPrevious: false, actions: 1 }, 'deferred'],
    [{ rotated: false, deferred: false, removedPrevious: true, actions: 1 }, 'maintained'],
    [{ rotated: false, deferred: false, removedPrevious: false, actions: 1 }, 'maintained'],
    [{ rotated: false, deferred: false, removedPrevious: false, actions: 0 }, 'not-due'],
  ] as const)('answers %j as %s', (did, outcome) => {
    expect(runOutcome(did)).toBe(outcome);
  });
});
