import { describe, expect, it } from 'vitest';
import { isConsentOverride, isManualGrant, keepManualGrants, manualGrantDescription } from '../../../src/access/manualGrantDescription.js';
import { consentForPrincipal } from '../../../src/policy/consent.js';
import { describeOwnership, parseOwnership, standsFor, subjectOf } from '../../../src/policy/ownership.js';
import type { AccessPlan } from '../../../src/policy/accessPlan.js';
import { ROLES } from '../../../src/policy/roles.js';

const VM = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1';
const ACR =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/contosoacr';
const P = '3f2a6c1e-8d4b-4c7a-9f10-2b5e7d9a1c34';

describe('manual grant descriptions', () => {
  it.each([
    [
      'a resource',
      { tag: 'acr-pull', caller: 'alice (alice@contoso.com)', override: false, consumerId: VM, principalId: P },
      `Managed by acr-pull-automation: manual acr-pull by alice (alice@contoso.com) on ${VM}`,
      VM,
    ],
    [
      'an override',
      { tag: 'acr-push', caller: 'function-key', override: true, consumerId: VM, principalId: P },
      `Managed by acr-pull-automation: manual acr-push (consent override) by function-key on ${VM}`,
      VM,
    ],
    [
      'a bare principal',
      { tag: 'acr-pull', caller: 'app:1234', override: false, principalId: P },
      `Managed by acr-pull-automation: manual acr-pull by app:1234 for principal ${P}`,
      undefined,
    ],
  ] as const)('for %s: ours, manual, and the consumer still parses', (_what, input, description, consumer) => {
    const written = manualGrantDescription(input);
    expect(written).toBe(description);
    expect(parseOwnership(written)).toBeDefined();
    expect(isManualGrant(written)).toBe(true);
    expect(isConsentOverride(written)).toBe(input.override);
    expect(subjectOf(parseOwnership(written))).toBe(consumer);
  });

  it('keeps a caller that writes " on /subscriptions/…" from naming another consumer', () => {
    const written = manualGrantDescription({
      tag: 'acr-pull',
      caller: `x on ${VM.replace('vm1', 'vm2')}`,
      override: false,
      consumerId: VM,
      principalId: P,
    });
    expect(standsFor(parseOwnership(written), VM)).toBe(true);
    expect(standsFor(parseOwnership(written), VM.replace('vm1', 'vm2'))).toBe(false);
  });

  it.each([
    [describeOwnership({ kind: 'tag-policy', tag: 'acr-pull', consumerId: VM }), false],
    ['made by hand', false],
    ['manual acr-pull by someone', false],
    [undefined, false],
  ])('does not call %j a manual grant', (description, expected) => expect(isManualGrant(description)).toBe(expected));
});

describe('keepManualGrants', () => {
  const role = ROLES.acrPull;
  const plan: AccessPlan = {
    grants: [],
    revokes: [
      { name: 'manual-1', scope: ACR, registryName: 'contosoacr', principalId: P, role, reason: 'no longer asks' },
      { name: 'tag-1', scope: ACR, registryName: 'contosoacr', principalId: P, role: ROLES.acrPush, reason: 'no longer asks' },
    ],
    unchanged: [],
    denied: [],
    unresolved: [],
  };
  it('turns the revoke of a manual grant into a kept assignment, and leaves tag-policy revokes alone', () => {
    const kept = keepManualGrants(plan, [
      {
        name: 'MANUAL-1',
        description: manualGrantDescription({ tag: 'acr-pull', caller: 'alice', override: false, consumerId: VM, principalId: P }),
      },
      { name: 'tag-1', description: describeOwnership({ kind: 'tag-policy', tag: 'acr-push', consumerId: VM }) },
    ]);
    expect(kept.revokes.map((r) => r.name)).toEqual(['tag-1']);
    expect(kept.unchanged).toMatchObject([{ name: 'manual-1', owned: true }]);
    expect(kept.unchanged[0]!.reason).toMatch(/granted by hand/);
  });
  it('returns the plan as it is when nothing is manual', () => expect(keepManualGrants(plan, [])).toBe(plan));
});

describe('consentForPrincipal', () => {
  it.each([
    [{ 'acr-pull-allow': '*' }, 'none', true],
    [{ 'acr-pull-allow': 'same-resource-group, *' }, 'none', true],
    [{ 'acr-pull-allow': 'same-subscription' }, 'any', false],
    [{ 'acr-pull-allow': 'none' }, 'any', false],
    [{ 'acr-pull-allow': 'rg:' }, 'any', false],
    [undefined, 'any', true],
    [undefined, 'same-resource-group', false],
    [undefined, 'none', false],
  ] as const)('tags %j with default %s → allowed %s', (tags, defaultConsent, allowed) => {
    const decision = consentForPrincipal({ name: 'contosoacr', ...(tags ? { tags } : {}) }, defaultConsent, `principal ${P}`);
    expect(decision.allowed).toBe(allowed);
    expect(decision.reason).toMatch(/contosoacr/);
  });
});
