import { describe, expect, it } from 'vitest';
import type { GridEvent } from '../../../emulator/core/contract.js';
import { matchesFilter, toCloudEvent } from '../../../emulator/eventgrid/filters.js';

// Event shape: https://learn.microsoft.com/azure/event-grid/event-schema-subscriptions (ResourceWriteSuccess sample).
const event: GridEvent = {
  id: 'e1',
  topic: '/subscriptions/s1',
  subject: '/subscriptions/s1/resourcegroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1',
  eventType: 'Microsoft.Resources.ResourceWriteSuccess',
  eventTime: '2026-01-01T00:00:00Z',
  data: { operationName: 'Microsoft.Compute/virtualMachines/write', status: 'Succeeded' },
  dataVersion: '2',
  metadataVersion: '1',
};

describe('event subscription filters', () => {
  it.each([
    [{}, true],
    [{ includedEventTypes: ['Microsoft.Resources.ResourceDeleteSuccess'] }, false],
    [{ includedEventTypes: ['microsoft.resources.resourcewritesuccess'] }, true],
    [
      { advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: ['microsoft.compute/virtualmachines/write'] }] },
      true,
    ],
    [{ advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: ['Microsoft.Resources/tags/write'] }] }, false],
    [{ advancedFilters: [{ operatorType: 'StringNotIn', key: 'data.status', values: ['Failed'] }] }, true],
    [{ subjectBeginsWith: '/subscriptions/S1/resourcegroups/rg1/' }, true],
    [{ subjectEndsWith: '/vm2' }, false],
    [{ advancedFilters: [{ operatorType: 'StringContains', key: 'subject', values: ['virtualmachines'] }] }, true],
  ] as const)('%j → %s', (filter, expected) => {
    expect(matchesFilter(filter as never, event)).toBe(expected);
  });

  it('maps to CloudEvents 1.0', () => {
    expect(toCloudEvent(event)).toMatchObject({
      specversion: '1.0',
      type: event.eventType,
      source: event.topic,
      subject: event.subject,
      id: 'e1',
      time: event.eventTime,
    });
  });
});
