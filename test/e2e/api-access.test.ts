/**
 * Manual grant, revoke and preview by principal (issue #6) end to end: HTTP requests with the
 * function key to the local Functions host running the app bundle, which calls the emulator's ARM
 * as its managed identity; the outcome is read back through ARM and the audit table.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ROLES } from '../../src/policy/roles.js';
import { aRegistry, aVirtualMachine, startAccessStack, type AccessStack } from '../support/e2eAccess.js';

let s: AccessStack;
let rg: string;
let acr: string;

beforeAll(async () => {
  s = await startAccessStack({
    tablesConnectionString: inject('tablesConnectionString'),
    tablesEndpoint: inject('tablesEndpoint'),
    appEntry: inject('appEntry'),
  });
  rg = await s.resourceGroup('rg-manual-e2e');
  acr = `${rg}/providers/Microsoft.ContainerRegistry/registries/manuale2eacr`;
  await s.put(acr, aRegistry({ tags: { 'acr-pull-allow': 'same-resource-group' } }));
  await s.idle();
}, 90_000);
afterAll(async () => {
  await s?.stop();
});

async function api(path: string, method: string, body?: unknown, key: string | null = s.stack.endpoints.functionKey) {
  const response = await fetch(`${s.stack.endpoints.functions}${path}`, {
    method,
    headers: { ...(key ? { 'x-functions-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    json: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}

async function untaggedVm(group: string, name: string): Promise<{ id: string; principalId: string }> {
  const id = `${group}/providers/Microsoft.Compute/virtualMachines/${name}`;
  const body = await s.put(id, aVirtualMachine());
  await s.idle();
  return { id, principalId: body.identity.principalId as string };
}

describe('/api/access/grants through the host', () => {
  it('grants (201), then finds it already there (200), then revokes it (200), with audit rows naming the caller', async () => {
    const vm = await untaggedVm(rg, 'vm-manual-1');
    const granted = await api('/api/access/grants', 'POST', { resourceId: vm.id, registry: 'manuale2eacr', access: 'pull' });
    expect(granted.status).toBe(201);
    expect(granted.json).toMatchObject({ outcome: 'granted', role: ROLES.acrPull });
    const [assignment] = (await s.assignmentsAt(acr)).filter((a) => a.principalId === vm.principalId);
    expect(assignment?.description).toBe(`Managed by acr-pull-automation: manual acr-pull by function-key on ${vm.id}`);

    expect(
      (await api('/api/access/grants', 'POST', { resourceId: vm.id, registry: 'manuale2eacr.azurecr.io', access: 'pull' })).status,
    ).toBe(200);
    // The role assignment's own event must not undo it.
    await s.idle();
    expect((await s.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(true);

    const revoked = await api('/api/access/grants', 'DELETE', { resourceId: vm.id, registry: acr, access: 'pull' });
    expect([revoked.status, revoked.json?.['outcome']]).toEqual([200, 'revoked']);
    expect((await s.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
    const rows = await s.audit(vm.id);
    expect(rows.filter((r) => r.caller === 'function-key').map((r) => r.outcome)).toEqual(
      expect.arrayContaining(['granted', 'already-present', 'revoked']),
    );
  });

  it('answers 403 problems outside consent and for an override without the setting, writing nothing', async () => {
    const other = await s.resourceGroup('rg-manual-e2e-other');
    const vm = await untaggedVm(other, 'vm-manual-out');
    const denied = await api('/api/access/grants', 'POST', { resourceId: vm.id, registry: 'manuale2eacr', access: 'pull' });
    expect([denied.status, denied.contentType, denied.json?.['code']]).toEqual([403, 'application/problem+json', 'ConsentDenied']);
    const override = await api('/api/access/grants', 'POST', {
      resourceId: vm.id,
      registry: 'manuale2eacr',
      access: 'pull',
      override: true,
    });
    expect([override.status, override.json?.['code']]).toEqual([403, 'ConsentOverrideDisabled']);
    expect((await s.assignmentsAt(acr)).some((a) => a.principalId === vm.principalId)).toBe(false);
  });

  it.each([
    ['POST', { resourceId: '/subscriptions/x', registry: 'manuale2eacr', access: 'pull' }, 400, 'InvalidResourceId'],
    [
      'POST',
      { principalId: '6a1b2c3d-0000-4000-8000-000000000001', registry: 'manuale2eacr', access: 'pull', role: 'Owner' },
      400,
      'UnknownField',
    ],
    [
      'DELETE',
      { resourceId: '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg', registry: 'manuale2eacr', access: 'all' },
      400,
      'ValidationFailed',
    ],
  ])('%s with a bad body answers 400 %s', async (method, body, status, code) => {
    const r = await api('/api/access/grants', method, body);
    expect([r.status, r.json?.['code']]).toEqual([status, code]);
  });

  it.each([['POST'], ['DELETE']])('%s answers 401 without a key', async (method) => {
    expect(
      (
        await api(
          '/api/access/grants',
          method,
          { principalId: '6a1b2c3d-0000-4000-8000-000000000001', registry: 'manuale2eacr', access: 'pull' },
          null,
        )
      ).status,
    ).toBe(401);
  });
});

describe('POST /api/access/preview by principal and registry through the host', () => {
  it('says why a bare principal is refused, writing nothing', async () => {
    const r = await api('/api/access/preview', 'POST', {
      principalId: '6a1b2c3d-0000-4000-8000-000000000002',
      registry: 'manuale2eacr',
      access: 'pull',
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dryRun: true, outcome: 'denied-by-consent' });
    expect(r.json?.['decisions'][0].reason).toMatch(/only acr-pull-allow=\* covers it/);
  });

  // Issue 13: push through pull consent — a registry tagged acr-pull-allow only consents to no push.
  it('says push is refused on a registry that consents to pull only', async () => {
    const r = await api('/api/access/preview', 'POST', {
      principalId: '6a1b2c3d-0000-4000-8000-000000000002',
      registry: 'manuale2eacr',
      access: 'push',
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ dryRun: true, outcome: 'denied-by-consent' });
    expect(r.json?.['decisions'][0].reason).toMatch(/has no acr-push-allow tag; push needs the registry's own acr-push-allow consent/);
  });
});

describe('GET /api/health through the host', () => {
  it('counts the role assignments in the watched subscription, with the headroom to 4,000, and ours once a sweep found them', async () => {
    const r = await api('/api/health', 'GET');
    const [sub] = r.json?.['roleAssignments'] as Array<{
      subscriptionId: string;
      total: number;
      owned?: number;
      headroom: number;
      limit: number;
    }>;
    expect(sub).toMatchObject({ subscriptionId: s.subscriptionId, limit: 4000 });
    expect(sub!.total).toBeGreaterThan(0);
    // Ours are what the last sweep found (test/integration/access/manualGrants.test.ts); before one, none are claimed.
    if (sub!.owned !== undefined) expect(sub!.owned).toBeLessThanOrEqual(sub!.total);
    expect(sub!.headroom).toBe(4000 - sub!.total);
  });
});
