/**
 * The access scenario of issue #4, as a platform engineer would play it against ARM, in steps.
 * Each run gets its own resource groups and registry names (a one-letter key), so the same steps
 * can be played twice on one stack — once fault-free, once under injected faults — and the two
 * final states compared with principal ids and names replaced by what they stand for.
 */
import { parseOwnership } from '../../src/policy/ownership.js';
import { ROLES } from '../../src/policy/roles.js';
import {
  aHandMadeAssignment,
  aManagedCluster,
  anAcrTask,
  aRegistry,
  aScaleSet,
  aUserAssignedIdentity,
  aVirtualMachine,
  API_VERSIONS,
  type AccessStack,
  type Assignment,
} from './e2eAccess.js';

/** The Reader built-in role: what the hand-made assignment on the pull registry grants. */
export const READER_ROLE_GUID = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';

export const ROLE_LABELS: Readonly<Record<string, string>> = {
  [ROLES.acrPull.roleDefinitionId]: 'AcrPull',
  [ROLES.acrPush.roleDefinitionId]: 'AcrPush',
  [ROLES.repositoryReader.roleDefinitionId]: 'RepositoryReader',
  [ROLES.repositoryWriter.roleDefinitionId]: 'RepositoryWriter',
  [READER_ROLE_GUID]: 'Reader',
};

/** The registries of one run, by logical name. */
export const REGISTRY_KEYS = ['pull', 'base', 'build', 'late', 'narrow', 'shared', 'abac', 'denied'] as const;
export type RegistryKey = (typeof REGISTRY_KEYS)[number];

export interface ScenarioRun {
  readonly key: string;
  readonly rg: string;
  readonly otherRg: string;
  registry(name: RegistryKey): string;
  registryName(name: RegistryKey): string;
  /** Resource ids by logical name (`vm-new`, `id-direct`, `task`, …). */
  readonly ids: Map<string, string>;
  id(name: string): string;
  /** principalId (lower case) → what it stands for (`vm-new:system`, `uami:id-one`, `aks:kubelet`, …). */
  readonly principals: Map<string, string>;
  principal(label: string): string;
  /** The steps, in order; wait for Event Grid to go idle after each. */
  readonly steps: ReadonlyArray<{ readonly name: string; run(): Promise<void> }>;
  /** Every assignment on this run's registries as `registry principal role owner`, sorted. */
  finalState(): Promise<string[]>;
  /** `registry principal role` → how many "granted" grant rows the audit trail has for it, over the run's registries. */
  grantedRows(): Promise<Map<string, number>>;
}

