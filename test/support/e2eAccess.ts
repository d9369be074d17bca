/**
 * End-to-end support for the access feature: one local stack (emulator + the shared Azurite + the
 * local Functions host running the app bundle), an operator ARM client that writes resources the
 * way a platform engineer would (real PUT/PATCH/DELETE on the emulator, which publishes ARM's
 * events to the app through Event Grid), and readers for the outcome: role assignments through
 * ARM, the audit table through the app's own audit log, the emulator's call counters and state.
 *
 * Builders return `{ apiVersion, body }` for `arm.put`; each cites the azure-rest-api-specs
 * example whose request body it follows (trimmed to what the product reads).
 */
import { randomBytes } from 'node:crypto';
import { getClient, type Client } from '@azure-rest/core-client';
import { PLACEHOLDER_APP_SETTINGS, startStack, type RunningStack } from '../../scripts/stack.js';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { createTableAuditLog } from '../../src/audit/tableAuditLog.js';
import { createTableClient } from '../../src/azure/tables.js';
import { loadConfig } from '../../src/config.js';
import { TABLE_SUFFIXES } from '../../src/deps.js';
import { createOperator } from '../../scripts/operator.js';

export const API_VERSIONS = {
  resourceGroup: '2021-04-01',
  registry: '2025-11-01',
  task: '2019-06-01-preview',
  virtualMachine: '2024-07-01',
  scaleSet: '2024-07-01',
  managedCluster: '2025-05-01',
  identity: '2023-01-31',
  tags: '2021-04-01',
  roleAssignments: '2022-04-01',
} as const;

const LOCATION = 'westeurope';

/** What `arm.put` sends: the api-version and the request body. */
export interface ArmWrite {
  readonly apiVersion: string;
  readonly body: Record<string, unknown>;
}

type Tags = Record<string, string>;
type IdentityInput = { readonly system?: boolean; readonly userAssigned?: readonly string[] };

/** `identity` as the compute, container registry and AKS specs write it. */
function identityBody(identity: IdentityInput | undefined): Record<string, unknown> | undefined {
  if (!identity) return undefined;
  const user = identity.userAssigned ?? [];
  const type =
    [identity.system ? 'SystemAssigned' : undefined, user.length ? 'UserAssigned' : undefined].filter(Boolean).join(', ') || 'None';
  return { type, ...(user.length ? { userAssignedIdentities: Object.fromEntries(user.map((id) => [id, {}])) } : {}) };
}

/**
 * A container registry. Follows containerregistry/.../stable/2022-12-01/examples/Registries_Create_Registry_Create.json
 * (`properties.roleAssignmentMode` is the 2025-11-01 addition: LegacyRegistryPermissions | AbacRepositoryPermissions).
 */
export function aRegistry(
  options: { tags?: Tags; roleAssignmentMode?: 'LegacyRegistryPermissions' | 'AbacRepositoryPermissions' } = {},
): ArmWrite {
  return {
    apiVersion: API_VERSIONS.registry,
    body: {
      location: LOCATION,
      sku: { name: 'Standard' },
      tags: options.tags ?? {},
      properties: { adminUserEnabled: false, ...(options.roleAssignmentMode ? { roleAssignmentMode: options.roleAssignmentMode } : {}) },
    },
  };
}

/**
 * A virtual machine with managed identities. Follows compute/.../ComputeRP/stable/2024-07-01/examples/
 * virtualMachineExamples/VirtualMachine_Create_WithEncryptionIdentity.json (the `identity` block with
 * `userAssignedIdentities`), hardware/storage profile trimmed.
 */
export function aVirtualMachine(options: { tags?: Tags; identity?: IdentityInput } = {}): ArmWrite {
  return {
    apiVersion: API_VERSIONS.virtualMachine,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      identity: identityBody(options.identity ?? { system: true }),
      properties: {
        hardwareProfile: { vmSize: 'Standard_D2s_v3' },
        storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' } },
      },
    },
  };
}

/**
 * A VM scale set. Follows compute/.../ComputeRP/stable/2024-07-01/examples/virtualMachineScaleSetExamples/
 * VirtualMachineScaleSet_Create_WithManagedBootDiagnostics.json, with the VirtualMachineScaleSetIdentity block.
 */
export function aScaleSet(options: { tags?: Tags; identity?: IdentityInput } = {}): ArmWrite {
  return {
    apiVersion: API_VERSIONS.scaleSet,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      sku: { name: 'Standard_D1_v2', tier: 'Standard', capacity: 2 },
      identity: identityBody(options.identity ?? { system: true }),
      properties: { upgradePolicy: { mode: 'Manual' }, overprovision: true },
    },
  };
}

/**
 * An AKS cluster with managed identity; ARM fills `properties.identityProfile.kubeletidentity`.
 * Follows containerservice/.../aks/stable/2025-05-01/examples/ManagedClustersCreate_Update.json, trimmed.
 * With `kubeletIdentity`, the cluster brings its own (ManagedClusterProperties.identityProfile:
 * "The only accepted key is kubeletidentity, with value of resourceId"), which needs a user-assigned
 * control-plane identity (`controlPlaneIdentity`), as `az aks create --assign-identity
 * --assign-kubelet-identity` sends it.
 */
