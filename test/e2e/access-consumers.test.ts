/**
 * Issue 19, end to end — from role to working pull: resources are written by real ARM requests on
 * the emulator, ARM's events reach the app's `resourceEvents` function through Event Grid delivery to
 * the local Functions host, and the outcome is read back as Azure would show it: the role assignment,
 * the consumer's own configuration (`az containerapp show`, `az webapp config show`, what was written
 * to an ACR task), the audit table, and POST /api/access/preview.
 *
 *   Container App  properties.configuration.registries[{ server, identity }] (ContainerApps_CreateOrUpdate.json)
 *   Site           config/web acrUseManagedIdentityCreds / acrUserManagedIdentityID (UpdateSiteConfig.json)
 *   Container group  imageRegistryCredentials[{ server, identity }] (ContainerGroupsCreateOrUpdate.json): pulled at creation only
 *   ACR task       credentials.customRegistries[server].identity, '[system]' or a client id (TasksUpdate_WithMSICustomCredentials.json)
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { ROLES } from '../../src/policy/roles.js';
import { anAcrTask, aRegistry, aUserAssignedIdentity, startAccessStack, type AccessStack } from '../support/e2eAccess.js';
import { aContainerApp, aContainerGroup, aContainerSite, CONSUMER_API_VERSIONS, consumerReader } from '../support/e2eConsumers.js';

let s: AccessStack;
let rg: string;
let read: ReturnType<typeof consumerReader>;

const registryId = (name: string) => `${rg}/providers/Microsoft.ContainerRegistry/registries/${name}`;
const appId = (name: string) => `${rg}/providers/Microsoft.App/containerApps/${name}`;
const siteId = (name: string) => `${rg}/providers/Microsoft.Web/sites/${name}`;
const identityId = (name: string) => `${rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
const rows = (all: readonly AuditRecord[], action: string, outcome: string) =>
  all.filter((r) => r.action === action && r.outcome === outcome);
const pullOf = async (registry: string, principalId: string) =>
  (await s.assignmentsAt(registry)).filter(
    (a) => a.principalId.toLowerCase() === principalId.toLowerCase() && a.roleDefinitionGuid === ROLES.acrPull.roleDefinitionId,
  );
/** What the emulator holds as written to a task's credentials.customRegistries (ARM never echoes the values). */
const writtenCustomRegistries = async (taskId: string) => {
  const state = await s.admin<{ modules: { arm: { resources: Array<{ id: string; written?: { customRegistries?: unknown } }> } } }>(
    'GET',
    '/state',
  );
  return state.modules.arm.resources.find((r) => r.id.toLowerCase() === taskId.toLowerCase())?.written?.customRegistries;
};

