/**
 * The bench's stack: the local stack of `scripts/stack.ts` (emulator in this process, Azurite, the
 * local host running the bundled app) and the few clients the scenarios drive it with — the
 * operator's ARM writes (as a platform engineer makes them), the emulator's admin API, role
 * assignments read back through ARM, and a recorder of the emulator's HTTP exchanges (through
 * Node's `http.server.*` diagnostics channels: the emulator runs in this process) so every 429
 * can be paired with the retry that followed it.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { appendFileSync } from 'node:fs';
import { createOperator } from '../scripts/operator.js';
import { startStack, type RunningStack } from '../scripts/stack.js';
import { rawRequest, type RawResponse } from '../test/support/emulator.js';

export const API = {
  resourceGroup: '2021-04-01',
  registry: '2025-11-01',
  vm: '2024-07-01',
  tags: '2021-04-01',
  roleAssignments: '2022-04-01',
} as const;
export const LOCATION = 'westeurope';
export const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';

export interface BenchStackOptions {
  /** The app bundle the host loads (dist/index.cjs, or a test's own build). */
  readonly appEntry: string;
  /** Use this Table Storage (with its own table prefix) instead of starting Azurite. */
  readonly tables?: { readonly endpoint: string; readonly connectionString: string };
  readonly tablePrefix?: string;
  /** App instances behind one address (default 1): the burst's multi-instance run. */
  readonly instances?: number;
}

export interface RoleAssignmentView {
  readonly name: string;
  readonly scope: string;
  readonly principalId: string;
  readonly roleDefinitionGuid: string;
  readonly createdOn: string;
  readonly description?: string;
}

export interface CallCount {
  readonly api: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly count: number;
  /** Rows answered in all, for Resource Graph queries (the emulator's own count). */
  readonly rows?: number;
}

export interface GridEventView {
  readonly id: string;
  readonly subject: string;
  readonly eventType: string;
  readonly eventTime: string;
  readonly data: { operationName?: string; correlationId?: string };
}

/** One HTTP exchange the emulator answered, as seen by its server. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly retryAfterSeconds?: number;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface ExchangeRecorder {
  /** What was recorded so far (live). */
  readonly exchanges: readonly Exchange[];
  stop(): Exchange[];
}

export interface BenchStack {
  readonly stack: RunningStack;
  readonly subscriptionId: string;
  readonly tablePrefix: string;
  readonly tablesConnectionString: string;
  rgId(name: string): string;
  /** An operator ARM call; throws on anything but 2xx. */
  arm(method: string, path: string, apiVersion: string, body?: unknown): Promise<RawResponse>;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Waits until Event Grid has nothing in flight or waiting to retry. */
  idle(timeoutMs?: number): Promise<void>;
  setFaults(faults: Record<string, unknown>): Promise<void>;
  calls(): Promise<CallCount[]>;
  clearCalls(): Promise<void>;
  events(): Promise<GridEventView[]>;
  /** Every role assignment at exactly this scope, read through ARM as the operator. */
  assignmentsAt(scope: string): Promise<RoleAssignmentView[]>;
  /** Starts keeping every exchange the emulator answers; `stop` returns them. */
  recordExchanges(): ExchangeRecorder;
  stop(): Promise<void>;
}

