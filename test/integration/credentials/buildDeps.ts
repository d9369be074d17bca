/**
 * Builds the credentials deps from app settings and the emulator's CA exactly as src/deps.ts
 * does in Azure: the real adapters, the app's managed identity (IDENTITY_ENDPOINT/HEADER in env).
 * Shared by the tests and the child process the kill test runs; no vitest imports here.
 */
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

export function buildDeps(env: Record<string, string>, caPem: string, options: { leaseSeconds?: number } = {}): BuiltDeps {
  const clientOptions = { tlsOptions: { ca: caPem } };
  const config = loadConfig(env);
  const credential = new ManagedIdentityCredential({ ...clientOptions });
  const audit = createTableAuditLog(createTableClient(config, credential, 'audit'));
  const armClient = createArmClient(config, credential, clientOptions);
  const resourceGraph = createResourceGraph(config, credential, { client: armClient });
  const arm = createArmResources(config, credential, { client: armClient });
  const roleAssignments = createRoleAssignments(config, credential, { clientOptions });
  const deps = createCredentialsDeps(config, credential, audit, {
    arm,
    roleAssignments,
    resourceGraph,
    clientOptions,
    ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
  });
  return { config, credential, audit, resourceGraph, deps };
}
