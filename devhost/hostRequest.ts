/**
 * What every request handler of the local host shares: the host's view of the app (registry,
 * keys, how to invoke and log) and the small HTTP helpers that read a request and write a reply.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CoreRegistry, RegisteredFunction, RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcTypedData } from './functionsCore.js';
import type { InvocationInput } from './invoke.js';

/** Keys the host checks, as Azure's: a function (default host) key, the master key, the Event Grid system key. */
export interface HostKeys {
  readonly functionKey: string;
  readonly masterKey: string;
  /** The `eventgrid_extension` system key, required as `code` on the Event Grid webhook. */
  readonly eventGridKey: string;
}

/** What a request handler needs from the running host. */
export interface HostRuntime {
  readonly registry: CoreRegistry;
  readonly keys: HostKeys;
  /** Runs one invocation, its log lines going to the host's log. */
  readonly invoke: (fn: RegisteredFunction, input: InvocationInput) => Promise<RpcInvocationResponse>;
  /** Writes one line of the host's own log. */
  readonly hostLog: (level: string, message: string, category?: string) => void;
}

/** One request as the dispatcher read it: the body in full, and the key the caller gave (header or `code`). */
export interface HostRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly method: string;
  readonly body: Buffer;
  readonly givenKey: string;
}

export function sendHttpResult(res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) return send(res, 204);
  const headers: Record<string, string | string[]> = { ...(http.headers ?? {}) };
  const cookies = (http.cookies ?? []).map(toSetCookie);
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  const body = bodyBytes(http.body);
  res.writeHead(Number(http.statusCode ?? 200), headers);
  res.end(body);
}

function bodyBytes(data: RpcTypedData | null | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (typeof data.string === 'string') return Buffer.from(data.string);
  if (typeof data.json === 'string') return Buffer.from(data.json);
  return Buffer.alloc(0);
}

function toSetCookie(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  if (cookie.expires?.value?.seconds) parts.push(`Expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None', none: undefined }[cookie.sameSite ?? 'none'];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

export function send(res: ServerResponse, status: number, text?: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, text ? { 'content-type': 'text/plain; charset=utf-8', ...headers } : headers);
  res.end(text);
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
}

export function headerValue(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

export function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** An error as one log phrase: `Name: message`. */
export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
