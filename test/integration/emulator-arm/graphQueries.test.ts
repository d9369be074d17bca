/**
 * Issue 21 item 11: the Graph queries real tools send, through `@azure-rest/core-client` (the
 * pipeline the product's Graph adapter uses) with the operator's ClientSecretCredential.
 * - `az ad sp show --id <appId>` / `az role assignment create --assignee <appId>`:
 *   `GET /v1.0/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '<appId>')`
 *   (https://learn.microsoft.com/graph/api/serviceprincipal-list, "Use $filter");
 * - `az ad sp list --display-name`: `startswith(displayName,'…')`; `appId eq` / `displayName eq`;
 * - `POST /v1.0/directoryObjects/getByIds` (https://learn.microsoft.com/graph/api/directoryobject-getbyids:
 *   objects of the requested types, limited to `@odata.type` and `id` where the caller may not read them);
 * - an unsupported clause: 400 `Request_UnsupportedQuery` (https://learn.microsoft.com/graph/aad-advanced-queries).
 * Managed identities written through ARM (`@azure/arm-msi`) are service principals in Graph too.
 */
import { getClient, type Client } from '@azure-rest/core-client';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_RESOURCE_GROUP, OPERATOR } from '../../../emulator/core/wellKnown.js';
import type { TestEmulator } from '../../support/emulator.js';
import { aServicePrincipal, armClientOptions, startArmEmulator } from './armSupport.js';

let emu: TestEmulator;
let graph: Client;
let stranger: Client;
const STRANGER = {
  objectId: '0d000000-0000-4000-8000-0000000022a1',
  appId: '0d000000-0000-4000-8000-0000000022c1',
  secret: 'stranger-secret-22',
};
let app: { id: string; appId: string };
let sp: { id: string; appId: string };
let identity: { principalId: string; clientId: string; id: string };

const list = async (c: Client, path: string, filter?: string) => {
  const res = await c.pathUnchecked(path).get({ queryParameters: filter ? { $filter: filter } : {} });
  return { status: Number(res.status), body: res.body as any };
};

beforeAll(async () => {
  emu = await startArmEmulator({
    graph: { applications: [aServicePrincipal(STRANGER.objectId, STRANGER.appId, STRANGER.secret, 'stranger')] },
  });
  const scopes = [`${emu.endpoints.graph}/.default`];
  graph = getClient(emu.endpoints.graph, emu.operatorCredential(), { credentials: { scopes }, ...emu.clientOptions });
  stranger = getClient(emu.endpoints.graph, emu.credentialFor(STRANGER.appId, STRANGER.secret), {
    credentials: { scopes },
    ...emu.clientOptions,
  });
  app = (await graph.pathUnchecked('/v1.0/applications').post({ body: { displayName: 'ci-pull-21' } })).body as any;
  sp = (await graph.pathUnchecked('/v1.0/servicePrincipals').post({ body: { appId: app.appId } })).body as any;
  const msi = new ManagedServiceIdentityClient(emu.operatorCredential(), emu.endpoints.subscriptionId, armClientOptions(emu));
  const uami = await msi.userAssignedIdentities.createOrUpdate(DEFAULT_RESOURCE_GROUP, 'id-graph-21', { location: 'westeurope' });
  identity = { principalId: uami.principalId!, clientId: uami.clientId!, id: uami.id! };
});
afterAll(async () => {
  await emu?.stop();
});

describe('Graph queries real tools send', () => {
  it("turns an application id into its service principal with servicePrincipalNames/any(c:c eq '<appId>')", async () => {
    const res = await list(graph, '/v1.0/servicePrincipals', `servicePrincipalNames/any(c:c eq '${app.appId}')`);
    expect(res.status).toBe(200);
    expect(res.body.value).toEqual([expect.objectContaining({ id: sp.id, appId: app.appId, servicePrincipalType: 'Application' })]);
  });

  it("finds a managed identity's service principal by its client id, as ARM wrote it", async () => {
    const res = await list(graph, '/v1.0/servicePrincipals', `servicePrincipalNames/any(c:c eq '${identity.clientId}')`);
    expect(res.body.value).toEqual([
      expect.objectContaining({
        id: identity.principalId,
        appId: identity.clientId,
        servicePrincipalType: 'ManagedIdentity',
        servicePrincipalNames: [identity.clientId, identity.id],
      }),
    ]);
    const byAppId = await list(graph, `/v1.0/servicePrincipals(appId='${identity.clientId}')`);
    expect(byAppId.body).toMatchObject({ id: identity.principalId, displayName: 'id-graph-21' });
  });

  it('filters by startswith(displayName), appId eq and displayName eq on applications and service principals', async () => {
    expect(
      (await list(graph, '/v1.0/servicePrincipals', "startswith(displayName,'ci-pull')")).body.value.map((s: { id: string }) => s.id),
    ).toEqual([sp.id]);
    expect(
      (await list(graph, '/v1.0/applications', "startswith(displayName,'CI-PULL')")).body.value.map((a: { id: string }) => a.id),
    ).toEqual([app.id]);
    expect((await list(graph, '/v1.0/applications', `appId eq '${app.appId}'`)).body.value.map((a: { id: string }) => a.id)).toEqual([
      app.id,
    ]);
    expect(
      (await list(graph, '/v1.0/servicePrincipals', "displayName eq 'id-graph-21'")).body.value.map((s: { id: string }) => s.id),
    ).toEqual([identity.principalId]);
  });

  it('resolves object ids with directoryObjects/getByIds, by type', async () => {
    const res = await graph.pathUnchecked('/v1.0/directoryObjects/getByIds').post({
      body: {
        ids: [sp.id, app.id, identity.principalId, OPERATOR.objectId, '0f000000-0000-4000-8000-000000000000'],
        types: ['servicePrincipal'],
      },
    });
    expect(res.status).toBe('200');
    const value = (res.body as any).value as Array<{ '@odata.type': string; id: string }>;
    expect(value.map((o) => [o['@odata.type'], o.id])).toEqual([
      ['#microsoft.graph.servicePrincipal', sp.id],
      ['#microsoft.graph.servicePrincipal', identity.principalId],
      ['#microsoft.graph.servicePrincipal', OPERATOR.objectId],
    ]);
    const apps = await graph.pathUnchecked('/v1.0/directoryObjects/getByIds').post({ body: { ids: [app.id] } });
    expect((apps.body as any).value).toEqual([
      expect.objectContaining({ '@odata.type': '#microsoft.graph.application', id: app.id, displayName: 'ci-pull-21' }),
    ]);
  });

  it('keeps answering Request_UnsupportedQuery for a clause it does not serve, and shows a caller without permissions nothing', async () => {
    const res = await list(graph, '/v1.0/servicePrincipals', "endswith(displayName,'pull-21')");
    expect([res.status, res.body.error.code]).toEqual([400, 'Request_UnsupportedQuery']);
    expect(
      (await list(stranger, '/v1.0/servicePrincipals', `servicePrincipalNames/any(c:c eq '${identity.clientId}')`)).body.value,
    ).toEqual([]);
    const denied = await stranger.pathUnchecked('/v1.0/directoryObjects/getByIds').post({ body: { ids: [sp.id] } });
    expect(denied.status).toBe('403');
  });
});
