/** Container Instances (container groups) and Container Apps: registry credentials and revisions. */
import { randomUUID } from 'node:crypto';
import type { ResourceType } from '../resourceKit.js';
import { isObject } from '../state.js';

export function containerTypes(): ResourceType[] {
  return [
    {
      // app/.../Microsoft.App/ContainerApps/stable/2025-01-01/examples/ContainerApps_CreateOrUpdate.json;
      // properties.configuration.registries[] is RegistryCredentials { server, identity | username + passwordSecretRef }.
      type: 'Microsoft.App/containerApps',
      fill: ({ name, props, prev, existing }) => {
        // A revision is a snapshot of `properties.template`; `properties.configuration` (registries,
        // secrets, ingress) is "Non versioned Container App configuration properties that define the
        // mutable settings of a Container app" (ContainerApps.json, Configuration) and applies to every
        // revision without creating one (https://learn.microsoft.com/azure/container-apps/revisions,
        // "Change types"). So only a template change names a new latestRevisionName.
        const templateChanged = !existing || JSON.stringify(prev.template ?? null) !== JSON.stringify(props.template ?? null);
        const revision =
          templateChanged || typeof prev.latestRevisionName !== 'string' ? `${name}--${randomUUID().slice(0, 7)}` : prev.latestRevisionName;
        props.latestRevisionName = revision;
        props.latestReadyRevisionName = revision;
        props.runningStatus ??= 'Running';
        return undefined;
      },
    },
    {
      // containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json; imageRegistryCredentials[]
      // is ImageRegistryCredential { server, username, password (never echoed), identity, identityUrl }.
      type: 'Microsoft.ContainerInstance/containerGroups',
      fill: ({ props }) => {
        // A container group's registry passwords are write-only: the response gives `password: null`
        // (az container show); the emulator pulls nothing, so it keeps none.
        if (Array.isArray(props.imageRegistryCredentials)) {
          props.imageRegistryCredentials = props.imageRegistryCredentials.map((c) =>
            isObject(c) ? { ...c, ...('password' in c ? { password: null } : {}) } : c,
          );
        }
        props.osType ??= 'Linux';
        props.instanceView = { events: [], state: 'Running' };
        return undefined;
      },
    },
  ];
}
