/**
 * One run's shared ARM reads (src/resources/reads.ts): each resource is read once for every
 * feature, but a consent re-read that must come from after the grant was decided never gets the
 * copy read before. The ARM side here is our own `ArmResources` interface over a plain map.
 */
import { describe, expect, it } from 'vitest';
import type { ArmResource, ArmResources } from '../../../src/azure/arm.js';
import { readOnce } from '../../../src/resources/reads.js';

const id = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr';

function armOver(state: Map<string, ArmResource>) {
  const sent: string[] = [];
  const arm: ArmResources = {
    async getResource(resourceId) {
      sent.push(resourceId);
      const found = state.get(resourceId.toLowerCase());
      return found ? { ...found, tags: { ...found.tags } } : undefined;
    },
    async patchResource() {
      throw new Error('not used');
    },
  };
  return { arm, sent };
}

describe('readOnce', () => {
  it('reads a resource once for every caller in the run, whatever the casing of its id', async () => {
    const state = new Map([
      [
        id.toLowerCase(),
        { id, name: 'acr', type: 'Microsoft.ContainerRegistry/registries', tags: { 'acr-pull-allow': 'subscription' } } as ArmResource,
      ],
    ]);
    const { arm, sent } = armOver(state);
    const reads = readOnce(arm);
    await reads.getResource(id);
    await reads.getResource(id.toUpperCase());
    expect(sent).toHaveLength(1);
  });

  it('answers a read sent after the caller asked from ARM, not from the copy read before (consent withdrawn meanwhile)', async () => {
    const state = new Map([
      [
        id.toLowerCase(),
        { id, name: 'acr', type: 'Microsoft.ContainerRegistry/registries', tags: { 'acr-pull-allow': 'subscription' } } as ArmResource,
      ],
    ]);
    const { arm, sent } = armOver(state);
    const reads = readOnce(arm);
    expect((await reads.getResource(id))?.tags).toEqual({ 'acr-pull-allow': 'subscription' });
    state.set(id.toLowerCase(), { id, name: 'acr', type: 'Microsoft.ContainerRegistry/registries', tags: {} } as ArmResource);

    expect((await reads.getResource(id, { sentAfterCall: true }))?.tags).toEqual({});
    expect(sent).toHaveLength(2);
    // The fresh answer is the copy from then on.
    expect((await reads.getResource(id))?.tags).toEqual({});
    expect(sent).toHaveLength(2);
  });
});
