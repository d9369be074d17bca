/**
 * The resource types the emulator serves, one handler per type (as Azurite keeps one per API),
 * keyed by lower-case `namespace/type[/child]`. A type not listed here answers InvalidResourceType.
 */
import type { ResourceKit, ResourceType } from '../resourceKit.js';
import { computeTypes } from './compute.js';
import { containerTypes } from './containers.js';
import { identityTypes } from './identities.js';
import { keyVaultTypes } from './keyVaults.js';
import { managedClusterTypes } from './managedClusters.js';
import { registryTypes } from './registries.js';
import { siteTypes } from './sites.js';

export function resourceTypes(kit: ResourceKit): Readonly<Record<string, ResourceType>> {
  const all = [
    ...computeTypes(),
    ...managedClusterTypes(kit),
    ...registryTypes(kit),
    ...identityTypes(kit),
    ...containerTypes(),
    ...siteTypes(kit),
    ...keyVaultTypes(kit),
  ];
  return Object.fromEntries(all.map((t) => [t.type.toLowerCase(), t]));
}
