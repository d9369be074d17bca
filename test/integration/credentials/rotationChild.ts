/**
 * Child process for the kill test: rotates one registry now, printing each step boundary, and
 * parks (waits forever) after the step named by STOP_AT so the parent can SIGKILL it there.
 * Settings come from the environment, as the Functions host gives them.
 */
import { readFileSync } from 'node:fs';
import { rotateNow } from '../../../src/credentials/useCases.js';
import { buildDeps } from './buildDeps.js';

const env = process.env as Record<string, string>;
const { deps } = buildDeps(env, readFileSync(env['EMULATOR_CA']!, 'utf8'), { leaseSeconds: Number(env['LEASE_SECONDS'] ?? '2') });
const stopAt = env['STOP_AT'];
console.log('START');
await rotateNow(deps, env['REGISTRY_ID']!, {
  afterStep: async (step) => {
    console.log(`STEP ${step}`);
    if (step === stopAt) {
      console.log('PARKED');
      await new Promise(() => undefined);
    }
  },
});
console.log('DONE');
