/**
 * Issue 13, point 5 — forged callers — through the local host running the app bundle against the
 * emulator. Two stacks: one as the app runs locally and with App Service Authentication off
 * (function keys only), one with `WEBSITE_AUTH_ENABLED=true` as App Service sets it when
 * authentication is on.
 *
 * The local host does not do App Service Authentication: the `x-ms-client-principal*` headers these
 * tests send are what the platform would inject after validating a token (emulator/README.md,
 * "Differences from Azure"). The principal follows the decoded payload documented at
 * https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities#decode-the-client-principal-header
 * (`auth_typ`, `claims: [{typ, val}]`, `name_typ`, `role_typ`).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { APP_ROLES } from '../../src/api/appRoles.js';
import { ROLES } from '../../src/policy/roles.js';
import { aRegistry, aVirtualMachine, startAccessStack, type AccessStack } from '../support/e2eAccess.js';

const FORGED_NAME = 'ceo@contoso.com';
const FORGED_ID = '0badc0de-0000-4000-8000-000000000666';
const ROLE_CLAIM = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const OID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';

/** The headers App Service sets for an authenticated principal with these app roles. */
function principalHeaders(objectId: string, name: string, roles: readonly string[]): Record<string, string> {
  const payload = {
    auth_typ: 'aad',
    claims: [
      { typ: OID_CLAIM, val: objectId },
      { typ: 'preferred_username', val: name },
      ...roles.map((val) => ({ typ: ROLE_CLAIM, val })),
    ],
    name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    role_typ: ROLE_CLAIM,
  };
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify(payload)).toString('base64'),
    'x-ms-client-principal-id': objectId,
    'x-ms-client-principal-name': name,
    'x-ms-client-principal-idp': 'aad',
  };
}

