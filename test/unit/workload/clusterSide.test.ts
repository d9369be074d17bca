/**
 * Issue 19.5: what the cluster owner applies. securityProfile.workloadIdentity follows
 * containerservice/.../aks/stable/2025-05-01/examples/ManagedClustersCreate_Update.json.
 */
import { describe, expect, it } from 'vitest';
import { isWorkloadIdentityEnabled, serviceAccountManifest } from '../../../src/workload/clusterSide.js';

describe('the cluster side of workload identity', () => {
  it.each<[unknown, boolean]>([
    [{ securityProfile: { workloadIdentity: { enabled: true } } }, true],
    [{ securityProfile: { workloadIdentity: { enabled: false } } }, false],
    [{ securityProfile: { workloadIdentity: { enabled: 'true' } } }, false],
    [{ securityProfile: {} }, false],
    [{}, false],
    [undefined, false],
  ])('reads workload identity on %j as %s', (properties, expected) => {
    expect(isWorkloadIdentityEnabled({ properties: properties as Record<string, unknown> | undefined } as never)).toBe(expected);
  });

  it('annotates the ServiceAccount with the client id', () => {
    expect(serviceAccountManifest('orders', 'orders-api', '2f1c0000-0000-4000-8000-000000000001')).toBe(
      'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: orders-api\n  namespace: orders\n  annotations:\n    azure.workload.identity/client-id: 2f1c0000-0000-4000-8000-000000000001\n',
    );
  });
});
