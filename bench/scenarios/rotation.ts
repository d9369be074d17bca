/**
 * 4. Rotation: registries enrol through their tag (`acr-pull-credential=<vault>`, the real event
 * path: application, service principal, AcrPull, username and a first proven password in Key
 * Vault); then the timer (`POST /admin/functions/rotateCredentials`, as the Functions host's admin
 * API fires it) rotates what is due — one registry, then N at once.
 *
 * Making a password due: the app reads "due" from its enrolment row (`currentCreatedAt` + two
 * thirds of the period), on its own clock. Rather than wait 60 days, the bench backdates
 * `currentCreatedAt` in the enrolment table by the rotation period; everything the timer then
 * does (Graph addPassword, Key Vault write, proof against Entra, mark current) is the real path.
 */
import { TableClient } from '@azure/data-tables';
import { API, aRegistry, countOf, mapLimit, type BenchStack } from '../benchStack.js';
import type { Figure } from '../report.js';
import type { BenchSettings } from '../settings.js';

const DAY_MS = 86_400_000;
/**
 * The fewest calls one timer rotation can make under the rotation state machine (DESIGN.md,
 * "Credential rotation"). removePassword of the previous password comes after the grace period,
 * in a later run; the proof is a token request to Entra, counted apart. Graph: read the application's passwords
 * (a password created but never stored is removed on the next run, and at most current + previous
 * remain), then addPassword. Key Vault: read the version it serves (that password is never
 * removed), write the new version, read it back.
 */
const GRAPH_FLOOR = 2;
const KEY_VAULT_FLOOR = 3;
/** The app's default ROTATION_PERIOD_DAYS. */
const PERIOD_DAYS = 90;

interface Sweep {
  readonly rotated: number;
  readonly failed: number;
  readonly checked: number;
  readonly ms: number;
}

