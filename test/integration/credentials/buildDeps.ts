/**
 * Builds the credentials deps from app settings and the emulator's CA exactly as src/deps.ts
 * does in Azure: the real adapters, the app's managed identity (IDENTITY_ENDPOINT/HEADER in env).
 * Shared by the tests and the child process the kill test runs; no vitest imports here.
 */
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { createTableAuditLog } from '../../../src/audit/tableAuditLog.js';
import { createArmClient, createArmResources } from '../../../src/azure/arm.js';
import { createResourceGraph } from '../../../src/azure/resourceGraph.js';
import { createRoleAssignments } from '../../../src/azure/roleAssignments.js';
import { createTableClient } from '../../../src/azure/tables.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { createCredentialsDeps, type CredentialsDeps } from '../../../src/credentials/deps.js';
import type { AuditLog } from '../../../src/audit/auditLog.js';
import type { ResourceGraph } from '../../../src/azure/resourceGraph.js';

export interface BuiltDeps {
  readonly config: Config;
  readonly credential: TokenCredential;
  readonly audit: AuditLog;
  readonly resourceGraph: ResourceGraph;
  readonly deps: CredentialsDeps;
}

export function buildDeps(env: Record<string, string>, caPem: string, options: { leaseSeconds?: number; subscriptionId: string }): BuiltDeps {
  const clientOptions = { tlsOptions: { ca: caPem } };
  const config = loadConfig(env);
  const credential = graphAudience(new ManagedIdentityCredential({ ...clientOptions }), config.graphEndpoint);
  const audit = createTableAuditLog(createTableClient(config, credential, 'audit'));
  const armClient = createArmClient(config, credential, clientOptions);
  const resourceGraph = createResourceGraph(config, credential, { client: armClient });
  const arm = createArmResources(config, credential, { client: armClient });
  // The role-assignment SDK joins `/{scope}` with a scope that starts with '/', so the path starts
  // with '//'; ARM accepts that, the emulator's URL parsing reads it as a host. Until the emulator
  // is fixed, this pipeline step collapses the slashes. Reported to the emulator engineers.
  const authorizationClient = new AuthorizationManagementClient(credential, options.subscriptionId, {
    ...clientOptions,
    endpoint: config.armEndpoint,
    credentialScopes: [`${config.armEndpoint}/.default`],
  });
  authorizationClient.pipeline.addPolicy({
    name: 'collapseLeadingSlashes',
    sendRequest: (request, next) => {
      const url = new URL(request.url);
      url.pathname = url.pathname.replace(/^\/{2,}/, '/');
      request.url = url.toString();
      return next(request);
    },
  });
  const roleAssignments = createRoleAssignments(config, credential, { client: authorizationClient });
  const deps = createCredentialsDeps(config, credential, audit, {
    arm,
    roleAssignments,
    resourceGraph,
    clientOptions,
    ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
  });
  return { config, credential, audit, resourceGraph, deps };
}

/**
 * The emulated Graph accepts only the audience https://graph.microsoft.com, not its own URL (ARM
 * accepts both); until it does, Graph is reached as https://localhost:<port> and that audience is
 * asked for as Graph's. Reported to the emulator engineers.
 */
export function graphAudience(credential: TokenCredential, graphEndpoint: string): TokenCredential {
  const local = `${graphEndpoint}/.default`;
  return {
    getToken: (scopes, options) => {
      const mapped = (Array.isArray(scopes) ? scopes : [scopes]).map((s) => (s === local ? 'https://graph.microsoft.com/.default' : s));
      return credential.getToken(mapped, options);
    },
  };
}
