import { describe, expect, it } from 'vitest';
import {
  describeOwnership,
  hasOurName,
  isOurs,
  OWNERSHIP_KINDS,
  ownershipOf,
  parseOwnership,
  roleAssignmentName,
  standsFor,
  subjectOf,
  type Ownership,
} from '../../../src/policy/ownership.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VM = `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const IDENTITY = `/subscriptions/${SUB}/resourcegroups/rg-apps/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;
const REGISTRY = `/subscriptions/${SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosoacr`;
const PRINCIPAL = '3f2a0c1e-1111-4222-8333-444455556666';
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

describe('describeOwnership / parseOwnership round trip', () => {
  it.each<{ what: string; ownership: Ownership; description: string }>([
    {
      what: 'tag policy, pull',
      ownership: { kind: 'tag-policy', tag: 'acr-pull', consumerId: VM },
      description: `Managed by acr-pull-automation: acr-pull on ${VM}`,
    },
    {
      what: 'tag policy, push',
      ownership: { kind: 'tag-policy', tag: 'acr-push', consumerId: IDENTITY },
      description: `Managed by acr-pull-automation: acr-push on ${IDENTITY}`,
    },
    {
      what: 'manual grant to a resource',
      ownership: { kind: 'manual', tag: 'acr-pull', caller: 'alice@contoso.com', override: false, consumerId: VM },
      description: `Managed by acr-pull-automation: manual acr-pull by alice@contoso.com on ${VM}`,
    },
    {
      what: 'manual grant over consent',
      ownership: { kind: 'manual', tag: 'acr-push', caller: 'app:1234', override: true, consumerId: VM },
      description: `Managed by acr-pull-automation: manual acr-push (consent override) by app:1234 on ${VM}`,
    },
    {
      what: 'manual grant to a bare principal',
      ownership: { kind: 'manual', tag: 'acr-pull', caller: 'bob', override: false, principalId: PRINCIPAL },
      description: `Managed by acr-pull-automation: manual acr-pull by bob for principal ${PRINCIPAL}`,
    },
    {
      what: 'manual grant whose caller contains " on " and "for principal"',
      ownership: {
        kind: 'manual',
        tag: 'acr-pull',
        caller: `eve on /subscriptions/${SUB}/x for principal ${PRINCIPAL}`,
        override: false,
        consumerId: VM,
      },
      description: `Managed by acr-pull-automation: manual acr-pull by eve on /subscriptions/${SUB}/x for principal ${PRINCIPAL} on ${VM}`,
    },
    {
      what: 'workload vault grant',
      ownership: { kind: 'workload-vault', identityId: IDENTITY },
      description: `Managed by acr-pull-automation: acr-workload-vault on ${IDENTITY}`,
    },
    {
      what: 'pull-credential role',
      ownership: { kind: 'pull-credential', registryName: 'contosoacr' },
      description: 'Managed by acr-pull-automation: pull credentials for contosoacr',
    },
  ])('$what', ({ ownership, description }) => {
    expect(describeOwnership(ownership)).toBe(description);
    expect(parseOwnership(description)).toEqual(ownership);
    expect(parseOwnership(describeOwnership(ownership))).toEqual(ownership);
  });
});

describe('describeOwnership keeps a description short and on one line', () => {
  it('folds whitespace in a caller and cuts it at 120 characters; the consumer still ends the description', () => {
    const written = describeOwnership({
      kind: 'manual',
      tag: 'acr-pull',
      caller: `  ${'a'.repeat(200)}\n\tb `,
      override: false,
      consumerId: VM,
    });
    expect(written).toBe(`Managed by acr-pull-automation: manual acr-pull by ${'a'.repeat(120)} on ${VM}`);
    expect(parseOwnership(written)).toMatchObject({ kind: 'manual', caller: 'a'.repeat(120), consumerId: VM });
  });
});

describe('parseOwnership reads what earlier versions wrote', () => {
  it.each([
    // The pull-credential role was first written with the registry name as given, not lower-cased.
    ['Managed by acr-pull-automation: pull credentials for ContosoACR', { kind: 'pull-credential', registryName: 'contosoacr' }],
    // Whitespace around the description, as a portal edit may leave it.
    [`  Managed by acr-pull-automation: acr-pull on ${VM}  `, { kind: 'tag-policy', tag: 'acr-pull', consumerId: VM }],
    // A principal id written in capitals.
    [
      `Managed by acr-pull-automation: manual acr-pull by bob for principal ${PRINCIPAL.toUpperCase()}`,
      { kind: 'manual', tag: 'acr-pull', caller: 'bob', override: false, principalId: PRINCIPAL },
    ],
  ])('%s', (description, expected) => {
    expect(parseOwnership(description)).toEqual(expected);
  });
});

