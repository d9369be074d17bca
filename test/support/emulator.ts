/**
 * Start/stop an emulator for one test file, and clients that trust its CA.
 * Clients get the CA through the SDK's own `tlsOptions: { ca }` (core-rest-pipeline's TLS
 * settings); nothing here turns TLS verification off.
 */
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { request } from 'node:https';
import type { Authorizer, EmulatorContext, EmulatorModule, RegisterModule } from '../../emulator/core/contract.js';
import { installLoopbackDns, startEmulator, type RunningEmulator, type StartEmulatorOptions } from '../../emulator/index.js';

export type { RunningEmulator } from '../../emulator/index.js';

/**
 * An authorizer for tests that run without the ARM module: allows what a test grants.
 * Not a model of Azure RBAC — the ARM module's Authorizer is; this only stands in for it.
 */
export class GrantListAuthorizer implements Authorizer {
  private readonly grants: Array<{ principal: string; action: string }> = [];
  allowAll = false;

  grant(principal: string, action: string): void {
    this.grants.push({ principal: principal.toLowerCase(), action: action.toLowerCase() });
  }

  clear(): void {
    this.grants.length = 0;
  }

  isAuthorized(principal: string, action: string): boolean {
    if (this.allowAll) return true;
    const a = action.toLowerCase();
    return this.grants.some(
      (g) =>
        g.principal === principal.toLowerCase() &&
        (g.action === '*' || g.action === a || (g.action.endsWith('/*') && a.startsWith(g.action.slice(0, -1)))),
    );
  }
}

/** A test-support module that provides `authorizer` (only when no other module has). */
export function testAuthorizerModule(authorizer: Authorizer): RegisterModule {
  return (ctx: EmulatorContext): EmulatorModule => {
    let provided = false;
    try {
      ctx.services.get('authorizer');
    } catch {
      ctx.services.provide('authorizer', authorizer);
      provided = true;
    }
    return { name: 'test-authorizer', snapshot: () => ({ provided }), reset: () => undefined };
  };
}

export interface TestEmulator extends RunningEmulator {
  /** Present when the test started without the ARM module. */
  readonly authorizer: GrantListAuthorizer;
  /** SDK client options trusting the emulator's CA. */
  readonly clientOptions: { tlsOptions: { ca: string } };
  /** ClientSecretCredential for the operator against the emulated Entra ID. */
  operatorCredential(): TokenCredential;
  credentialFor(clientId: string, clientSecret: string): ClientSecretCredential;
  /** fetch that trusts the emulator's CA (for the admin API and raw wire checks). */
  fetch(url: string, init?: RawInit): Promise<RawResponse>;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** Starts an emulator (core modules; ARM only when asked) for one test file. Call `stop()` in afterAll. */
export async function startTestEmulator(options: StartEmulatorOptions = {}): Promise<TestEmulator> {
  // Local vault hosts are *.vault.localhost; see emulator/README.md ("Differences from Azure").
  installLoopbackDns();
  const authorizer = new GrantListAuthorizer();
  const emulator = await startEmulator({
    arm: false,
    eventGrid: false,
    ...options,
    extraModules: [...(options.extraModules ?? []), testAuthorizerModule(authorizer)],
  });
  const clientOptions = { tlsOptions: { ca: emulator.caPem } };
  const e = emulator.endpoints;
  const credentialFor = (clientId: string, clientSecret: string) =>
    new ClientSecretCredential(e.tenantId, clientId, clientSecret, {
      authorityHost: e.login,
      disableInstanceDiscovery: true,
      ...clientOptions,
    });
  const doFetch = (url: string, init: RawInit = {}) => rawRequest(url, init, emulator.caPem);
  return {
    ...emulator,
    authorizer,
    clientOptions,
    operatorCredential: () => credentialFor(e.operator.clientId, e.operator.clientSecret),
    credentialFor,
    fetch: doFetch,
    async admin<T>(method: string, path: string, body?: unknown) {
      const res = await doFetch(`${e.admin}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (res.text ? JSON.parse(res.text) : undefined) as T };
    },
  };
}

export interface RawInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = unknown>(): T;
}

/** One HTTPS request trusting only the emulator's CA: for wire-level checks the SDKs hide. */
export function rawRequest(url: string, init: RawInit, ca: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
