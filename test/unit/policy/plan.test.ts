import { describe, expect, it } from 'vitest';
import { describeOwnership, roleAssignmentName } from '../../../src/policy/ownership.js';
import { planAccess } from '../../../src/policy/plan.js';
import type { AccessPlan, ExistingAssignment, PlanInput, RegistryFacts } from '../../../src/policy/accessPlan.js';
import { ROLES } from '../../../src/policy/roles.js';
import { parseConsumerTags } from '../../../src/policy/tags.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VM = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const SYSTEM = '3f2a0c1e-1111-4222-8333-444455556666';
const USER = '9a8b7c6d-1111-4222-8333-444455556666';
const UAI = `/subscriptions/${SUB}/resourcegroups/rg-web/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-web`;

const registry = (name: string, extra: Partial<RegistryFacts> = {}): RegistryFacts => ({
  id: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.ContainerRegistry/registries/${name}`,
  name,
  loginServer: `${name}.azurecr.io`,
  tags: { 'acr-pull-allow': 'same-resource-group' },
  exists: true,
  ...extra,
});
const CONTOSO = registry('contosoacr');
/** Consents to pull and, separately, to push. */
const PUSHABLE = registry('contosoacr', { tags: { 'acr-pull-allow': 'same-resource-group', 'acr-push-allow': 'same-resource-group' } });

const assignment = (
  facts: RegistryFacts,
  principalId: string,
  roleDefinitionId: string,
  extra: Partial<ExistingAssignment> = {},
): ExistingAssignment => {
  const name = roleAssignmentName({ scope: facts.id, principalId, roleDefinitionId });
  return {
    name: name.ok ? name.value : 'x',
    scope: facts.id,
    principalId,
    roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${roleDefinitionId}`,
    description: describeOwnership({ kind: 'tag-policy', tag: 'acr-pull', consumerId: VM }),
    ...extra,
  };
};

const input = (extra: Partial<PlanInput> & { tags?: Record<string, string> }): PlanInput => ({
  consumer: { id: VM, tags: extra.tags ?? {} },
  identities: [{ principalId: SYSTEM, principalType: 'ServicePrincipal', kind: 'system-assigned' }],
  requests: parseConsumerTags(extra.tags ?? {}).requests,
  registries: [CONTOSO],
  existing: [],
  defaultConsent: 'none',
  ...extra,
});

/** The plan in one line per item: what, where, to whom. */
const summary = (plan: AccessPlan) => ({
  grants: plan.grants.map((g) => `${g.role.name} on ${g.registryName} to ${g.principalId.slice(0, 4)}`),
  revokes: plan.revokes.map((r) => `${r.role.name} on ${r.registryName} from ${r.principalId.slice(0, 4)}`),
  unchanged: plan.unchanged.map(
    (u) => `${u.role.name} on ${u.registryName} for ${u.principalId.slice(0, 4)}${u.owned ? '' : ' (not ours)'}`,
  ),
  denied: plan.denied.map((d) => `${d.registryName ?? '-'} ${d.access ?? '-'}`),
  unresolved: plan.unresolved.map((u) => `${u.registryRef} ${u.access}`),
});
const none = { grants: [], revokes: [], unchanged: [], denied: [], unresolved: [] };