export function aManagedCluster(options: { tags?: Tags; kubeletIdentity?: string; controlPlaneIdentity?: string } = {}): ArmWrite {
  return {
    apiVersion: API_VERSIONS.managedCluster,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      identity: options.controlPlaneIdentity ? identityBody({ userAssigned: [options.controlPlaneIdentity] }) : { type: 'SystemAssigned' },
      properties: {
        ...(options.kubeletIdentity ? { identityProfile: { kubeletidentity: { resourceId: options.kubeletIdentity } } } : {}),
        dnsPrefix: 'dnsprefix1',
        agentPoolProfiles: [
          { name: 'nodepool1', count: 3, vmSize: 'Standard_DS2_v2', osType: 'Linux', type: 'VirtualMachineScaleSets', mode: 'System' },
        ],
      },
    },
  };
}

/**
 * An ACR task with a managed identity. Follows containerregistry/.../stable/2022-12-01/examples/
 * Tasks_Create_WithUserIdentities_WithSystemIdentity.json, trimmed to an encoded task.
 */
export function anAcrTask(options: { tags?: Tags; identity?: IdentityInput } = {}): ArmWrite {
  return {
    apiVersion: API_VERSIONS.task,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      identity: identityBody(options.identity ?? { system: true }),
      properties: {
        status: 'Enabled',
        platform: { os: 'Linux', architecture: 'amd64' },
        agentConfiguration: { cpu: 2 },
        step: { type: 'EncodedTask', encodedTaskContent: Buffer.from('steps:\n  - build: -t hello .\n').toString('base64') },
      },
    },
  };
}

/** A user-assigned identity. Follows msi/.../Microsoft.ManagedIdentity/stable/2023-01-31/examples/IdentityCreate.json. */
export function aUserAssignedIdentity(options: { tags?: Tags } = {}): ArmWrite {
  return { apiVersion: API_VERSIONS.identity, body: { location: LOCATION, tags: options.tags ?? {} } };
}

/**
 * A role assignment made by hand (no ownership marker). Follows authorization/.../stable/2022-04-01/
 * examples/RoleAssignments_CreateForResource.json.
 */
