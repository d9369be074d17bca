/**
 * Container Instances (issue 19.3): what a role granted to a container group's identity does not do.
 */
import { AUDIT_OUTCOMES } from '../audit/auditLog.js';
import type { DecisionRecorder } from '../audit/decisionRecorder.js';
import type { ArmResource } from '../azure/arm.js';
import { loginServerOf, PULL_CONFIG_ACTION } from './consumerWiring.js';
import { WATCHED_RESOURCE_TYPES } from './eventSubscription.js';

const same = (a: string | undefined, b: string | undefined) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** A grant just made (or, in a dry run, that would be) on a registry. */
export interface NewGrant {
  readonly registry: { readonly id: string; readonly name: string; readonly loginServer?: string };
  readonly principalId: string;
  readonly roleName: string;
}

/**
 * Container Instances (issue 19.3): a container group pulls its images only when it is created, so a
 * role granted after that (on the group's own event, or seen in preview before it) does not make
 * that group pull: say so, with the order that works. Nothing is written to the group — its
 * `imageRegistryCredentials` can only be set by creating it again.
 * Shape: containerinstance/.../stable/2021-10-01/examples/ContainerGroupsCreateOrUpdate.json (ImageRegistryCredential).
 */
export async function noteContainerGroupOrder(run: DecisionRecorder, group: ArmResource, grants: readonly NewGrant[]): Promise<void> {
  if (group.type.toLowerCase() !== WATCHED_RESOURCE_TYPES.containerGroup) return;
  const credentials = Array.isArray(group.properties?.['imageRegistryCredentials'])
    ? (group.properties['imageRegistryCredentials'] as unknown[])
    : [];
  for (const g of grants) {
    const loginServer = loginServerOf(g.registry);
    const named = credentials.some(
      (c) =>
        typeof c === 'object' &&
        c !== null &&
        same(String((c as Record<string, unknown>)['server'] ?? ''), loginServer) &&
        typeof (c as Record<string, unknown>)['identity'] === 'string',
    );
    const when = run.dryRun ? 'would be granted' : 'was granted';
    await run.decide({
      action: PULL_CONFIG_ACTION,
      outcome: AUDIT_OUTCOMES.skipped,
      reason:
        `container group ${group.name} was created before ${g.roleName} on ${g.registry.name} ${when} to principal ${g.principalId}: a container group pulls its images only when it is created, ` +
        `so it has not pulled with this grant; recreate it (or az container restart) once Azure RBAC has propagated. The order that works: tag a user-assigned identity acr-pull=${g.registry.name} first, ` +
        `then create the group with that identity and imageRegistryCredentials [{ server: ${loginServer}, identity: <identity id> }]` +
        (named ? '' : `; its imageRegistryCredentials has no identity entry for ${loginServer} yet`),
      resourceId: group.id,
      registry: g.registry.id,
      principalId: g.principalId,
      details: { loginServer, createdBeforeGrant: true },
    });
  }
}
