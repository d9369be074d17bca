import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { VAULT_DOMAIN } from './wellKnown.js';

export interface EmulatorTls {
  readonly key: string;
  readonly cert: string;
  /** The CA that signed `cert`: what clients trust. */
  readonly caCert: string;
  /** Where the CA PEM was written (for NODE_EXTRA_CA_CERTS). */
  readonly caCertPath: string;
  /** The directory holding the CA PEM and other generated files. */
  readonly dir: string;
}

/**
 * A throw-away CA and a server certificate it signs, for 127.0.0.1, localhost and the local
 * vaults' hosts. EC P-256 keys: generation takes milliseconds, not the second RSA can take.
 */
export async function createTls(dir?: string): Promise<EmulatorTls> {
  const outDir = dir ?? (await mkdtemp(join(tmpdir(), 'acr-emulator-')));
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600_000);
  const ca = await generate([{ name: 'commonName', value: 'acr-pull-automation emulator CA' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
          { type: 2, value: `*.${VAULT_DOMAIN}` },
        ],
      },
    ],
  });
  const caCertPath = join(outDir, 'emulator-ca.pem');
  await writeFile(caCertPath, ca.cert, { mode: 0o644 });
  return { key: server.private, cert: server.cert, caCert: ca.cert, caCertPath, dir: outDir };
}
