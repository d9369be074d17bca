/**
 * `npm run conformance`: the Azure CLI (`az`, Debian's `azure-cli` package) against the emulator
 * (issue 21). A real client the emulator was not written against: it registers the emulator as a
 * cloud from its metadata endpoint, signs in as the operator, and runs the commands a platform
 * engineer runs before and around the product — each check says which issue-21 item it covers.
 * Prints one line per check and "N passed, N failed"; exits 1 on any failure, 2 when `az` is missing.
 *
 * How az reaches the emulator:
 * - `az cloud register --endpoint-resource-manager` reads `/metadata/endpoints?api-version=2015-01-01`;
 * - the cloud's Active Directory endpoint is `<emulator>/adfs`: MSAL (so the CLI) runs instance discovery
 *   against login.microsoftonline.com for any other authority, which a machine without Azure cannot
 *   reach; an AD FS authority (as Azure Stack Hub clouds have) skips it, and the emulator answers `adfs`
 *   as its tenant;
 * - `REQUESTS_CA_BUNDLE` is the emulator's CA (nothing turns TLS verification off);
 * - Microsoft Graph's resource id is written to the cloud's config, which azure-cli 2.45 has no flag for.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../emulator/index.js';

interface Check {
  readonly item: string;
  readonly what: string;
  readonly args: string[];
  /** Passes when this answers true for the exit code and output. */
  readonly expect: (r: { status: number; stdout: string; stderr: string }) => boolean;
}

const version = spawnSync('az', ['version', '-o', 'tsv'], { encoding: 'utf8' });
if (version.error || version.status !== 0) {
  console.error('conformance: the Azure CLI is not installed (Debian: apt-get install azure-cli).');
  process.exit(2);
}

