import { describe, expect, it } from 'vitest';
import { RESOURCE_EVENT_SUBSCRIPTION, RESOURCE_OPERATION_NAMES, isHandledOperation } from '../../../src/access/eventSubscription.js';
import { OBJECT_ID_CLAIM, callerOf, parseResourceEvent } from '../../../src/resources/resourceEvent.js';

const SUB = '00000000-0000-0000-0000-000000000001';
const VM = `/subscriptions/${SUB}/resourcegroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`;
const options = { watchedSubscriptions: [SUB] };

/** Follows the documented ResourceWriteSuccess sample (https://learn.microsoft.com/azure/event-grid/event-schema-resource-groups#example-event): no data.httpRequest. */
function aResourceWriteEvent(
  resourceUri: string,
  operationName = 'Microsoft.Compute/virtualMachines/write',
  eventType = 'Microsoft.Resources.ResourceWriteSuccess',
) {
  return {
    id: 'evt-1',
    topic: `/subscriptions/${SUB}/resourceGroups/rg-web`,
    subject: resourceUri,
    eventType,
    eventTime: '2025-01-01T00:00:00Z',
    dataVersion: '',
    metadataVersion: '1',
    data: {
      authorization: { scope: resourceUri, action: operationName, evidence: { role: 'Owner' } },
      claims: { [OBJECT_ID_CLAIM]: 'caller-oid', appid: 'app-1' },
      correlationId: 'corr-1',
      resourceProvider: 'Microsoft.Compute',
      resourceUri,
      operationName,
      status: 'Succeeded',
      subscriptionId: SUB,
      tenantId: 'tenant',
    },
  };
}

describe('the event subscription list', () => {
  it('names write and delete for every watched type plus tag writes, within the 25 values StringIn takes', () => {
    expect(RESOURCE_OPERATION_NAMES).toContain('Microsoft.Compute/virtualMachines/write');
    expect(RESOURCE_OPERATION_NAMES).toContain('Microsoft.ContainerRegistry/registries/tasks/delete');
    expect(RESOURCE_OPERATION_NAMES).toContain('Microsoft.Resources/tags/write');
    expect(RESOURCE_OPERATION_NAMES.length).toBeLessThanOrEqual(25);
    expect(RESOURCE_EVENT_SUBSCRIPTION.includedEventTypes).toEqual([
      'Microsoft.Resources.ResourceWriteSuccess',
      'Microsoft.Resources.ResourceDeleteSuccess',
    ]);
  });

  it.each([
    ['Microsoft.Resources.ResourceWriteSuccess', 'microsoft.compute/virtualmachines/write', true],
    ['Microsoft.Resources.ResourceDeleteSuccess', 'Microsoft.Web/sites/delete', true],
    ['Microsoft.Resources.ResourceWriteFailure', 'Microsoft.Web/sites/write', false],
    ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Storage/storageAccounts/write', false],
  ])('%s %s handled: %s', (type, op, expected) => {
    expect(isHandledOperation(type, op)).toBe(expected);
  });
});

describe('parseResourceEvent', () => {
  it('takes the resource id, correlation id and caller from an Event Grid schema write', async () => {
    const parsed = await parseResourceEvent(aResourceWriteEvent(VM), options);
    expect(parsed).toMatchObject({
      kind: 'handled',
      event: {
        eventId: 'evt-1',
        change: 'write',
        resourceId: `/subscriptions/${SUB}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-1`,
        resourceType: 'microsoft.compute/virtualmachines',
        correlationId: 'corr-1',
        caller: 'caller-oid',
      },
    });
  });

  it('reads the same event as a CloudEvent', async () => {
    const grid = aResourceWriteEvent(VM, 'Microsoft.Compute/virtualMachines/delete', 'Microsoft.Resources.ResourceDeleteSuccess');
    const cloud = {
      specversion: '1.0',
      id: 'ce-1',
      source: grid.topic,
      subject: grid.subject,
      type: grid.eventType,
      time: grid.eventTime,
      data: grid.data,
    };
    const parsed = await parseResourceEvent(cloud, options);
    expect(parsed).toMatchObject({ kind: 'handled', event: { eventId: 'ce-1', change: 'delete', schema: 'CloudEventSchemaV1_0' } });
  });

  it('acts on the tagged resource for a tag write', async () => {
    const parsed = await parseResourceEvent(
      aResourceWriteEvent(`${VM}/providers/Microsoft.Resources/tags/default`, 'Microsoft.Resources/tags/write'),
      options,
    );
    expect(parsed).toMatchObject({
      kind: 'handled',
      event: { resourceType: 'microsoft.compute/virtualmachines', operationName: 'Microsoft.Resources/tags/write' },
    });
    expect(parsed.kind === 'handled' && parsed.event.resourceId.endsWith('/virtualMachines/vm-web-1')).toBe(true);
  });

  it.each([
    [
      'another event type',
      aResourceWriteEvent(VM, 'Microsoft.Compute/virtualMachines/write', 'Microsoft.Storage.BlobCreated'),
      /event type/,
    ],
    [
      'an unwatched operation',
      aResourceWriteEvent(
        `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`,
        'Microsoft.Storage/storageAccounts/write',
      ),
      /not one the access feature handles/,
    ],
    ['an unwatched subscription', aResourceWriteEvent(VM.replace(SUB, '00000000-0000-0000-0000-000000000009')), /WATCHED_SUBSCRIPTIONS/],
    [
      'tags on a resource group',
      aResourceWriteEvent(
        `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Resources/tags/default`,
        'Microsoft.Resources/tags/write',
      ),
      /resourceGroup/,
    ],
  ])('skips %s with the reason', async (_name, event, reason) => {
    const parsed = await parseResourceEvent(event, options);
    expect(parsed.kind).toBe('skipped');
    expect(parsed.kind === 'skipped' && parsed.reason).toMatch(reason);
  });

  it.each([
    ['not an object', 'hello', /not a JSON object/],
    ['missing metadataVersion', { ...aResourceWriteEvent(VM), metadataVersion: undefined }, /Event Grid schema/],
    ['no resourceUri', { ...aResourceWriteEvent(VM), data: { ...aResourceWriteEvent(VM).data, resourceUri: '' } }, /resourceUri/],
    [
      'a bad resourceUri',
      { ...aResourceWriteEvent(VM), data: { ...aResourceWriteEvent(VM).data, resourceUri: '/subscriptions/nope/x' } },
      /not a GUID/,
    ],
    ['no data', { ...aResourceWriteEvent(VM), data: 'x' }, /no data/],
  ])('rejects %s without throwing', async (_name, event, reason) => {
    const parsed = await parseResourceEvent(event, options);
    expect(parsed.kind).toBe('rejected');
    expect(parsed.kind === 'rejected' && parsed.reason).toMatch(reason);
  });

  it.each([
    [{ [OBJECT_ID_CLAIM]: 'oid-1', appid: 'app' }, 'oid-1'],
    [{ appid: 'app-2' }, 'app:app-2'],
    [{}, undefined],
    ['x', undefined],
  ])('names the caller from claims %j', (claims, expected) => {
    expect(callerOf(claims)).toBe(expected);
  });
});
