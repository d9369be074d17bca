/**
 * Issue 14, point 4 ("Two sources of truth"): one rule decides every registry's enrolment,
 * whichever path asks — a registry event, the sweep (both `via: 'registry'`) or the HTTP API.
 * Point 2: a period inside Key Vault's near-expiry window is refused on every path.
 */
import { describe, expect, it } from 'vitest';
import {
  decideEnrolment,
  type EnrolmentAsk,
  type EnrolmentDecision,
  type ExistingEnrolment,
} from '../../../src/credentials/enrolmentRule.js';
import { minimumPeriodDays, periodProblem } from '../../../src/policy/rotationPeriod.js';
import { parseCredentialTags } from '../../../src/policy/tags.js';

const TAG = 'acr-pull-credential';
const DAYS = 'acr-pull-credential-days';
const tagged = (vault: string, days?: string) => parseCredentialTags({ [TAG]: vault, ...(days ? { [DAYS]: days } : {}) });
const untagged = parseCredentialTags({ team: 'platform' });
const invalid = parseCredentialTags({ [TAG]: 'not a vault!' });
const byApi: ExistingEnrolment = { status: 'active', source: 'api', vaultName: 'kv-api' };
const byTag: ExistingEnrolment = { status: 'active', source: 'tag', vaultName: 'kv-tag' };
const legacy: ExistingEnrolment = { status: 'active', vaultName: 'kv-old' };
const gone: ExistingEnrolment = { status: 'unenrolled', source: 'api', vaultName: 'kv-api' };

const registry: EnrolmentAsk = { via: 'registry' };
const deleted: EnrolmentAsk = { via: 'registry', deleted: true };
const apiEnrol = (vaultName: string, periodDays?: number): EnrolmentAsk => ({
  via: 'api-enrol',
  vaultName,
  ...(periodDays !== undefined ? { periodDays } : {}),
});
const apiUnenrol: EnrolmentAsk = { via: 'api-unenrol' };

const decide = (ask: EnrolmentAsk, tags: ReturnType<typeof parseCredentialTags>, existing?: ExistingEnrolment): EnrolmentDecision =>
  decideEnrolment(ask, { tags, ...(existing ? { existing } : {}), graceHours: 24, defaultPeriodDays: 90 });