type Answer = { status: number; contentType: string | null; json: any }; // eslint-disable-line @typescript-eslint/no-explicit-any -- each route answers its own shape
async function call(
  s: AccessStack,
  method: string,
  path: string,
  options: { body?: unknown; key?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const key = options.key === undefined ? s.stack.endpoints.functionKey : options.key;
  const response = await fetch(`${s.stack.endpoints.functions}${path}`, {
    method,
    headers: {
      ...(key ? { 'x-functions-key': key } : {}),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), json: text ? JSON.parse(text) : undefined };
}

async function setUp(s: AccessStack, group: string, registry: string) {
  const rg = await s.resourceGroup(group);
  const acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/${registry}`;
  await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
  const vmId = `${rg}/providers/Microsoft.Compute/virtualMachines/vm-caller-1`;
  const vm = await s.put(vmId, aVirtualMachine());
  await s.idle();
  return { acr, vm: { id: vmId, principalId: vm.identity.principalId as string } };
}

let keys: AccessStack;
let easyAuth: AccessStack;
beforeAll(async () => {
  const shared = {
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  };
  [keys, easyAuth] = await Promise.all([
    startAccessStack(shared),
    startAccessStack({ ...shared, appSettings: { WEBSITE_AUTH_ENABLED: 'true' } }),
  ]);
}, 120_000);
afterAll(async () => {
  await Promise.all([keys?.stop(), easyAuth?.stop()]);
});

describe('App Service Authentication off: principal headers name no one', () => {
  it('records a forged x-ms-client-principal-name nowhere: not in the audit rows, not in the assignment description', async () => {
    const { acr, vm } = await setUp(keys, 'rg-callers-keys', 'callerskeysacr');
    const forged = principalHeaders(FORGED_ID, FORGED_NAME, [APP_ROLES.write.value]);
    const granted = await call(keys, 'POST', '/api/access/grants', {
      body: { resourceId: vm.id, registry: 'callerskeysacr', access: 'pull' },
      headers: forged,
    });
    expect(granted.status, JSON.stringify(granted.json)).toBe(201);

    const [assignment] = (await keys.assignmentsAt(acr)).filter((a) => a.principalId === vm.principalId);
    expect(assignment?.description).toBe(`Managed by acr-pull-automation: manual acr-pull by function-key on ${vm.id}`);

    const revoked = await call(keys, 'DELETE', '/api/access/grants', {
      body: { resourceId: vm.id, registry: 'callerskeysacr', access: 'pull' },
      headers: forged,
    });
    expect(revoked.status).toBe(200);
    const rows = (await keys.audit(vm.id)).filter((r) => r.outcome === 'granted' || r.outcome === 'revoked');
    expect(rows.map((r) => [r.outcome, r.caller]).sort()).toEqual([
      ['granted', 'function-key'],
      ['revoked', 'function-key'],
    ]);
    const everything = JSON.stringify([
      ...(await keys.audit(vm.id)),
      ...(await keys.auditForRegistry(acr)),
      ...(await keys.assignmentsAt(acr)),
    ]);
    expect(everything).not.toContain(FORGED_NAME);
    expect(everything).not.toContain(FORGED_ID);
  });

  it('still asks for the function key, whatever principal headers come with the request', async () => {
    const forged = principalHeaders(FORGED_ID, FORGED_NAME, [APP_ROLES.write.value]);
    expect((await call(keys, 'GET', '/api/audit', { key: null, headers: forged })).status).toBe(401);
  });
});

describe('App Service Authentication on (WEBSITE_AUTH_ENABLED=true): app roles decide', () => {
  let acr: string;
  let vm: { id: string; principalId: string };
  const reader = principalHeaders('11111111-aaaa-4000-8000-000000000001', 'reader@contoso.com', [APP_ROLES.read.value]);
  const writer = principalHeaders('22222222-bbbb-4000-8000-000000000002', 'writer@contoso.com', [APP_ROLES.write.value]);
  const grant = () => ({ resourceId: vm.id, registry: 'callersauthacr', access: 'pull' });

  beforeAll(async () => {
    ({ acr, vm } = await setUp(easyAuth, 'rg-callers-auth', 'callersauthacr'));
  }, 60_000);

  it('lets a reader read the audit trail, preview and health without a function key', async () => {
    expect((await call(easyAuth, 'GET', `/api/audit?resourceId=${encodeURIComponent(vm.id)}`, { key: null, headers: reader })).status).toBe(
      200,
    );
    expect((await call(easyAuth, 'POST', '/api/access/preview', { key: null, headers: reader, body: { resourceId: vm.id } })).status).toBe(
      200,
    );
    expect((await call(easyAuth, 'GET', '/api/health', { key: null, headers: reader })).status).toBe(200);
    expect((await call(easyAuth, 'GET', '/api/credentials', { key: null, headers: reader })).status).toBe(200);
  });

  it('refuses a reader’s grant with a 403 problem, writes nothing, and records the refusal', async () => {
    const r = await call(easyAuth, 'POST', '/api/access/grants', { key: null, headers: reader, body: grant() });
    expect([r.status, r.contentType, r.json?.code]).toEqual([403, 'application/problem+json', 'AppRoleRequired']);
    expect(r.json?.detail).toMatch(
      /^POST \/api\/access\/grants needs the app role Access\.Write; 11111111-aaaa-4000-8000-000000000001 \(reader@contoso\.com\) has only "Access\.Read"/,
    );
    expect((await easyAuth.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
    const page = await call(easyAuth, 'GET', '/api/audit?top=50', { key: null, headers: reader });
    const refusal = (page.json?.items as Array<{ outcome: string; caller?: string; action: string; errorCode?: string }>).find(
      (i) => i.outcome === 'denied-by-app-role',
    );
    expect(refusal).toMatchObject({
      action: 'grantAccess',
      caller: '11111111-aaaa-4000-8000-000000000001 (reader@contoso.com)',
      errorCode: 'AppRoleRequired',
    });
  });

  it('lets a writer grant, naming the authenticated principal in the description and the audit row', async () => {
    const r = await call(easyAuth, 'POST', '/api/access/grants', { key: null, headers: writer, body: grant() });
    expect([r.status, r.json?.outcome, r.json?.role]).toEqual([201, 'granted', ROLES.acrPull]);
    const [assignment] = (await easyAuth.assignmentsAt(acr)).filter((a) => a.principalId === vm.principalId);
    expect(assignment?.description).toBe(
      `Managed by acr-pull-automation: manual acr-pull by 22222222-bbbb-4000-8000-000000000002 (writer@contoso.com) on ${vm.id}`,
    );
    const rows = await easyAuth.audit(vm.id);
    expect(rows.find((row) => row.outcome === 'granted')?.caller).toBe('22222222-bbbb-4000-8000-000000000002 (writer@contoso.com)');
  });

  it('answers 401 NotAuthenticated to a request App Service let through without a principal, and 403 to one without a role', async () => {
    const anonymous = await call(easyAuth, 'POST', '/api/access/grants', { key: null, body: grant() });
    expect([anonymous.status, anonymous.json?.code]).toEqual([401, 'NotAuthenticated']);
    // A function key alone is not a principal once App Service Authentication is on.
    expect((await call(easyAuth, 'GET', '/api/audit', {})).status).toBe(401);
    const roleless = await call(easyAuth, 'GET', '/api/audit', {
      key: null,
      headers: principalHeaders('33333333-cccc-4000-8000-000000000003', 'nobody@contoso.com', []),
    });
    expect([roleless.status, roleless.json?.code]).toEqual([403, 'AppRoleRequired']);
  });

  it('serves the OpenAPI document to anyone', async () => {
    expect((await call(easyAuth, 'GET', '/api/openapi.json', { key: null })).status).toBe(200);
  });
});
