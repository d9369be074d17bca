/**
 * Issue 19.4: which resources name the pull application by value. Rows follow Resource Graph's
 * answer for container groups (containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json).
 */
import { describe, expect, it } from 'vitest';
import { passwordConsumersQuery, toPasswordConsumers } from '../../../src/credentials/passwordConsumers.js';

const APP = '6f1d3c9e-1111-4000-8000-0000000000aa';
const group = (name: string, credentials: unknown) => ({
  id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/${name}`,
  name,
  properties: { imageRegistryCredentials: credentials },
});

describe('who uses the pull password by value', () => {
  it('lists only groups whose registry credential user name is the application id, in any casing', () => {
    const rows = [
      group('by-value', [{ server: 'contosoacr.azurecr.io', username: APP.toUpperCase(), password: null }]),
      group('other-user', [{ server: 'contosoacr.azurecr.io', username: '00000000-0000-4000-8000-000000000000', password: null }]),
      group('identity', [{ server: 'contosoacr.azurecr.io', identity: `/x/${APP}` }]),
      group('none', undefined),
    ];
    expect(toPasswordConsumers(rows, APP)).toEqual([{ resourceId: rows[0]!.id, name: 'by-value', server: 'contosoacr.azurecr.io' }]);
  });

  it('puts only an application id in the query', () => {
    expect(passwordConsumersQuery(APP)).toContain(`contains '${APP}'`);
    expect(() => passwordConsumersQuery("x' or 1==1 //")).toThrow(/not an application id/);
  });
});
