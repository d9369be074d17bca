/**
 * Shared by the emulator-arm integration tests: an emulator with ARM and Event Grid, the ARM
 * endpoint and scope as the product configures its clients, and a raw ARM call with a real token
 * (for the REST contract of resource types that have no SDK client in this project).
 */
import type { TokenCredential } from '@azure/identity';
import { DEFAULT_RESOURCE_GROUP } from '../../../emulator/core/wellKnown.js';
import { startTestEmulator, type RawResponse, type TestEmulator } from '../../support/emulator.js';

export const ARM_SCOPE = 'https://management.azure.com/.default';

/** The emulator with every module, as `npm start` runs it. */
export function startArmEmulator(scenario?: Record<string, unknown>): Promise<TestEmulator> {
  return startTestEmulator({ arm: true, eventGrid: true, ...(scenario ? { scenario } : {}) });
}

/** Options for `@azure/arm-*` clients: the emulator's endpoint, ARM's scope, its CA. */
export function armClientOptions(emu: TestEmulator) {
  return { endpoint: emu.endpoints.arm, credentialScopes: [ARM_SCOPE], ...emu.clientOptions };
}

export const rgId = (emu: TestEmulator, rg = DEFAULT_RESOURCE_GROUP) =>
  `/subscriptions/${emu.endpoints.subscriptionId}/resourceGroups/${rg}`;

export interface ArmCall {
  (method: string, path: string, body?: unknown, apiVersion?: string | null, credential?: TokenCredential | null): Promise<RawResponse>;
}

/** `fetch` + a bearer token from `credential` (the operator by default); `null` sends no token. */
export function armCaller(emu: TestEmulator): ArmCall {
  const operator = emu.operatorCredential();
  return async (method, path, body, apiVersion = '2024-03-01', credential) => {
    const headers: Record<string, string> = {};
    const cred = credential === undefined ? operator : credential;
    if (cred) headers.authorization = `Bearer ${(await cred.getToken(ARM_SCOPE))!.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = new URL(`${emu.endpoints.arm}${path}`);
    if (apiVersion) url.searchParams.set('api-version', apiVersion);
    return emu.fetch(url.toString(), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
}

/** A Graph application with a service principal and a client secret, seeded through a scenario. */
export function aServicePrincipal(objectId: string, appId: string, secretText: string, displayName = 'no-roles') {
  return { displayName, appId, passwords: [{ secretText, endDateTime: '2099-01-01T00:00:00Z' }], servicePrincipal: { id: objectId } };
}

/** Call counts since `since` (epoch ms) for one API, method and status. */
export async function countCalls(
  emu: TestEmulator,
  filter: { api?: string; method?: string; status?: number; route?: RegExp },
  since = 0,
): Promise<number> {
  const res = await emu.admin<{ calls: Array<{ api: string; method: string; route: string; status: number; count: number }> }>(
    'GET',
    `/calls?since=${since}`,
  );
  return res.body.calls
    .filter(
      (c) =>
        (filter.api === undefined || c.api === filter.api) &&
        (filter.method === undefined || c.method === filter.method) &&
        (filter.status === undefined || c.status === filter.status) &&
        (filter.route === undefined || filter.route.test(c.route)),
    )
    .reduce((n, c) => n + c.count, 0);
}
