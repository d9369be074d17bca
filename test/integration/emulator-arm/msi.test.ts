/**
 * Microsoft.ManagedIdentity through the real `@azure/arm-msi` client (api-version 2024-11-30).
 * Shapes follow azure-rest-api-specs specification/msi/resource-manager/Microsoft.ManagedIdentity/
 * stable/2024-11-30/examples/: IdentityCreate.json (201, properties.{tenantId, principalId, clientId,
 * isolationScope}), IdentityGet.json, IdentityDelete.json, FederatedIdentityCredentialCreate.json
 * (201 create / 200 update), FederatedIdentityCredentialList.json (`nextLink`).
 * Limits: https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations
 * (20 credentials per identity; concurrent writes under one identity answer 409).
 */
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { isRestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCE_GROUP } from '../../../emulator/core/wellKnown.js';
import type { TestEmulator } from '../../support/emulator.js';
import { armClientOptions, startArmEmulator } from './armSupport.js';

let emu: TestEmulator;
let client: ManagedServiceIdentityClient;
const RG = DEFAULT_RESOURCE_GROUP;
const ISSUER = 'https://westeurope.oic.prod-aks.azure.com/72f988bf-0000-4000-8000-00000000e001/6a1c0e4b-0000-4000-8000-000000000001/';
const fic = (subject: string) => ({ issuer: ISSUER, subject, audiences: ['api://AzureADTokenExchange'] });

beforeAll(async () => {
  emu = await startArmEmulator();
  client = new ManagedServiceIdentityClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
});
afterAll(async () => {
  await emu?.stop();
});

/** Captures the raw status of the SDK call it is passed to (the SDK returns only the body). */
function statusOf() {
  const seen: number[] = [];
  return { seen, onResponse: (r: { status: number }) => void seen.push(r.status) };
}

