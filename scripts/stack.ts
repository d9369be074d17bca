/**
 * The local stack: Azurite (Table Storage), [the Azure emulator — plugged in through
 * `options.emulator`], and the local Functions host running the app with its settings.
 * `startStack()` resolves once every component answers; `stop()` ends every child process
 * (each in its own process group) and waits for it to exit.
 */
import type { FunctionSummary } from '../devhost/host.js';
import { startLoadBalancer, type LoadBalancer } from '../devhost/loadBalancer.js';
import { startEmulator, type EmulatorEndpoints, type RunningEmulator } from '../emulator/index.js';
import { APP_EVENT_SUBSCRIPTIONS } from '../src/eventSubscriptions.js';
import { SETTINGS } from '../src/config.js';
import { startAzurite, type RunningAzurite } from '../test/support/azurite.js';
import { newHostKey, startHostProcess, type HostProcess } from '../test/support/hostProcess.js';
import { rawRequest } from '../test/support/emulator.js';

/** What an emulator starter returns: `startEmulator()` from `emulator/index.ts`. */
export type StackEmulator = RunningEmulator;

export type StackComponent = 'emulator' | 'azurite' | 'functions';

export interface StackOptions {
  /** Use this Table Storage instead of starting Azurite. */
  readonly tables?: { readonly endpoint: string; readonly connectionString: string };
  /** Azurite's table port; default a free one. */
  readonly azuritePort?: number;
  /** The host's port (the load balancer's with several instances); 0 (the default) picks a free one. */
  readonly functionsPort?: number;
  /**
   * How many instances of the app to run (default 1): separate host processes on free ports behind
   * one load-balanced address (`devhost/loadBalancer.ts`), sharing the storage, the emulator and
   * the host keys, as a scaled-out Function App does. Timers run on the first instance only: on
   * Azure a timer trigger is a singleton across instances (the host holds a storage lease for it).
   */
  readonly instances?: number;
  /** The app bundle to load; default package.json `main` (dist/index.cjs). */
  readonly appEntry?: string;
  /** Extra app settings for the host, over the stack's own. */
  readonly appSettings?: Readonly<Record<string, string | undefined>>;
  /**
   * The local Azure emulator: started by default (`startEmulator()`); `false` runs the host
   * with placeholder endpoints that reach nothing, for tests of the host alone.
   */
  readonly emulator?: false | (() => Promise<StackEmulator>);
  /** Called as each component becomes ready. */
  readonly onReady?: (component: StackComponent, url: string, detail?: string) => void;
  /** Called with each raw line the host prints. */
  readonly onHostLine?: (line: string) => void;
}

/** What `.local/endpoints.json` holds: the host, Table Storage and, flat, the emulator's endpoints. */
export interface StackEndpoints extends Partial<Omit<EmulatorEndpoints, 'loopbackDnsPreload'>> {
  readonly functions: string;
  readonly tables: string;
  readonly tablesConnectionString: string;
  readonly functionKey: string;
  readonly masterKey: string;
  /** The `eventgrid_extension` system key: `code` on `/runtime/webhooks/eventgrid`. */
  readonly eventGridKey: string;
}