async function api(path: string, method: string, body?: unknown) {
  const response = await fetch(`${s.stack.endpoints.functions}${path}`, {
    method,
    headers: { 'x-functions-key': s.stack.endpoints.functionKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

/** Fires the reconcileSweep timer through the host's admin API (as test/e2e/sweep.test.ts does) and waits for it to finish. */
async function fireSweep(): Promise<void> {
  const { functions, masterKey } = s.stack.endpoints;
  const finished = () =>
    s.stack.host.logs().filter((l) => l.functionName === 'reconcileSweep' && l.message.includes('reconciliation sweep finished')).length;
  const seen = finished();
  const response = await fetch(`${functions}/admin/functions/reconcileSweep`, {
    method: 'POST',
    headers: { 'x-functions-key': masterKey, 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  expect(response.status).toBe(202);
  await s.stack.host.waitForLog(
    (l) => l.functionName === 'reconcileSweep' && l.message.includes('reconciliation sweep finished') && finished() > seen,
    60_000,
  );
}

/** Runs `write` with Event Grid's subscription to the app removed (a lost event), then puts it back. */
async function withoutDelivery(write: () => Promise<void>): Promise<void> {
  const subs = await s.admin<{ value: Array<Record<string, unknown> & { name: string }> }>('GET', '/eventgrid/subscriptions');
  for (const sub of subs.value) await s.admin('DELETE', `/eventgrid/subscriptions/${sub.name}`);
  try {
    await write();
  } finally {
    for (const sub of subs.value) await s.admin('PUT', `/eventgrid/subscriptions/${sub.name}`, { ...sub, validate: false });
  }
}

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
  read = consumerReader(s);
  rg = await s.resourceGroup('rg-consumers');
  await s.put(registryId('appsacr'), aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
  await s.put(registryId('closedacr'), aRegistry());
  await s.idle();
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

describe('Container Apps: a registry entry pointing at the identity that holds the role', () => {
  it('adds { server, identity: system } after granting, without a new revision, and removes it with the role', async () => {
    const id = appId('app-system');
    const created = await s.put(id, aContainerApp({ image: 'appsacr.azurecr.io/web:1' }));
    await s.idle();
    const principalId = created.identity.principalId as string;
    const revision = (await read.containerApp(id)).latestRevisionName;

    await s.tag(id, { 'acr-pull': 'appsacr' });
    await s.idle();
    expect(await pullOf(registryId('appsacr'), principalId)).toHaveLength(1);
    const after = await read.containerApp(id);
    expect(after.registries).toEqual([{ server: 'appsacr.azurecr.io', identity: 'system' }]);
    // configuration is not versioned: the registry entry applies to the running revision.
    expect(after.latestRevisionName).toBe(revision);
    const granted = rows(await s.audit(id), 'pull-config', 'granted');
    expect(granted).toHaveLength(1);
    expect(granted[0]!.reason).toMatch(
      /container app app-system now pulls from appsacr\.azurecr\.io with its system-assigned identity .*no new revision/,
    );

    await s.tag(id, {}, 'Replace');
    await s.idle();
    expect(await pullOf(registryId('appsacr'), principalId)).toEqual([]);
    expect((await read.containerApp(id)).registries).toEqual([]);
    expect(rows(await s.audit(id), 'pull-config', 'revoked')).toHaveLength(1);
  });

  it('uses the user-assigned identity’s resource id when that is the identity holding the role', async () => {
    const uami = identityId('id-app');
    await s.put(uami, aUserAssignedIdentity());
    const id = appId('app-user');
    await s.put(
      id,
      aContainerApp({ identity: { userAssigned: [uami] }, image: 'appsacr.azurecr.io/api:2', tags: { 'acr-pull': 'appsacr' } }),
    );
    await s.idle();
    const registries = (await read.containerApp(id)).registries;
    expect(registries).toHaveLength(1);
    expect(registries[0]!.server).toBe('appsacr.azurecr.io');
    expect(registries[0]!.identity?.toLowerCase()).toBe(uami.toLowerCase());
  });

  it('never changes or removes an entry it did not add (a password entry), and says so', async () => {
    const id = appId('app-password');
    const theirs = { server: 'appsacr.azurecr.io', username: 'puller', passwordSecretRef: 'registry-password' };
    const created = await s.put(
      id,
      aContainerApp({
        image: 'appsacr.azurecr.io/web:1',
        registries: [theirs],
        secrets: [{ name: 'registry-password', value: 'e2e-not-a-real-password' }],
      }),
    );
    await s.idle();
    await s.tag(id, { 'acr-pull': 'appsacr' });
    await s.idle();
    expect(await pullOf(registryId('appsacr'), created.identity.principalId)).toHaveLength(1);
    expect((await read.containerApp(id)).registries).toEqual([theirs]);
    const audit = await s.audit(id);
    expect(rows(audit, 'pull-config', 'skipped')[0]?.reason).toMatch(
      /already has a setting for appsacr\.azurecr\.io that the automation did not make \(a user name and password \(puller\)\); it is left as it is/,
    );
    expect(rows(audit, 'pull-config', 'granted')).toEqual([]);

    await s.tag(id, {}, 'Replace');
    await s.idle();
    expect((await read.containerApp(id)).registries).toEqual([theirs]);
    expect(JSON.stringify(await s.audit(id))).not.toContain('e2e-not-a-real-password');
  });

  it('adds its entry again when someone removes it, on the app’s next event', async () => {
    const id = appId('app-restore');
    await s.put(id, aContainerApp({ image: 'appsacr.azurecr.io/web:1', tags: { 'acr-pull': 'appsacr' } }));
    await s.idle();
    expect((await read.containerApp(id)).registries).toEqual([{ server: 'appsacr.azurecr.io', identity: 'system' }]);
    await read.patch(id, CONSUMER_API_VERSIONS.containerApp, { properties: { configuration: { registries: [] } } });
    await s.idle();
    expect((await read.containerApp(id)).registries).toEqual([{ server: 'appsacr.azurecr.io', identity: 'system' }]);
    expect(rows(await s.audit(id), 'pull-config', 'granted').some((r) => /restored/.test(r.reason))).toBe(true);
  });

  it('gives nothing and writes no entry for a registry that has not consented', async () => {
    const id = appId('app-closed');
    const created = await s.put(id, aContainerApp({ image: 'closedacr.azurecr.io/web:1', tags: { 'acr-pull': 'closedacr' } }));
    await s.idle();
    expect(await pullOf(registryId('closedacr'), created.identity.principalId)).toEqual([]);
    expect((await read.containerApp(id)).registries).toEqual([]);
  });

  it('shows the entry it would add in preview, writing nothing', async () => {
    const id = appId('app-preview');
    await s.put(id, aContainerApp({ image: 'appsacr.azurecr.io/web:1' }));
    await s.idle();
    await withoutDelivery(() => s.tag(id, { 'acr-pull': 'appsacr' }));
    const preview = await api('/api/access/preview', 'POST', { resourceId: id });
    expect(preview.status).toBe(200);
    const would = (preview.json!['decisions'] as AuditRecord[]).filter((d) => d.action === 'pull-config');
    expect(would.map((d) => d.outcome)).toEqual(['would-grant']);
    expect(would[0]!.reason).toMatch(
      /now pulls from appsacr\.azurecr\.io with its system-assigned identity \(registry entry \{ server: appsacr\.azurecr\.io, identity: system \}\)/,
    );
    expect((await read.containerApp(id)).registries).toEqual([]);
  });
});

describe('App Service and Function apps running a container: acrUseManagedIdentityCreds', () => {
  it('sets acrUseManagedIdentityCreds for a site running an image from the granted registry, and clears it with the role', async () => {
    const id = siteId('site-system');
    const created = await s.put(id, aContainerSite({ image: 'appsacr.azurecr.io/web:1' }));
    await s.idle();
    expect((await read.siteConfig(id)).acrUseManagedIdentityCreds).toBe(false);
    await s.tag(id, { 'acr-pull': 'appsacr' });
    await s.idle();
    expect(await pullOf(registryId('appsacr'), created.identity.principalId)).toHaveLength(1);
    expect(await read.siteConfig(id)).toMatchObject({
      acrUseManagedIdentityCreds: true,
      linuxFxVersion: 'DOCKER|appsacr.azurecr.io/web:1',
    });
    expect((await read.siteConfig(id)).acrUserManagedIdentityID ?? '').toBe('');
    expect(rows(await s.audit(id), 'pull-config', 'granted')[0]?.reason).toMatch(
      /site site-system now pulls from appsacr\.azurecr\.io with its system-assigned identity \(acrUseManagedIdentityCreds: true\)/,
    );

    await s.tag(id, {}, 'Replace');
    await s.idle();
    expect((await read.siteConfig(id)).acrUseManagedIdentityCreds).toBe(false);
    expect(rows(await s.audit(id), 'pull-config', 'revoked')).toHaveLength(1);
  });

  it('sets acrUserManagedIdentityID to the client id of a user-assigned identity', async () => {
    const uami = identityId('id-site');
    const identity = await s.put(uami, aUserAssignedIdentity());
    const id = siteId('site-user');
    await s.put(
      id,
      aContainerSite({ identity: { userAssigned: [uami] }, image: 'appsacr.azurecr.io/web:1', tags: { 'acr-pull': 'appsacr' } }),
    );
    await s.idle();
    expect(await read.siteConfig(id)).toMatchObject({
      acrUseManagedIdentityCreds: true,
      acrUserManagedIdentityID: identity.properties.clientId,
    });
  });

  it('sets nothing on a site whose image comes from another registry, and says why', async () => {
    const id = siteId('site-dockerhub');
    const created = await s.put(id, aContainerSite({ image: 'docker.io/library/nginx:latest', tags: { 'acr-pull': 'appsacr' } }));
    await s.idle();
    expect(await pullOf(registryId('appsacr'), created.identity.principalId)).toHaveLength(1);
    expect((await read.siteConfig(id)).acrUseManagedIdentityCreds).toBe(false);
    expect(rows(await s.audit(id), 'pull-config', 'skipped')[0]?.reason).toMatch(
      /does not run a container image from appsacr\.azurecr\.io/,
    );
  });

  it('never changes a setting it did not make (another identity set by hand)', async () => {
    const id = siteId('site-theirs');
    const handSet = { acrUseManagedIdentityCreds: true, acrUserManagedIdentityID: '11111111-2222-4333-8444-555555555555' };
    await s.put(id, aContainerSite({ image: 'appsacr.azurecr.io/web:1', siteConfig: handSet }));
    await s.idle();
    await s.tag(id, { 'acr-pull': 'appsacr' });
    await s.idle();
    expect(await read.siteConfig(id)).toMatchObject(handSet);
    expect(rows(await s.audit(id), 'pull-config', 'skipped')[0]?.reason).toMatch(/did not make .*left as it is/);
    await s.tag(id, {}, 'Replace');
    await s.idle();
    expect(await read.siteConfig(id)).toMatchObject(handSet);
  });
});

describe('ACR tasks, fully: the task credential follows the identity and the role', () => {
  // A task's response lists its custom registries by login server, never their values (TasksGet.json):
  // a removal is seen while the task still lists another entry; with none listed at all the
  // automation goes by what it wrote (docs/registry-access.md, ACR tasks).
  it('sets a user-assigned task identity by its client id (--use-identity <client id>), restores an entry of ours someone removed, and removes ours on revoke', async () => {
    await s.put(registryId('buildacr'), aRegistry());
    await s.put(registryId('baseimgacr'), aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const uami = identityId('id-task');
    const identity = await s.put(uami, aUserAssignedIdentity());
    const clientId = identity.properties.clientId as string;
    const task = `${registryId('buildacr')}/tasks/uses-identity`;
    await s.put(task, anAcrTask({ identity: { userAssigned: [uami] }, tags: { 'acr-pull': 'appsacr,baseimgacr' } }));
    await s.idle();
    expect(await pullOf(registryId('appsacr'), identity.properties.principalId)).toHaveLength(1);
    // TasksUpdate_WithMSICustomCredentials.json: customRegistries[<login server>] = { identity: <client id> }.
    const both = { 'appsacr.azurecr.io': { identity: clientId }, 'baseimgacr.azurecr.io': { identity: clientId } };
    expect(await writtenCustomRegistries(task)).toEqual(both);

    const grantedFor = async () => rows(await s.audit(task), 'task-credential', 'granted').filter((r) => /appsacr/.test(r.reason)).length;
    const before = await grantedFor();
    // Someone removes the entry the automation added (`az acr task credential remove`): the task's own event restores it.
    await read.patch(task, '2019-06-01-preview', { properties: { credentials: { customRegistries: { 'appsacr.azurecr.io': null } } } });
    await s.idle();
    expect(await writtenCustomRegistries(task)).toEqual(both);
    expect(await grantedFor()).toBeGreaterThan(before);

    // Revoked: our role and our entry go together; the other registry's stay.
    await s.tag(task, { 'acr-pull': 'baseimgacr' }, 'Replace');
    await s.idle();
    expect(await pullOf(registryId('appsacr'), identity.properties.principalId)).toEqual([]);
    expect(await writtenCustomRegistries(task)).toEqual({ 'baseimgacr.azurecr.io': { identity: clientId } });
  });

  it('restores a removed entry of ours on the reconciliation sweep when the event was lost', async () => {
    await s.put(registryId('buildacr'), aRegistry());
    await s.put(registryId('baseimgacr'), aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
    const task = `${registryId('buildacr')}/tasks/sweep-restore`;
    await s.put(task, anAcrTask({ tags: { 'acr-pull': 'appsacr,baseimgacr' } }));
    await s.idle();
    const both = { 'appsacr.azurecr.io': { identity: '[system]' }, 'baseimgacr.azurecr.io': { identity: '[system]' } };
    expect(await writtenCustomRegistries(task)).toEqual(both);
    await withoutDelivery(async () => {
      await read.patch(task, '2019-06-01-preview', { properties: { credentials: { customRegistries: { 'appsacr.azurecr.io': null } } } });
    });
    expect(await writtenCustomRegistries(task)).toEqual({ 'baseimgacr.azurecr.io': { identity: '[system]' } });
    await fireSweep();
    await s.idle();
    expect(await writtenCustomRegistries(task)).toEqual(both);
  });
});

describe('Container Instances: a group pulls only at creation', () => {
  const groupId = (name: string) => `${rg}/providers/Microsoft.ContainerInstance/containerGroups/${name}`;

  it('grants a container group’s identity like a VM’s, and says the group was created before its grant', async () => {
    const id = groupId('ci-late');
    const created = await s.put(id, aContainerGroup({ image: 'appsacr.azurecr.io/job:1', tags: { 'acr-pull': 'appsacr' } }));
    await s.idle();
    expect(await pullOf(registryId('appsacr'), created.identity.principalId)).toHaveLength(1);
    const notes = rows(await s.audit(id), 'pull-config', 'skipped').filter((r) => r.details?.['createdBeforeGrant'] === true);
    expect(notes).toHaveLength(1);
    expect(notes[0]!.reason).toMatch(
      /container group ci-late was created before AcrPull on appsacr was granted .* pulls its images only when it is created.*tag a user-assigned identity acr-pull=appsacr first, then create the group/,
    );
    expect(notes[0]!.reason).toMatch(/no identity entry for appsacr\.azurecr\.io/);
  });

  it('says nothing of the kind when the identity was granted first (the order that works)', async () => {
    const uami = identityId('id-ci');
    const identity = await s.put(uami, aUserAssignedIdentity({ tags: { 'acr-pull': 'appsacr' } }));
    await s.idle();
    expect(await pullOf(registryId('appsacr'), identity.properties.principalId)).toHaveLength(1);
    const id = groupId('ci-ordered');
    await s.put(
      id,
      aContainerGroup({
        identity: { userAssigned: [uami] },
        image: 'appsacr.azurecr.io/job:1',
        tags: { 'acr-pull': 'appsacr' },
        imageRegistryCredentials: [{ server: 'appsacr.azurecr.io', identity: uami }],
      }),
    );
    await s.idle();
    const audit = await s.audit(id);
    expect(audit.filter((r) => r.details?.['createdBeforeGrant'] === true)).toEqual([]);
    expect(audit.filter((r) => r.action === 'grant').map((r) => r.outcome)).toContain('already-present');
  });

  it('shows in preview that a group created before its grant has not pulled with it', async () => {
    const id = groupId('ci-preview');
    await withoutDelivery(async () => {
      await s.put(id, aContainerGroup({ image: 'appsacr.azurecr.io/job:1', tags: { 'acr-pull': 'appsacr' } }));
    });
    const preview = await api('/api/access/preview', 'POST', { resourceId: id });
    expect(preview.status).toBe(200);
    const decisions = preview.json!['decisions'] as AuditRecord[];
    expect(decisions.find((d) => d.action === 'grant (dry run)' || d.outcome === 'would-grant')?.outcome).toBe('would-grant');
    expect(decisions.filter((d) => d.details?.['createdBeforeGrant'] === true).map((d) => d.reason)).toEqual([
      expect.stringMatching(/created before AcrPull on appsacr would be granted/),
    ]);
  });
});
