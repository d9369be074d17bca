import dns from 'node:dns';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Names under `.localhost` are loopback (RFC 6761 §6.3), and browsers, curl and systemd-resolved
 * answer them so; glibc with a plain /etc/hosts does not, and neither does Node 20. Local vaults
 * need such names: `@azure/keyvault-secrets` requires the vault's host to be a sub-domain of the
 * challenge's resource (`<vault>.vault.localhost` under `https://vault.localhost`), the way
 * `<vault>.vault.azure.net` is under `https://vault.azure.net`. This resolves them, and only them,
 * to 127.0.0.1; every other name goes to the system resolver untouched.
 */
const SOURCE = `import dns from 'node:dns';
const original = dns.lookup;
if (!original.__loopbackLocalhost) {
  const patched = function lookup(hostname, options, callback) {
    if (typeof options === 'function') { callback = options; options = {}; }
    if (typeof hostname === 'string' && /\\.localhost\\.?$/i.test(hostname)) {
      const opts = typeof options === 'number' ? { family: options } : (options || {});
      if (opts.family === 6) return process.nextTick(callback, null, opts.all ? [{ address: '::1', family: 6 }] : '::1', 6);
      if (opts.all) return process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }]);
      return process.nextTick(callback, null, '127.0.0.1', 4);
    }
    return original.call(this, hostname, options, callback);
  };
  patched.__loopbackLocalhost = true;
  dns.lookup = patched;
}
`;

/** Installs the `.localhost` resolution in this process (idempotent). */
export function installLoopbackDns(): void {
  const original = dns.lookup as typeof dns.lookup & { __loopbackLocalhost?: boolean };
  if (original.__loopbackLocalhost) return;
  const patched = function lookup(this: unknown, hostname: string, options: unknown, callback?: unknown): void {
    if (typeof options === 'function') {
      callback = options;
      options = {};
    }
    const cb = callback as (...args: unknown[]) => void;
    if (typeof hostname === 'string' && /\.localhost\.?$/i.test(hostname)) {
      const opts = (typeof options === 'number' ? { family: options } : (options ?? {})) as { family?: number; all?: boolean };
      if (opts.family === 6) return void process.nextTick(cb, null, opts.all ? [{ address: '::1', family: 6 }] : '::1', 6);
      if (opts.all) return void process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
      return void process.nextTick(cb, null, '127.0.0.1', 4);
    }
    return (original as (...args: unknown[]) => void).call(this, hostname, options, cb);
  } as unknown as typeof dns.lookup & { __loopbackLocalhost?: boolean };
  patched.__loopbackLocalhost = true;
  dns.lookup = patched;
}

/** Writes the same resolver as a preload for child processes: `NODE_OPTIONS=--import=<url>`. */
export async function writeLoopbackDnsPreload(dir: string): Promise<string> {
  const file = join(dir, 'loopback-dns.mjs');
  await writeFile(file, SOURCE);
  return pathToFileURL(file).href;
}
