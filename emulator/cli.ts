import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startEmulator } from './index.js';

/** `npm run emulator -- [--port N] [--seed scenario.json]`: starts the emulator and prints its endpoints. */
const { values } = parseArgs({ options: { port: { type: 'string' }, seed: { type: 'string' } } });
const port = values.port === undefined ? 0 : Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port: expected an integer 0..65535, got "${values.port}"`);
  process.exit(2);
}
let scenario: Record<string, unknown> | undefined;
if (values.seed) {
  try {
    scenario = JSON.parse(await readFile(values.seed, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    console.error(`--seed ${values.seed}: ${error instanceof Error ? error.message : error}`);
    process.exit(2);
  }
}
const emulator = await startEmulator({ port, scenario });
const e = emulator.endpoints;
console.log(`✓ emulator   ${e.arm}  (ARM, Entra, Graph, Key Vault, Event Grid) started in ${emulator.startupMs} ms`);
console.log(`  login      ${e.login}/${e.tenantId}   tenant ${e.tenantId}`);
console.log(`  identity   ${e.identityEndpoint}   (header value: startEmulator().endpoints.identityHeader)`);
console.log(`  key vault  ${e.keyVault}   (${e.keyVaultName})`);
console.log(`  admin      ${e.admin}/state`);
console.log(`  CA         ${e.caCert}`);
console.log(
  `  operator   clientId ${e.operator.clientId} (its secret is generated per start and returned by startEmulator(); not printed)`,
);
console.log('  env for the function host (IDENTITY_HEADER not printed):');
for (const [k, v] of Object.entries(emulator.env())) if (k !== 'IDENTITY_HEADER') console.log(`    ${k}=${v}`);
const stop = async () => {
  await emulator.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