/** Starts the stack on free ports and the bench's clients over it. */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  const tablePrefix = options.tablePrefix ?? 'bench';
  const stack = await startStack({
    appEntry: options.appEntry,
    ...(options.tables ? { tables: options.tables } : {}),
    // The sweep timer never fires by itself during a bench (midnight on 1 January): scenarios fire it
    // through the admin API, and a scheduled run at :00 or :30 would hold the sweep lease over theirs.
    appSettings: { TABLE_PREFIX: tablePrefix, RECONCILE_SCHEDULE: '0 0 0 1 1 *' },
    ...(options.instances ? { instances: options.instances } : {}),
    // BENCH_HOST_LOG=<file> keeps the host's warnings and errors, to find out why a scenario failed.
    ...(process.env['BENCH_HOST_LOG']
      ? {
          onHostLine: (line: string) =>
            line.includes('"warning"') || line.includes('"error"')
              ? appendFileSync(process.env['BENCH_HOST_LOG']!, `${line}\n`)
              : undefined,
        }
      : {}),
  });
  try {
    const emulator = stack.emulator;
    if (!emulator) throw new Error('the bench needs the emulator');
    const e = emulator.endpoints;
    const ca = emulator.caPem;
    const operator = createOperator(e, ca);
    const { admin } = operator;
    const { arm } = operator;
    const tablesConnectionString = stack.endpoints.tablesConnectionString;

    return {
      stack,
      subscriptionId: e.subscriptionId,
      tablePrefix,
      tablesConnectionString,
      rgId: (name) => `/subscriptions/${e.subscriptionId}/resourceGroups/${name}`,
      arm,
      admin,
      async idle(timeoutMs = 120_000) {
        const res = await rawRequest(`${e.admin}/eventgrid/idle?timeoutMs=${timeoutMs}`, { method: 'POST' }, ca);
        if (res.status !== 200) throw new Error(`Event Grid delivery did not settle within ${timeoutMs} ms: ${res.text}`);
      },
      async setFaults(faults) {
        await admin('PUT', '/faults', faults);
      },
      async calls() {
        return (await admin<{ calls: CallCount[] }>('GET', '/calls')).calls;
      },
      async clearCalls() {
        await admin('DELETE', '/calls');
      },
      async events() {
        return (await admin<{ value: GridEventView[] }>('GET', '/eventgrid/events')).value;
      },
      async assignmentsAt(scope) {
        const out: RoleAssignmentView[] = [];
        let res = await arm('GET', `${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`, API.roleAssignments);
        for (;;) {
          const page = res.json<{
            value: Array<{
              name: string;
              properties: { scope: string; principalId: string; roleDefinitionId: string; createdOn: string; description?: string | null };
            }>;
            nextLink?: string | null;
          }>();
          for (const a of page.value) {
            if (a.properties.scope.toLowerCase() !== scope.toLowerCase()) continue;
            out.push({
              name: a.name,
              scope: a.properties.scope,
              principalId: a.properties.principalId.toLowerCase(),
              roleDefinitionGuid: a.properties.roleDefinitionId.split('/').pop() ?? '',
              createdOn: a.properties.createdOn,
              ...(a.properties.description ? { description: a.properties.description } : {}),
            });
          }
          if (!page.nextLink) return out;
          res = await arm('GET', page.nextLink, API.roleAssignments);
        }
      },
      recordExchanges: () => recordExchanges(),
      stop: () => stack.stop(),
    };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}

/**
 * Records every exchange an HTTP(S) server in this process answers. Only the emulator serves HTTP
 * in the bench's process (Azurite and the host are child processes).
 */
function recordExchanges(): ExchangeRecorder {
  const started = new WeakMap<IncomingMessage, number>();
  const out: Exchange[] = [];
  const onStart = (message: unknown) => {
    started.set((message as { request: IncomingMessage }).request, Date.now());
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const retryAfter = response.getHeader('retry-after');
    out.push({
      method: request.method ?? 'GET',
      path: (request.url ?? '/')
        .split('?')[0]!
        .replace(/^\/{2,}/, '/')
        .toLowerCase(),
      status: response.statusCode,
      ...(retryAfter !== undefined ? { retryAfterSeconds: Number(retryAfter) } : {}),
      startedAt: started.get(request) ?? Date.now(),
      finishedAt: Date.now(),
    });
  };
  subscribe('http.server.request.start', onStart);
  subscribe('http.server.response.finish', onFinish);
  return {
    exchanges: out,
    stop() {
      unsubscribe('http.server.request.start', onStart);
      unsubscribe('http.server.response.finish', onFinish);
      return out;
    },
  };
}

/** Sums the counts that match. */
export function countOf(
  calls: readonly CallCount[],
  match: { api?: string; method?: string; route?: RegExp; status?: (s: number) => boolean },
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

/** Runs `work` over `items` with at most `concurrency` at a time; resolves with the results in order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await work(items[at]!, at);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** The body of a VM PUT with a system-assigned identity (compute 2024-07-01, VirtualMachine_Create_WithEncryptionIdentity.json, trimmed). */
export function aVirtualMachine(tags: Record<string, string>): Record<string, unknown> {
  return {
    location: LOCATION,
    tags,
    identity: { type: 'SystemAssigned' },
    properties: {
      hardwareProfile: { vmSize: 'Standard_D2s_v3' },
      storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' } },
    },
  };
}

/** The body of a registry PUT (containerregistry Registries_Create_Registry_Create.json). */
export function aRegistry(tags: Record<string, string>): Record<string, unknown> {
  return { location: LOCATION, sku: { name: 'Standard' }, tags, properties: { adminUserEnabled: false } };
}

/** Percentile by nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
