/**
 * Issue #5 "Done when": every log line, audit row, response and error of a full
 * enrol-and-rotate run (including a failed step) is free of secret values.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { invocationLogger, type LogSink } from '../../../src/log.js';
import { ROTATION_STEPS } from '../../../src/credentials/enrolment.js';
import { enrolRegistry, listEnrolments, rotateIfDue, rotateNow, unenrolRegistry } from '../../../src/credentials/useCases.js';
import { startWorld, type World } from './world.js';

let world: World;
beforeAll(async () => {
  world = await startWorld({ ROTATION_GRACE_HOURS: '0' });
});
afterAll(async () => world?.stop());

it('writes no secret value to logs, audit rows, responses or errors', async () => {
  const lines: string[] = [];
  const sink: LogSink = {
    invocationId: 'inv-1',
    functionName: 'test',
    log: (...args) => lines.push(args.map(String).join(' ')),
    warn: (...args) => lines.push(args.map(String).join(' ')),
    error: (...args) => lines.push(args.map(String).join(' ')),
  };
  const log = invocationLogger(sink);
  const deps = world.deps();
  const { registryId, registryName, vaultName } = await world.newRegistry();
  const outputs: unknown[] = [];
  const secrets = new Set<string>();
  const collectServed = async (appId: string) => {
    const served = await world.servedPassword(registryName, vaultName, appId);
    if (served.value) secrets.add(served.value);
  };

  const enrolled = await enrolRegistry(
    deps,
    { registryId, vaultName },
    { log, afterStep: (step, state) => void outputs.push(step, state) },
  );
  outputs.push(enrolled);
  const appId = enrolled.enrolment.appId!;
  await collectServed(appId);
  outputs.push(await rotateNow(deps, registryId, { log, afterStep: (step, state) => void outputs.push(step, state) }));
  await collectServed(appId);
  // A run that fails after storing a new password: its error is output too.
  try {
    await rotateNow(deps, registryId, {
      log,
      afterStep: (step) => {
        if (step === ROTATION_STEPS.secretStored) throw new Error('injected');
      },
    });
  } catch (error) {
    outputs.push(error, inspect(error), (error as Error).message);
  }
  await collectServed(appId);
  outputs.push(await rotateIfDue(deps, registryId, { log }));
  await collectServed(appId);
  outputs.push(await listEnrolments(deps), await deps.store.get(registryId), await unenrolRegistry(deps, registryId, { log }));

  const audit = await world.audit.query({ registry: registryId, top: 1000 });
  expect(audit.items.length).toBeGreaterThan(5);
  expect(lines.length).toBeGreaterThan(5);
  expect(secrets.size).toBeGreaterThanOrEqual(3);

  const haystack = [
    ...lines,
    ...audit.items.map((row) => JSON.stringify(row)),
    ...outputs.map((o) => `${JSON.stringify(o)}\n${inspect(o, { depth: 10 })}`),
  ].join('\n');
  for (const secret of secrets) {
    expect(haystack.includes(secret), 'a secret value appears in the output').toBe(false);
    // Graph's `hint` is the first three characters; a longer prefix would still be a leak.
    expect(haystack.includes(secret.slice(0, 8))).toBe(false);
  }
});
