/** The pure federated-credential planner (issue #7): cap of 20, ours only, deletes before creates. */
import { describe, expect, it } from 'vitest';
import { planFederatedCredentials, type FederatedCredential, type WantedCredential } from '../../../src/workload/credentialPlan.js';
import { federatedCredentialName } from '../../../src/policy/workloadTags.js';

const CLUSTER =
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks1';
const ISSUER = 'https://westeurope.oic.prod-aks.azure.com/tenant/1111/';
const AUD = ['api://AzureADTokenExchange'];

function wanted(sa: string, issuer = ISSUER): WantedCredential {
  return {
    name: federatedCredentialName(CLUSTER, 'default', sa),
    issuer,
    subject: `system:serviceaccount:default:${sa}`,
    audiences: AUD,
    clusterId: CLUSTER,
    clusterName: 'aks1',
    namespace: 'default',
    serviceAccount: sa,
  };
}
const existingOf = (w: WantedCredential): FederatedCredential => ({
  name: w.name,
  issuer: w.issuer,
  subject: w.subject,
  audiences: w.audiences,
});
const byHand = (i: number, subject = `system:serviceaccount:x:hand${i}`): FederatedCredential => ({
  name: `hand-${i}`,
  issuer: 'https://issuer.example/',
  subject,
  audiences: AUD,
});
const names = (xs: readonly { credential: { name: string } }[]) => xs.map((x) => x.credential.name);

describe('planFederatedCredentials', () => {
  it.each([
    {
      case: 'creates what is missing',
      wanted: [wanted('a'), wanted('b')],
      existing: [],
      creates: [wanted('a').name, wanted('b').name],
      updates: [],
      deletes: [],
      overLimit: 0,
    },
    {
      case: 'writes nothing when all are in place',
      wanted: [wanted('a')],
      existing: [existingOf(wanted('a'))],
      creates: [],
      updates: [],
      deletes: [],
      overLimit: 0,
    },
    {
      case: 'updates ours when the issuer changed',
      wanted: [wanted('a', 'https://new.example/')],
      existing: [existingOf(wanted('a'))],
      creates: [],
      updates: [wanted('a').name],
      deletes: [],
      overLimit: 0,
    },
    {
      case: 'deletes ours no longer wanted, never one made by hand',
      wanted: [wanted('a')],
      existing: [existingOf(wanted('a')), existingOf(wanted('b')), byHand(1)],
      creates: [],
      updates: [],
      deletes: [wanted('b').name],
      overLimit: 0,
    },
    {
      case: 'stops at 20 counting credentials made by hand',
      wanted: [wanted('a'), wanted('b')],
      existing: Array.from({ length: 19 }, (_, i) => byHand(i)),
      creates: [wanted('a').name],
      updates: [],
      deletes: [],
      overLimit: 1,
    },
    {
      case: 'frees slots with deletes before counting',
      wanted: [wanted('a')],
      existing: [...Array.from({ length: 19 }, (_, i) => byHand(i)), existingOf(wanted('old'))],
      creates: [wanted('a').name],
      updates: [],
      deletes: [wanted('old').name],
      overLimit: 0,
    },
    {
      case: 'counts a hand-made credential with the same issuer and subject as present',
      wanted: [wanted('a')],
      existing: [{ ...byHand(1, 'system:serviceaccount:default:a'), issuer: ISSUER }],
      creates: [],
      updates: [],
      deletes: [],
      overLimit: 0,
    },
  ])('$case', ({ wanted: w, existing, creates, updates, deletes, overLimit }) => {
    const plan = planFederatedCredentials({ identityName: 'id1', wanted: w, existing, allowDeletes: true });
    expect(names(plan.creates)).toEqual(creates);
    expect(names(plan.updates)).toEqual(updates);
    expect(names(plan.deletes)).toEqual(deletes);
    expect(plan.overLimit).toHaveLength(overLimit);
    expect(plan.countAfter).toBeLessThanOrEqual(20);
  });

  it('says why a credential past the cap is not written', () => {
    const plan = planFederatedCredentials({
      identityName: 'id1',
      wanted: [wanted('a')],
      existing: Array.from({ length: 20 }, (_, i) => byHand(i)),
      allowDeletes: true,
    });
    expect(plan.creates).toEqual([]);
    expect(plan.overLimit[0]!.reason).toMatch(/more than Entra's 20 federated credentials per identity/);
  });

  it('keeps ours when deletes are not allowed (the tags could not be fully read)', () => {
    const plan = planFederatedCredentials({ identityName: 'id1', wanted: [], existing: [existingOf(wanted('a'))], allowDeletes: false });
    expect(plan.deletes).toEqual([]);
    expect(names(plan.kept)).toEqual([wanted('a').name]);
  });

  it.each([
    { case: 'tags complete', allowDeletes: true },
    { case: 'tags not fully read', allowDeletes: false },
  ])(
    'for an identity that may not be federated, creates nothing and deletes every one of ours, never one made by hand ($case)',
    ({ allowDeletes }) => {
      const plan = planFederatedCredentials({
        identityName: 'id1',
        wanted: [wanted('a'), wanted('new')],
        existing: [existingOf(wanted('a')), { ...existingOf(wanted('b')), issuer: 'https://old.example/' }, byHand(1)],
        allowDeletes,
        ineligible: 'id1 may not be federated (id1 holds Owner)',
      });
      expect(plan.creates).toEqual([]);
      expect(plan.updates).toEqual([]);
      expect(plan.unchanged).toEqual([]);
      expect(plan.kept).toEqual([]);
      expect(names(plan.deletes)).toEqual([wanted('a').name, wanted('b').name]);
      expect(plan.deletes[0]!.reason).toMatch(/is deleted: id1 may not be federated \(id1 holds Owner\)/);
      expect(plan.countAfter).toBe(1);
    },
  );
});