export async function runRotation(s: BenchStack, settings: BenchSettings, log: (line: string) => void): Promise<Figure[]> {
  await s.setFaults({ throttle: { enabled: false } });
  const vault = s.stack.endpoints.keyVaultName ?? 'demo-vault';
  const rg = s.rgId('bench-rotation');
  await s.arm('PUT', rg, API.resourceGroup, { location: 'westeurope' });
  const registryId = (i: number) => `${rg}/providers/Microsoft.ContainerRegistry/registries/benchrot${i}acr`;
  const table = TableClient.fromConnectionString(s.tablesConnectionString, `${s.tablePrefix}credentials`, {
    allowInsecureConnection: true,
  });

  const enrol = async (ids: readonly string[]) => {
    await mapLimit(ids, 8, (id) => s.arm('PUT', id, API.registry, aRegistry({ 'acr-pull-credential': vault })));
    await s.idle(300_000);
    const rows = await enrolmentRows(table);
    const active = ids.filter((id) => rows.get(id.toLowerCase())?.status === 'active' && rows.get(id.toLowerCase())?.currentKeyId);
    if (active.length !== ids.length) throw new Error(`${ids.length - active.length} of ${ids.length} registries did not enrol`);
  };
  const backdate = async (ids: readonly string[]) => {
    const wanted = new Set(ids.map((id) => id.toLowerCase()));
    const past = new Date(Date.now() - PERIOD_DAYS * DAY_MS).toISOString();
    for await (const row of table.listEntities<Record<string, unknown>>()) {
      if (typeof row['registryId'] !== 'string' || !wanted.has(row['registryId'].toLowerCase())) continue;
      await table.updateEntity({ partitionKey: row.partitionKey!, rowKey: row.rowKey!, currentCreatedAt: past }, 'Merge', {
        etag: row.etag,
      });
    }
  };
  const sweep = async (
    expected: number,
  ): Promise<Sweep & { graph: number; keyVault: number; login: number; arm: number; calls: string[] }> => {
    await s.clearCalls();
    const host = s.stack.host;
    const before = host.child.output.length;
    const started = Date.now();
    const res = await fetch(`${s.stack.endpoints.functions}/admin/functions/rotateCredentials`, {
      method: 'POST',
      headers: { 'x-functions-key': s.stack.endpoints.masterKey, 'content-type': 'application/json' },
      body: '{}',
    });
    if (res.status !== 202) throw new Error(`firing the timer answered ${res.status}`);
    const deadline = started + 300_000;
    for (;;) {
      const line = host.child.output.slice(before).find((l) => l.includes('rotation sweep finished'));
      if (line) {
        const ms = Date.now() - started;
        const field = (name: string) => Number(new RegExp(`\\\\?"${name}\\\\?":(\\d+)`).exec(line)?.[1] ?? NaN);
        const calls = await s.calls();
        const result = {
          rotated: field('rotated'),
          failed: field('failed'),
          checked: field('checked'),
          ms,
          graph: countOf(calls, { api: 'graph' }),
          keyVault: countOf(calls, { api: 'keyVault' }),
          login: countOf(calls, { api: 'login' }),
          arm: countOf(calls, { api: 'arm' }) + countOf(calls, { api: 'authorization' }) + countOf(calls, { api: 'resourceGraph' }),
          calls: calls.filter((c) => c.api !== 'admin').map((c) => `${c.api} ${c.method} ${c.route} ${c.status}: ${c.count}`),
        };
        if (result.rotated !== expected)
          log(`  rotation: expected ${expected} rotated, the sweep says ${result.rotated} (failed ${result.failed})`);
        return result;
      }
      if (Date.now() > deadline) throw new Error('the rotation sweep did not finish within 300 s');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  // One registry, end to end.
  await enrol([registryId(0)]);
  await backdate([registryId(0)]);
  const one = await sweep(1);
  // N registries due at once.
  const many = Array.from({ length: settings.rotations }, (_, i) => registryId(i + 1));
  const enrolStart = Date.now();
  await enrol(many);
  const enrolMs = Date.now() - enrolStart;
  await backdate(many);
  const all = await sweep(settings.rotations);
  log(`  rotation: one in ${one.ms} ms; ${all.rotated} in ${all.ms} ms (enrolling ${settings.rotations} took ${enrolMs} ms)`);

  const per = (n: number, count: number) => (count > 0 ? Math.round((n / count) * 100) / 100 : null);
  const scenario = '4. Rotation';
  return [
    {
      scenario,
      name: 'one rotation, timer → proven password',
      value: one.ms,
      unit: 'ms',
      display: `${one.ms.toLocaleString('en-US')} ms (Graph ${one.graph}, Key Vault ${one.keyVault}, Entra token ${one.login} calls)`,
      goal: 'rotated, 0 failed',
      met: one.rotated === 1 && one.failed === 0,
      detail: { ...one },
    },
    {
      scenario,
      name: `${settings.rotations} due at once: total time`,
      value: all.ms,
      unit: 'ms',
      display: `${(all.ms / 1000).toFixed(1)} s, ${all.rotated} rotated, ${all.failed} failed`,
      goal: `${settings.rotations} rotated, 0 failed`,
      met: all.rotated === settings.rotations && all.failed === 0,
      detail: { ...all, enrolMs },
    },
    {
      scenario,
      name: 'Graph calls per rotation',
      value: per(all.graph, all.rotated),
      unit: '',
      goal: `floor ${GRAPH_FLOOR} (read passwords, addPassword)`,
      met: all.rotated > 0 && all.graph / all.rotated <= GRAPH_FLOOR,
      detail: { total: all.graph },
    },
    {
      scenario,
      name: 'Key Vault calls per rotation',
      value: per(all.keyVault, all.rotated),
      unit: '',
      goal: `floor ${KEY_VAULT_FLOOR} (read served, write, read back)`,
      met: all.rotated > 0 && all.keyVault / all.rotated <= KEY_VAULT_FLOOR,
      detail: { total: all.keyVault, entraTokenCalls: all.login, armCalls: all.arm },
    },
  ];
}

/** Enrolment rows by registry id (lower case). */
async function enrolmentRows(table: TableClient): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  try {
    for await (const row of table.listEntities<Record<string, unknown>>()) {
      if (typeof row['registryId'] === 'string') out.set(row['registryId'].toLowerCase(), row);
    }
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
  return out;
}
