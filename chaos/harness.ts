/**
 * `npm run chaos`: tries to break the product and prints what it measured beside each goal, as the
 * bench does for speed. One stack on free ports with N instances of the app behind one address
 * (scripts/stack.ts), the emulator in this process, Azurite; a world built by the demo's scenes
 * (a consenting registry, a VM granted then untagged, a registry enrolled for pull credentials) and
 * one rotation on request; then the scenarios. Every figure is read from the emulator's records
 * (its call log, its own HTTP answers), Azurite's tables and the processes, never from the app's
 * account of itself.
 */
import { loadavg, tmpdir } from 'node:os';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { describeMachine, currentCommit, type Figure, type BenchResults } from '../bench/report.js';
import { startEmulator } from '../emulator/index.js';
import { runDemo } from '../scripts/demo.js';
import { startStack, type RunningStack } from '../scripts/stack.js';
import { TABLE_SUFFIXES } from '../src/deps.js';
import { rawRequest } from '../test/support/emulator.js';
import { eventArbitraries, generate, requestArbitraries, API_ROUTES, type ApiRequest, type Delivery, type World } from './hostileInput.js';
import { filesWrittenSince, findLeaks, recordIssuedSecrets, type Haystack, type SecretRecorder } from './leaks.js';
import { FAULTS, runFaults } from './faults.js';
import { KILL, runKillNine, runKillRotations } from './killNine.js';
import { CHAOS_CREDENTIALS, type ChaosSettings } from './settings.js';

export type ChaosResults = BenchResults;

export interface RunChaosOptions {
  readonly settings: ChaosSettings;
  readonly repoRoot: string;
  readonly appEntry: string;
  /** Shared Table Storage (the harness test's Azurite) instead of the stack's own. */
  readonly tables?: { readonly endpoint: string; readonly connectionString: string };
  readonly tablePrefix?: string;
  readonly command?: string;
  readonly log?: (line: string) => void;
}

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
  readonly error?: string;
}

const HOSTILE = '4. Hostile input';
/** Inputs generated and sent per batch. */
const BATCH = 250;
const LEAKS = '5. No leaks';

