/**
 * End-to-end support for pull credentials: one local stack (emulator + the shared Azurite + the
 * local Functions host running the app bundle) whose host process keeps time with the emulator.
 *
 * Time. Rotation is about passwords growing old, so these tests move the emulator's clock
 * (`POST /admin/clock/advance`): Entra, Graph password expiry, Key Vault `SecretNearExpiry` and
 * token lifetimes follow it. The app reads real time (`deps.now()`), as it must in Azure, where its
 * clock and Azure's are the same. To keep that true here, the host runs with a preload that adds
 * the emulator's offset to `Date` — the whole world moves forward, not only Azure. The offset is a
 * file the test writes before it moves the emulator; nothing in `src/` knows about it.
 *
 * Readers on the test side (Key Vault as a principal with a data role, Graph, ARM, Entra sign-ins)
 * are built afresh after each move of the clock, because the SDK caches tokens by real time.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getClient, type Client } from '@azure-rest/core-client';
import { AuthenticationError, ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { startStack, type RunningStack } from '../../scripts/stack.js';
import { DEMO_VAULT, installLoopbackDns, startEmulator } from '../../emulator/index.js';
import type { AuditRecord } from '../../src/audit/auditLog.js';
import { createOperator } from '../../scripts/operator.js';

export const CREDENTIAL_TAGS = { vault: 'acr-pull-credential', days: 'acr-pull-credential-days' } as const;
export const ROLE_IDS = {
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
} as const;
export const HOUR_MS = 3_600_000;
export const API_VERSIONS = {
  resourceGroup: '2021-04-01',
  registry: '2025-11-01',
  tags: '2021-04-01',
  roleAssignments: '2022-04-01',
} as const;
export const DAY_MS = 86_400_000;

/**
 * The preload the host runs with (`NODE_OPTIONS=--import=…`): `Date` and `Date.now()` answer real
 * time plus the offset in the file named by E2E_CLOCK_OFFSET_FILE, read at most every 20 ms.
 */
const CLOCK_PRELOAD = `
import { readFileSync } from 'node:fs';
const file = process.env.E2E_CLOCK_OFFSET_FILE;
if (file) {
  const RealDate = globalThis.Date;
  const realNow = RealDate.now.bind(RealDate);
  let offset = 0;
  let readAt = -Infinity;
  const now = () => {
    const real = realNow();
    if (real - readAt > 20) {
      readAt = real;
      try { offset = Number(readFileSync(file, 'utf8')) || 0; } catch { /* keep the last offset */ }
    }
    return real + offset;
  };
  function ShiftedDate(...args) {
    if (!new.target) return new RealDate(now()).toString();
    return Reflect.construct(RealDate, args.length === 0 ? [now()] : args, new.target);
  }
  Object.setPrototypeOf(ShiftedDate, RealDate);
  ShiftedDate.prototype = RealDate.prototype;
  ShiftedDate.now = now;
  globalThis.Date = ShiftedDate;
}
`;

/**
 * A container registry, as containerregistry/.../stable/2022-12-01/examples/Registries_Create_Registry_Create.json
 * writes it, with the enrolment tags.
 */
export function aRegistryBody(tags: Record<string, string>): Record<string, unknown> {
  return { location: 'westeurope', sku: { name: 'Standard' }, tags, properties: { adminUserEnabled: false } };
}

export interface HttpResult {
  readonly status: number;
  readonly text: string;
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each route answers its own shape; tests read a few fields
}

export interface ServedCredentials {
  readonly username: string;
  readonly password: string;
  readonly keyId: string;
  readonly version: string;
  readonly contentType?: string;
  readonly tags: Record<string, string>;
  readonly expiresOn?: Date;
}

export interface PasswordVersion {
  readonly version: string;
  readonly value: string;
  readonly keyId: string;
  readonly createdOn: Date;
}