describe('the enrolment rule', () => {
  it.each<[string, EnrolmentAsk, ReturnType<typeof parseCredentialTags>, ExistingEnrolment | undefined, Partial<EnrolmentDecision>]>([
    // Registry events and the sweep.
    ['a tag enrols with its vault', registry, tagged('kv-tag'), undefined, { kind: 'enrol', source: 'tag', vaultName: 'kv-tag' }],
    ['a tag enrols with its period', registry, tagged('kv-tag', '60'), undefined, { kind: 'enrol', source: 'tag', periodDays: 60 }],
    [
      'a tag takes over an API enrolment (the tag wins)',
      registry,
      tagged('kv-tag'),
      byApi,
      { kind: 'enrol', source: 'tag', vaultName: 'kv-tag' },
    ],
    ['a missing tag keeps an API enrolment', registry, untagged, byApi, { kind: 'keep', enrolled: true }],
    ['a missing tag un-enrols a tag enrolment', registry, untagged, byTag, { kind: 'unenrol', reason: 'tag acr-pull-credential removed' }],
    ['a missing tag un-enrols an enrolment from before sources (the tag made those)', registry, untagged, legacy, { kind: 'unenrol' }],
    ['a missing tag on a registry never enrolled changes nothing', registry, untagged, undefined, { kind: 'keep', enrolled: false }],
    ['a missing tag on an un-enrolled registry changes nothing', registry, untagged, gone, { kind: 'keep', enrolled: false }],
    ['an invalid tag is refused and changes nothing', registry, invalid, byTag, { kind: 'refuse', code: 'InvalidTag' }],
    [
      'a period inside the near-expiry window is refused',
      registry,
      tagged('kv-tag', '20'),
      byTag,
      { kind: 'refuse', code: 'InvalidPeriod' },
    ],
    [
      'a deleted registry un-enrols an API enrolment too',
      deleted,
      { status: 'absent' },
      byApi,
      { kind: 'unenrol', reason: 'registry deleted' },
    ],
    ['a deleted registry never enrolled changes nothing', deleted, { status: 'absent' }, undefined, { kind: 'keep', enrolled: false }],
    // POST /api/credentials.
    [
      'the API enrols an untagged registry with source api',
      apiEnrol('KV-Api'),
      untagged,
      undefined,
      { kind: 'enrol', source: 'api', vaultName: 'kv-api' },
    ],
    [
      'the API moves its own enrolment to another vault',
      apiEnrol('kv-other'),
      untagged,
      byApi,
      { kind: 'enrol', source: 'api', vaultName: 'kv-other' },
    ],
    ['the API takes over a tag enrolment whose tag is gone', apiEnrol('kv-api'), untagged, byTag, { kind: 'enrol', source: 'api' }],
    [
      'the API may ask for what the tag says',
      apiEnrol('kv-tag'),
      tagged('kv-tag'),
      byTag,
      { kind: 'enrol', source: 'tag', vaultName: 'kv-tag' },
    ],
    [
      'the API may not choose another vault than the tag',
      apiEnrol('kv-api'),
      tagged('kv-tag'),
      byTag,
      { kind: 'refuse', code: 'EnrolmentManagedByTag' },
    ],
    [
      'the API may not choose another period than the tag',
      apiEnrol('kv-tag', 120),
      tagged('kv-tag', '60'),
      byTag,
      { kind: 'refuse', code: 'EnrolmentManagedByTag' },
    ],
    [
      'the API may not override the default period a tag without days implies',
      apiEnrol('kv-tag', 120),
      tagged('kv-tag'),
      undefined,
      { kind: 'refuse', code: 'EnrolmentManagedByTag' },
    ],
    [
      'the API may not enrol a registry whose tag is invalid',
      apiEnrol('kv-api'),
      invalid,
      undefined,
      { kind: 'refuse', code: 'EnrolmentManagedByTag' },
    ],
    [
      'the API may not ask for a period inside the near-expiry window',
      apiEnrol('kv-api', 30),
      untagged,
      undefined,
      { kind: 'refuse', code: 'InvalidPeriod' },
    ],
    // DELETE /api/credentials/{registry}.
    ['the API un-enrols its own enrolment', apiUnenrol, untagged, byApi, { kind: 'unenrol' }],
    ['the API un-enrols a tag enrolment whose tag is gone', apiUnenrol, untagged, byTag, { kind: 'unenrol' }],
    [
      'the API may not un-enrol a registry that carries the tag',
      apiUnenrol,
      tagged('kv-tag'),
      byTag,
      { kind: 'refuse', code: 'EnrolmentManagedByTag' },
    ],
    ['the API answers not enrolled for a registry never enrolled', apiUnenrol, untagged, undefined, { kind: 'keep', enrolled: false }],
  ])('%s', (_name, ask, tags, existing, expected) => {
    expect(decide(ask, tags, existing)).toMatchObject(expected);
  });

  it('says in the refusal which tag decides and what to do', () => {
    const decision = decide(apiEnrol('kv-api'), tagged('kv-tag'), byTag);
    expect(decision).toMatchObject({ kind: 'refuse' });
    expect(decision.kind === 'refuse' && decision.message).toMatch(
      /carries acr-pull-credential=kv-tag.*asks for vault kv-api.*Change or remove the registry's tags/,
    );
  });

  it('never flip-flops: after the API is refused, a registry event and a sweep decide the same as before', () => {
    const first = decide(registry, tagged('kv-tag'), undefined);
    expect(decide(apiEnrol('kv-api'), tagged('kv-tag'), byTag)).toMatchObject({ kind: 'refuse' });
    expect(decide(registry, tagged('kv-tag'), byTag)).toEqual(first);
  });
});

describe('the shortest rotation period', () => {
  it.each([
    [0, 31],
    [1, 32],
    [24, 32],
    [25, 33],
    [720, 61],
  ])('with a grace of %i h is %i days', (graceHours, days) => {
    expect(minimumPeriodDays(graceHours)).toBe(days);
    expect(periodProblem(days, graceHours)).toBeUndefined();
    expect(periodProblem(days - 1, graceHours)).toMatch(
      new RegExp(`too short: Key Vault announces SecretNearExpiry 30 days before .* use at least ${days} days`),
    );
  });

  it('refuses more than two years', () => {
    expect(periodProblem(731, 24)).toMatch(/from 32 to 730/);
  });
});
