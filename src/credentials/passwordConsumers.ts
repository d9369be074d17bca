/**
 * Who still uses a pull password by value (issue 19.4): a container group created with
 * `imageRegistryCredentials[{ server, username: <pull application's appId>, password }]` holds the
 * password itself, not a reference to Key Vault; after a rotation and the grace period it fails at
 * its next restart. Resource Graph finds them; they are listed on rotation (an audit row), so they
 * can be redeployed before the previous password is removed. Nothing is written to them.
 * Shape: containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json (ImageRegistryCredential).
 */
import type { ResourceGraph } from '../azure/resourceGraph.js';
import { TYPES } from '../policy/resourceTypes.js';

/** A resource that names the pull principal by value. */
export interface PasswordConsumer {
  readonly resourceId: string;
  readonly name: string;
  /** The registry login server its credential entry is for. */
  readonly server: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The Resource Graph query for container groups whose registry credentials mention the application id (narrowed exactly by `toPasswordConsumers`). */
export function passwordConsumersQuery(appId: string): string {
  if (!GUID.test(appId)) throw new Error(`not an application id: ${appId}`);
  return `resources | where type =~ '${TYPES.containerGroup}' | where tostring(properties.imageRegistryCredentials) contains '${appId}' | project id, name, properties`;
}

/** The rows whose `imageRegistryCredentials[].username` is exactly the application id. */
export function toPasswordConsumers(rows: readonly Readonly<Record<string, unknown>>[], appId: string): PasswordConsumer[] {
  const out: PasswordConsumer[] = [];
  for (const row of rows) {
    if (typeof row['id'] !== 'string') continue;
    const properties = row['properties'];
    const credentials =
      typeof properties === 'object' && properties !== null
        ? (properties as Record<string, unknown>)['imageRegistryCredentials']
        : undefined;
    if (!Array.isArray(credentials)) continue;
    for (const c of credentials) {
      if (typeof c !== 'object' || c === null) continue;
      const { username, server } = c as Record<string, unknown>;
      if (typeof username === 'string' && username.toLowerCase() === appId.toLowerCase()) {
        out.push({
          resourceId: row['id'],
          name: typeof row['name'] === 'string' ? row['name'] : row['id'],
          server: typeof server === 'string' ? server : '',
        });
        break;
      }
    }
  }
  return out.sort((a, b) => a.resourceId.localeCompare(b.resourceId));
}

/** The watched resources that use the application's password by value. */
export async function findPasswordConsumers(
  resourceGraph: Pick<ResourceGraph, 'query'>,
  appId: string | undefined,
  subscriptions: readonly string[],
): Promise<PasswordConsumer[]> {
  if (!appId || !GUID.test(appId)) return [];
  return toPasswordConsumers(await resourceGraph.query(passwordConsumersQuery(appId), subscriptions), appId);
}
