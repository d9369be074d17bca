/** Key Vaults (the management plane): vaultUri from the data plane, and the permission model's default. */
import type { ResourceKit, ResourceType } from '../resourceKit.js';

/** Whether a Key Vault created without `enableRbacAuthorization` uses Azure RBAC: from api-version 2026-02-01 on. */
export function isRbacDefault(apiVersion: string | null): boolean {
  return apiVersion !== null && /^\d{4}-\d{2}-\d{2}/.test(apiVersion) && apiVersion.slice(0, 10) >= '2026-02-01';
}

export function keyVaultTypes({ ctx }: ResourceKit): ResourceType[] {
  return [
    {
      type: 'Microsoft.KeyVault/vaults', // keyvault/.../examples/createVault.json (properties.vaultUri)
      fill: async ({ id, name, props, prev, apiVersion }) => {
        let vaultUri = `https://${name.toLowerCase()}.vault.azure.net/`;
        try {
          vaultUri = await ctx.services.get('vaults').ensureVault(name, id);
        } catch {
          // No Key Vault data plane registered: keep the Azure-shaped URI.
        }
        props.vaultUri = vaultUri;
        props.tenantId ??= ctx.tenantId;
        props.sku ??= { family: 'A', name: 'standard' };
        // The permission model (`properties.enableRbacAuthorization`). Absent on create, the default
        // depends on the api-version: `"default": false` up to 2025-05-01
        // (keyvault/resource-manager/Microsoft.KeyVault/KeyVault/stable/2025-05-01/openapi.json,
        // VaultProperties), `"default": true` from 2026-02-01 (…/stable/2026-02-01/openapi.json).
        // Absent on a PUT over an existing vault, it keeps its value, as VaultPatchProperties says
        // ("If null or not specified, the value of this property will not change").
        if (typeof props.enableRbacAuthorization !== 'boolean') {
          props.enableRbacAuthorization =
            typeof prev.enableRbacAuthorization === 'boolean' ? prev.enableRbacAuthorization : isRbacDefault(apiVersion);
        }
        return undefined;
      },
      onDelete: (r) => {
        try {
          ctx.services.get('vaults').removeVault(String(r.body.name));
        } catch {
          /* no data plane registered */
        }
      },
    },
  ];
}
