/**
 * Point 3 of issue 16, grants part: instances killed with SIGKILL at random moments while a burst of
 * tagged VMs (a third of them sharing one user-assigned identity) is granted through Event Grid and
 * the load-balanced address. A killed instance's in-flight deliveries are answered 502 by the front
 * and retried by Event Grid; the instance is started again and put back. Once events settle, and
 * again after one reconciliation sweep (the production timer that catches what events missed),
 * the registry's AcrPull assignments are read through ARM: none missing, none doubled.
 *
 * Rotations part: two registries enrolled for pull credentials are rotated on request, again and
 * again, while instances are killed the same way (the chaos stack runs with no grace period, so each
 * rotation also retires the previous password). After every answer, and once events settle, what
 * Key Vault serves is read and signed in with (chaos/vault.ts); afterwards each application holds at
 * most 2 passwords (Graph's records), and its service principal exactly one AcrPull on the registry.
 * A request answered 202 (another run, perhaps a killed one, held the registry) is recorded: once the
 * leases have lapsed and the rotation timer has run, no enrolment still holds a request, and no
 * request was answered in-progress (which would mean not recorded).
 */
import type { Figure } from '../bench/report.js';
import { createOperator } from '../scripts/operator.js';
import type { RunningStack } from '../scripts/stack.js';
import { CHAOS_CREDENTIALS, type ChaosSettings } from './settings.js';
import { vaultProbe } from './vault.js';

export const KILL = '3. kill -9';
const ACR_PULL = '7f951dda-4ed3-4680-a7ca-43fe172d538d';
const API = {
  resourceGroup: '2021-04-01',
  registry: '2025-11-01',
  vm: '2024-07-01',
  identity: '2023-01-31',
  roleAssignments: '2022-04-01',
} as const;

