/**
 * Issue 18.1/18.4: dead-lettered events, counted from Event Grid's dead-letter container with the
 * real Blob SDK against Azurite's Blob service. The test writes the blobs as Event Grid does:
 * `<SUBSCRIPTION NAME IN UPPER CASE>/<YYYY>/<M>/<D>/<H>/<guid>.json`, each a JSON array of events
 * with `deadLetterReason`, `deliveryAttempts`, `lastDeliveryOutcome`…
 * (https://learn.microsoft.com/azure/event-grid/manage-event-delivery#set-dead-letter-location,
 * https://learn.microsoft.com/azure/event-grid/delivery-and-retry#dead-letter-events).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnGroup, type ChildHandle } from '../../../devhost/childProcess.js';
import { checkHealth } from '../../../src/api/health.js';
import { createCredential } from '../../../src/azure/credential.js';
import { blobEndpointOf, createDeadLetters, DEAD_LETTER_CONTAINER, subscriptionOfBlob } from '../../../src/azure/deadLetters.js';
import { loadConfig } from '../../../src/config.js';
import { PLACEHOLDER_APP_SETTINGS } from '../../../scripts/stack.js';
import { AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY } from '../../support/azurite.js';
import { freePort } from '../../support/ports.js';

let child: ChildHandle | undefined;
let location = '';
let connectionString = '';

beforeAll(async () => {
  const port = await freePort();
  const bin = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  location = mkdtempSync(join(tmpdir(), 'azurite-blob-'));
  child = spawnGroup(
    process.execPath,
    [
      bin,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--inMemoryPersistence',
      '--disableTelemetry',
      '--skipApiVersionCheck',
      '--loose',
    ],
    { name: 'azurite-blob', cwd: location, env: { ...process.env, AZURITE_ACCOUNTS: undefined } },
  );
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${endpoint};TableEndpoint=http://127.0.0.1:9/${AZURITE_ACCOUNT};`;
  for (let i = 0; ; i++) {
    try {
      await fetch(`${endpoint}?comp=list`);
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}, 30_000);
afterAll(async () => {
  await child?.stop();
  if (location) rmSync(location, { recursive: true, force: true });
});

/** A dead-lettered ResourceWriteSuccess, as Event Grid writes it. */
function aDeadLetterBlob(subject: string): string {
  return JSON.stringify([
    {
      id: randomUUID(),
      eventTime: '2026-12-06T08:00:00.0000000Z',
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      dataVersion: '2',
      metadataVersion: '1',
      topic: '/subscriptions/00000000-0000-0000-0000-000000000001',
      subject,
      deadLetterReason: 'MaxDeliveryAttemptsExceeded',
      deliveryAttempts: 30,
      lastDeliveryOutcome: 'Probation',
      publishTime: '2026-12-06T08:00:00.0000000Z',
      lastDeliveryAttemptTime: '2026-12-07T08:00:00.0000000Z',
      data: { operationName: 'Microsoft.Compute/virtualMachines/write', resourceUri: subject },
    },
  ]);
}

describe('dead letters', () => {
  it('counts the blobs Event Grid dead-lettered, by subscription, and health reports them as degraded', async () => {
    const config = loadConfig({ ...PLACEHOLDER_APP_SETTINGS, TABLES_CONNECTION_STRING: connectionString });
    const deadLetters = createDeadLetters(config, createCredential(config));
    expect(deadLetters).toBeDefined();
    const weekAgo = new Date(Date.now() - 7 * 86_400_000);
    // Before Event Grid has written anything the container does not exist: nothing dead-lettered.
    expect(await deadLetters!.count(weekAgo)).toMatchObject({ blobs: 0, recent: 0 });

    const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(DEAD_LETTER_CONTAINER);
    await container.createIfNotExists();
    const vm = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1';
    for (const name of [
      `ACR-PULL-RESOURCE-EVENTS/2026/12/6/8/${randomUUID()}.json`,
      `ACR-PULL-RESOURCE-EVENTS/2026/12/6/9/${randomUUID()}.json`,
      `ACR-PULL-SECRET-NEAR-EXPIRY/2026/12/6/8/${randomUUID()}.json`,
    ]) {
      const body = aDeadLetterBlob(vm);
      await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
    }

    const count = await deadLetters!.count(weekAgo);
    expect(count).toMatchObject({
      blobs: 3,
      recent: 3,
      truncated: false,
      bySubscription: { 'ACR-PULL-RESOURCE-EVENTS': 2, 'ACR-PULL-SECRET-NEAR-EXPIRY': 1 },
    });
    expect(Date.parse(count.newest!)).toBeGreaterThan(weekAgo.getTime());
    expect((await deadLetters!.count(new Date(Date.now() + 60_000))).recent).toBe(0);

    const health = await checkHealth(() => ({
      watchedSubscriptions: [],
      tableStorage: async () => undefined,
      arm: async () => undefined,
      graph: async () => undefined,
      roleAssignments: async () => ({ total: 0, owned: 0 }),
      deadLetters: (since) => deadLetters!.count(since),
    }));
    expect(health.status).toBe('degraded');
    expect(health.deadLetters).toMatchObject({ status: 'degraded', configured: true, blobs: 3, recent: 3 });
    expect(health.deadLetters.problem).toMatch(/dead-lettered 3 blob\(s\) of events in the last 7 days/);
  });

  it('is not configured where the settings name no blob endpoint, and finds the blob endpoint of the tables account in Azure', () => {
    const local = loadConfig({
      ...PLACEHOLDER_APP_SETTINGS,
      TABLES_CONNECTION_STRING: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=http://127.0.0.1:9/${AZURITE_ACCOUNT};`,
    });
    expect(createDeadLetters(local, createCredential(local))).toBeUndefined();
    expect(blobEndpointOf('https://stacrpull123.table.core.windows.net')).toBe('https://stacrpull123.blob.core.windows.net');
    expect(blobEndpointOf('https://stacrpull123.table.core.chinacloudapi.cn/')).toBe('https://stacrpull123.blob.core.chinacloudapi.cn');
    expect(blobEndpointOf('http://127.0.0.1:10002/devstoreaccount1')).toBeUndefined();
    expect(subscriptionOfBlob('ACR-PULL-RESOURCE-EVENTS/2026/12/6/8/x.json')).toBe('ACR-PULL-RESOURCE-EVENTS');
    expect(subscriptionOfBlob('EVGT-RESOURCES-ABC/ACR-PULL-RESOURCE-EVENTS/2026/1/2/3/x.json')).toBe('ACR-PULL-RESOURCE-EVENTS');
  });
});
