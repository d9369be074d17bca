/**
 * The federated-credential adapter (`@azure/arm-msi`, api-version 2024-11-30) against the emulator:
 * 201 create / 200 update, delete of a missing credential, and Entra's 409 on concurrent writes to
 * one identity becoming a NotReadyError so the event is redelivered (issue #7).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONCURRENT_WRITE_CODE } from '../../../src/azure/federatedCredentials.js';
import { NotReadyError } from '../../../src/errors.js';
import { reconcileWorkloadIdentity } from '../../../src/workload/reconcileWorkloadIdentity.js';
import { API, startAccessHarness, type AccessHarness } from '../access/harness.js';

const AUDIENCE = 'api://AzureADTokenExchange';
let h: AccessHarness;
let rg: string;

beforeAll(async () => {
  h = await startAccessHarness();
  rg = await h.rg('rg-fic');
});
afterAll(async () => h?.stop());

const identityId = (name: string) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const fic = (name: string, issuer = 'https://issuer.example/') => ({
  name,
  issuer,
  subject: `system:serviceaccount:default:${name}`,
  audiences: [AUDIENCE],
});

describe('createFederatedCredentials', () => {
  it('creates (201), updates (200), lists and deletes', async () => {
    const id = identityId('id-adapter');
    await h.put(id, API.identity, { location: 'westeurope' });
    const fc = h.deps.federatedCredentials;
    expect(await fc.put(id, fic('one'))).toBe('created');
    expect(await fc.put(id, fic('one', 'https://other.example/'))).toBe('updated');
    expect(await fc.list(id)).toEqual([fic('one', 'https://other.example/')]);
    expect(await fc.delete(id, 'one')).toBe('deleted');
    expect(await fc.delete(id, 'one')).toBe('not-found');
    expect(await fc.list(id)).toEqual([]);
  });

  it('turns a concurrent write on one identity into NotReadyError', async () => {
    await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 200 });
    try {
      const id = identityId('id-race');
      await h.put(id, API.identity, { location: 'westeurope' });
      const results = await Promise.allSettled([
        h.deps.federatedCredentials.put(id, fic('a')),
        h.deps.federatedCredentials.put(id, fic('b')),
      ]);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.reason).toBeInstanceOf(NotReadyError);
      expect(rejected[0]!.reason.code).toBe(CONCURRENT_WRITE_CODE);
    } finally {
      await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
    }
  });

  it('defers a reconcile that races another writer on the identity, with a failed audit row', async () => {
    await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 1000 });
    try {
      const aks = `${rg}/providers/Microsoft.ContainerService/managedClusters/aks-race`;
      await h.put(aks, API.aks, { location: 'westeurope', properties: { dnsPrefix: 'aks-race', oidcIssuerProfile: { enabled: true } } });
      const id = identityId('id-other-writer');
      await h.put(id, API.identity, {
        location: 'westeurope',
        tags: { 'acr-workload-cluster': 'aks-race', 'acr-workload-subjects': 'default/app' },
      });
      // Another instance (here: a hand-made write) holds the identity while we reconcile.
      const other = h.put(`${id}/federatedIdentityCredentials/other-writer`, '2024-11-30', { properties: fic('other-writer') });
      await new Promise((r) => setTimeout(r, 60));
      const run = reconcileWorkloadIdentity(h.deps, id, { log: h.log, trigger: { eventId: 'evt-race' } });
      await expect(run).rejects.toBeInstanceOf(NotReadyError);
      await other;
      const rows = (await h.deps.audit.query({ resourceId: id })).items;
      expect(rows.find((r) => r.outcome === 'failed')).toMatchObject({ errorCode: CONCURRENT_WRITE_CODE, eventId: 'evt-race' });
      expect(rows.find((r) => r.outcome === 'failed')!.reason).toMatch(/will retry on redelivery/);
    } finally {
      await h.emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
    }
  });
});