export async function runChaos(options: RunChaosOptions): Promise<ChaosResults> {
  const { settings } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const machine = describeMachine();
  const startedAt = new Date();
  const figures: Figure[] = [];
  const errors: { scenario: string; error: string }[] = [];
  const tablePrefix = options.tablePrefix ?? `chaos${Date.now().toString(36)}`;
  const responses: Haystack[] = [];
  let recorder: SecretRecorder | undefined;

  const stack = await startStack({
    instances: settings.instances,
    appEntry: options.appEntry,
    ...(options.tables ? { tables: options.tables } : {}),
    // Timers only by request: a sweep on its schedule would write in the middle of the hostile phase.
    // No grace period (the setting's floor): every forced rotation of point 3 runs, and each one retires
    // the previous password at once, the path where a kill could remove what Key Vault still serves.
    // A short credentials lease (CHAOS_CREDENTIALS): point 3 waits out the lease of a killed run.
    appSettings: {
      TABLE_PREFIX: tablePrefix,
      FUNCTIONS_RUN_TIMERS: 'false',
      ROTATION_GRACE_HOURS: '0',
      CREDENTIALS_LEASE_SECONDS: String(CHAOS_CREDENTIALS.leaseSeconds),
      CREDENTIALS_CALL_TIMEOUT_SECONDS: String(CHAOS_CREDENTIALS.callTimeoutSeconds),
    },
    emulator: async () => {
      const emulator = await startEmulator();
      recorder = recordIssuedSecrets(portsOf({ ...emulator.endpoints }));
      return emulator;
    },
  });
  const exits: string[] = [];
  let killing = false;
  stack.hosts.forEach(
    (host, i) =>
      void host.child.exited.then((code) => !killing && exits.push(`instance ${i + 1} (pid ${host.pid}) exited with code ${code}`)),
  );
  try {
    const e = stack.endpoints;
    log(`stack: ${settings.instances} instances behind ${e.functions}, emulator ${e.arm}, table prefix ${tablePrefix}`);
    recorder!.add({ kind: 'seeded secret', value: e.operator!.clientSecret });
    recorder!.add({ kind: 'seeded secret', value: stack.emulator!.endpoints.identityHeader });

    // The world: the demo's scenes through the real path, then one rotation on request.
    await runDemo({ endpoints: e, caPem: stack.emulator!.caPem, print: (line) => log(`  ${line}`) });
    const rotated = await fetch(`${e.functions}/api/credentials/fabrikamacr/rotate`, {
      method: 'POST',
      headers: { 'x-functions-key': e.functionKey },
    });
    responses.push({ place: 'HTTP response', where: 'POST /api/credentials/fabrikamacr/rotate', text: await rotated.text() });
    if (rotated.status >= 300) throw new Error(`the world's rotation answered ${rotated.status}`);
    await admin(stack, 'POST', '/eventgrid/idle?timeoutMs=60000');
    const world = worldOf(stack);

    try {
      figures.push(...(await hostileInput(stack, world, settings, tablePrefix, responses, exits, log)));
    } catch (error) {
      errors.push({ scenario: HOSTILE, error: error instanceof Error ? error.message : String(error) });
      log(`  ${HOSTILE} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }

    try {
      figures.push(...(await runFaults(stack, settings, log)));
    } catch (error) {
      errors.push({ scenario: FAULTS, error: error instanceof Error ? error.message : String(error) });
      log(`  ${FAULTS} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }

    // After the hostile phase: its figures count exits, and this one kills on purpose.
    try {
      killing = true;
      figures.push(...(await runKillNine(stack, settings, log)));
    } catch (error) {
      errors.push({ scenario: KILL, error: error instanceof Error ? error.message : String(error) });
      log(`  ${KILL} failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
    try {
      figures.push(...(await runKillRotations(stack, settings, log)));
    } catch (error) {
      errors.push({ scenario: KILL, error: `rotations: ${error instanceof Error ? error.message : String(error)}` });
      log(`  ${KILL} (rotations) failed: ${error instanceof Error ? error.stack : String(error)}`);
    }

    try {
      const haystacks: Haystack[] = [...responses];
      stack.hosts.forEach((host, i) =>
        host.child.output.forEach((line, n) => haystacks.push({ place: 'log line', where: `instance ${i + 1} line ${n + 1}`, text: line })),
      );
      // Instances killed and replaced during the run wrote most of its log lines: read theirs too.
      stack.retiredHosts.forEach((host, i) =>
        host.child.output.forEach((line, n) =>
          haystacks.push({ place: 'log line', where: `replaced instance ${i + 1} line ${n + 1}`, text: line }),
        ),
      );
      for (const row of await allTableRows(e.tablesConnectionString, tablePrefix)) haystacks.push(row);
      haystacks.push(...filesWrittenSince([options.repoRoot, tmpdir()], startedAt.getTime()));
      const secrets = recorder!.secrets();
      // Host keys are sent with every request of this run: a log or an answer that echoes a URL would show them.
      for (const value of [e.functionKey, e.masterKey, e.eventGridKey]) secrets.push({ kind: 'seeded secret', value });
      const leaks = findLeaks(secrets, haystacks);
      const count = (place: Haystack['place']) => haystacks.filter((h) => h.place === place).length;
      const issued = (kind: string) => secrets.filter((s) => s.kind === kind).length;
      figures.push(
        {
          scenario: LEAKS,
          name: 'secrets issued by the emulator, and seeded',
          value: secrets.length,
          unit: '',
          display: `${secrets.length} (${issued('access token')} tokens, ${issued('Graph password')} Graph passwords, ${issued('Key Vault secret value')} Key Vault values, ${issued('seeded secret')} seeded or host keys)`,
        },
        {
          scenario: LEAKS,
          name: 'places scanned',
          value: haystacks.length,
          unit: '',
          display: `${count('log line')} log lines (${haystacks.filter((h) => h.place === 'log line' && h.where.startsWith('replaced')).length} from replaced instances), ${count('audit row')} audit rows, ${count('table row')} other table rows, ${count('HTTP response')} HTTP responses, ${count('file')} files`,
        },
        {
          scenario: LEAKS,
          name: 'secrets found in them',
          value: leaks.length,
          unit: '',
          goal: '0',
          met: leaks.length === 0,
          detail: { leaks: leaks.slice(0, 50) },
        },
      );
      const tokens = issued('access token');
      // A Key Vault value that is a Graph password is listed once, as the password.
      if (tokens === 0 || issued('Graph password') === 0)
        errors.push({
          scenario: LEAKS,
          error: `the run issued too few secrets to scan for (tokens ${tokens}, passwords ${issued('Graph password')})`,
        });
    } catch (error) {
      errors.push({ scenario: LEAKS, error: error instanceof Error ? error.message : String(error) });
    }
  } finally {
    recorder?.stop();
    await stack.stop();
  }

  return {
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    command: options.command ?? 'npm run chaos',
    commit: currentCommit(options.repoRoot),
    machine: { ...machine, loadAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    settings: { ...settings },
    figures,
    errors,
  };
}

/** Point 4: generated deliveries and requests through the load-balanced address, then what they changed. */
async function hostileInput(
  stack: RunningStack,
  world: World,
  settings: ChaosSettings,
  tablePrefix: string,
  responses: Haystack[],
  exits: readonly string[],
  log: (line: string) => void,
): Promise<Figure[]> {
  const e = stack.endpoints;
  const since = Date.now();
  const eventsBefore = (await admin<{ value: unknown[] }>(stack, 'GET', '/eventgrid/events')).value.length;
  const worldIds = new Set(world.resourceIds.map((id) => id.toLowerCase()));

  // Generated and sent a batch at a time, each batch from its own seed: 10,000 hostile bodies (some
  // of hundreds of kilobytes) need not all sit in memory, and only a summary of each is kept.
  const deliveryArbitrary = eventArbitraries(world).delivery;
  const sentDeliveries: Array<
    Answer & {
      readonly functionName: string;
      readonly events: number;
      readonly mustAudit: ReadonlyArray<{ readonly id: string; readonly text: string }>;
      readonly input: string;
    }
  > = [];
  log(`${HOSTILE}: ${settings.deliveries} deliveries …`);
  for (let batch = 0; batch * BATCH < settings.deliveries; batch++) {
    const deliveries = generate(deliveryArbitrary, Math.min(BATCH, settings.deliveries - batch * BATCH), settings.seed * 1_000 + batch);
    const answers = await inParallel(deliveries, settings.concurrency, (d) =>
      send(`${e.functions}/runtime/webhooks/eventgrid?functionName=${d.functionName}&code=${encodeURIComponent(e.eventGridKey)}`, {
        method: 'POST',
        headers: d.headers,
        body: d.body,
      }),
    );
    deliveries.forEach((d, i) => {
      const ids = eventIdsOf(d);
      // An event about a resource the world holds is acted on, and one that changes nothing may leave no
      // row (a registry no consumer names); every other event is refused or skipped, and must leave one.
      const mustAudit = ids
        .filter((id) => !namesWorld(d, id, worldIds))
        .map((id) => ({ id: id.slice(0, 100), text: `${d.functionName} ${eventText(d, id)}` }));
      sentDeliveries.push({
        ...answers[i]!,
        functionName: d.functionName,
        events: ids.length,
        mustAudit,
        input: JSON.stringify(d).slice(0, 400),
      });
    });
  }
  const requestArbitrary = requestArbitraries(world).request;
  const keyFor = (r: ApiRequest): Record<string, string> =>
    r.key === 'function' ? { 'x-functions-key': e.functionKey } : r.key === 'wrong' ? { 'x-functions-key': 'not-the-key' } : {};
  const sentRequests: Array<Answer & { readonly route: string; readonly clear: boolean; readonly input: string }> = [];
  log(`${HOSTILE}: ${settings.requests} API requests …`);
  for (let batch = 0; batch * BATCH < settings.requests; batch++) {
    const requests = generate(requestArbitrary, Math.min(BATCH, settings.requests - batch * BATCH), settings.seed * 1_000 + 500 + batch);
    const answers = await inParallel(requests, settings.concurrency, (r) =>
      send(`${e.functions}${r.path}`, {
        method: r.method,
        headers: { ...r.headers, ...keyFor(r) },
        ...(r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD' ? { body: r.body } : {}),
      }),
    );
    requests.forEach((r, i) =>
      sentRequests.push({
        ...answers[i]!,
        route: r.route,
        clear: isClearRefusal(answers[i]!, r),
        input: `${r.method} ${r.path.slice(0, 120)} ${r.body?.slice(0, 240) ?? ''}`,
      }),
    );
  }
  sentDeliveries.forEach((a, i) => responses.push({ place: 'HTTP response', where: `delivery ${i}`, text: a.text }));
  sentRequests.forEach((a) => responses.push({ place: 'HTTP response', where: a.input.slice(0, 80), text: a.text }));

  // Changes, from the emulator's own records: writes it accepted, events ARM published.
  const calls = (
    await admin<{ calls: Array<{ api: string; method: string; route: string; status: number; count: number }> }>(
      stack,
      'GET',
      `/calls?since=${since}`,
    )
  ).calls;
  const writes = calls.filter(
    (c) =>
      ['arm', 'authorization', 'graph', 'keyVault'].includes(c.api) &&
      c.method !== 'GET' &&
      c.method !== 'HEAD' &&
      c.status >= 200 &&
      c.status < 300,
  );
  const published = (await admin<{ value: unknown[] }>(stack, 'GET', '/eventgrid/events')).value.length - eventsBefore;
  const changes = writes.reduce((n, c) => n + c.count, 0) + published;

  // Every event the host accepted (a 2xx) and did not act on has an audit row with its id; every refusal says why.
  const auditRows = await tableRows(e.tablesConnectionString, `${tablePrefix}${TABLE_SUFFIXES.audit}`);
  const audited = new Set(
    auditRows
      .map((r) => r['eventId'])
      .filter((id): id is string => typeof id === 'string')
      .map((id) => id.slice(0, 100)),
  );
  const unaudited = sentDeliveries
    .filter((a) => a.status >= 200 && a.status < 300)
    .flatMap((a) => a.mustAudit.filter((m) => !audited.has(m.id)).map((m) => m.text));
  const unclearDeliveries = sentDeliveries.filter(
    (a) => a.status >= 400 && a.status < 500 && a.text.trim().length < 10 && a.status !== 401,
  );
  const unclearRequests = sentRequests.filter((a) => a.status >= 400 && a.status < 500 && !a.clear);
  const fiveXx = (answers: readonly Answer[]) => answers.filter((a) => a.status >= 500);
  const lost = [...sentDeliveries, ...sentRequests].filter((a) => a.status === 0 || a.status === 502);
  const covered = new Set(sentRequests.filter((r) => r.status < 500 && r.route !== '(no route)').map((r) => r.route));

  // What the instances said about each failure (their error lines), for the detail.
  const hostErrors = stack.hosts.flatMap((h) =>
    h.child.output.filter((line) => /"level":"error"/.test(line)).map((line) => line.slice(0, 1_500)),
  );
  const sample = (answers: ReadonlyArray<Answer & { input: string }>) =>
    answers
      .flatMap((a) =>
        a.status >= 500 || a.status === 0 ? [{ status: a.status, error: a.error, answer: a.text.slice(0, 300), input: a.input }] : [],
      )
      .slice(0, 10);
  const deliveryAnswers = sentDeliveries;
  const requestAnswers = sentRequests;
  return [
    {
      scenario: HOSTILE,
      name: 'Event Grid deliveries sent',
      value: sentDeliveries.length,
      unit: '',
      display: `${sentDeliveries.length} (${sentDeliveries.reduce((n, d) => n + d.events, 0)} events the host accepts as events)`,
    },
    {
      scenario: HOSTILE,
      name: 'HTTP requests sent',
      value: sentRequests.length,
      unit: '',
      display: `${sentRequests.length}, to ${covered.size} of ${API_ROUTES.length} routes`,
    },
    { scenario: HOSTILE, name: 'instances crashed', value: exits.length, unit: '', goal: '0', met: exits.length === 0, detail: { exits } },
    { scenario: HOSTILE, name: 'answers lost (connection dropped, 502)', value: lost.length, unit: '', goal: '0', met: lost.length === 0 },
    {
      scenario: HOSTILE,
      name: 'deliveries answered 5xx',
      value: fiveXx(deliveryAnswers).length,
      unit: '',
      goal: '0',
      met: fiveXx(deliveryAnswers).length === 0,
      detail: { sample: sample(deliveryAnswers), hostErrors: hostErrors.slice(0, 10) },
    },
    {
      scenario: HOSTILE,
      name: 'requests answered 5xx',
      value: fiveXx(requestAnswers).length,
      unit: '',
      goal: '0',
      met: fiveXx(requestAnswers).length === 0,
      detail: { sample: sample(requestAnswers) },
    },
    {
      scenario: HOSTILE,
      name: 'changes on the emulator',
      value: changes,
      unit: '',
      goal: '0',
      met: changes === 0,
      detail: { writes, published },
    },
    {
      scenario: HOSTILE,
      name: 'accepted events without an audit row',
      value: unaudited.length,
      unit: '',
      goal: '0',
      met: unaudited.length === 0,
      detail: { sample: unaudited.slice(0, 20) },
    },
    {
      scenario: HOSTILE,
      name: 'refusals without a clear error',
      value: unclearDeliveries.length + unclearRequests.length,
      unit: '',
      goal: '0',
      met: unclearDeliveries.length + unclearRequests.length === 0,
      detail: {
        sample: [...unclearDeliveries, ...unclearRequests]
          .slice(0, 10)
          .map((a) => ({ status: a.status, answer: a.text.slice(0, 300), input: a.input })),
      },
    },
    {
      scenario: HOSTILE,
      name: 'routes reached',
      value: covered.size,
      unit: '',
      display: `${covered.size} of ${API_ROUTES.length}`,
      goal: `all ${API_ROUTES.length}`,
      met: covered.size === API_ROUTES.length,
    },
  ];
}

/**
 * A 4xx is clear when it is an RFC 9457 problem with a title and a detail, or one of the Functions
 * host's own answers that carry no body on Azure either: 401 (no or wrong key), 404 (no such
 * route), 405 (with Allow), 411 (a body without Content-Length).
 */
function isClearRefusal(a: Answer, r: ApiRequest): boolean {
  if ([401, 404, 405, 411].includes(a.status) && a.text === '') return a.status !== 401 || r.key !== 'function';
  if (!a.contentType.startsWith('application/problem+json')) return false;
  try {
    const problem = JSON.parse(a.text) as { title?: unknown; detail?: unknown };
    return typeof problem.title === 'string' && typeof problem.detail === 'string' && problem.detail.length > 0;
  } catch {
    return false;
  }
}

/** The ids of the events the host would pass to the function (string ids of an array, or a CloudEvent's). */
function eventIdsOf(d: Delivery): string[] {
  let body: unknown;
  try {
    body = JSON.parse(d.body);
  } catch {
    return [];
  }
  const type = d.headers['aeg-event-type'];
  const cloud = (d.headers['content-type'] ?? '').startsWith('application/cloudevents');
  const list = cloud ? [body] : Array.isArray(body) && type === 'Notification' ? body : [];
  const ids = list.map((x) => (x && typeof x === 'object' ? (x as Record<string, unknown>)['id'] : undefined));
  return ids.every((id) => typeof id === 'string') ? (ids as string[]) : [];
}

/** Whether the event names a resource of the world (so it may be acted on, not refused). */
function namesWorld(d: Delivery, id: string, worldIds: ReadonlySet<string>): boolean {
  if (d.functionName !== 'resourceEvents') return false;
  const event = JSON.parse(eventText(d, id, Infinity)) as { data?: { resourceUri?: unknown } } | null;
  // The app takes the resource from data.resourceUri (src/resources/resourceEvent.ts), then re-reads ARM.
  const uri = event?.data?.resourceUri;
  return typeof uri === 'string' && worldIds.has(uri.toLowerCase());
}

/** The one event of a delivery, as text (shortened), for the figure's detail. */
function eventText(d: Delivery, id: string, max = 600): string {
  try {
    const body = JSON.parse(d.body) as unknown;
    const list = Array.isArray(body) ? body : [body];
    return (JSON.stringify(list.find((x) => x && typeof x === 'object' && (x as Record<string, unknown>)['id'] === id)) ?? 'null').slice(
      0,
      max,
    );
  } catch {
    return 'null';
  }
}

async function send(url: string, init: RequestInit): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
    return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
  } catch (error) {
    return {
      status: 0,
      contentType: '',
      text: '',
      error: error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error),
    };
  }
}

async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

function worldOf(stack: RunningStack): World {
  const e = stack.endpoints;
  const rg = `/subscriptions/${e.subscriptionId}/resourceGroups/demo-rg`;
  return {
    subscriptionId: e.subscriptionId!,
    resourceGroup: 'demo-rg',
    registries: ['contosoacr', 'fabrikamacr'],
    resourceIds: [
      `${rg}/providers/Microsoft.Compute/virtualMachines/vm-web-1`,
      `${rg}/providers/Microsoft.ContainerRegistry/registries/contosoacr`,
      `${rg}/providers/Microsoft.ContainerRegistry/registries/fabrikamacr`,
      rg,
    ],
    vaultName: e.keyVaultName!,
  };
}

async function admin<T = unknown>(stack: RunningStack, method: string, path: string): Promise<T> {
  const res = await rawRequest(`${stack.endpoints.admin}${path}`, { method }, stack.emulator!.caPem);
  if (res.status >= 300) throw new Error(`admin ${method} ${path}: ${res.status} ${res.text}`);
  return JSON.parse(res.text) as T;
}

/** Every port the emulator listens on (each API has its own listener). */
function portsOf(endpoints: Record<string, unknown>): Set<number> {
  const ports = new Set<number>();
  for (const value of Object.values(endpoints)) {
    if (typeof value !== 'string' || !value.startsWith('https://')) continue;
    const port = Number(new URL(value).port);
    if (port) ports.add(port);
  }
  return ports;
}

async function tableRows(connectionString: string, table: string): Promise<Record<string, unknown>[]> {
  const client = TableClient.fromConnectionString(connectionString, table, { allowInsecureConnection: true });
  const rows: Record<string, unknown>[] = [];
  try {
    for await (const entity of client.listEntities()) rows.push(entity as Record<string, unknown>);
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return rows;
}

/** Every row of every table the run's app wrote (its table prefix), as haystacks. */
async function allTableRows(connectionString: string, prefix: string): Promise<Haystack[]> {
  const service = TableServiceClient.fromConnectionString(connectionString, { allowInsecureConnection: true });
  const out: Haystack[] = [];
  for await (const table of service.listTables()) {
    if (!table.name?.startsWith(prefix)) continue;
    const place = table.name === `${prefix}${TABLE_SUFFIXES.audit}` ? 'audit row' : 'table row';
    for (const row of await tableRows(connectionString, table.name))
      out.push({ place, where: `${table.name} ${String(row['partitionKey'])}/${String(row['rowKey'])}`, text: JSON.stringify(row) });
  }
  return out;
}
