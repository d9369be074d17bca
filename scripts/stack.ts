/**
 * The local stack: Azurite (Table Storage), [the Azure emulator — plugged in through
 * `options.emulator`], and the local Functions host running the app with its settings.
 * `startStack()` resolves once every component answers; `stop()` ends every child process
 * (each in its own process group) and waits for it to exit.
 */
import type { FunctionSummary } from '../devhost/host.js';
import { startAzurite, type RunningAzurite } from '../test/support/azurite.js';
import { startHostProcess, type HostProcess } from '../test/support/hostProcess.js';

/** What an emulator starter returns (see `emulator/index.ts` `startEmulator()`). */
export interface StackEmulator {
  readonly endpoints: Record<string, unknown>;
  stop(): Promise<void>;
}

export type StackComponent = 'emulator' | 'azurite' | 'functions';

export interface StackOptions {
  /** Use this Table Storage instead of starting Azurite. */
  readonly tables?: { readonly endpoint: string; readonly connectionString: string };
  /** Azurite's table port; default a free one. */
  readonly azuritePort?: number;
  /** The host's port; 0 (the default) picks a free one. */
  readonly functionsPort?: number;
  /** The app bundle to load; default package.json `main` (dist/index.cjs). */
  readonly appEntry?: string;
  /** Extra app settings for the host, over the stack's own. */
  readonly appSettings?: Readonly<Record<string, string | undefined>>;
  /**
   * EMULATOR HOOK — starts the local Azure emulator before the host. Plug in
   * `() => startEmulator(...)` from `emulator/index.ts` once it exists.
   */
  readonly emulator?: () => Promise<StackEmulator>;
  /**
   * EMULATOR HOOK — the app settings that point the app at the emulator (ARM_ENDPOINT,
   * GRAPH_ENDPOINT, IDENTITY_ENDPOINT, IDENTITY_HEADER, NODE_EXTRA_CA_CERTS …).
   */
  readonly emulatorAppSettings?: (emulator: StackEmulator) => Readonly<Record<string, string | undefined>>;
  /** Called as each component becomes ready. */
  readonly onReady?: (component: StackComponent, url: string, detail?: string) => void;
  /** Called with each raw line the host prints. */
  readonly onHostLine?: (line: string) => void;
}

/** What `.local/endpoints.json` holds. */
export interface StackEndpoints {
  readonly functions: string;
  readonly tables: string;
  readonly tablesConnectionString: string;
  readonly functionKey: string;
  readonly masterKey: string;
  /** The `eventgrid_extension` system key: `code` on `/runtime/webhooks/eventgrid`. */
  readonly eventGridKey: string;
  /** The emulator's endpoints, once the emulator is plugged in. */
  readonly emulator?: Record<string, unknown>;
}

export interface RunningStack {
  readonly endpoints: StackEndpoints;
  readonly functions: readonly FunctionSummary[];
  readonly host: HostProcess;
  /** Pids of every child process the stack started. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/**
 * Placeholder-but-valid app settings until the emulator provides real endpoints: the app loads
 * and validates its configuration, and nothing reaches Azure.
 */
export const PLACEHOLDER_APP_SETTINGS: Readonly<Record<string, string>> = {
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
    if (options.emulator) {
      emulator = await options.emulator();
      stops.push(() => emulator!.stop());
      options.onReady?.('emulator', String(Object.values(emulator.endpoints)[0] ?? ''));
    }

    let tables = options.tables;
    if (!tables) {
      const azurite: RunningAzurite = await startAzurite({ port: options.azuritePort });
      stops.push(() => azurite.stop());
      pids.push(azurite.pid);
      tables = azurite;
      options.onReady?.('azurite', new URL(azurite.endpoint).origin);
    }

    const host = await startHostProcess({
      appEntry: options.appEntry,
      onLine: options.onHostLine,
      env: {
        ...PLACEHOLDER_APP_SETTINGS,
        TABLES_CONNECTION_STRING: tables.connectionString,
        ...(emulator && options.emulatorAppSettings ? options.emulatorAppSettings(emulator) : {}),
        ...options.appSettings,
        FUNCTIONS_HTTP_PORT: String(options.functionsPort ?? 0),
      },
    });
    stops.push(() => host.stop());
    pids.push(host.pid);
    options.onReady?.('functions', host.url, host.functions.map((f) => f.name).join(', '));

    return {
      endpoints: {
        functions: host.url,
        tables: tables.endpoint,
        tablesConnectionString: tables.connectionString,
        functionKey: host.keys.functionKey,
        masterKey: host.keys.masterKey,
        eventGridKey: host.keys.eventGridKey,
        ...(emulator ? { emulator: emulator.endpoints } : {}),
      },
      functions: host.functions,
      host,
      pids,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Resolves once every endpoint answers: the host's status is Running and Table Storage responds. */
export async function checkStackAnswers(endpoints: StackEndpoints): Promise<void> {
  const status = await fetch(`${endpoints.functions}/admin/host/status`, { headers: { 'x-functions-key': endpoints.masterKey } });
  const body = (await status.json()) as { state?: string };
  if (status.status !== 200 || body.state !== 'Running') throw new Error(`The functions host answered ${status.status} ${JSON.stringify(body)}.`);
  await fetch(`${endpoints.tables}/Tables`); // any HTTP answer: a refused connection throws
}
