/**
 * Azurite's Table service (npm `azurite`) on a free local port, in memory: the real Table Storage
 * for tests and the local stack. The account key is Azurite's published development key.
 * https://learn.microsoft.com/azure/storage/common/storage-use-azurite#connection-strings
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnGroup, type ChildHandle } from '../../devhost/childProcess.js';
import { freePort } from './ports.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** Azurite's well-known development key (public, documented; not a secret). */
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  /** Table service endpoint including the account: `http://127.0.0.1:<port>/devstoreaccount1`. */
  readonly endpoint: string;
  readonly connectionString: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Port to use; default a free one. */
  readonly port?: number;
  /** Milliseconds to wait for the service to answer. Default 20 s. */
  readonly timeoutMs?: number;
}

/** Starts `azurite-table` and resolves once it answers HTTP. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  // A free port can be taken between picking it and Azurite binding it: try again on a new one.
  const attempts = options.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startOnce(options.port ?? (await freePort()), options.timeoutMs ?? 20_000);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(port: number, timeoutMs: number): Promise<RunningAzurite> {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'table', 'main.js');
  // Azurite's working directory, for any debug or extent files it writes; removed on stop.
  const location = mkdtempSync(join(tmpdir(), 'azurite-'));
  const args = [
    bin,
    '--tableHost',
    '127.0.0.1',
    '--tablePort',
    String(port),
    '--inMemoryPersistence',
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--loose',
  ];
  const child: ChildHandle = spawnGroup(process.execPath, args, {
    name: 'azurite-table',
    cwd: location,
    env: { ...process.env, AZURITE_ACCOUNTS: undefined },
  });
  const cleanUp = async () => {
    await child.stop();
    rmSync(location, { recursive: true, force: true });
  };
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  try {
    await waitUntilAnswering(`${endpoint}/Tables`, child, timeoutMs);
  } catch (error) {
    await cleanUp();
    throw error;
  }
  return {
    endpoint,
    port,
    pid: child.pid,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=${endpoint};`,
    stop: cleanUp,
  };
}

async function waitUntilAnswering(url: string, child: ChildHandle, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`Azurite exited before it answered. Output:\n${child.output.slice(-20).join('\n')}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return; // any HTTP answer means the service is up
    } catch {
      await new Promise((done) => setTimeout(done, 100));
    }
  }
  throw new Error(`Azurite did not answer at ${url} within ${timeoutMs} ms. Output:\n${child.output.slice(-20).join('\n')}`);
}
