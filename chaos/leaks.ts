/**
 * The leak scan (issue 16, point 5): every secret the emulator issued during the run — access
 * tokens (Entra and the managed-identity endpoint), Graph `addPassword` secretText, Key Vault secret
 * values — is taken from the emulator's own HTTP answers, as its server sends them (Node's
 * `http.server.request.start` diagnostics channel: the emulator runs in the harness's process), so
 * the list does not depend on the app's account of itself. Then every log line, audit row, HTTP
 * response and file written during the run is searched for each of them.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

export interface IssuedSecret {
  readonly kind: 'access token' | 'token signature' | 'Graph password' | 'Key Vault secret value' | 'seeded secret';
  readonly value: string;
}

export interface SecretRecorder {
  /** Everything issued so far (live, deduplicated by value). */
  secrets(): IssuedSecret[];
  /** Adds a secret the emulator was seeded with (the operator's client secret), or a host key. */
  add(secret: IssuedSecret): void;
  stop(): void;
}

const MIN_LENGTH = 12;

/** Records the secrets in every answer of the servers listening on `ports` (the emulator's). */
export function recordIssuedSecrets(ports: ReadonlySet<number>): SecretRecorder {
  const found = new Map<string, IssuedSecret>();
  const add = (kind: IssuedSecret['kind'], value: unknown) => {
    if (typeof value !== 'string' || value.length < MIN_LENGTH || found.has(value)) return;
    found.set(value, { kind, value });
    // A JWT printed in part is still a leak of its signature.
    if (kind === 'access token') {
      const signature = value.split('.')[2];
      if (signature && signature.length >= MIN_LENGTH) found.set(signature, { kind: 'token signature', value: signature });
    }
  };
  const harvest = (path: string, text: string) => {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const b = body as Record<string, unknown>;
    add('access token', b['access_token']);
    add('Graph password', b['secretText']);
    // Key Vault: GET/PUT /secrets/{name}[/{version}] answer the value (lists and updates carry none).
    // A `<acr>-pull-usr` value is the application's client id: a name the API and the audit show on purpose.
    const secretName = /\/secrets\/([^/?]+)/i.exec(path)?.[1];
    if (secretName && !/-usr$/i.test(secretName)) add('Key Vault secret value', b['value']);
  };
  const onStart = (message: unknown) => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    if (!ports.has(request.socket.localPort ?? -1)) return;
    const chunks: Buffer[] = [];
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'),
      );
    };
    const write = response.write.bind(response) as (...args: unknown[]) => boolean;
    const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
    (response as unknown as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
      keep(args[0], args[1]);
      return write(...args);
    };
    (response as unknown as { end: (...a: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
      keep(args[0], args[1]);
      harvest(request.url ?? '', Buffer.concat(chunks).toString('utf8'));
      return end(...args);
    };
  };
  subscribe('http.server.request.start', onStart);
  return {
    secrets: () => [...found.values()],
    add: (secret) => add(secret.kind, secret.value),
    stop: () => unsubscribe('http.server.request.start', onStart),
  };
}

export interface Haystack {
  readonly place: 'log line' | 'audit row' | 'table row' | 'HTTP response' | 'file';
  readonly where: string;
  readonly text: string;
}

export interface Leak {
  readonly kind: IssuedSecret['kind'];
  readonly place: Haystack['place'];
  readonly where: string;
  /** The secret's first characters only: the report must not leak it again. */
  readonly hint: string;
}

/** Every place where a secret shows up. */
export function findLeaks(secrets: readonly IssuedSecret[], haystacks: Iterable<Haystack>): Leak[] {
  const leaks: Leak[] = [];
  for (const hay of haystacks) {
    for (const secret of secrets) {
      if (hay.text.includes(secret.value))
        leaks.push({ kind: secret.kind, place: hay.place, where: hay.where, hint: `${secret.value.slice(0, 4)}…` });
    }
  }
  return leaks;
}

/** Files under `roots` modified since `sinceMs` (skipping node_modules and .git), as haystacks. */
export function filesWrittenSince(roots: readonly string[], sinceMs: number, maxBytes = 20 * 2 ** 20): Haystack[] {
  const out: Haystack[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6) return;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry === 'node_modules' || entry === '.git') continue;
      const path = join(dir, entry);
      let stat;
      try {
        stat = statSync(path);
      } catch {
        continue;
      }
      if (stat.isDirectory()) walk(path, depth + 1);
      else if (stat.isFile() && stat.mtimeMs >= sinceMs && stat.size <= maxBytes) {
        try {
          out.push({ place: 'file', where: path, text: readFileSync(path, 'latin1') });
        } catch {
          // unreadable (another user's file in the temp directory): not ours
        }
      }
    }
  };
  for (const root of roots) walk(root, 0);
  return out;
}