/** mulberry32, seeded: which instance dies and when is replayed by `--seed`. */
function dice(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runKillNine(stack: RunningStack, settings: ChaosSettings, log: (line: string) => void): Promise<Figure[]> {
  const e = stack.endpoints;
  const operator = createOperator(e, stack.emulator!.caPem);
  const roll = dice(settings.seed);
  const rg = `/subscriptions/${e.subscriptionId}/resourceGroups/chaos-kill`;
  const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/killacr`;
  await operator.arm('PUT', rg, API.resourceGroup, { location: 'westeurope' });
  await operator.arm('PUT', acr, API.registry, {
    location: 'westeurope',
    sku: { name: 'Standard' },
    tags: { 'acr-pull-allow': 'same-resource-group' },
  });
  const shared = (
    await operator.arm('PUT', `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-kill`, API.identity, {
      location: 'westeurope',
    })
  ).json<{ id: string; properties: { principalId: string } }>();
  await operator.idle();

  const killer = startKiller(stack, settings, roll);

  // Event Grid's own retry budget: 30 attempts by default (https://learn.microsoft.com/azure/event-grid/delivery-and-retry),
  // not the emulator's test default of 5; its backoff stays scaled down to seconds.
  const { maxAttempts } = await operator.admin<{ maxAttempts: number }>('GET', '/eventgrid/options');
  await operator.admin('PUT', '/eventgrid/options', { maxAttempts: 30 });
  const burstStart = Date.now();
  log(`${KILL}: ${settings.grants} tagged VMs, killing up to ${settings.kills} times …`);
  const expected = new Set([shared.properties.principalId.toLowerCase()]);
  let next = 0;
  // The operator's writes meet ARM's write throttle like anyone's (the emulator models it): wait and write again.
  const put = async (path: string, body: unknown) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await operator.arm('PUT', path, API.vm, body);
      } catch (error) {
        if (attempt >= 60 || !/answered 429/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  };
  try {
    await Promise.all(
      Array.from({ length: settings.concurrency }, async () => {
        while (next < settings.grants) {
          const i = next++;
          const identity =
            i % 3 === 0
              ? { type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [shared.id]: {} } }
              : { type: 'SystemAssigned' };
          const vm = (
            await put(`${rg}/providers/Microsoft.Compute/virtualMachines/vm-kill-${i}`, {
              location: 'westeurope',
              tags: { 'acr-pull': 'killacr' },
              identity,
              properties: { hardwareProfile: { vmSize: 'Standard_B2s' } },
            })
          ).json<{ identity: { principalId: string } }>();
          expected.add(vm.identity.principalId.toLowerCase());
        }
      }),
    );
  } finally {
    await killer.stop();
  }
  await operator.idle(180_000);
  const deadLetters = (await operator.admin<{ value: Array<{ deadLetteredAt: string }> }>('GET', '/eventgrid/deadletters')).value.filter(
    (d) => Date.parse(d.deadLetteredAt) >= burstStart,
  ).length;
  // Deliveries a kill cut short, from Event Grid's own records: answered 502 by the front, or unreachable.
  const cut = (
    await operator.admin<{ value: Array<{ status: number | string; startedAt: string }> }>('GET', '/eventgrid/deliveries')
  ).value.filter((d) => Date.parse(d.startedAt) >= burstStart && (d.status === 502 || d.status === 'unreachable')).length;
  const settled = await pullsAt(operator, acr);
  await operator.admin('PUT', '/eventgrid/options', { maxAttempts });

  // The sweep, as its timer would run it; any instance may take it, so wait on every instance's output.
  const finished = () =>
    stack.hosts.reduce((n, h) => n + h.child.output.filter((l) => l.includes('reconciliation sweep finished')).length, 0);
  const before = finished();
  const fired = await fetch(`${e.functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': e.masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  if (fired.status !== 202) throw new Error(`firing the sweep answered ${fired.status}`);
  for (let waited = 0; finished() === before && waited < 120_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
  await operator.idle(60_000);
  const swept = await pullsAt(operator, acr);

  const count = (held: readonly string[]) => {
    const missing = [...expected].filter((p) => !held.includes(p)).length;
    const doubled = held.filter((p, i) => held.indexOf(p) !== i).length;
    return { missing, doubled };
  };
  const a = count(settled);
  const b = count(swept);
  const kills = killer.kills;
  return [
    {
      scenario: KILL,
      name: 'instances killed during the burst',
      value: kills.length,
      unit: '',
      display: `${kills.length} (${settings.grants} VMs, ${expected.size} principals)`,
      detail: { kills },
    },
    { scenario: KILL, name: 'deliveries cut by a kill, retried by Event Grid', value: cut, unit: '' },
    { scenario: KILL, name: 'deliveries dead-lettered', value: deadLetters, unit: '' },
    { scenario: KILL, name: 'grants missing once events settle', value: a.missing, unit: '', goal: '0', met: a.missing === 0 },
    { scenario: KILL, name: 'grants missing after one sweep', value: b.missing, unit: '', goal: '0', met: b.missing === 0 },
    {
      scenario: KILL,
      name: 'grants doubled',
      value: Math.max(a.doubled, b.doubled),
      unit: '',
      goal: '0',
      met: a.doubled === 0 && b.doubled === 0,
    },
  ];
}

/**
 * The killer: every so often one live instance dies (SIGKILL, no goodbye) and is started again in
 * the background, so the next kill need not wait for it; one instance is always left alive. At least
 * one kill, even when the work is over first (a tiny run); `stop` waits for the restarts.
 */
function startKiller(
  stack: RunningStack,
  settings: ChaosSettings,
  roll: () => number,
): { readonly kills: string[]; stop(): Promise<void> } {
  const kills: string[] = [];
  const restarting = new Set<number>();
  const restarts: Promise<unknown>[] = [];
  let done = false;
  const running = (async () => {
    while (kills.length < settings.kills && (!done || kills.length === 0)) {
      await new Promise((r) => setTimeout(r, 150 + roll() * 600));
      const live = stack.hosts.map((_, i) => i).filter((i) => !restarting.has(i));
      if (live.length <= 1) continue;
      const index = live[Math.floor(roll() * live.length)]!;
      const victim = stack.hosts[index]!;
      process.kill(victim.pid, 'SIGKILL');
      kills.push(`instance ${index + 1} (pid ${victim.pid})`);
      restarting.add(index);
      restarts.push(stack.restartInstance(index).finally(() => restarting.delete(index)));
    }
    await Promise.all(restarts);
  })();
  return {
    kills,
    async stop() {
      done = true;
      await running;
    },
  };
}

/** Point 3, rotations: forced rotations of two enrolled registries while instances are killed. */
export async function runKillRotations(stack: RunningStack, settings: ChaosSettings, log: (line: string) => void): Promise<Figure[]> {
  const e = stack.endpoints;
  const operator = createOperator(e, stack.emulator!.caPem);
  const vault = await vaultProbe(stack, operator);
  const roll = dice(settings.seed + 1);
  const rg = `/subscriptions/${e.subscriptionId}/resourceGroups/chaos-kill`;
  await operator.arm('PUT', rg, API.resourceGroup, { location: 'westeurope' });
  const registries = ['killcred1', 'killcred2'];
  for (const name of registries)
    await operator.arm('PUT', `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`, API.registry, {
      location: 'westeurope',
      sku: { name: 'Standard' },
      tags: { 'acr-pull-credential': e.keyVaultName! },
    });
  await operator.idle(120_000);
  for (const name of registries) {
    const enrolled = await vault.signsIn(name);
    if (!enrolled.ok) throw new Error(`${name} was not enrolled before the kills: ${enrolled.error}`);
  }

  log(`${KILL}: ${settings.rotations} forced rotations, killing up to ${settings.kills} times …`);
  const answers = new Map<string, number>();
  const probes: string[] = [];
  let probed = 0;
  const rotationsStart = Date.now();
  const killer = startKiller(stack, settings, roll);
  // Between the rotations' own reads, a reader that never stops: Key Vault must serve a working password at every moment.
  let rotating = true;
  const reader = (async () => {
    for (let n = 0; rotating; n++) {
      const name = registries[n % registries.length]!;
      const served = await vault.signsIn(name);
      probed++;
      if (!served.ok) probes.push(`${name} while rotating: ${served.error}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    await Promise.all(
      registries.map(async (name, r) => {
        for (let i = r; i < settings.rotations; i += registries.length) {
          let status: string;
          try {
            const res = await fetch(`${e.functions}/api/credentials/${name}/rotate`, {
              method: 'POST',
              headers: { 'x-functions-key': e.functionKey },
              signal: AbortSignal.timeout(60_000),
            });
            const text = await res.text();
            // The outcome word only (rotated, in-progress, deferred …), never the body.
            const outcome = /"outcome":"([a-z-]+)"/.exec(text)?.[1];
            status = outcome ? `${res.status} ${outcome}` : String(res.status);
          } catch {
            status = 'no answer';
          }
          answers.set(String(status), (answers.get(String(status)) ?? 0) + 1);
          // Whatever the answer (a kill may have cut the rotation anywhere), Key Vault must serve a password that signs in.
          const served = await vault.signsIn(name);
          probed++;
          if (!served.ok) probes.push(`${name} after rotation ${i + 1} (answered ${status}): ${served.error}`);
        }
      }),
    );
  } finally {
    rotating = false;
    await reader;
    await killer.stop();
  }
  await operator.idle(120_000);

  // Requests answered 202 recorded must be carried out: by the holder, by a later request, or — once
  // a killed run's lease lapses — by the rotation timer, fired here as its schedule would.
  await new Promise((r) => setTimeout(r, CHAOS_CREDENTIALS.leaseSeconds * 1000 + 500));
  const timerRuns = () => stack.hosts.reduce((n, h) => n + h.child.output.filter((l) => l.includes('rotation sweep finished')).length, 0);
  const runsBefore = timerRuns();
  const fired = await fetch(`${e.functions}/admin/functions/rotateCredentials`, {
    method: 'POST',
    headers: { 'x-functions-key': e.masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  if (fired.status !== 202) throw new Error(`firing the rotation timer answered ${fired.status}`);
  for (let waited = 0; timerRuns() === runsBefore && waited < 120_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
  await operator.idle(60_000);
  const open: string[] = [];
  for (const name of registries) {
    const res = await fetch(`${e.functions}/api/credentials/${name}`, { headers: { 'x-functions-key': e.functionKey } });
    const enrolment = (await res.json()) as { rotationRequestedAt?: string; phase?: string };
    if (enrolment.rotationRequestedAt)
      open.push(`${name}: request of ${enrolment.rotationRequestedAt} still recorded (phase ${enrolment.phase})`);
  }
  const recorded = [...answers].filter(([k]) => k.endsWith(' recorded')).reduce((n, [, v]) => n + v, 0);
  const unrecorded = [...answers].filter(([k]) => k.endsWith(' in-progress')).reduce((n, [, v]) => n + v, 0);

  // Rotations that happened, from Graph's records: each one adds a password.
  const calls = (
    await operator.admin<{ calls: Array<{ api: string; method: string; route: string; status: number; count: number }> }>(
      'GET',
      `/calls?since=${rotationsStart}`,
    )
  ).calls;
  const added = calls
    .filter((c) => c.api === 'graph' && c.method === 'POST' && /addPassword/i.test(c.route) && c.status < 300)
    .reduce((n, c) => n + c.count, 0);
  const after: string[] = [];
  let maxPasswords = 0;
  const grants: string[] = [];
  for (const name of registries) {
    const served = await vault.signsIn(name);
    probed++;
    if (!served.ok) probes.push(`${name} once events settle: ${served.error}`);
    const passwords = (await vault.passwordsOf(name)) ?? 0;
    maxPasswords = Math.max(maxPasswords, passwords);
    after.push(`${name}: ${passwords} passwords`);
    const pulls = await pullsAt(operator, `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`);
    if (pulls.length !== 1) grants.push(`${name}: ${pulls.length} AcrPull assignments for its service principal`);
  }
  return [
    {
      scenario: KILL,
      name: 'instances killed during the rotations',
      value: killer.kills.length,
      unit: '',
      display: `${killer.kills.length} (${settings.rotations} rotations asked, ${added} passwords added; answers ${[...answers].map(([k, v]) => `${k}×${v}`).join(', ')})`,
      detail: { kills: killer.kills },
    },
    {
      scenario: KILL,
      name: 'served passwords that did not sign in',
      value: probes.length,
      unit: '',
      display: `${probes.length} of ${probed} reads`,
      goal: '0',
      met: probes.length === 0,
      detail: { probes: probes.slice(0, 20) },
    },
    {
      scenario: KILL,
      name: 'most passwords on one application afterwards',
      value: maxPasswords,
      unit: '',
      goal: '≤ 2 (no grace period)',
      met: maxPasswords <= 2,
      detail: { after },
    },
    {
      scenario: KILL,
      name: 'rotation requests answered 202 and never carried out',
      value: open.length + unrecorded,
      unit: '',
      display: `${open.length + unrecorded} (${recorded} answered recorded, ${unrecorded} in-progress without a record; ${open.length} still recorded after the leases lapsed and the timer ran)`,
      goal: '0',
      met: open.length + unrecorded === 0,
      detail: { open },
    },
    {
      scenario: KILL,
      name: 'credential grants lost or doubled',
      value: grants.length,
      unit: '',
      goal: '0',
      met: grants.length === 0,
      detail: { grants },
    },
  ];
}

/** Principals holding AcrPull at exactly the registry's scope, read through ARM (every page). */
async function pullsAt(operator: ReturnType<typeof createOperator>, scope: string): Promise<string[]> {
  const out: string[] = [];
  let path = `${scope}/providers/Microsoft.Authorization/roleAssignments?$filter=atScope()`;
  for (;;) {
    const page = (await operator.arm('GET', path, API.roleAssignments)).json<{
      value: Array<{ properties: { scope: string; principalId: string; roleDefinitionId: string } }>;
      nextLink?: string;
    }>();
    for (const a of page.value)
      if (a.properties.scope.toLowerCase() === scope.toLowerCase() && a.properties.roleDefinitionId.endsWith(ACR_PULL))
        out.push(a.properties.principalId.toLowerCase());
    if (!page.nextLink) return out;
    path = page.nextLink;
  }
}
