/**
 * The access feature against the emulator (ARM, authorization, Resource Graph) and Azurite, with
 * the real adapters from createDeps. Resources are created and tagged by real ARM PUT/PATCH
 * requests as the operator, the way a platform engineer would.
 */
import { randomBytes } from 'node:crypto';
import { getClient } from '@azure-rest/core-client';
import { inject } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createDeps, type Deps } from '../../../src/deps.js';
import { invocationLogger } from '../../../src/log.js';
import { APP, OPERATOR } from '../../../emulator/index.js';
import { startTestEmulator, type TestEmulator } from '../../support/emulator.js';

export const API = {
  rg: '2021-04-01',
  registry: '2025-11-01',
  task: '2019-06-01-preview',
  vm: '2024-07-01',
  vmss: '2024-07-01',
  aks: '2025-05-01',
  identity: '2023-01-31',
  tags: '2021-04-01',
} as const;

export interface AccessHarness {
  readonly emu: TestEmulator;
  readonly deps: Deps;
  readonly sub: string;
  rg(name: string): Promise<string>;
  put(id: string, apiVersion: string, body: unknown): Promise<any>;
  del(id: string, apiVersion: string): Promise<void>;
  tag(id: string, tags: Record<string, string>, operation?: 'Merge' | 'Replace' | 'Delete'): Promise<void>;
  assignmentsAt(scope: string): Promise<Array<{ name: string; principalId: string; roleDefinitionId: string; description?: string }>>;
  calls(): Promise<Array<{ api: string; method: string; route: string; status: number; count: number }>>;
  clearCalls(): Promise<void>;
  log: ReturnType<typeof invocationLogger>;
  stop(): Promise<void>;
}

/** `federationScopes`: WORKLOAD_FEDERATION_SCOPES, the whole emulator subscription unless given. */
export async function startAccessHarness(
  options: { defaultConsent?: string; federationScopes?: (subscriptionId: string) => string } = {},
): Promise<AccessHarness> {
  const emu = await startTestEmulator({
    arm: true,
    eventGrid: false,
    scenario: { arm: { operatorObjectId: OPERATOR.objectId, appObjectId: APP.objectId } },
  });
  const e = emu.endpoints;
  const config = loadConfig({
    AZURE_TENANT_ID: e.tenantId,
    ARM_ENDPOINT: e.arm,
    WATCHED_SUBSCRIPTIONS: e.subscriptionId,
    WORKLOAD_FEDERATION_SCOPES: options.federationScopes
      ? options.federationScopes(e.subscriptionId)
      : `/subscriptions/${e.subscriptionId}`,
    TABLES_CONNECTION_STRING: inject('tablesConnectionString'),
    TABLE_PREFIX: `acc${randomBytes(4).toString('hex')}`,
    ACCESS_DEFAULT_CONSENT: options.defaultConsent ?? 'none',
  });
  const credential = emu.operatorCredential();
  const deps = createDeps(config, credential, { clientOptions: emu.clientOptions });
  const client = getClient(e.arm, credential, {
    credentials: { scopes: [`${e.arm}/.default`] },
    ...emu.clientOptions,
    retryOptions: { maxRetries: 0 },
  });
  const check = (res: { status: string; body: unknown }, what: string) => {
    if (!res.status.startsWith('2')) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  };
  const lines: string[] = [];
  const sink = {
    invocationId: 'test',
    functionName: 'test',
    log: (l: unknown) => lines.push(String(l)),
    warn: (l: unknown) => lines.push(String(l)),
    error: (l: unknown) => lines.push(String(l)),
  };
  return {
    emu,
    deps,
    sub: e.subscriptionId,
    async rg(name) {
      const id = `/subscriptions/${e.subscriptionId}/resourceGroups/${name}`;
      check(
        await client.pathUnchecked(id).put({ queryParameters: { 'api-version': API.rg }, body: { location: 'westeurope' } }),
        `PUT ${id}`,
      );
      return id;
    },
    async put(id, apiVersion, body) {
      const res = await client.pathUnchecked(id).put({ queryParameters: { 'api-version': apiVersion }, body });
      check(res, `PUT ${id}`);
      return res.body;
    },
    async del(id, apiVersion) {
      check(await client.pathUnchecked(id).delete({ queryParameters: { 'api-version': apiVersion } }), `DELETE ${id}`);
    },
    async tag(id, tags, operation = 'Replace') {
      const res = await client
        .pathUnchecked(`${id}/providers/Microsoft.Resources/tags/default`)
        .patch({ queryParameters: { 'api-version': API.tags }, body: { operation, properties: { tags } } });
      check(res, `PATCH tags ${id}`);
    },
    async assignmentsAt(scope) {
      const res = await client
        .pathUnchecked(`${scope}/providers/Microsoft.Authorization/roleAssignments`)
        .get({ queryParameters: { 'api-version': '2022-04-01', $filter: 'atScope()' } });
      check(res, `list ${scope}`);
      return (
        res.body as {
          value: Array<{
            name: string;
            properties: { scope: string; principalId: string; roleDefinitionId: string; description?: string };
          }>;
        }
      ).value
        .filter((a) => a.properties.scope.toLowerCase() === scope.toLowerCase())
        .map((a) => ({
          name: a.name,
          principalId: a.properties.principalId,
          roleDefinitionId: a.properties.roleDefinitionId.split('/').pop()!,
          ...(a.properties.description ? { description: a.properties.description } : {}),
        }));
    },
    async calls() {
      return (await emu.admin<{ calls: any[] }>('GET', '/calls')).body.calls;
    },
    async clearCalls() {
      await emu.admin('DELETE', '/calls');
    },
    log: invocationLogger(sink),
    stop: () => emu.stop(),
  };
}
