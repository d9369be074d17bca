/**
 * App Service / Function app configuration for pulling a container image with a managed identity:
 * `config/web` (SiteConfigResource) with `acrUseManagedIdentityCreds: true`, and for a user-assigned
 * identity `acrUserManagedIdentityID: <client id>` — what `az webapp config set --generic-configurations
 * '{"acrUseManagedIdentityCreds": true}'` does. The image is `linuxFxVersion` (or `windowsFxVersion`)
 * `DOCKER|<login server>/<repository>:<tag>`.
 * Wire shape: web/resource-manager/Microsoft.Web/stable/2024-04-01/examples/UpdateSiteConfig.json (PATCH
 * sites/{name}/config/web); https://learn.microsoft.com/azure/app-service/configure-custom-container#use-managed-identity-to-pull-image-from-azure-container-registry
 */
import type { TokenCredential } from '@azure/identity';
import type { Client } from '@azure-rest/core-client';
import type { Config } from '../config.js';
import { createArmClient, createArmResources, type ArmResources, type AzureClientOptions } from './arm.js';

/** What the product reads of a site's `config/web`. */
export interface SiteWebConfig {
  readonly linuxFxVersion?: string;
  readonly windowsFxVersion?: string;
  readonly acrUseManagedIdentityCreds: boolean;
  /** '' when unset (ARM answers null). */
  readonly acrUserManagedIdentityID: string;
}

/** The two settings that make a site pull its image with a managed identity. */
export interface SiteAcrIdentity {
  readonly acrUseManagedIdentityCreds: boolean;
  /** A user-assigned identity's client id; '' for the system-assigned identity (or to clear it). */
  readonly acrUserManagedIdentityID: string;
}

export interface SiteConfigs {
  /** The site's `config/web`; undefined when the site is gone. */
  getWebConfig(siteId: string, options?: { abortSignal?: AbortSignal }): Promise<SiteWebConfig | undefined>;
  /** PATCHes exactly these two settings (nothing else in the configuration is sent). */
  setAcrIdentity(siteId: string, settings: SiteAcrIdentity, options?: { abortSignal?: AbortSignal }): Promise<void>;
}

/** Creates the site configuration adapter; one per app, built in deps.ts. */
export function createSiteConfigs(
  config: Config,
  credential: TokenCredential,
  options: { client?: Client; arm?: ArmResources; clientOptions?: AzureClientOptions } = {},
): SiteConfigs {
  const arm =
    options.arm ??
    createArmResources(config, credential, { client: options.client ?? createArmClient(config, credential, options.clientOptions) });
  return {
    async getWebConfig(siteId, opts) {
      const resource = await arm.getResource(webConfigId(siteId), opts);
      return resource ? toSiteWebConfig(resource.properties) : undefined;
    },
    async setAcrIdentity(siteId, settings, opts) {
      await arm.patchResource(
        webConfigId(siteId),
        {
          properties: {
            acrUseManagedIdentityCreds: settings.acrUseManagedIdentityCreds,
            acrUserManagedIdentityID: settings.acrUserManagedIdentityID,
          },
        },
        opts,
      );
    },
  };
}

function webConfigId(siteId: string): string {
  return `${siteId.replace(/\/+$/, '')}/config/web`;
}

/** The settings as ARM answers them, null and absent read as '' / false. */
export function toSiteWebConfig(properties: Readonly<Record<string, unknown>> | undefined): SiteWebConfig {
  const p = properties ?? {};
  const text = (k: string) => (typeof p[k] === 'string' ? (p[k] as string) : '');
  return {
    ...(text('linuxFxVersion') ? { linuxFxVersion: text('linuxFxVersion') } : {}),
    ...(text('windowsFxVersion') ? { windowsFxVersion: text('windowsFxVersion') } : {}),
    acrUseManagedIdentityCreds: p['acrUseManagedIdentityCreds'] === true,
    acrUserManagedIdentityID: text('acrUserManagedIdentityID'),
  };
}

/**
 * The registry host (lower-cased) of the container image the site runs — `DOCKER|host/repo:tag` in
 * linuxFxVersion or windowsFxVersion — or undefined when it runs no container image, or one from
 * Docker Hub (no host part).
 */
export function siteImageRegistry(config: SiteWebConfig): string | undefined {
  for (const fx of [config.linuxFxVersion, config.windowsFxVersion]) {
    const m = /^DOCKER\|([^/\s]+)\//i.exec(fx ?? '');
    if (m && /[.:]/.test(m[1]!)) return m[1]!.toLowerCase();
  }
  return undefined;
}
