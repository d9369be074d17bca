/** Container registries and their ACR tasks. */
import { mergeProperties, type ResourceKit, type ResourceType } from '../resourceKit.js';
import { isObject } from '../state.js';

export function registryTypes({ ctx }: ResourceKit): ResourceType[] {
  return [
    {
      type: 'Microsoft.ContainerRegistry/registries', // containerregistry/.../examples/RegistryCreate.json
      fill: ({ name, props, prev, body }) => {
        props.loginServer = `${name.toLowerCase()}.azurecr.io`;
        props.roleAssignmentMode ??= 'LegacyRegistryPermissions';
        props.adminUserEnabled ??= false;
        props.creationDate = prev.creationDate ?? ctx.clock.now().toISOString();
        body.sku ??= { name: 'Basic', tier: 'Basic' };
        return undefined;
      },
    },
    {
      type: 'Microsoft.ContainerRegistry/registries/tasks', // containerregistry/.../examples/TasksCreate_WithUserIdentities.json
      fill: ({ props, prev, hidden }) => {
        // Azure echoes credentials.customRegistries by login server only, every value null (its
        // identity or user name and password are never echoed): containerregistry/.../
        // 2019-06-01-preview/examples/TasksGet.json and TasksUpdate_WithMSICustomCredentials.json.
        // Keep what was written for the admin snapshot; an entry written as null is removed.
        const creds = isObject(props.credentials) ? props.credentials : undefined;
        if (creds && 'customRegistries' in creds) {
          const entries = isObject(creds.customRegistries)
            ? Object.entries(creds.customRegistries).filter(([, v]) => v !== null && v !== undefined)
            : [];
          hidden.customRegistries = Object.fromEntries(entries);
        }
        const written = isObject(hidden.customRegistries) ? Object.keys(hidden.customRegistries) : [];
        const { customRegistries: _omit, ...rest } = creds ?? {};
        if (written.length > 0)
          props.credentials = { ...rest, customRegistries: Object.fromEntries(written.map((loginServer) => [loginServer, null])) };
        else if (creds) props.credentials = Object.keys(rest).length ? rest : null;
        props.creationDate = prev.creationDate ?? ctx.clock.now().toISOString();
        props.status ??= 'Enabled';
        return undefined;
      },
      patch: (body, input, hidden) => {
        // What a task echoes of its custom registries is not state: what was written (hidden) is.
        if (isObject(body.properties)) body.properties = withoutEchoedCustomRegistries(body.properties);
        mergeProperties(body, input);
        if (isObject(input.properties) && isObject(input.properties.credentials) && 'customRegistries' in input.properties.credentials) {
          // PATCH of a task's custom registries merges by login server, as the CLI's `credential add` does.
          const merged = {
            ...(isObject(hidden.customRegistries) ? hidden.customRegistries : {}),
            ...(isObject(input.properties.credentials.customRegistries) ? input.properties.credentials.customRegistries : {}),
          };
          (body.properties as Record<string, unknown>).credentials = {
            ...(isObject((body.properties as Record<string, unknown>).credentials)
              ? ((body.properties as Record<string, unknown>).credentials as object)
              : {}),
            customRegistries: merged,
          };
        }
      },
    },
  ];
}

/** A task's properties without the echoed `credentials.customRegistries` (login server → null). */
function withoutEchoedCustomRegistries(properties: Record<string, unknown>): Record<string, unknown> {
  if (!isObject(properties.credentials) || !('customRegistries' in properties.credentials)) return properties;
  const { customRegistries: _echo, ...credentials } = properties.credentials;
  return { ...properties, credentials };
}
