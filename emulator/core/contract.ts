/**
 * The contract between the emulator's parts. The core (server, router, TLS, clock, faults,
 * counters, directory, event bus) implements it; each API module (ARM, authorization,
 * Resource Graph, Entra, managed identity, Graph, Key Vault) registers routes against it.
 * API modules never import each other: they meet here.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A parsed request as a route handler sees it. */
export interface EmuRequest {
  readonly method: string;
  /** Full URL, including query. Paths are matched case-insensitively where Azure does. */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON body when the content type is JSON, the form fields for x-www-form-urlencoded, else undefined. */
  readonly body: unknown;
  readonly rawBody: Buffer;
  /** Path parameters from the route pattern's named groups. */
  readonly params: Readonly<Record<string, string>>;
}

export interface EmuResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized as JSON unless it is a string or Buffer. */
  readonly body?: unknown;
}

export type RouteHandler = (req: EmuRequest) => Promise<EmuResponse> | EmuResponse;

/** Which API a route belongs to: used for call counts, latency and fault injection per API. */
export const API_NAMES = ['arm', 'authorization', 'resourceGraph', 'graph', 'keyVault', 'login', 'managedIdentity', 'admin'] as const;
export type ApiName = (typeof API_NAMES)[number];

export interface Router {
  /** `pattern` is a RegExp over the URL path (no query), with named groups for params. */
  add(api: ApiName, method: string, pattern: RegExp, handler: RouteHandler): void;
  /**
   * A rewrite of request paths on the main listener, applied before routing (ARM ignores empty
   * segments and answers ids in its own casing); answers the new path, or undefined to leave it.
   */
  rewritePath?(rewrite: (path: string) => string | undefined): void;
}

/** The emulator's clock: real time plus an offset the admin API can move. */
export interface Clock {
  now(): Date;
  /** Moves time forward; listeners (Key Vault near-expiry events, token expiry) react. */
  advance(ms: number): void;
  onAdvance(listener: (now: Date) => void): void;
}

/** A principal in the emulated Entra tenant. */
export interface DirectoryPrincipal {
  readonly objectId: string;
  /** Application (client) id: service principals and managed identities have one. */
  readonly appId?: string;
  readonly displayName: string;
  /** As ARM's `principalType`. */
  readonly principalType: 'ServicePrincipal' | 'User' | 'Group';
  /** 'ManagedIdentity' or 'Application' for service principals. */
  readonly servicePrincipalType?: 'ManagedIdentity' | 'Application';
  /** ARM resource id of the identity's owner, for managed identities. */
  readonly resourceId?: string;
  readonly createdAt: Date;
}

export interface Directory {
  add(principal: DirectoryPrincipal): void;
  remove(objectId: string): void;
  get(objectId: string): DirectoryPrincipal | undefined;
  getByAppId(appId: string): DirectoryPrincipal | undefined;
  list(): DirectoryPrincipal[];
  /** Whether the principal is visible to ARM yet: false while younger than the replication delay. */
  isReplicated(objectId: string): boolean;
}

/** Claims the emulator puts in (and reads back from) its JWT access tokens. */
export interface TokenClaims {
  readonly oid: string;
  readonly appid?: string;
  readonly tid: string;
  readonly aud: string;
  readonly exp: number;
  readonly iat: number;
}

/** Issues and checks the emulator's JWTs (signed by the emulator's own key). */
export interface TokenService {
  issue(claims: Omit<TokenClaims, 'exp' | 'iat'> & { lifetimeSeconds?: number }): { token: string; expiresOn: number };
  /** Reads `Authorization: Bearer …`; undefined when missing, malformed, expired or for another audience. */
  verify(authorization: string | undefined, audiences: readonly string[]): TokenClaims | undefined;
}

/** An Event Grid event in the Event Grid schema, as Azure publishes it. */
export interface GridEvent {
  readonly id: string;
  readonly topic: string;
  readonly subject: string;
  readonly eventType: string;
  readonly eventTime: string;
  readonly data: unknown;
  readonly dataVersion: string;
  readonly metadataVersion: string;
}

/** Publishes events to the Event Grid delivery part, which fans out to matching subscriptions. */
export interface EventBus {
  publish(event: GridEvent): void;
}

/**
 * Role-based access check, provided by the ARM authorization module from its role assignments
 * and role definitions (actions and dataActions, with wildcards). Used by every API that
 * answers 403 AuthorizationFailed / Forbidden.
 */
export interface Authorizer {
  isAuthorized(principalObjectId: string, action: string, scope: string): boolean;
}

/** Key Vaults: the Key Vault module serves each vault on its own HTTPS listener. */
export interface VaultRegistry {
  /** Creates the vault's data plane if missing; answers its vaultUri (https://127.0.0.1:<port>/). */
  ensureVault(name: string, resourceId: string): Promise<string>;
  /** Deletes the vault's data plane (ARM delete of the vault). */
  removeVault(name: string): void;
}

/** Services one module provides and others use, without importing each other. */
export interface Services {
  authorizer: Authorizer;
  vaults: VaultRegistry;
  events: EventBus;
}

export interface ServiceRegistry {
  provide<K extends keyof Services>(key: K, impl: Services[K]): void;
  /** Throws when nothing provides the service yet. */
  get<K extends keyof Services>(key: K): Services[K];
}

