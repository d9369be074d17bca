/** AKS managed clusters: node resource group, kubelet identity, OIDC issuer. */
import { randomUUID } from 'node:crypto';
import { armError } from '../errors.js';
import { keyOf, parseResourceId } from '../ids.js';
import type { ResourceKit, ResourceType } from '../resourceKit.js';
import { isObject } from '../state.js';

export function managedClusterTypes({ ctx, state, publish, ensureResourceGroup, createUserAssignedIdentity }: ResourceKit): ResourceType[] {
  return [
    {
      type: 'Microsoft.ContainerService/managedClusters', // containerservice/.../examples/ManagedClustersCreate_*.json (identityProfile, oidcIssuerProfile)
      fill: ({ p, id, name, location, props, prev, caller }) => {
        const rg = String(prev.nodeResourceGroup ?? `MC_${p.resourceGroup}_${name}_${location}`);
        props.nodeResourceGroup = rg;
        ensureResourceGroup(caller, p.subscriptionId, rg, location, id);
        const prevKubelet =
          isObject(prev.identityProfile) && isObject(prev.identityProfile.kubeletidentity)
            ? prev.identityProfile.kubeletidentity
            : undefined;
        // A kubelet identity brought by the caller (`az aks create --assign-kubelet-identity`): ManagedClusterProperties.identityProfile,
        // "The only accepted key is kubeletidentity, with value of resourceId" (containerservice/.../aks/stable/2025-05-01/managedClusters.json);
        // ARM fills its clientId and objectId. One identity may serve several clusters.
        const given =
          isObject(props.identityProfile) && isObject(props.identityProfile.kubeletidentity)
            ? props.identityProfile.kubeletidentity
            : undefined;
        let kubelet = prevKubelet;
        if (
          given &&
          typeof given.resourceId === 'string' &&
          (!prevKubelet || keyOf(String(prevKubelet.resourceId)) !== keyOf(given.resourceId))
        ) {
          const uai = state.getResource(given.resourceId);
          const up = uai && isObject(uai.body.properties) ? uai.body.properties : undefined;
          if (!up) return armError(400, 'BadRequest', `The kubelet identity '${given.resourceId}' was not found.`);
          kubelet = { resourceId: given.resourceId, clientId: up.clientId, objectId: up.principalId };
        }
        if (!kubelet) {
          const uaiId = `/subscriptions/${p.subscriptionId}/resourcegroups/${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}-agentpool`;
          const uai = createUserAssignedIdentity(uaiId, `${name}-agentpool`, location, {});
          state.resources.set(keyOf(uaiId), uai);
          publish('write', caller, uaiId, 'Microsoft.ManagedIdentity/userAssignedIdentities/write');
          const up = uai.body.properties as Record<string, unknown>;
          kubelet = { resourceId: uaiId, clientId: up.clientId, objectId: up.principalId };
        }
        props.identityProfile = { ...(isObject(props.identityProfile) ? props.identityProfile : {}), kubeletidentity: kubelet };
        const oidc = isObject(props.oidcIssuerProfile) ? props.oidcIssuerProfile : undefined;
        if (oidc?.enabled) {
          const prevUrl = isObject(prev.oidcIssuerProfile) ? prev.oidcIssuerProfile.issuerURL : undefined;
          oidc.issuerURL = prevUrl ?? `https://${location}.oic.prod-aks.azure.com/${ctx.tenantId}/${randomUUID()}/`;
        }
        props.fqdn ??= `${name.toLowerCase()}-dns-${randomUUID().slice(0, 8)}.hcp.${location}.azmk8s.io`;
        return undefined;
      },
      // The node resource group goes with its cluster.
      onDelete: (r, caller, ops) => {
        const parsed = parseResourceId(r.id);
        const nodeRg = isObject(r.body.properties) ? r.body.properties.nodeResourceGroup : undefined;
        if (typeof nodeRg === 'string' && parsed)
          ops.deleteResourceGroup(caller, `/subscriptions/${parsed.subscriptionId}/resourceGroups/${nodeRg}`);
      },
    },
  ];
}
