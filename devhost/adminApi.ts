/**
 * The host's admin API (master key only): `GET /admin/host/status`, `GET /admin/functions` (the
 * bindings as the host indexes them) and `POST /admin/functions/{name}` (runs a non-HTTP function
 * in the background, as Azure does: 202).
 */
import type { RpcTypedData } from './functionsCore.js';
import { describe, send, sendJson, type HostRequest, type HostRuntime } from './hostRequest.js';
import type { Schedule, TimerPayload } from './timers.js';

const HOST_VERSION = '4.0.0-local';
const startedAt = Date.now();

export interface AdminState {
  /** host.json's `extensionBundle`, echoed by the status. */
  readonly extensionBundle: unknown;
  /** Functions in error (they never run), by name, with why. */
  readonly functionErrors: ReadonlyMap<string, string>;
  readonly schedules: ReadonlyMap<string, Schedule>;
}

export function adminHandler({ registry, invoke, hostLog }: HostRuntime, { extensionBundle, functionErrors, schedules }: AdminState) {
  return async ({ res, url, method, body }: HostRequest): Promise<void> => {
    const path = url.pathname;
    if (/^\/admin\/host\/status\/?$/i.test(path)) {
      if (method !== 'GET') return send(res, 405, undefined, { allow: 'GET' });
      return sendJson(res, 200, {
        id: 'local',
        state: 'Running',
        version: HOST_VERSION,
        versionDetails: 'acr-pull-automation local host',
        processUptime: Date.now() - startedAt,
        extensionBundle,
      });
    }
    if (/^\/admin\/functions\/?$/i.test(path)) {
      if (method !== 'GET') return send(res, 405, undefined, { allow: 'GET' });
      // Each binding under the name the host indexes it by: the worker sends `{ ...binding, name: key }`
      // (Azure/azure-functions-nodejs-worker src/coreApi/registerFunction.ts), so an HTTP function's
      // output is `$return`, not the generated name inside the binding.
      return sendJson(
        res,
        200,
        registry.functions.map((fn) => ({
          name: fn.name,
          config: { bindings: Object.entries(fn.metadata.bindings).map(([n, b]) => ({ ...b, name: n })) },
          isDisabled: false,
        })),
      );
    }
    const fire = /^\/admin\/functions\/([^/]+)\/?$/i.exec(path);
    if (fire) {
      const name = decodeURIComponent(fire[1]!);
      const fn = registry.functions.find((f) => f.name.toLowerCase() === name.toLowerCase());
      if (!fn) return send(res, 404, `No function named "${name}".`);
      if (method !== 'POST') return send(res, 405, undefined, { allow: 'POST' });
      const inError = functionErrors.get(fn.name);
      if (inError) return send(res, 404, `The function ${fn.name} is in error: ${inError}`);
      if (fn.trigger.type.toLowerCase() === 'httptrigger') return send(res, 400, `${fn.name} is an HTTP function: call its route instead.`);
      let input: unknown;
      try {
        input = body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
      } catch {
        return send(res, 400, 'The body must be JSON: {"input": "..."}.');
      }
      // Azure answers 202 and runs the function in the background.
      send(res, 202);
      const triggerData: RpcTypedData =
        fn.trigger.type.toLowerCase() === 'timertrigger'
          ? { json: JSON.stringify(timerPayload(schedules.get(fn.name), false)) }
          : { string: typeof input === 'string' ? input : JSON.stringify(input ?? null) };
      invoke(fn, { triggerData }).catch((error: unknown) => hostLog('error', `Function ${fn.name} failed: ${describe(error)}`));
      return;
    }
    return send(res, 404);
  };
}

function timerPayload(schedule: Schedule | undefined, isPastDue: boolean): TimerPayload {
  const now = new Date();
  const next = schedule?.next(now) ?? now;
  return {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: now.toISOString(), Next: next.toISOString(), LastUpdated: now.toISOString() },
    IsPastDue: isPastDue,
  };
}