/** Builds one run of the scenario on the stack; nothing is written until its steps run. */
export function scenario(s: AccessStack, key: string, appObjectId: string): ScenarioRun {
  const rgName = `rg-${key}-apps`;
  const otherRgName = `rg-${key}-other`;
  const rg = s.rgId(rgName);
  const otherRg = s.rgId(otherRgName);
  const registryName = (name: RegistryKey) => `${name}${key}acr`;
  const registry = (name: RegistryKey) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${registryName(name)}`;
  const ids = new Map<string, string>();
  const principals = new Map<string, string>([[appObjectId.toLowerCase(), 'app']]);
  const id = (name: string) => {
    const found = ids.get(name);
    if (!found) throw new Error(`no resource ${name} in run ${key}`);
    return found;
  };
  const principal = (label: string) => {
    for (const [p, l] of principals) if (l === label) return p;
    throw new Error(`no principal ${label} in run ${key}`);
  };
  const vmId = (group: string, name: string) => `${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const uamiId = (name: string) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;

  /** Remembers the principals a PUT response carries, under the labels the final state uses. `any`: ARM bodies of several types. */
  const learn = (name: string, body: any) => {
    if (body?.identity?.principalId) principals.set(String(body.identity.principalId).toLowerCase(), `${name}:system`);
    for (const [uai, v] of Object.entries<any>(body?.identity?.userAssignedIdentities ?? {})) {
      if (v?.principalId) principals.set(String(v.principalId).toLowerCase(), `uami:${uai.split('/').pop()}`);
    }
    if (body?.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && body?.properties?.principalId)
      principals.set(String(body.properties.principalId).toLowerCase(), `uami:${name}`);
    const kubelet = body?.properties?.identityProfile?.kubeletidentity?.objectId;
    if (kubelet) principals.set(String(kubelet).toLowerCase(), `${name}:kubelet`);
  };
  const put = async (name: string, resourceId: string, write: Parameters<AccessStack['put']>[1]) => {
    ids.set(name, resourceId);
    const body = await s.put(resourceId, write);
    learn(name, body);
    return body;
  };
  const allow = (value: string) => ({ 'acr-pull-allow': value });
  const pull = (...names: string[]) => ({ 'acr-pull': names.join(' ') });

  const steps = [
    {
      name: 'create and tag the consumers',
      async run() {
        await s.resourceGroup(rgName);
        await s.resourceGroup(otherRgName);
        await s.put(registry('pull'), aRegistry({ tags: allow('same-resource-group') }));
        await s.put(registry('base'), aRegistry({ tags: allow('same-subscription') }));
        // The task's credentials are set with the app's own roles (the task credential custom role, infra/app/taskCredentialRole.bicep).
        await s.put(registry('build'), aRegistry());
        await s.put(registry('narrow'), aRegistry({ tags: allow('*') }));
        await s.put(registry('shared'), aRegistry({ tags: allow('*') }));
        await s.put(registry('abac'), aRegistry({ tags: allow('*'), roleAssignmentMode: 'AbacRepositoryPermissions' }));
        await s.put(registry('denied'), aRegistry({ tags: allow('*') }));
        await s.admin('PUT', `/arm/policies/no-acr-grants-${key}`, { scopePrefix: registry('denied') });

        for (const name of ['id-one', 'id-two', 'id-hand']) await put(name, uamiId(name), aUserAssignedIdentity());
        // Made by hand on the narrow registry, for a principal the automation never manages.
        await s.put(
          `${registry('narrow')}/providers/Microsoft.Authorization/roleAssignments/${handName(key, 1)}`,
          aHandMadeAssignment(s.subscriptionId, ROLES.acrPull.roleDefinitionId, principal('uami:id-hand')),
        );

        // An existing VM (system-assigned plus two user-assigned identities), tagged afterwards.
        await put(
          'vm-old',
          vmId(rg, 'vm-old'),
          aVirtualMachine({ identity: { system: true, userAssigned: [uamiId('id-one'), uamiId('id-two')] } }),
        );
        await s.tag(id('vm-old'), pull(registryName('pull')));
        // A new VM, tagged when created; and a Reader assignment made by hand for it on the same registry.
        await put('vm-new', vmId(rg, 'vm-new'), aVirtualMachine({ tags: pull(registryName('pull')) }));
        await s.put(
          `${registry('pull')}/providers/Microsoft.Authorization/roleAssignments/${handName(key, 2)}`,
          aHandMadeAssignment(s.subscriptionId, READER_ROLE_GUID, principal('vm-new:system')),
        );

        await put(
          'vmss',
          `${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-web`,
          aScaleSet({ tags: pull(registryName('pull'), registryName('narrow')) }),
        );
        await put(
          'aks',
          `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-web`,
          aManagedCluster({ tags: pull(registryName('pull')) }),
        );
        // An ACR task in one registry pulling base images from another, named by login server.
        await put('task', `${registry('build')}/tasks/nightly`, anAcrTask({ tags: pull(`${registryName('base')}.azurecr.io`) }));
        await put('id-direct', uamiId('id-direct'), aUserAssignedIdentity({ tags: pull(registryName('pull'), registryName('shared')) }));

        await put('vm-far', vmId(otherRg, 'vm-far'), aVirtualMachine({ tags: pull(registryName('narrow')) }));
        await put('vm-outside', vmId(otherRg, 'vm-outside'), aVirtualMachine({ tags: pull(registryName('pull')) }));
        await put(
          'vm-badtag',
          vmId(rg, 'vm-badtag'),
          aVirtualMachine({ tags: { 'acr-pull': `https://${registryName('pull')}.azurecr.io` } }),
        );
        await put('vm-early', vmId(rg, 'vm-early'), aVirtualMachine({ tags: pull(registryName('late')) }));
        await put('vm-abac', vmId(rg, 'vm-abac'), aVirtualMachine({ tags: pull(registryName('abac')) }));
        await put('vm-denied', vmId(rg, 'vm-denied'), aVirtualMachine({ tags: pull(registryName('denied')) }));
      },
    },
    {
      name: 'create the registry a consumer was tagged for early',
      async run() {
        await s.put(registry('late'), aRegistry({ tags: allow('same-resource-group') }));
      },
    },
    {
      name: 'untag a consumer',
      async run() {
        await s.tag(id('vm-new'), pull(registryName('pull')), 'Delete');
      },
    },
    {
      name: 'narrow a registry consent',
      async run() {
        await s.tag(registry('narrow'), allow('same-resource-group'));
      },
    },
    {
      name: 'withdraw a registry consent',
      async run() {
        await s.tag(registry('shared'), allow('*'), 'Delete');
      },
    },
    {
      name: 'delete a consumer',
      async run() {
        await s.del(id('vm-old'), API_VERSIONS.virtualMachine);
      },
    },
  ];

  return {
    key,
    rg,
    otherRg,
    registry,
    registryName,
    ids,
    id,
    principals,
    principal,
    steps,
    async finalState() {
      const out: string[] = [];
      for (const name of REGISTRY_KEYS) {
        for (const a of await s.assignmentsAt(registry(name))) out.push(describeAssignment(name, a, principals));
      }
      return out.sort();
    },
    async grantedRows() {
      const counts = new Map<string, number>();
      for (const name of REGISTRY_KEYS) {
        for (const row of await s.auditForRegistry(registry(name))) {
          if (row.action !== 'grant' || row.outcome !== 'granted') continue;
          const role = ROLE_LABELS[/\(([0-9a-f-]{36})\)/i.exec(row.role ?? '')?.[1]?.toLowerCase() ?? ''] ?? row.role;
          const key = `${name} ${principals.get(row.principalId?.toLowerCase() ?? '') ?? `unknown:${row.principalId}`} ${role}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      return counts;
    },
  };
}

/** `registry principal role owner`, with the run's ids replaced by what they stand for. */
export function describeAssignment(registry: string, a: Assignment, principals: ReadonlyMap<string, string>): string {
  const owner = parseOwnership(a.description) ? 'ours' : 'by-hand';
  return `${registry} ${principals.get(a.principalId.toLowerCase()) ?? `unknown:${a.principalId}`} ${ROLE_LABELS[a.roleDefinitionGuid] ?? a.roleDefinitionGuid} ${owner}`;
}

/** A stable GUID-shaped name for the run's hand-made assignments. */
function handName(key: string, n: number): string {
  const hex = Buffer.from(`${key}${n}`).toString('hex').padEnd(12, '0').slice(0, 12);
  return `0f0e0d0c-0000-4000-8000-${hex}`;
}