describe('user-assigned identities through @azure/arm-msi', () => {
  it('creates (201) an identity with a new principal, reads it, updates it (200) keeping the principal, and deletes it', async () => {
    const s = statusOf();
    const created = await client.userAssignedIdentities.createOrUpdate(
      RG,
      'id-web',
      { location: 'westeurope', tags: { team: 'web' } },
      { onResponse: s.onResponse },
    );
    expect(s.seen).toEqual([201]);
    expect(created).toMatchObject({
      name: 'id-web',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      location: 'westeurope',
      tags: { team: 'web' },
      tenantId: emu.endpoints.tenantId,
      isolationScope: 'None',
    });
    expect(created.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.clientId).toMatch(/^[0-9a-f-]{36}$/);

    const got = await client.userAssignedIdentities.get(RG, 'id-web');
    expect(got).toMatchObject({ id: created.id, principalId: created.principalId, clientId: created.clientId });

    const updated = await client.userAssignedIdentities.createOrUpdate(
      RG,
      'id-web',
      { location: 'westeurope', tags: { team: 'platform' } },
      { onResponse: s.onResponse },
    );
    expect(s.seen).toEqual([201, 200]);
    expect(updated).toMatchObject({ principalId: created.principalId, tags: { team: 'platform' } });

    await client.userAssignedIdentities.delete(RG, 'id-web');
    await expect(client.userAssignedIdentities.get(RG, 'id-web')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  });
});

describe('federated identity credentials through @azure/arm-msi', () => {
  it('answers 201 on create and 200 on update', async () => {
    await client.userAssignedIdentities.createOrUpdate(RG, 'id-wi', { location: 'westeurope' });
    const s = statusOf();
    const created = await client.federatedIdentityCredentials.createOrUpdate(RG, 'id-wi', 'fic-web', fic('system:serviceaccount:web:api'), {
      onResponse: s.onResponse,
    });
    expect(created).toMatchObject({
      name: 'fic-web',
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials',
      issuer: ISSUER,
      subject: 'system:serviceaccount:web:api',
      audiences: ['api://AzureADTokenExchange'],
    });
    const updated = await client.federatedIdentityCredentials.createOrUpdate(
      RG,
      'id-wi',
      'fic-web',
      fic('system:serviceaccount:web:worker'),
      { onResponse: s.onResponse },
    );
    expect(s.seen).toEqual([201, 200]);
    expect(updated.subject).toBe('system:serviceaccount:web:worker');
    expect((await client.federatedIdentityCredentials.get(RG, 'id-wi', 'fic-web')).subject).toBe('system:serviceaccount:web:worker');
    await client.federatedIdentityCredentials.delete(RG, 'id-wi', 'fic-web');
    await expect(client.federatedIdentityCredentials.get(RG, 'id-wi', 'fic-web')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('lists every credential of an identity, following nextLink', async () => {
    await client.userAssignedIdentities.createOrUpdate(RG, 'id-list', { location: 'westeurope' });
    for (let i = 0; i < 5; i++)
      await client.federatedIdentityCredentials.createOrUpdate(RG, 'id-list', `fic-${i}`, fic(`system:serviceaccount:ns:sa-${i}`));
    await emu.admin('PUT', '/arm/options', { pageSize: 2 });
    try {
      const pages: string[][] = [];
      for await (const page of client.federatedIdentityCredentials.list(RG, 'id-list').byPage()) pages.push(page.map((f) => f.name!));
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat().sort()).toEqual(['fic-0', 'fic-1', 'fic-2', 'fic-3', 'fic-4']);
    } finally {
      await emu.admin('PUT', '/arm/options', { pageSize: 100 });
    }
  });

  it('refuses a credential beyond the per-identity cap', async () => {
    await client.userAssignedIdentities.createOrUpdate(RG, 'id-cap', { location: 'westeurope' });
    await emu.admin('PUT', '/arm/options', { ficLimit: 3 });
    try {
      for (let i = 0; i < 3; i++)
        await client.federatedIdentityCredentials.createOrUpdate(RG, 'id-cap', `fic-${i}`, fic(`system:serviceaccount:ns:sa-${i}`));
      const error = await client.federatedIdentityCredentials
        .createOrUpdate(RG, 'id-cap', 'fic-3', fic('system:serviceaccount:ns:sa-3'))
        .catch((e: unknown) => e);
      expect(isRestError(error)).toBe(true);
      expect(error).toMatchObject({ statusCode: 400 });
      expect((error as Error).message).toMatch(/maximum number of Federated Identity Credentials/);
      // Updating one already there is still allowed at the cap.
      await expect(
        client.federatedIdentityCredentials.createOrUpdate(RG, 'id-cap', 'fic-0', fic('system:serviceaccount:ns:other')),
      ).resolves.toMatchObject({ name: 'fic-0' });
    } finally {
      await emu.admin('PUT', '/arm/options', { ficLimit: 20 });
    }
  });

  it('answers 409 to the second of two concurrent writes to one identity, and the retry succeeds', async () => {
    await client.userAssignedIdentities.createOrUpdate(RG, 'id-race', { location: 'westeurope' });
    await emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 300 });
    try {
      const results = await Promise.allSettled([
        client.federatedIdentityCredentials.createOrUpdate(RG, 'id-race', 'fic-a', fic('system:serviceaccount:ns:a')),
        new Promise((r) => setTimeout(r, 50)).then(() =>
          client.federatedIdentityCredentials.createOrUpdate(RG, 'id-race', 'fic-b', fic('system:serviceaccount:ns:b')),
        ),
      ]);
      expect(results[0]!.status).toBe('fulfilled');
      expect(results[1]!.status).toBe('rejected');
      const reason = (results[1] as PromiseRejectedResult).reason as unknown;
      expect(isRestError(reason)).toBe(true);
      expect(reason).toMatchObject({ statusCode: 409, code: 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity' });
      // One write at a time per identity: the retry goes through.
      await expect(
        client.federatedIdentityCredentials.createOrUpdate(RG, 'id-race', 'fic-b', fic('system:serviceaccount:ns:b')),
      ).resolves.toMatchObject({ name: 'fic-b' });
    } finally {
      await emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
    }
  });

  it('answers 409 to a delete while another write on the identity is in flight (issue 14 point 7)', async () => {
    await client.userAssignedIdentities.createOrUpdate(RG, 'id-race-delete', { location: 'westeurope' });
    await client.federatedIdentityCredentials.createOrUpdate(RG, 'id-race-delete', 'fic-old', fic('system:serviceaccount:ns:old'));
    await emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 300 });
    try {
      const results = await Promise.allSettled([
        client.federatedIdentityCredentials.createOrUpdate(RG, 'id-race-delete', 'fic-new', fic('system:serviceaccount:ns:new')),
        new Promise((r) => setTimeout(r, 50)).then(() => client.federatedIdentityCredentials.delete(RG, 'id-race-delete', 'fic-old')),
      ]);
      expect(results[0]!.status).toBe('fulfilled');
      expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
        statusCode: 409,
        code: 'ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity',
      });
      // The delete did nothing; once the write is done, it goes through.
      const names = async () => {
        const out: string[] = [];
        for await (const f of client.federatedIdentityCredentials.list(RG, 'id-race-delete')) out.push(f.name!);
        return out.sort();
      };
      expect(await names()).toEqual(['fic-new', 'fic-old']);
      await client.federatedIdentityCredentials.delete(RG, 'id-race-delete', 'fic-old');
      expect(await names()).toEqual(['fic-new']);
    } finally {
      await emu.admin('PUT', '/arm/options', { ficWriteDurationMs: 25 });
    }
  });

  it('answers 404 ParentResourceNotFound for a credential on an identity that does not exist', async () => {
    await expect(
      client.federatedIdentityCredentials.createOrUpdate(RG, 'id-missing', 'fic', fic('system:serviceaccount:ns:x')),
    ).rejects.toMatchObject({ statusCode: 404, code: 'ParentResourceNotFound' });
  });
});
