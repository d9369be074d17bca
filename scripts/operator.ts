/**
 * The operator of the local stack: the seeded principal that plays the user, creating and
 * tagging resources on the emulator. The demo, the bench and the end-to-end tests all act
 * through this one client: ARM calls on the wire, and the emulator's admin API.
 */
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { rawRequest, type RawResponse } from '../test/support/emulator.js';

export interface OperatorEndpoints {
  readonly arm?: string;
  readonly admin?: string;
  readonly login?: string;
  readonly tenantId?: string;
  readonly operator?: { readonly clientId: string; readonly clientSecret: string };
}

export interface Operator {
  /** The operator's credential (the SDK caches and refreshes its tokens), trusting the emulator's CA. */
  readonly credential: TokenCredential;
  /** One ARM request as the operator; throws with ARM's answer on anything but 2xx. `path` may carry its own query, or be a whole nextLink. */
  arm(method: string, path: string, apiVersion: string, body?: unknown): Promise<RawResponse>;
  /** One call to the emulator's admin API (`path` after `/admin`); the parsed body. */
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Waits until Event Grid has nothing in flight or waiting to retry. */
  idle(timeoutMs?: number): Promise<void>;
}

/** The operator for a running stack's endpoints and the emulator's CA. */
export function createOperator(e: OperatorEndpoints, caPem: string): Operator {
  if (!e.arm || !e.admin || !e.login || !e.tenantId || !e.operator) throw new Error('the operator needs the emulator');
  const { arm: armUrl, admin: adminUrl } = e;
  const credential = new ClientSecretCredential(e.tenantId, e.operator.clientId, e.operator.clientSecret, {
    authorityHost: e.login,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: caPem },
  });
  const json = (body: unknown) => (body === undefined ? undefined : JSON.stringify(body));
  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await rawRequest(
      `${adminUrl}${path}`,
      { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: json(body) },
      caPem,
    );
    if (res.status >= 300) throw new Error(`admin ${method} ${path}: ${res.status} ${res.text}`);
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  };
  return {
    credential,
    admin,
    async arm(method, path, apiVersion, body) {
      const token = await credential.getToken('https://management.azure.com/.default');
      // A nextLink is a whole URL that already names its api-version.
      const url = path.startsWith('https://') ? path : `${armUrl}${path}${path.includes('?') ? '&' : '?'}api-version=${apiVersion}`;
      const res = await rawRequest(
        url,
        { method, headers: { authorization: `Bearer ${token?.token}`, 'content-type': 'application/json' }, body: json(body) },
        caPem,
      );
      if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${res.text}`);
      return res;
    },
    async idle(timeoutMs = 60_000) {
      await admin('POST', `/eventgrid/idle?timeoutMs=${timeoutMs}`);
    },
  };
}
