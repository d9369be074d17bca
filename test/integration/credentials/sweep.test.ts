/**
 * The reconciliation sweep settles pull credentials too: a registry enrolment or un-enrolment
 * whose event Event Grid never delivered is caught on the next sweep (docs/registry-access.md, "Reconciliation
 * sweep"). Real adapters against the emulator and Azurite; no host, no Event Grid.
 */
import { ManagedIdentityCredential } from '@azure/identity';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepSubscriptions } from '../../../src/resources/sweep.js';
import { createDeps, type Deps } from '../../../src/deps.js';
import { getEnrolment } from '../../../src/credentials/useCases.js';
import { invocationLogger } from '../../../src/log.js';
import { startWorld, type World } from './world.js';

let world: World;
let deps: Deps;
const log = invocationLogger({
  invocationId: 'sweep-test',
  functionName: 'reconcileSweep',
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});

beforeAll(async () => {
  world = await startWorld();
  // The app's own identity (the managed-identity endpoint world set up), as the timer runs it.
  deps = createDeps(world.config, new ManagedIdentityCredential({ ...world.emulator.clientOptions }), {
    clientOptions: world.emulator.clientOptions,
  });
});
afterAll(async () => world?.stop());

describe('the sweep and pull credentials', () => {
  it('enrols a registry tagged acr-pull-credential whose event was lost, and un-enrols it when the tag goes without an event', async () => {
    const r = await world.newRegistry();
    // Tagged after creation, with no event delivered: only the sweep can notice.
    const arm = world.emulator;
    const token = (await world.operator.getToken('https://management.azure.com/.default'))!.token;
    const tag = (tags: Record<string, string>) =>
      arm.fetch(`${arm.endpoints.arm}${r.registryId}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { tags } }),
      });
    expect((await tag({ 'acr-pull-credential': r.vaultName })).status).toBe(200);
    expect(await getEnrolment(deps.credentials, r.registryId)).toBeUndefined();

    await sweepSubscriptions(deps, { log, sweepId: 'sweep-1' });
    const enrolled = await getEnrolment(deps.credentials, r.registryId);
    expect(enrolled).toMatchObject({ status: 'active', vaultName: r.vaultName });
    expect((await world.servedPassword(r.registryName, r.vaultName, enrolled!.appId!)).works).toBe(true);

    expect((await tag({})).status).toBe(200);
    await sweepSubscriptions(deps, { log, sweepId: 'sweep-2' });
    expect(await getEnrolment(deps.credentials, r.registryId)).toMatchObject({ status: 'unenrolled' });
  });
});