describe('planAccess', () => {
  it.each<{ case: string; input: PlanInput; expected: Partial<ReturnType<typeof summary>> }>([
    {
      case: 'grants AcrPull when the tag asks and the registry consents',
      input: input({ tags: { 'acr-pull': 'contosoacr' } }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'] },
    },
    {
      case: 'grants AcrPush for acr-push where the registry consents to push',
      input: input({ tags: { 'acr-push': 'contosoacr.azurecr.io' }, registries: [PUSHABLE] }),
      expected: { grants: ['AcrPush on contosoacr to 3f2a'] },
    },
    // Issue 13, push through pull consent: acr-pull-allow covers pull only.
    {
      case: 'denies push on a registry that consents to pull only',
      input: input({ tags: { 'acr-push': 'contosoacr', 'acr-pull': 'contosoacr' } }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'], denied: ['contosoacr push'] },
    },
    {
      case: 'denies push on a registry without acr-push-allow whatever ACCESS_DEFAULT_CONSENT says',
      input: input({
        tags: { 'acr-push': 'contosoacr', 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { tags: {} })],
        defaultConsent: 'any',
      }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'], denied: ['contosoacr push'] },
    },
    {
      case: 'grants Repository Writer on an ABAC registry that consents to push',
      input: input({
        tags: { 'acr-push': 'contosoacr' },
        registries: [
          registry('contosoacr', { roleAssignmentMode: 'AbacRepositoryPermissions', tags: { 'acr-push-allow': 'same-resource-group' } }),
        ],
      }),
      expected: { grants: ['Container Registry Repository Writer on contosoacr to 3f2a'] },
    },
    {
      case: 'revokes a push grant of ours made without push consent, and keeps pull',
      input: input({
        tags: { 'acr-push': 'contosoacr', 'acr-pull': 'contosoacr' },
        existing: [
          assignment(CONTOSO, SYSTEM, ROLES.acrPush.roleDefinitionId),
          assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId),
        ],
      }),
      expected: {
        revokes: ['AcrPush on contosoacr from 3f2a'],
        unchanged: ['AcrPull on contosoacr for 3f2a'],
        denied: ['contosoacr push'],
      },
    },
    {
      case: 'leaves a push assignment made by hand where the registry does not consent to push',
      input: input({
        tags: { 'acr-push': 'contosoacr' },
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPush.roleDefinitionId, { description: 'given by hand' })],
      }),
      expected: { denied: ['contosoacr push'] },
    },
    {
      case: 'grants Repository Reader on an ABAC registry',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { roleAssignmentMode: 'AbacRepositoryPermissions' })],
      }),
      expected: { grants: ['Container Registry Repository Reader on contosoacr to 3f2a'] },
    },
    {
      case: 'grants once per identity, deduplicating principals, in a stable order',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        identities: [
          { principalId: USER, principalType: 'ServicePrincipal', kind: 'user-assigned', resourceId: UAI },
          { principalId: SYSTEM, principalType: 'ServicePrincipal', kind: 'system-assigned' },
          { principalId: SYSTEM.toUpperCase(), principalType: 'ServicePrincipal', kind: 'kubelet' },
        ],
      }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a', 'AcrPull on contosoacr to 9a8b'] },
    },
    {
      case: 'grants once when name, login server and resource id name the same registry',
      input: input({ tags: { 'acr-pull': `contosoacr contosoacr.azurecr.io ${CONTOSO.id.replace('resourceGroups', 'resourcegroups')}` } }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'] },
    },
    {
      case: 'leaves an assignment made by hand in place and does not grant again',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId, { name: 'hand-made', description: null })],
      }),
      expected: { unchanged: ['AcrPull on contosoacr for 3f2a (not ours)'] },
    },
    {
      case: 'counts a tenant-form role id as already present',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        existing: [
          assignment(CONTOSO, SYSTEM.toUpperCase(), ROLES.acrPull.roleDefinitionId, {
            roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${ROLES.acrPull.roleDefinitionId}`,
          }),
        ],
      }),
      expected: { unchanged: ['AcrPull on contosoacr for 3f2a'] },
    },
    {
      case: 'denies when the registry allows none',
      input: input({ tags: { 'acr-pull': 'contosoacr' }, registries: [registry('contosoacr', { tags: { 'acr-pull-allow': 'none' } })] }),
      expected: { denied: ['contosoacr pull'] },
    },
    {
      case: 'denies when the registry has no consent tag and the default is none',
      input: input({ tags: { 'acr-pull': 'contosoacr' }, registries: [registry('contosoacr', { tags: {} })] }),
      expected: { denied: ['contosoacr pull'] },
    },
    {
      case: 'grants on a registry without a consent tag when the default allows it',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { tags: {} })],
        defaultConsent: 'same-subscription',
      }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'] },
    },
    {
      case: 'revokes its own assignment when the tag no longer asks',
      input: input({ tags: {}, existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)] }),
      expected: { revokes: ['AcrPull on contosoacr from 3f2a'] },
    },
    {
      case: 'never revokes an assignment without the marker',
      input: input({ tags: {}, existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId, { description: 'given by hand' })] }),
      expected: {},
    },
    {
      case: 'revokes its own assignment when consent is withdrawn',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { tags: { 'acr-pull-allow': 'rg:rg-other' } })],
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)],
      }),
      expected: { revokes: ['AcrPull on contosoacr from 3f2a'], denied: ['contosoacr pull'] },
    },
    {
      case: 'replaces AcrPull with Repository Reader when the registry switches to ABAC',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { roleAssignmentMode: 'AbacRepositoryPermissions' })],
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)],
      }),
      expected: { grants: ['Container Registry Repository Reader on contosoacr to 3f2a'], revokes: ['AcrPull on contosoacr from 3f2a'] },
    },
    {
      case: 'does not touch a Key Vault Secrets User assignment of ours',
      input: input({ tags: {}, existing: [assignment(CONTOSO, SYSTEM, ROLES.keyVaultSecretsUser.roleDefinitionId)] }),
      expected: {},
    },
    {
      case: 'does not touch assignments of principals outside this plan',
      input: input({ tags: {}, existing: [assignment(CONTOSO, USER, ROLES.acrPull.roleDefinitionId)] }),
      expected: {},
    },
    {
      case: 'reports a registry it cannot find',
      input: input({ tags: { 'acr-pull': 'contosoacr, fabrikamacr' } }),
      expected: { grants: ['AcrPull on contosoacr to 3f2a'], unresolved: ['fabrikamacr pull'] },
    },
    {
      case: 'keeps its assignment on a registry that cannot be resolved this time',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { exists: false })],
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)],
      }),
      expected: { unchanged: ['AcrPull on contosoacr for 3f2a'], unresolved: ['contosoacr pull'] },
    },
    {
      case: 'reports an invalid raw reference from an HTTP request',
      input: input({ requests: [{ registryRef: 'contoso-acr', access: 'pull' }] }),
      expected: { unresolved: ['contoso-acr pull'] },
    },
    {
      case: 'resolves a raw reference from an HTTP request',
      input: input({ requests: [{ registryRef: 'CONTOSOACR', access: 'push' }], registries: [PUSHABLE] }),
      expected: { grants: ['AcrPush on contosoacr to 3f2a'] },
    },
    {
      case: 'denies an identity whose principal id is not a GUID',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        identities: [{ principalId: 'vm-web-1', principalType: 'ServicePrincipal', kind: 'system-assigned' }],
      }),
      expected: { denied: ['- -'] },
    },
  ])('$case', ({ input: planInput, expected }) => {
    expect(summary(planAccess(planInput))).toEqual({ ...none, ...expected });
  });

  it('gives each grant its deterministic name, the principal type, the marker and the reason', () => {
    const plan = planAccess(input({ tags: { 'acr-pull': 'contosoacr' } }));
    expect(plan.grants).toEqual([
      {
        name: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        scope: CONTOSO.id,
        registryName: 'contosoacr',
        principalId: SYSTEM,
        principalType: 'ServicePrincipal',
        kind: 'system-assigned',
        access: 'pull',
        role: ROLES.acrPull,
        description: `Managed by acr-pull-automation: acr-pull on ${VM}`,
        reason:
          'vm-web-1 asks for contosoacr (acr-pull); registry contosoacr allows same-resource-group; vm-web-1 is in rg-web; registry has no roleAssignmentMode (LegacyRegistryPermissions by default), so AcrPull',
      },
    ]);
    const expectedName = roleAssignmentName({ scope: CONTOSO.id, principalId: SYSTEM, roleDefinitionId: ROLES.acrPull.roleDefinitionId });
    expect(expectedName.ok && plan.grants[0]?.name).toBe(expectedName.ok ? expectedName.value : undefined);
  });

  it.each([
    {
      case: 'the tag no longer asks',
      input: input({ tags: {}, existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)] }),
      reason: 'vm-web-1 no longer asks for contosoacr in its acr-pull tag',
    },
    {
      case: 'consent is withdrawn',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { tags: { 'acr-pull-allow': 'none' } })],
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)],
      }),
      reason: 'registry contosoacr no longer allows vm-web-1: registry contosoacr allows none (acr-pull-allow=none)',
    },
    {
      case: 'the role changed',
      input: input({
        tags: { 'acr-pull': 'contosoacr' },
        registries: [registry('contosoacr', { roleAssignmentMode: 'AbacRepositoryPermissions' })],
        existing: [assignment(CONTOSO, SYSTEM, ROLES.acrPull.roleDefinitionId)],
      }),
      reason:
        'Container Registry Repository Reader replaces AcrPull on contosoacr: registry uses AbacRepositoryPermissions, where AcrPull is ignored, so Container Registry Repository Reader',
    },
  ])('says why it revokes when $case', ({ input: planInput, reason }) => {
    expect(planAccess(planInput).revokes.map((r) => r.reason)).toEqual([reason]);
  });

  it.each([
    {
      case: 'a registry without consent',
      input: input({ tags: { 'acr-pull': 'fabrikamacr' }, registries: [registry('fabrikamacr', { tags: {} })] }),
      reason: 'vm-web-1 asks for fabrikamacr (acr-pull), but registry fabrikamacr has no acr-pull-allow tag and the default is none',
    },
  ])('says why it denies $case', ({ input: planInput, reason }) => {
    expect(planAccess(planInput).denied.map((d) => d.reason)).toEqual([reason]);
  });

  it('plans the same whatever order the facts come in', () => {
    const fabrikam = registry('fabrikamacr', { tags: { 'acr-pull-allow': '*' } });
    const northwind = registry('northwind01', { roleAssignmentMode: 'AbacRepositoryPermissions' });
    const identities = [
      { principalId: SYSTEM, principalType: 'ServicePrincipal', kind: 'system-assigned' as const },
      { principalId: USER, principalType: 'ServicePrincipal', kind: 'user-assigned' as const, resourceId: UAI },
    ];
    const existing = [
      assignment(CONTOSO, USER, ROLES.acrPush.roleDefinitionId),
      assignment(northwind, SYSTEM, ROLES.acrPull.roleDefinitionId),
      assignment(fabrikam, SYSTEM, ROLES.acrPull.roleDefinitionId, { description: null }),
    ];
    const tags = { 'acr-pull': 'northwind01 fabrikamacr missingacr contosoacr' };
    const forward = planAccess(input({ tags, identities, registries: [CONTOSO, fabrikam, northwind], existing }));
    const backward = planAccess({
      ...input({
        tags,
        identities: [...identities].reverse(),
        registries: [northwind, fabrikam, CONTOSO],
        existing: [...existing].reverse(),
      }),
      requests: [...parseConsumerTags(tags).requests].reverse(),
    });
    expect(backward).toEqual(forward);
    expect(summary(forward)).toEqual({
      grants: [
        'AcrPull on contosoacr to 3f2a',
        'AcrPull on contosoacr to 9a8b',
        'AcrPull on fabrikamacr to 9a8b',
        'Container Registry Repository Reader on northwind01 to 3f2a',
        'Container Registry Repository Reader on northwind01 to 9a8b',
      ],
      revokes: ['AcrPush on contosoacr from 9a8b', 'AcrPull on northwind01 from 3f2a'],
      unchanged: ['AcrPull on fabrikamacr for 3f2a (not ours)'],
      denied: [],
      unresolved: ['missingacr pull'],
    });
  });
});
