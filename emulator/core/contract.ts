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

/** Per-API fault injection and counters, owned by the core; modules only read what they need. */
export interface Faults {
  /** Role-based access check: does this principal hold an action on this scope? Tests can relax it. */
  isAuthorized(principalObjectId: string, action: string, scope: string): boolean;
}

/** Everything an API module is given when it registers. */
export interface EmulatorContext {
  readonly router: Router;
  readonly clock: Clock;
  readonly directory: Directory;
  readonly tokens: TokenService;
  readonly events: EventBus;
  readonly faults: Faults;
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