export function aHandMadeAssignment(subscriptionId: string, roleDefinitionGuid: string, principalId: string): ArmWrite {
  return {
    apiVersion: API_VERSIONS.roleAssignments,
    body: {
      properties: {
        roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleDefinitionGuid}`,
        principalId,
        principalType: 'ServicePrincipal',
        description: 'granted by hand for the build team',
      },
    },
  };
}

export interface Assignment {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  /** The role definition's trailing GUID. */
  readonly roleDefinitionGuid: string;
  readonly description?: string;
}

export interface CallCount {
  readonly api: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly count: number;
}

export interface AccessStack {
  readonly stack: RunningStack;
  readonly subscriptionId: string;
  /** `/subscriptions/<default>/resourceGroups/<name>` */
  rgId(name: string): string;
  resourceGroup(name: string): Promise<string>;
  /** The response body; `any` because each resource type answers its own shape and tests read a few fields. */
  put(id: string, write: ArmWrite): Promise<any>;
  /** GET through ARM as the operator; the response body (`any` for the same reason as `put`). */
  get(id: string, apiVersion: string): Promise<any>;
  /** The tags API (`{scope}/providers/Microsoft.Resources/tags/default`), PATCH with Merge, Replace or Delete. */
  tag(id: string, tags: Tags, operation?: 'Merge' | 'Replace' | 'Delete'): Promise<void>;
  del(id: string, apiVersion: string): Promise<void>;
  /** Role assignments at exactly this scope, read through ARM as the operator. */
  assignmentsAt(scope: string): Promise<Assignment[]>;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Waits until Event Grid has nothing in flight or waiting to retry (the app has answered every delivery). */
  idle(timeoutMs?: number): Promise<void>;
  calls(): Promise<CallCount[]>;
  clearCalls(): Promise<void>;
  /** Audit rows about one resource, newest first. */
  audit(resourceId: string): Promise<AuditRecord[]>;
  /** Audit rows about one registry (every consumer's decisions on it), newest first. */
  auditForRegistry(registryId: string): Promise<AuditRecord[]>;
  stop(): Promise<void>;
}

/** Starts the stack for one e2e file, with its own table prefix on the shared Azurite. */
export async function startAccessStack(options: {
  tablesConnectionString: string;
  tablesEndpoint: string;
  appEntry: string;
  appSettings?: Record<string, string>;
  /** App instances behind one load-balanced address (default 1), as `npm start -- --instances N`. */
  instances?: number;
}): Promise<AccessStack> {
  const tablePrefix = `e2e${randomBytes(5).toString('hex')}`;
  const stack = await startStack({
    tables: { endpoint: options.tablesEndpoint, connectionString: options.tablesConnectionString },
    appEntry: options.appEntry,
    ...(options.instances ? { instances: options.instances } : {}),
    // Timers fire only through the admin API in tests: a sweep on its schedule would land in the middle of call counts.
    appSettings: { TABLE_PREFIX: tablePrefix, FUNCTIONS_RUN_TIMERS: 'false', ...options.appSettings },
  });
  try {
    const emulator = stack.emulator!;
    const e = emulator.endpoints;
    const ca = emulator.caPem;
    const operator = createOperator(e, ca);
    const { credential, admin } = operator;
    // The SDK's default retry policy: 429 with Retry-After and 5xx are retried, as for any ARM client.
    // More retries than the default 3: the fault run injects 25% errors, and the operator's writes are the steps, not the subject.
    const client: Client = getClient(e.arm, credential, {
      credentials: { scopes: [`${e.arm}/.default`] },
      tlsOptions: { ca },
      retryOptions: { maxRetries: 10 },
    });
    const check = (res: { status: string; body: unknown }, what: string) => {
      if (!res.status.startsWith('2')) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
    };

    const auditLog = createTableAuditLog(
      createTableClient(
        loadConfig({ ...PLACEHOLDER_APP_SETTINGS, TABLES_CONNECTION_STRING: options.tablesConnectionString, TABLE_PREFIX: tablePrefix }),
        credential,
        TABLE_SUFFIXES.audit,
      ),
    );
    const rgId = (name: string) => `/subscriptions/${e.subscriptionId}/resourceGroups/${name}`;

    return {
      stack,
      subscriptionId: e.subscriptionId,
      rgId,
      async resourceGroup(name) {
        const id = rgId(name);
        check(
          await client
            .pathUnchecked(id)
            .put({ queryParameters: { 'api-version': API_VERSIONS.resourceGroup }, body: { location: LOCATION } }),
          `PUT ${id}`,
        );
        return id;
      },
      async put(id, write) {
        const res = await client.pathUnchecked(id).put({ queryParameters: { 'api-version': write.apiVersion }, body: write.body });
        check(res, `PUT ${id}`);
        return res.body;
      },
      async get(id, apiVersion) {
        const res = await client.pathUnchecked(id).get({ queryParameters: { 'api-version': apiVersion } });
        check(res, `GET ${id}`);
        return res.body;
      },
      async tag(id, tags, operation = 'Merge') {
        const res = await client
          .pathUnchecked(`${id}/providers/Microsoft.Resources/tags/default`)
          .patch({ queryParameters: { 'api-version': API_VERSIONS.tags }, body: { operation, properties: { tags } } });
        check(res, `PATCH tags ${id}`);
      },
      async del(id, apiVersion) {
        check(await client.pathUnchecked(id).delete({ queryParameters: { 'api-version': apiVersion } }), `DELETE ${id}`);
      },
      async assignmentsAt(scope) {
        const out: Assignment[] = [];
        let res = await client
          .pathUnchecked(`${scope}/providers/Microsoft.Authorization/roleAssignments`)
          .get({ queryParameters: { 'api-version': API_VERSIONS.roleAssignments, $filter: 'atScope()' } });
        for (;;) {
          check(res, `list role assignments at ${scope}`);
          const page = res.body as {
            value: Array<{
              name: string;
              properties: { scope: string; principalId: string; roleDefinitionId: string; description?: string | null };
            }>;
            nextLink?: string;
          };
          for (const a of page.value) {
            if (a.properties.scope.toLowerCase() !== scope.toLowerCase()) continue;
            out.push({
              name: a.name,
              scope: a.properties.scope,
              principalId: a.properties.principalId,
              roleDefinitionGuid: a.properties.roleDefinitionId.split('/').pop()!,
              ...(a.properties.description ? { description: a.properties.description } : {}),
            });
          }
          if (!page.nextLink) return out;
          res = await client.pathUnchecked(page.nextLink).get();
        }
      },
      admin,
      async idle(timeoutMs = 60_000) {
        await admin('POST', `/eventgrid/idle?timeoutMs=${timeoutMs}`);
      },
      async calls() {
        return (await admin<{ calls: CallCount[] }>('GET', '/calls')).calls;
      },
      async clearCalls() {
        await admin('DELETE', '/calls');
      },
      async audit(resourceId) {
        return (await auditLog.query({ resourceId, top: 500 })).items;
      },
      async auditForRegistry(registryId) {
        const rows: AuditRecord[] = [];
        let continuationToken: string | undefined;
        do {
          const page = await auditLog.query({ registry: registryId, top: 500, ...(continuationToken ? { continuationToken } : {}) });
          rows.push(...page.items);
          continuationToken = page.continuationToken;
        } while (continuationToken);
        return rows;
      },
      stop: () => stack.stop(),
    };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/** Sums the counts that match. */
export function countOf(
  calls: readonly CallCount[],
  match: Partial<Pick<CallCount, 'api' | 'method'>> & { route?: RegExp; status?: (s: number) => boolean },
): number {
  return calls
    .filter(
      (c) =>
        (match.api === undefined || c.api === match.api) &&
        (match.method === undefined || c.method === match.method) &&
        (!match.route || match.route.test(c.route)) &&
        (!match.status || match.status(c.status)),
    )
    .reduce((n, c) => n + c.count, 0);
}