export interface CredentialsStack {
  readonly stack: RunningStack;
  readonly subscriptionId: string;
  readonly vaultName: string;
  rgId(name: string): string;
  /** ARM PUT as the operator (Owner on the subscription); answers the body. */
  put(id: string, apiVersion: string, body: unknown): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- ARM bodies differ by type
  get(id: string, apiVersion: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- ARM bodies differ by type
  /** The tags API (`{scope}/providers/Microsoft.Resources/tags/default`). */
  tag(id: string, tags: Record<string, string>, operation: 'Merge' | 'Replace' | 'Delete'): Promise<void>;
  /** Role assignments anywhere in the subscription for one principal, read through ARM. */
  assignmentsOf(principalId: string): Promise<Array<{ scope: string; roleDefinitionGuid: string; description?: string }>>;
  /** What Key Vault serves as `<registry>-pull-usr` / `-pwd`, read by a principal with Key Vault Secrets User. */
  served(registryName: string): Promise<ServedCredentials>;
  /** Every version of `<registry>-pull-pwd` ever stored, with its value. */
  allPasswordVersions(registryName: string): Promise<string[]>;
  /**
   * Every version of `<registry>-pull-pwd`, oldest first, with its value, its keyId tag and when Key
   * Vault created it (emulator clock): a version stopped being served when the next one was created.
   */
  passwordHistory(registryName: string): Promise<PasswordVersion[]>;
  /**
   * Writes a version of `<registry>-pull-pwd` as someone with Key Vault Secrets Officer on the vault
   * (what a late write of a stalled run, or a person, does).
   */
  writePasswordVersion(registryName: string, value: string, tags: Record<string, string>): Promise<void>;
  /** PUT /admin/faults on the emulator (latency, errors), merged into the current faults. */
  faults(patch: Record<string, unknown>): Promise<void>;
  /** Fires the reconciliation sweep through the host's admin API and waits for its last line. */
  fireSweep(): Promise<string>;
  /** A client-credentials sign-in with this password, as a pull client would do it. */
  signIn(appId: string, password: string): Promise<{ ok: true } | { ok: false; error: string }>;
  /** The application's passwords as Graph lists them (never with values). */
  passwordsOnApp(appId: string): Promise<Array<{ keyId: string; displayName?: string }> | undefined>;
  /** A call to the app's HTTP API with the function key. */
  api(method: string, path: string, body?: unknown): Promise<HttpResult>;
  /** Every audit row since the stack started (GET /api/audit, every page) about a registry, or all rows. */
  audit(registryId?: string): Promise<AuditRecord[]>;
  /** Every HTTP response the helpers above received from the host, as text. */
  readonly responses: string[];
  /** Moves the host's clock and then the emulator's by whole days (SecretNearExpiry follows), and waits for Event Grid. */
  advanceDays(days: number): Promise<void>;
  /** The host's and the emulator's clock offset, in days. */
  offsetDays(): number;
  /** Fires the rotation timer through the host's admin API and waits for the sweep's last line. */
  fireRotationTimer(): Promise<string>;
  /** Waits until Event Grid has nothing in flight or waiting to retry. */
  idle(): Promise<void>;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

/** Starts the stack for one e2e file, with its own table prefix on the shared Azurite. */
export async function startCredentialsStack(options: {
  tablesConnectionString: string;
  tablesEndpoint: string;
  appEntry: string;
  appSettings?: Record<string, string>;
}): Promise<CredentialsStack> {
  installLoopbackDns();
  const dir = mkdtempSync(join(tmpdir(), 'acr-e2e-clock-'));
  const preload = join(dir, 'clock.mjs');
  const offsetFile = join(dir, 'offset');
  writeFileSync(preload, CLOCK_PRELOAD);
  writeFileSync(offsetFile, '0');
  let offsetMs = 0;
  // Audit queries look back from here: their default window (30 days) is shorter than these tests' clock moves.
  const startedAt = new Date(Date.now() - 3_600_000).toISOString();

  const stack = await startStack({
    tables: { endpoint: options.tablesEndpoint, connectionString: options.tablesConnectionString },
    appEntry: options.appEntry,
    appSettings: {
      TABLE_PREFIX: `e2ec${randomBytes(5).toString('hex')}`,
      E2E_CLOCK_OFFSET_FILE: offsetFile,
      // Timers fire through the admin API only: no schedule comes round during a test.
      FUNCTIONS_RUN_TIMERS: 'false',
      ...options.appSettings,
    },
    emulator: async () => {
      const emulator = await startEmulator();
      return {
        ...emulator,
        stop: () => emulator.stop(),
        env: () => {
          const env = emulator.env();
          return { ...env, NODE_OPTIONS: `${env['NODE_OPTIONS'] ?? ''} --import=${pathToFileURL(preload).href}`.trim() };
        },
      };
    },
  });
  try {
    const emulator = stack.emulator!;
    const e = emulator.endpoints;
    const ca = emulator.caPem;
    const tls = { tlsOptions: { ca } };

    // Test-side clients, rebuilt after each move of the clock (their token caches run on real time).
    let epoch: { offsetMs: number; operator: TokenCredential; arm: Client; graph: Client; vault: SecretClient } | undefined;
    const clients = () => {
      if (epoch?.offsetMs !== offsetMs) {
        const operator = new ClientSecretCredential(e.tenantId, e.operator.clientId, e.operator.clientSecret, {
          authorityHost: e.login,
          disableInstanceDiscovery: true,
          ...tls,
        });
        epoch = {
          offsetMs,
          operator,
          arm: getClient(e.arm, operator, { credentials: { scopes: [`${e.arm}/.default`] }, ...tls }),
          graph: getClient(e.graph, operator, { credentials: { scopes: [`${e.graph}/.default`] }, ...tls }),
          vault: new SecretClient(e.keyVault, operator, tls),
        };
      }
      return epoch;
    };
    const check = (res: { status: string; body: unknown }, what: string) => {
      if (!res.status.startsWith('2')) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    };
    const { admin } = createOperator(e, ca);
    const idle = () => admin<void>('POST', '/eventgrid/idle?timeoutMs=60000');
    const responses: string[] = [];
    const api = async (method: string, path: string, body?: unknown): Promise<HttpResult> => {
      const res = await fetch(`${stack.endpoints.functions}/api/${path}`, {
        method,
        headers: { 'x-functions-key': stack.endpoints.functionKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      responses.push(`${res.status} ${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${text}`);
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, text, json };
    };

    // A principal with a data role on the vault, as a pull client's owner would have: the operator
    // is Owner of the subscription (no data actions), so it gets Key Vault Secrets User on the vault.
    const vaultId = DEMO_VAULT.resourceId;
    const readerAssignment = `${vaultId}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}`;
    check(
      await clients()
        .arm.pathUnchecked(readerAssignment)
        .put({
          queryParameters: { 'api-version': API_VERSIONS.roleAssignments },
          body: {
            properties: {
              roleDefinitionId: `/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS.keyVaultSecretsUser}`,
              principalId: e.operator.objectId,
              principalType: 'ServicePrincipal',
            },
          },
        }),
      'grant the reader Key Vault Secrets User',
    );

    let writerGranted = false;
    const self: CredentialsStack = {
      stack,
      subscriptionId: e.subscriptionId,
      vaultName: e.keyVaultName,
      rgId: (name) => `/subscriptions/${e.subscriptionId}/resourceGroups/${name}`,
      async put(id, apiVersion, body) {
        return check(
          await clients()
            .arm.pathUnchecked(id)
            .put({ queryParameters: { 'api-version': apiVersion }, body }),
          `PUT ${id}`,
        );
      },
      async get(id, apiVersion) {
        return check(
          await clients()
            .arm.pathUnchecked(id)
            .get({ queryParameters: { 'api-version': apiVersion } }),
          `GET ${id}`,
        );
      },
      async tag(id, tags, operation) {
        check(
          await clients()
            .arm.pathUnchecked(`${id}/providers/Microsoft.Resources/tags/default`)
            .patch({ queryParameters: { 'api-version': API_VERSIONS.tags }, body: { operation, properties: { tags } } }),
          `PATCH tags ${id}`,
        );
      },
      async assignmentsOf(principalId) {
        const res = await clients()
          .arm.pathUnchecked(`/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleAssignments`)
          .get({ queryParameters: { 'api-version': API_VERSIONS.roleAssignments, $filter: `principalId eq '${principalId}'` } });
        const page = check(res, 'list role assignments') as {
          value: Array<{ properties: { scope: string; principalId: string; roleDefinitionId: string; description?: string | null } }>;
          nextLink?: string;
        };
        return page.value
          .filter((a) => a.properties.principalId === principalId)
          .map((a) => ({
            scope: a.properties.scope,
            roleDefinitionGuid: a.properties.roleDefinitionId.split('/').pop()!,
            ...(a.properties.description ? { description: a.properties.description } : {}),
          }));
      },
      async served(registryName) {
        const { vault } = clients();
        const usr = await vault.getSecret(`${registryName}-pull-usr`);
        const pwd = await vault.getSecret(`${registryName}-pull-pwd`);
        return {
          username: usr.value ?? '',
          password: pwd.value ?? '',
          keyId: pwd.properties.tags?.['keyId'] ?? '',
          version: pwd.properties.version ?? '',
          ...(pwd.properties.contentType ? { contentType: pwd.properties.contentType } : {}),
          tags: { ...pwd.properties.tags },
          ...(pwd.properties.expiresOn ? { expiresOn: pwd.properties.expiresOn } : {}),
        };
      },
      async allPasswordVersions(registryName) {
        const { vault } = clients();
        const values: string[] = [];
        for await (const version of vault.listPropertiesOfSecretVersions(`${registryName}-pull-pwd`)) {
          const secret = await vault.getSecret(version.name, { version: version.version });
          if (secret.value) values.push(secret.value);
        }
        return values;
      },
      async passwordHistory(registryName) {
        const { vault } = clients();
        const found: PasswordVersion[] = [];
        for await (const version of vault.listPropertiesOfSecretVersions(`${registryName}-pull-pwd`)) {
          const secret = await vault.getSecret(version.name, { version: version.version });
          found.push({
            version: version.version ?? '',
            value: secret.value ?? '',
            keyId: secret.properties.tags?.['keyId'] ?? '',
            createdOn: version.createdOn ?? new Date(0),
          });
        }
        // Attributes are whole seconds; a stable sort keeps the list order for versions of one second.
        return found.sort((a, b) => a.createdOn.getTime() - b.createdOn.getTime());
      },
      async writePasswordVersion(registryName, value, tags) {
        if (!writerGranted) {
          check(
            await clients()
              .arm.pathUnchecked(`${vaultId}/providers/Microsoft.Authorization/roleAssignments/${crypto.randomUUID()}`)
              .put({
                queryParameters: { 'api-version': API_VERSIONS.roleAssignments },
                body: {
                  properties: {
                    roleDefinitionId: `/subscriptions/${e.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${ROLE_IDS.keyVaultSecretsOfficer}`,
                    principalId: e.operator.objectId,
                    principalType: 'ServicePrincipal',
                  },
                },
              }),
            'grant the writer Key Vault Secrets Officer',
          );
          writerGranted = true;
        }
        await clients().vault.setSecret(`${registryName}-pull-pwd`, value, { contentType: 'text/plain; acr-pull-password', tags });
      },
      async faults(patch) {
        await admin('PUT', '/faults', patch);
      },
      async fireSweep() {
        const done = (line: { functionName?: string; message: string }) =>
          line.functionName === 'reconcileSweep' && line.message.includes('reconciliation sweep finished');
        const before = stack.host.logs().filter(done).length;
        const res = await fetch(`${stack.endpoints.functions}/admin/functions/reconcileSweep`, {
          method: 'POST',
          headers: { 'x-functions-key': stack.endpoints.masterKey, 'content-type': 'application/json' },
          body: JSON.stringify({ input: '' }),
        });
        responses.push(`${res.status}\n${await res.text()}`);
        if (res.status !== 202) throw new Error(`firing reconcileSweep: ${res.status}`);
        const line = await stack.host.waitForLog((l) => done(l) && stack.host.logs().filter(done).length > before, 60_000);
        await idle();
        return line.message;
      },
      async signIn(appId, password) {
        const credential = new ClientSecretCredential(e.tenantId, appId, password, {
          authorityHost: e.login,
          disableInstanceDiscovery: true,
          ...tls,
        });
        try {
          await credential.getToken(`${e.arm}/.default`);
          return { ok: true };
        } catch (error) {
          return { ok: false, error: error instanceof AuthenticationError ? error.errorResponse.error : String(error) };
        }
      },
      async passwordsOnApp(appId) {
        const res = await clients()
          .graph.pathUnchecked('/v1.0/applications')
          .get({ queryParameters: { $filter: `appId eq '${appId}'` } });
        const body = check(res, 'list applications') as {
          value: Array<{ passwordCredentials?: Array<{ keyId: string; displayName?: string | null }> }>;
        };
        const app = body.value[0];
        return app
          ? (app.passwordCredentials ?? []).map((p) => ({ keyId: p.keyId, ...(p.displayName ? { displayName: p.displayName } : {}) }))
          : undefined;
      },
      api,
      async audit(registryId) {
        const rows: AuditRecord[] = [];
        let token: string | undefined;
        do {
          const query = new URLSearchParams({
            top: '500',
            since: startedAt,
            ...(registryId ? { registry: registryId } : {}),
            ...(token ? { continuationToken: token } : {}),
          });
          const res = await api('GET', `audit?${query}`);
          if (res.status !== 200) throw new Error(`GET /api/audit: ${res.status} ${res.text}`);
          rows.push(...(res.json.items as AuditRecord[]));
          token = res.json.continuationToken;
        } while (token);
        return rows;
      },
      responses,
      async advanceDays(days) {
        await idle();
        offsetMs += days * DAY_MS;
        // The host first: the events the emulator publishes as it moves must find the host already there.
        writeFileSync(offsetFile, String(offsetMs));
        await new Promise((resolve) => setTimeout(resolve, 60));
        const moved = await admin<{ offsetMs: number }>('POST', '/clock/advance', { days });
        if (moved.offsetMs !== offsetMs) throw new Error(`the emulator's clock is ${moved.offsetMs} ms ahead, the host's ${offsetMs} ms`);
        await idle();
      },
      offsetDays: () => offsetMs / DAY_MS,
      async fireRotationTimer() {
        const done = (line: { message: string }) => /rotation sweep finished|Function rotateCredentials failed/.test(line.message);
        const before = stack.host.logs().filter(done).length;
        const res = await fetch(`${stack.endpoints.functions}/admin/functions/rotateCredentials`, {
          method: 'POST',
          headers: { 'x-functions-key': stack.endpoints.masterKey, 'content-type': 'application/json' },
          body: JSON.stringify({ input: '' }),
        });
        responses.push(`${res.status}\n${await res.text()}`);
        if (res.status !== 202) throw new Error(`firing rotateCredentials: ${res.status}`);
        const deadline = Date.now() + 60_000;
        for (;;) {
          const lines = stack.host.logs().filter(done);
          if (lines.length > before) {
            const last = lines[lines.length - 1]!.message;
            if (/failed/.test(last) && !/rotation sweep finished/.test(last)) throw new Error(`the rotation timer failed: ${last}`);
            await idle();
            return last;
          }
          if (Date.now() > deadline) throw new Error('the rotation timer did not finish within 60 s');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      idle,
      admin,
      async stop() {
        await stack.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return self;
  } catch (error) {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