export interface RunningStack {
  readonly endpoints: StackEndpoints;
  readonly functions: readonly FunctionSummary[];
  /** The first instance (the only one unless `instances` > 1). */
  readonly host: HostProcess;
  /** Every instance, in load-balancer order; `restartInstance` replaces one in place. */
  readonly hosts: HostProcess[];
  /** The front over the instances, when there are several. */
  readonly loadBalancer?: LoadBalancer;
  readonly emulator?: StackEmulator;
  /** Starts instance `index` again (after it was stopped or killed) and puts it back behind the front. */
  restartInstance(index: number): Promise<HostProcess>;
  /** Instances `restartInstance` replaced, oldest first: their output stays readable (a leak scan reads every line any instance wrote). */
  readonly retiredHosts: readonly HostProcess[];
  /** Pids of every child process the stack started. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/**
 * Placeholder-but-valid app settings until the emulator provides real endpoints: the app loads
 * and validates its configuration, and nothing reaches Azure.
 */
export const PLACEHOLDER_APP_SETTINGS: Readonly<Record<string, string>> = {
  // Settings a trigger binds as %NAME%, set as the infra sets them (infra/main.parameters.json):
  // the host resolves them from app settings only and puts a function naming a missing one in error.
  ...Object.fromEntries(SETTINGS.filter((s) => s.boundBy !== undefined && s.default !== undefined).map((s) => [s.name, s.default!])),
  AZURE_TENANT_ID: '00000000-0000-0000-0000-00000000aaaa',
  WATCHED_SUBSCRIPTIONS: '00000000-0000-0000-0000-000000000001',
  ARM_ENDPOINT: 'https://127.0.0.1:9/arm-not-configured',
  GRAPH_ENDPOINT: 'https://127.0.0.1:9/graph-not-configured',
  AZURE_AUTHORITY_HOST: 'https://127.0.0.1:9/entra-not-configured',
};

/** Starts every component in order; on any failure stops what was started and rethrows. */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const stops: (() => Promise<void>)[] = [];
  const pids: number[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    let emulator: StackEmulator | undefined;
    if (options.emulator !== false) {
      emulator = await (options.emulator ?? (() => startEmulator()))();
      stops.push(() => emulator!.stop());
      options.onReady?.('emulator', emulator.endpoints.arm, 'ARM, Entra, Graph, Key Vault, Event Grid');
    }

    let tables = options.tables;
    if (!tables) {
      const azurite: RunningAzurite = await startAzurite({ port: options.azuritePort });
      stops.push(() => azurite.stop());
      pids.push(azurite.pid);
      tables = azurite;
      options.onReady?.('azurite', new URL(azurite.endpoint).origin);
    }

    const instances = options.instances ?? 1;
    if (!Number.isInteger(instances) || instances < 1)
      throw new Error(`instances: expected a whole number of at least 1, got ${instances}`);
    // One set of keys for every instance, as a Function App's host keys are the app's, not an instance's.
    const keys = { functionKey: newHostKey(), masterKey: newHostKey(), eventGridKey: newHostKey() };
    const baseEnv = {
      ...PLACEHOLDER_APP_SETTINGS,
      TABLES_CONNECTION_STRING: tables.connectionString,
      ...(emulator ? emulatorAppSettings(emulator) : {}),
      ...options.appSettings,
    };
    const startInstance = (index: number) =>
      startHostProcess({
        appEntry: options.appEntry,
        keys,
        onLine: options.onHostLine,
        env: {
          ...baseEnv,
          ...(index > 0 ? { FUNCTIONS_RUN_TIMERS: 'false' } : {}),
          FUNCTIONS_HTTP_PORT: String(instances > 1 ? 0 : (options.functionsPort ?? 0)),
        },
      });
    const hosts: HostProcess[] = [];
    const retiredHosts: HostProcess[] = [];
    for (let index = 0; index < instances; index++) {
      const started = await startInstance(index);
      hosts.push(started);
      stops.push(() => started.stop());
      pids.push(started.pid);
    }
    const host = hosts[0]!;
    let loadBalancer: LoadBalancer | undefined;
    if (instances > 1) {
      loadBalancer = await startLoadBalancer(
        hosts.map((h) => h.url),
        { port: options.functionsPort ?? 0 },
      );
      stops.push(() => loadBalancer!.stop());
    }
    const url = loadBalancer?.url ?? host.url;
    options.onReady?.(
      'functions',
      url,
      `${host.functions.map((f) => f.name).join(', ')}${instances > 1 ? `; ${instances} instances behind one address` : ''}`,
    );
    if (emulator) await subscribeApp(emulator, url, keys.eventGridKey, host.functions);

    const { loopbackDnsPreload: _preload, ...emulatorEndpoints } = emulator?.endpoints ?? ({} as Partial<EmulatorEndpoints>);
    return {
      endpoints: {
        functions: url,
        tables: tables.endpoint,
        tablesConnectionString: tables.connectionString,
        functionKey: host.keys.functionKey,
        masterKey: host.keys.masterKey,
        eventGridKey: host.keys.eventGridKey,
        ...emulatorEndpoints,
      },
      functions: host.functions,
      host,
      hosts,
      ...(loadBalancer ? { loadBalancer } : {}),
      emulator,
      pids,
      retiredHosts,
      async restartInstance(index) {
        if (!hosts[index]) throw new Error(`no instance ${index}`);
        await hosts[index].stop();
        retiredHosts.push(hosts[index]);
        const started = await startInstance(index);
        hosts[index] = started;
        stops.push(() => started.stop());
        pids.push(started.pid);
        if (loadBalancer) loadBalancer.setBackend(index, started.url);
        return started;
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The app settings that point the app at the emulator, as the infra points it at Azure. */
export function emulatorAppSettings(emulator: StackEmulator): Record<string, string> {
  const env = emulator.env();
  return {
    ...env,
    // Keep whatever NODE_OPTIONS the caller had, and add the .localhost resolver for vault hosts.
    NODE_OPTIONS: [process.env['NODE_OPTIONS'], env['NODE_OPTIONS']].filter(Boolean).join(' '),
    WATCHED_SUBSCRIPTIONS: emulator.endpoints.subscriptionId,
    // The demo vault holds the demo's pull credentials, as the infra's vault does in Azure.
    CREDENTIALS_VAULT_NAMES: emulator.endpoints.keyVaultName,
    // The whole local subscription is in scope, so the role check is what refuses a privileged identity here.
    WORKLOAD_FEDERATION_SCOPES: `/subscriptions/${emulator.endpoints.subscriptionId}`,
  };
}

/**
 * Subscribes each Event Grid function the app registered to the emulator's events, with the
 * same event types and filters the infra gives Event Grid in Azure (one list: APP_EVENT_SUBSCRIPTIONS).
 */
export async function subscribeApp(
  emulator: StackEmulator,
  hostUrl: string,
  eventGridKey: string,
  functions: readonly FunctionSummary[],
): Promise<void> {
  for (const subscription of APP_EVENT_SUBSCRIPTIONS) {
    if (!functions.some((f) => f.name === subscription.functionName)) continue;
    const endpoint = `${hostUrl}/runtime/webhooks/eventgrid?functionName=${encodeURIComponent(subscription.functionName)}&code=${encodeURIComponent(eventGridKey)}`;
    const response = await rawRequest(
      `${emulator.endpoints.admin}/eventgrid/subscriptions/${subscription.functionName}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          endpoint,
          includedEventTypes: subscription.includedEventTypes,
          advancedFilters: subscription.advancedFilters,
        }),
      },
      emulator.caPem,
    );
    if (response.status >= 300)
      throw new Error(`subscribing ${subscription.functionName} to the emulator's events failed: ${response.status} ${response.text}`);
  }
}

/** Resolves once every endpoint answers: the host's status is Running and Table Storage responds. */
export async function checkStackAnswers(endpoints: StackEndpoints): Promise<void> {
  const status = await fetch(`${endpoints.functions}/admin/host/status`, { headers: { 'x-functions-key': endpoints.masterKey } });
  const body = (await status.json()) as { state?: string };
  if (status.status !== 200 || body.state !== 'Running')
    throw new Error(`The functions host answered ${status.status} ${JSON.stringify(body)}.`);
  await fetch(`${endpoints.tables}/Tables`); // any HTTP answer: a refused connection throws
}
