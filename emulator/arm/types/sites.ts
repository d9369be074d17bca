/** App Service sites and their `config/web` configuration resource. */
import { armError } from '../errors.js';
import { keyOf } from '../ids.js';
import type { ResourceKit, ResourceType } from '../resourceKit.js';
import { isObject } from '../state.js';

export function siteTypes({ state }: ResourceKit): ResourceType[] {
  return [
    {
      type: 'Microsoft.Web/sites', // web/resource-manager/Microsoft.Web/stable/2024-04-01/examples/CreateOrUpdateWebApp.json
      fill: ({ id, name, location, props }) => {
        props.defaultHostName = `${name.toLowerCase()}.azurewebsites.net`;
        props.state ??= 'Running';
        // Every site has its configuration resource, `config/web`; the site's PUT body may carry it as
        // `properties.siteConfig`. It is what `az webapp config show` reads and a PATCH of config/web writes.
        const configId = `${id}/config/web`;
        const given = isObject(props.siteConfig) ? props.siteConfig : {};
        const stored = state.getResource(configId);
        const base = stored && isObject(stored.body.properties) ? stored.body.properties : siteConfigDefaults();
        state.resources.set(keyOf(configId), {
          id: configId,
          hidden: {},
          body: { id: configId, name: 'web', type: 'Microsoft.Web/sites/config', location, properties: { ...base, ...given } },
        });
        return undefined;
      },
    },
    {
      // A site's configuration, `config/web` (SiteConfigResource): linuxFxVersion `DOCKER|<image>`, acrUseManagedIdentityCreds,
      // acrUserManagedIdentityID (a user-assigned identity's client id) — web/resource-manager/Microsoft.Web/stable/2024-04-01/
      // examples/UpdateSiteConfig.json; https://learn.microsoft.com/azure/app-service/configure-custom-container#use-managed-identity-to-pull-image-from-azure-container-registry
      type: 'Microsoft.Web/sites/config',
      ownsProperties: true,
      fill: ({ name, body, props, prev }) => {
        // Only the `web` configuration is served (appsettings and the others are list/POST actions).
        if (name.toLowerCase() !== 'web')
          return armError(400, 'BadRequest', `The configuration '${name}' is not supported by the emulator; only 'web' is.`);
        Object.assign(props, { ...siteConfigDefaults(), ...prev, ...props });
        body.name = 'web';
        delete props.provisioningState;
        body.properties = props;
        return undefined;
      },
    },
  ];
}

/** What `config/web` answers for a site nobody configured: UpdateSiteConfig.json's defaults for the fields the product reads. */
function siteConfigDefaults(): Record<string, unknown> {
  return {
    numberOfWorkers: 1,
    linuxFxVersion: '',
    windowsFxVersion: null,
    acrUseManagedIdentityCreds: false,
    acrUserManagedIdentityID: null,
    alwaysOn: false,
    http20Enabled: false,
  };
}
