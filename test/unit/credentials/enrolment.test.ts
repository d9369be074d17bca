import { describe, expect, it } from 'vitest';
import {
  applicationDisplayName,
  isLeaseHeld,
  isOurPassword,
  isPreviousRemovable,
  isRotationDue,
  nextRotationAt,
  parseRegistryId,
  passwordDisplayName,
  passwordSecretName,
  toEnrolmentView,
  usernameSecretName,
  type Enrolment,
} from '../../../src/credentials/enrolment.js';
import { InvalidInputError } from '../../../src/errors.js';

const registryId =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/ContosoAcr';
const base: Enrolment = { registryId, registryName: 'contosoacr', vaultName: 'demo-vault', status: 'active', phase: 'idle' };

describe('enrolment names', () => {
  it('names the secrets and the application after the registry, as the Container Instances docs do', () => {
    expect(usernameSecretName('ContosoAcr')).toBe('contosoacr-pull-usr');
    expect(passwordSecretName('ContosoAcr')).toBe('contosoacr-pull-pwd');
    expect(applicationDisplayName('ContosoAcr')).toBe('contosoacr-pull');
  });

  it('recognises only passwords it created by their displayName', () => {
    expect(isOurPassword(passwordDisplayName('r1'))).toBe(true);
    expect(isOurPassword('acr-pull-automationX')).toBe(false);
    expect(isOurPassword('manual')).toBe(false);
    expect(isOurPassword(undefined)).toBe(false);
  });

  it.each([
    [registryId, { subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg-acr', name: 'contosoacr' }],
    [
      registryId.replace('resourceGroups', 'resourcegroups').toUpperCase(),
      { subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg-acr', name: 'contosoacr' },
    ],
  ])('parses registry id %s whatever its casing', (id, expected) => {
    expect(parseRegistryId(id)).toEqual(expected);
  });

  it.each(['contosoacr', '/subscriptions/x/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm'])(
    'refuses %s as a registry id',
    (id) => {
      expect(() => parseRegistryId(id)).toThrow(InvalidInputError);
    },
  );
});

describe('rotation timing', () => {
  const created = '2026-01-01T00:00:00.000Z';

  it.each([
    // 90 days: due at day 60 (two thirds).
    [{ currentCreatedAt: created }, 90, '2026-03-01T23:59:59Z', false],
    [{ currentCreatedAt: created }, 90, '2026-03-02T00:00:00Z', true],
    // the registry's own period wins over the setting: 30 days → due at day 20.
    [{ currentCreatedAt: created, periodDays: 30 }, 90, '2026-01-21T00:00:00Z', true],
    [{ currentCreatedAt: created, periodDays: 30 }, 90, '2026-01-20T23:00:00Z', false],
    // never rotated: always due.
    [{}, 90, '2026-01-01T00:00:00Z', true],
  ])('%o with period %i is due at %s: %s', (fields, period, now, due) => {
    expect(isRotationDue({ ...base, ...fields }, period, new Date(now))).toBe(due);
  });

  it('answers the next rotation time at two thirds of the period', () => {
    expect(nextRotationAt({ currentCreatedAt: created }, 90)?.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(nextRotationAt({}, 90)).toBeUndefined();
  });

  it('removes the previous password only after its grace period', () => {
    const row = { ...base, previousKeyId: 'k1', previousRemoveAfter: '2026-01-02T00:00:00.000Z' };
    expect(isPreviousRemovable(row, new Date('2026-01-01T23:59:59Z'))).toBe(false);
    expect(isPreviousRemovable(row, new Date('2026-01-02T00:00:00Z'))).toBe(true);
    expect(isPreviousRemovable(base, new Date('2030-01-01T00:00:00Z'))).toBe(false);
  });

  it('treats a lease as held until it lapses', () => {
    const row = { ...base, leaseOwner: 'run', leaseUntil: '2026-01-01T00:05:00.000Z' };
    expect(isLeaseHeld(row, new Date('2026-01-01T00:04:59Z'))).toBe(true);
    expect(isLeaseHeld(row, new Date('2026-01-01T00:05:00Z'))).toBe(false);
    expect(isLeaseHeld(base, new Date())).toBe(false);
  });
});

describe('enrolment view', () => {
  it('shows ids and times, the secret names and the next rotation, and nothing else', () => {
    const view = toEnrolmentView(
      {
        ...base,
        appId: 'app',
        currentKeyId: 'k2',
        currentCreatedAt: '2026-01-01T00:00:00.000Z',
        leaseOwner: 'x',
        leaseUntil: 'y',
        rotationId: 'r',
      },
      90,
    );
    expect(view).toEqual({
      registryId,
      registryName: 'contosoacr',
      vaultName: 'demo-vault',
      status: 'active',
      source: 'tag',
      appId: 'app',
      usernameSecret: 'contosoacr-pull-usr',
      passwordSecret: 'contosoacr-pull-pwd',
      periodDays: 90,
      phase: 'idle',
      currentKeyId: 'k2',
      nextRotationAt: '2026-03-02T00:00:00.000Z',
    });
  });
});