/** What each API module returns from its register function, for the admin API. */
export interface EmulatorModule {
  readonly name: string;
  /** JSON-serialisable view of the module's state, for GET /admin/state. */
  snapshot(): unknown;
  /** Applies this module's part of a scenario file (keys are the module's own). */
  seed?(scenario: Record<string, unknown>): void | Promise<void>;
  reset(): void;
}

/** Register function every API module exports. */
export type RegisterModule = (ctx: EmulatorContext) => EmulatorModule | Promise<EmulatorModule>;

/** Everything an API module is given when it registers. */
export interface EmulatorContext {
  readonly router: Router;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly tokens: TokenService;
  /** Publishes to Event Grid delivery (shorthand for services.get('events').publish). */
  readonly events: EventBus;
  readonly services: ServiceRegistry;
  readonly tenantId: string;
  readonly defaultSubscriptionId: string;
  /** Base URL of the main HTTPS listener, for example https://127.0.0.1:8443 (no trailing slash). */
  readonly baseUrl: string;
  /** Opens another HTTPS listener served by the same router (one per Key Vault, whose URL is its own host). */
  listen(api: ApiName, router: (req: EmuRequest) => Promise<EmuResponse> | EmuResponse): Promise<string>;
}

/** Errors in Azure's shapes. Each API module has its own factory for its own shape. */
export interface ArmErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown[] };
}

/* ---- Additions (core): fault configuration other modules read, and self-routed responses. ---- */

/** Event Grid delivery faults; the core stores them, the events module reads them on each delivery. */
export interface EventDeliveryFaults {
  /** Probability (0..1) that an event is delivered twice. */
  readonly duplicateRate: number;
  /** Probability (0..1) that an event is held back and delivered after the next one. */
  readonly reorderRate: number;
  /** Probability (0..1) that an event is dropped after the retry window (never delivered). */
  readonly dropRate: number;
  /** Extra delivery delay in milliseconds. */
  readonly delayMs: number;
}

/** ARM write throttle: a token bucket per principal (Azure: 200 burst, 10 writes/s per principal and region). */
export interface ThrottleConfig {
  readonly enabled: boolean;
  /** Writes (PUT, PATCH, POST) and, in a bucket of their own, deletes: Azure 200 burst, 10/s each. */
  readonly burst: number;
  readonly refillPerSecond: number;
  /**
   * Reads (GET, HEAD): Azure 250 burst, 25/s. Always counted and reported in
   * `x-ms-ratelimit-remaining-subscription-reads`; refused with 429 only when `enforce` is true.
   */
  readonly reads?: { readonly burst: number; readonly refillPerSecond: number; readonly enforce?: boolean };
}

/** The statuses `PUT /admin/faults` can inject, each with its own probability (0..1). */
export const INJECTABLE_STATUSES = ['429', '500', '503'] as const;
export type InjectableStatus = (typeof INJECTABLE_STATUSES)[number];
export type InjectedErrorRates = Partial<Record<InjectableStatus, number>>;

/** Everything `PUT /admin/faults` sets. */
export interface EmulatorFaults {
  /** Added latency per API in milliseconds. */
  readonly latencyMs: Partial<Record<ApiName, number>>;
  /** Probability (0..1) per API that a request fails with a 503 in that API's shape (same as `errors[api]['503']`). */
  readonly errorRate: Partial<Record<ApiName, number>>;
  /**
   * Probability (0..1) per API and status that a request fails with that status, in the API's
   * shape: 429 (throttled, with `Retry-After` and the API's rate-limit headers), 500, 503. Each
   * status draws on its own share of one roll, so `{ '429': 0.2, '500': 0.05 }` fails 25%.
   * Optional so older fault views (test harnesses) stay valid.
   */
  readonly errors?: Partial<Record<ApiName, InjectedErrorRates>>;
  /** `Retry-After` (seconds) an injected 429 or 503 carries; 1 unless set. */
  readonly retryAfterSeconds?: number;
  readonly throttle: ThrottleConfig;
  /** How long a new principal stays invisible to ARM (`Directory.isReplicated`). */
  readonly replicationDelayMs: number;
  readonly events: EventDeliveryFaults;
}

/** Read-only view of the current faults, for modules (the events module reads `current().events`). */
export interface FaultsView {
  current(): EmulatorFaults;
}

/** Context members added after the first version of the contract. */
export interface EmulatorContext {
  readonly faults: FaultsView;
}

/** Response members added after the first version of the contract. */
export interface EmuResponse {
  /**
   * Path template for call counters, for handlers served through `listen` that route
   * themselves (the core cannot see their patterns). Not sent on the wire.
   */
  readonly route?: string;
  /** Rows a query answered (Resource Graph's `count`), summed in the call counters. Not sent on the wire. */
  readonly rows?: number;
}

/** Outcome of checking an application's client secret against its current Graph passwords. */
export type ClientSecretCheck = 'valid' | 'invalidSecret' | 'expiredSecret' | 'unknownClient';

/** Provided by the Graph module (which owns applications and their passwords); used by Entra login. */
export interface AppCredentials {
  checkClientSecret(appId: string, secret: string): ClientSecretCheck;
}

export interface Services {
  appCredentials: AppCredentials;
}
