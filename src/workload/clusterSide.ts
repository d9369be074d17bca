/**
 * Workload identity, the cluster side (issue 19.5): what the cluster owner must apply for pods to use
 * a federated credential — a ServiceAccount annotated with the identity's client id
 * (`azure.workload.identity/client-id`), pods labelled `azure.workload.identity/use: "true"`, and the
 * cluster's workload identity webhook on (`properties.securityProfile.workloadIdentity.enabled`,
 * containerservice/.../aks/stable/2025-05-01/examples/ManagedClustersCreate_Update.json,
 * ManagedClusterSecurityProfileWorkloadIdentity). https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster
 * Pure: no I/O.
 */
import type { ArmResource } from '../azure/arm.js';

/** The ServiceAccount annotation the workload identity webhook reads. */
export const CLIENT_ID_ANNOTATION = 'azure.workload.identity/client-id';

/** Whether the cluster runs the workload identity webhook: `securityProfile.workloadIdentity.enabled === true`. */
export function isWorkloadIdentityEnabled(cluster: Pick<ArmResource, 'properties'>): boolean {
  const profile = cluster.properties?.['securityProfile'];
  if (typeof profile !== 'object' || profile === null) return false;
  const wi = (profile as Record<string, unknown>)['workloadIdentity'];
  return typeof wi === 'object' && wi !== null && (wi as Record<string, unknown>)['enabled'] === true;
}

/** The ServiceAccount manifest (YAML) for one subject, annotated with the identity's client id. */
export function serviceAccountManifest(namespace: string, serviceAccount: string, clientId: string): string {
  return [
    'apiVersion: v1',
    'kind: ServiceAccount',
    'metadata:',
    `  name: ${serviceAccount}`,
    `  namespace: ${namespace}`,
    '  annotations:',
    `    ${CLIENT_ID_ANNOTATION}: ${clientId}`,
    '',
  ].join('\n');
}
