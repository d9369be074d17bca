import type { EmuResponse } from './contract.js';
import { apiError } from './errors.js';
import type { EmulatorCore } from './server.js';

const ok = (body: unknown, status = 200): EmuResponse => ({ status, body });
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * The admin API (loopback only, no auth): reset, seed, state, call counters, faults, clock.
 * `PUT /admin/principal` belongs to the identity module, which owns the managed identity.
 */
export function registerAdminRoutes(core: EmulatorCore, defaults: () => Record<string, unknown>): void {
  const r = core.router;

  r.add('admin', 'POST', /^\/admin\/reset\/?$/, async () => {
    await resetAll(core, defaults());
    return ok({ reset: true });
  });

  r.add('admin', 'POST', /^\/admin\/seed\/?$/, async (req) => {
    if (!isObject(req.body))
      return apiError('admin', 400, 'InvalidScenario', 'Expected a JSON object whose keys belong to the modules (see emulator/README.md).');
    await seedAll(core, req.body);
    return ok({ seeded: Object.keys(req.body) });
  });

  r.add('admin', 'GET', /^\/admin\/state\/?$/, () =>
    ok({
      clock: { now: core.clock.now().toISOString(), offsetMs: core.clock.offset() },
      faults: core.faults.current(),
      directory: core.directory.list(),
      events: core.publishedEvents,
      modules: Object.fromEntries(core.modules.map((m) => [m.name, m.snapshot()])),
    }),
  );

  r.add('admin', 'GET', /^\/admin\/calls\/?$/, (req) => {
    const since = req.url.searchParams.get('since');
    const sinceMs = since === null ? 0 : /^\d+$/.test(since) ? Number(since) : Date.parse(since);
    if (Number.isNaN(sinceMs))
      return apiError('admin', 400, 'InvalidSince', `since: expected epoch milliseconds or an ISO date, got "${since}"`);
    return ok({ since: sinceMs, now: Date.now(), calls: core.calls.counts(sinceMs) });
  });
  r.add('admin', 'DELETE', /^\/admin\/calls\/?$/, () => {
    core.calls.clear();
    return { status: 204 };
  });

  r.add('admin', 'GET', /^\/admin\/faults\/?$/, () => ok(core.faults.current()));
  r.add('admin', 'PUT', /^\/admin\/faults\/?$/, (req) => {
    if (!isObject(req.body))
      return apiError(
        'admin',
        400,
        'InvalidFaults',
        'Expected a JSON object: { latencyMs, errorRate, errors, retryAfterSeconds, throttle, replicationDelayMs, events }.',
      );
    try {
      const faults = core.faults.update(req.body);
      core.throttle.reset();
      return ok(faults);
    } catch (error) {
      return apiError('admin', 400, 'InvalidFaults', error instanceof Error ? error.message : String(error));
    }
  });

  r.add('admin', 'POST', /^\/admin\/clock\/advance\/?$/, (req) => {
    const body = isObject(req.body) ? req.body : {};
    const ms =
      typeof body.ms === 'number'
        ? body.ms
        : typeof body.days === 'number'
          ? body.days * 86_400_000
          : typeof body.hours === 'number'
            ? body.hours * 3_600_000
            : NaN;
    if (!Number.isFinite(ms) || ms < 0)
      return apiError('admin', 400, 'InvalidAdvance', 'Expected { "ms": <number >= 0> } or { "days": <number >= 0> }.');
    core.clock.advance(ms);
    return ok({ now: core.clock.now().toISOString(), offsetMs: core.clock.offset() });
  });
}

/** Applies a scenario: the core's own keys (`faults`), then each module's `seed` with the whole object. */
export async function seedAll(core: EmulatorCore, scenario: Record<string, unknown>): Promise<void> {
  if (isObject(scenario.faults)) core.faults.update(scenario.faults);
  for (const m of core.modules) await m.seed?.(scenario);
}

/** Back to the state right after start: modules emptied, then the default scenario applied. */
export async function resetAll(core: EmulatorCore, defaults: Record<string, unknown>): Promise<void> {
  core.clock.reset();
  core.faults.reset();
  core.throttle.reset();
  core.calls.clear();
  core.publishedEvents.length = 0;
  core.directory.clear();
  for (const m of core.modules) m.reset();
  await seedAll(core, defaults);
}
