/**
 * End-to-end support for issue 19 (consumers that need more than a role assignment): builders for
 * a Container App and an App Service site running a container, each following the spec example it
 * cites (trimmed to what the product reads), and readers of the consumer's configuration as ARM
 * answers it — what `az containerapp show` and `az webapp config show` would print.
 */
import { createOperator, type Operator } from '../../scripts/operator.js';
import type { AccessStack, ArmWrite } from './e2eAccess.js';

export const CONSUMER_API_VERSIONS = { containerApp: '2025-01-01', site: '2024-04-01', containerGroup: '2023-05-01' } as const;

const LOCATION = 'westeurope';
type Tags = Record<string, string>;
type IdentityInput = { readonly system?: boolean; readonly userAssigned?: readonly string[] };

function identityBody(identity: IdentityInput): Record<string, unknown> {
  const user = identity.userAssigned ?? [];
  const type =
    [identity.system ? 'SystemAssigned' : undefined, user.length ? 'UserAssigned' : undefined].filter(Boolean).join(',') || 'None';
  return { type, ...(user.length ? { userAssignedIdentities: Object.fromEntries(user.map((id) => [id, {}])) } : {}) };
}

/** A registry entry as a Container App holds it (RegistryCredentials). */
export interface AppRegistry {
  readonly server: string;
  readonly identity?: string;
  readonly username?: string;
  readonly passwordSecretRef?: string;
}

/**
 * A Container App. Follows app/resource-manager/Microsoft.App/ContainerApps/stable/2025-01-01/examples/
 * ContainerApps_CreateOrUpdate.json (identity, configuration, template), trimmed; `registries` as
 * RegistryCredentials in ContainerApps.json.
 */
export function aContainerApp(options: {
  tags?: Tags;
  identity?: IdentityInput;
  image: string;
  registries?: readonly AppRegistry[];
  secrets?: readonly { name: string; value: string }[];
}): ArmWrite {
  return {
    apiVersion: CONSUMER_API_VERSIONS.containerApp,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      identity: identityBody(options.identity ?? { system: true }),
      properties: {
        environmentId:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/demokube',
        configuration: {
          ingress: { external: true, targetPort: 3000 },
          ...(options.registries ? { registries: options.registries } : {}),
          ...(options.secrets ? { secrets: options.secrets } : {}),
        },
        template: { containers: [{ image: options.image, name: 'app' }], scale: { minReplicas: 1, maxReplicas: 5 } },
      },
    },
  };
}

/**
 * An App Service site running a Linux container. Follows web/resource-manager/Microsoft.Web/stable/
 * 2024-04-01/examples/CreateOrUpdateWebApp.json, with `siteConfig.linuxFxVersion` `DOCKER|<image>`
 * (https://learn.microsoft.com/azure/app-service/configure-custom-container).
 */
export function aContainerSite(options: {
  tags?: Tags;
  identity?: IdentityInput;
  image: string;
  siteConfig?: Record<string, unknown>;
}): ArmWrite {
  return {
    apiVersion: CONSUMER_API_VERSIONS.site,
    body: {
      location: LOCATION,
      kind: 'app,linux,container',
      tags: options.tags ?? {},
      identity: identityBody(options.identity ?? { system: true }),
      properties: {
        serverFarmId:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Web/serverfarms/DefaultAsp',
        reserved: true,
        siteConfig: { linuxFxVersion: `DOCKER|${options.image}`, ...options.siteConfig },
      },
    },
  };
}

/**
 * A container group. Follows containerinstance/resource-manager/Microsoft.ContainerInstance/stable/2021-10-01/
 * examples/ContainerGroupsCreateOrUpdate.json, trimmed; `imageRegistryCredentials[]` is ImageRegistryCredential
 * { server, identity } (pull with a managed identity) or { server, username, password }.
 */
export function aContainerGroup(options: {
  tags?: Tags;
  identity?: IdentityInput;
  image: string;
  imageRegistryCredentials?: readonly Record<string, string>[];
}): ArmWrite {
  return {
    apiVersion: CONSUMER_API_VERSIONS.containerGroup,
    body: {
      location: LOCATION,
      tags: options.tags ?? {},
      identity: identityBody(options.identity ?? { system: true }),
      properties: {
        containers: [{ name: 'app', properties: { image: options.image, resources: { requests: { cpu: 1, memoryInGB: 1.5 } } } }],
        osType: 'Linux',
        restartPolicy: 'Always',
        ...(options.imageRegistryCredentials ? { imageRegistryCredentials: options.imageRegistryCredentials } : {}),
      },
    },
  };
}

/** Readers of a consumer's configuration through ARM, as the operator. */
export function consumerReader(s: AccessStack) {
  const emulator = s.stack.emulator!;
  const operator: Operator = createOperator(emulator.endpoints, emulator.caPem);
  const get = async (id: string, apiVersion: string) =>
    JSON.parse((await operator.arm('GET', id, apiVersion)).text) as { properties: Record<string, any>; identity?: Record<string, any> };
  return {
    /** The app's `properties.configuration.registries` and its latest revision. */
    async containerApp(id: string): Promise<{ registries: AppRegistry[]; latestRevisionName: string }> {
      const app = await get(id, CONSUMER_API_VERSIONS.containerApp);
      return { registries: app.properties['configuration']?.registries ?? [], latestRevisionName: app.properties['latestRevisionName'] };
    },
    /** The site's `config/web` settings the pull needs. */
    async siteConfig(
      id: string,
    ): Promise<{ acrUseManagedIdentityCreds: boolean; acrUserManagedIdentityID: string | null; linuxFxVersion: string }> {
      const config = await get(`${id}/config/web`, CONSUMER_API_VERSIONS.site);
      return {
        acrUseManagedIdentityCreds: config.properties['acrUseManagedIdentityCreds'],
        acrUserManagedIdentityID: config.properties['acrUserManagedIdentityID'],
        linuxFxVersion: config.properties['linuxFxVersion'],
      };
    },
    /** PATCH of a consumer's configuration as its owner would (for "someone changed it" steps). */
    patch: (id: string, apiVersion: string, body: unknown) => operator.arm('PATCH', id, apiVersion, body),
  };
}