describe('parseOwnership refuses what we never write', () => {
  it.each([
    [undefined],
    [null],
    [''],
    ['Managed by acr-pull-automation'],
    ['Managed by acr-pull-automation: granted by hand'],
    [`Not Managed by acr-pull-automation: acr-pull on ${VM}`],
    [`granted by hand for ${VM}`],
    ['pull credentials for contosoacr'],
    [`Managed by acr-pull-automation: acr-pull on vm-web-1`],
    [`Managed by acr-pull-automation: acr-pull-allow on ${VM}`],
    [`Managed by acr-pull-automation: manual acr-pull by bob for principal not-a-guid`],
  ])('%j', (description) => {
    expect(parseOwnership(description)).toBeUndefined();
  });
});

describe('subjectOf', () => {
  it.each<[Ownership | undefined, string | undefined]>([
    [{ kind: 'tag-policy', tag: 'acr-pull', consumerId: VM }, VM],
    [{ kind: 'manual', tag: 'acr-pull', caller: 'a', override: false, consumerId: VM }, VM],
    [{ kind: 'manual', tag: 'acr-pull', caller: 'a', override: false, principalId: PRINCIPAL }, undefined],
    [{ kind: 'workload-vault', identityId: IDENTITY }, IDENTITY],
    [{ kind: 'pull-credential', registryName: 'contosoacr' }, undefined],
    [undefined, undefined],
  ])('%j stands for %s', (ownership, subject) => {
    expect(subjectOf(ownership)).toBe(subject);
  });
});

describe('standsFor', () => {
  it.each<[string, Ownership | undefined, string, boolean]>([
    [
      'the consumer, in another casing and resourcegroups spelling',
      { kind: 'tag-policy', tag: 'acr-pull', consumerId: VM },
      VM.toLowerCase().replace('resourceGroups', 'resourcegroups'),
      true,
    ],
    ['another consumer', { kind: 'tag-policy', tag: 'acr-pull', consumerId: VM }, VM.replace('vm-web-1', 'vm-web-2'), false],
    [
      'the identity of a vault grant',
      { kind: 'workload-vault', identityId: IDENTITY },
      IDENTITY.replace('resourcegroups', 'resourceGroups'),
      true,
    ],
    [
      'a bare principal (no resource)',
      { kind: 'manual', tag: 'acr-pull', caller: 'a', override: false, principalId: PRINCIPAL },
      VM,
      false,
    ],
    ['a pull-credential role (no resource)', { kind: 'pull-credential', registryName: 'contosoacr' }, REGISTRY, false],
    ['nothing of ours', undefined, VM, false],
  ])('%s', (_what, ownership, resourceId, expected) => {
    expect(standsFor(ownership, resourceId)).toBe(expected);
  });
});

describe('isOurs: our deterministic name AND our description', () => {
  const name = (roleAssignmentName({ scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: ACR_PULL }) as { value: string }).value;
  const ours = describeOwnership({ kind: OWNERSHIP_KINDS.tagPolicy, tag: 'acr-pull', consumerId: VM });
  it.each([
    { what: 'our name and our description', a: { name, description: ours }, expected: true },
    {
      what: 'our name in capitals, the role in its subscription form, the scope in another casing',
      a: {
        name: name.toUpperCase(),
        description: ours,
        roleDefinitionId: `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${ACR_PULL}`,
        scope: REGISTRY.toLowerCase().replace('resourcegroups', 'resourceGroups'),
      },
      expected: true,
    },
    {
      what: 'our description copied onto another name',
      a: { name: '0c0b0a09-0000-4000-8000-00000000c0b1', description: ours },
      expected: false,
    },
    { what: 'our name with another description', a: { name, description: 'granted by hand' }, expected: false },
    { what: 'our name with only the marker', a: { name, description: 'Managed by acr-pull-automation' }, expected: false },
    {
      what: 'our name but for another role (the name of AcrPull on an AcrPush assignment)',
      a: { name, description: ours, roleDefinitionId: '8311e382-0749-4cb8-b61a-304f252e45ec' },
      expected: false,
    },
    {
      what: 'our name but for another principal',
      a: { name, description: ours, principalId: '11111111-2222-4333-8444-555555555555' },
      expected: false,
    },
    { what: 'our name without a description', a: { name, description: undefined }, expected: false },
  ])('$what → $expected', ({ a, expected }) => {
    const assignment = { scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: ACR_PULL, ...a };
    expect(isOurs(assignment)).toBe(expected);
    expect(ownershipOf(assignment) !== undefined).toBe(expected);
  });

  it('checks the name against the assignment itself, so a name cannot be borrowed from another scope', () => {
    const other = REGISTRY.replace('contosoacr', 'fabrikamacr');
    expect(hasOurName({ name, scope: other, principalId: PRINCIPAL, roleDefinitionId: ACR_PULL })).toBe(false);
    expect(hasOurName({ name, scope: REGISTRY, principalId: PRINCIPAL, roleDefinitionId: ACR_PULL })).toBe(true);
  });
});