const emulator = await startEmulator();
const e = emulator.endpoints;
const configDir = mkdtempSync(join(tmpdir(), 'az-conformance-'));
const env = {
  ...process.env,
  AZURE_CONFIG_DIR: configDir,
  REQUESTS_CA_BUNDLE: e.caCert,
  AZURE_CORE_COLLECT_TELEMETRY: 'false',
  AZURE_CORE_NO_COLOR: 'true',
};
/** One az command, asynchronously: the emulator answers from this same process's event loop. */
const az = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn('az', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
const must = async (args: string[]) => {
  const r = await az(args);
  // Never print the operator's secret (`az login -p`).
  const shown = args.map((a) => (a === e.operator.clientSecret ? '[redacted]' : a)).join(' ');
  if (r.status !== 0)
    throw new Error(
      `az ${shown} failed: ${r.stderr.trim().split('\n').slice(-3).join(' ').split(e.operator.clientSecret).join('[redacted]')}`,
    );
  return r.stdout.trim();
};

let passed = 0;
let failed = 0;
try {
  await must(['cloud', 'register', '-n', 'Emulator', '--endpoint-resource-manager', `${e.arm}/`]);
  await must(['cloud', 'update', '-n', 'Emulator', '--endpoint-active-directory', `${e.login}/adfs`]);
  await must(['cloud', 'update', '-n', 'Emulator', '--suffix-keyvault-dns', '.vault.localhost']);
  await must(['cloud', 'update', '-n', 'Emulator', '--suffix-acr-login-server-endpoint', '.azurecr.io']);
  appendFileSync(join(configDir, 'clouds.config'), `endpoint_microsoft_graph_resource_id = ${e.graph}/\n`);
  await must(['cloud', 'set', '-n', 'Emulator']);
  await must([
    'login',
    '--service-principal',
    '-u',
    e.operator.clientId,
    '-p',
    e.operator.clientSecret,
    '--tenant',
    e.tenantId,
    '-o',
    'none',
  ]);

  const rg = `rg-conformance-${randomUUID().slice(0, 6)}`;
  const acr = `conformance${randomUUID().slice(0, 6)}`;
  const template = join(configDir, 'template.json');
  writeFileSync(
    template,
    JSON.stringify({
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      resources: [],
    }),
  );
  const checks: Check[] = [
    {
      item: '9',
      what: 'az login found the subscription (GET /subscriptions)',
      args: ['account', 'show', '--query', 'id', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === e.subscriptionId,
    },
    {
      item: '9',
      what: 'az group exists answers true (HEAD 204)',
      args: ['group', 'exists', '-n', 'demo-rg'],
      expect: (r) => r.stdout.trim() === 'true',
    },
    {
      item: '9',
      what: 'az group exists answers false (HEAD 404)',
      args: ['group', 'exists', '-n', 'no-such-rg'],
      expect: (r) => r.stdout.trim() === 'false',
    },
    {
      item: '10',
      what: 'az group create answers the id in Azure casing',
      args: ['group', 'create', '-n', rg, '-l', 'westeurope', '--tags', 'conformance=yes', '--query', 'id', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === `/subscriptions/${e.subscriptionId}/resourceGroups/${rg}`,
    },
    {
      item: '9',
      what: 'az provider show lists registries api-versions',
      args: [
        'provider',
        'show',
        '-n',
        'Microsoft.ContainerRegistry',
        '--query',
        "resourceTypes[?resourceType=='registries'].apiVersions[] | contains(@, '2025-11-01')",
      ],
      expect: (r) => r.stdout.trim() === 'true',
    },
    {
      item: '9',
      what: 'az tag list counts the new tag',
      args: ['tag', 'list', '--query', "[?tagName=='conformance'].count.value | [0]", '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === '1',
    },
    {
      item: '8',
      what: 'az acr create',
      args: ['acr', 'create', '-n', acr, '-g', rg, '--sku', 'Basic', '-o', 'none'],
      expect: (r) => r.status === 0,
    },
    {
      item: '8',
      what: 'az acr show -n finds the registry without a resource group',
      args: ['acr', 'show', '-n', acr, '--query', 'loginServer', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === `${acr}.azurecr.io`,
    },
    {
      item: '8',
      what: 'az keyvault show -n finds the vault without a resource group',
      args: ['keyvault', 'show', '-n', 'demo-vault', '--query', 'name', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === 'demo-vault',
    },
    {
      item: '8',
      what: 'az resource list filters by type',
      args: ['resource', 'list', '--resource-type', 'Microsoft.ContainerRegistry/registries', '--query', '[].name', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === acr,
    },
    {
      item: '11',
      what: 'az ad sp show --id <appId> (servicePrincipalNames/any)',
      args: ['ad', 'sp', 'show', '--id', e.operator.clientId, '--query', 'id', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === e.operator.objectId,
    },
    {
      item: '11',
      what: 'az ad sp list --display-name (startswith)',
      args: ['ad', 'sp', 'list', '--display-name', 'emulator-op', '--query', '[].id', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === e.operator.objectId,
    },
    {
      item: '11',
      what: 'az identity create',
      args: ['identity', 'create', '-n', 'conformance-id', '-g', rg, '-o', 'none'],
      expect: (r) => r.status === 0,
    },
    {
      item: '11',
      what: "az ad sp show --id <a managed identity's client id>",
      args: ['ad', 'sp', 'show', '--id', '@clientId', '--query', 'servicePrincipalType', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === 'ManagedIdentity',
    },
    {
      item: '11',
      what: 'az ad app list --display-name (startswith on applications)',
      args: ['ad', 'app', 'list', '--display-name', 'emulator-op', '--query', '[].appId', '-o', 'tsv'],
      expect: (r) => r.stdout.trim() === e.operator.clientId,
    },
    {
      item: '8',
      what: 'az identity federated-credential create',
      args: [
        'identity',
        'federated-credential',
        'create',
        '--name',
        'conformance-fic',
        '--identity-name',
        'conformance-id',
        '-g',
        rg,
        '--issuer',
        'https://oidc.conformance.example/issuer/',
        '--subject',
        'system:serviceaccount:default:x',
        '--audiences',
        'api://AzureADTokenExchange',
        '-o',
        'none',
      ],
      expect: (r) => r.status === 0,
    },
    {
      item: '8',
      what: 'az identity federated-credential list',
      args: [
        'identity',
        'federated-credential',
        'list',
        '--identity-name',
        'conformance-id',
        '-g',
        rg,
        '--query',
        '[].subject',
        '-o',
        'tsv',
      ],
      expect: (r) => r.stdout.trim() === 'system:serviceaccount:default:x',
    },
    {
      item: '9',
      what: 'az tag update merges a tag onto a resource',
      args: [
        'tag',
        'update',
        '--resource-id',
        `/subscriptions/${e.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/registries/${acr}`,
        '--operation',
        'Merge',
        '--tags',
        'acr-pull-allow=none',
        '--query',
        'properties.tags."acr-pull-allow"',
        '-o',
        'tsv',
      ],
      expect: (r) => r.stdout.trim() === 'none',
    },
    {
      item: '10',
      what: 'az rest: a lower-case resourcegroups path answers the id in Azure casing',
      args: [
        'rest',
        '--method',
        'get',
        '--url',
        `/subscriptions/${e.subscriptionId}/resourcegroups/${rg}?api-version=2021-04-01`,
        '--query',
        'id',
        '-o',
        'tsv',
      ],
      expect: (r) => r.stdout.trim() === `/subscriptions/${e.subscriptionId}/resourceGroups/${rg}`,
    },
    {
      item: '12',
      what: 'az deployment group validate gets the documented refusal',
      args: ['deployment', 'group', 'validate', '-g', rg, '--template-file', template],
      expect: (r) => r.status !== 0 && r.stderr.includes('DeploymentNotSupportedByEmulator'),
    },
  ];
  for (const c of checks) {
    // `@clientId`: the client id of the identity an earlier check created.
    const clientId = c.args.includes('@clientId')
      ? (await az(['identity', 'show', '-n', 'conformance-id', '-g', rg, '--query', 'clientId', '-o', 'tsv'])).stdout.trim()
      : '';
    const args = c.args.map((a) => (a === '@clientId' ? clientId : a));
    const r = await az(args);
    const ok = c.expect(r);
    if (ok) passed++;
    else failed++;
    console.log(
      `${ok ? '✓' : '✗'} [item ${c.item}] ${c.what}${ok ? '' : `\n    az ${args.join(' ')} → exit ${r.status}\n    ${(r.stdout + r.stderr).trim().split('\n').slice(-4).join('\n    ')}`}`,
    );
  }
} catch (error) {
  failed++;
  console.log(`✗ setup: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await emulator.stop();
  rmSync(configDir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
