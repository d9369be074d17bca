/**
 * The composition root: configuration loaded once, the credential and every adapter built once
 * per process (the Functions host reuses the process across invocations), handed to use cases as
 * a plain `Deps` object. `createDeps(config, credential, options)` builds the same object from
 * any configuration and credential.
 */
import type { TokenCredential } from '@azure/identity';
import type { AccessDeps } from './access/accessDeps.js';
import { createTableGrantIndex } from './assignments/grantIndex.js';
import { createRegistryDirectory } from './access/registries.js';
import type { AuditLog } from './audit/auditLog.js';
import { createTableAuditLog, createTableAuditRetention, type AuditRetention } from './audit/tableAuditLog.js';
import { createAcrTasks } from './azure/acrTasks.js';
import { createContainerApps } from './azure/containerApps.js';
import { createSiteConfigs } from './azure/siteConfig.js';
import { createArmClient, createArmResources, type AzureClientOptions } from './azure/arm.js';
import { createArmPacer, type ArmPacer } from './azure/armPacing.js';
import { createCredential } from './azure/credential.js';
import { createDeadLetters, type DeadLetters } from './azure/deadLetters.js';
import { createFederatedCredentials } from './azure/federatedCredentials.js';
import { createResourceGraph } from './azure/resourceGraph.js';
import { createRoleAssignments } from './azure/roleAssignments.js';
import { createTableClient } from './azure/tables.js';
import { loadConfig, type Config } from './config.js';
import { createCredentialsDeps, type CredentialsDeps } from './credentials/deps.js';
import { ENROLMENT_STATUSES } from './credentials/enrolment.js';
import { createCredentialsReconciler } from './credentials/registryReconciler.js';
import { listEnrolments } from './credentials/useCases.js';
import { createAccessReconciler } from './access/reconciler.js';
import type { ResourceReconciler } from './reconciler.js';
import { createWorkloadReconciler } from './workload/reconciler.js';
import { withDecisionMetrics } from './audit/decisionMetrics.js';
import { createTableSweepRecords, STATUS_TABLE_SUFFIX, type SweepRecords } from './state/sweepRecord.js';
import { createTableSweepProgress, type SweepProgress } from './state/sweepProgress.js';
import { createTableRegistryContinuations } from './state/unfinishedRegistries.js';
import { createTableIdentityLeases, IDENTITY_LEASE_TABLE_SUFFIX, type IdentityLeaseOptions } from './workload/identityLeases.js';
import { createIdentityLocks } from './workload/identityLocks.js';
import type { WorkloadDeps } from './workload/workloadDeps.js';

/** Table name suffixes (after TABLE_PREFIX) owned by the access feature and the audit trail. */
export const TABLE_SUFFIXES = { audit: 'audit', grants: 'grants', workloadGrants: 'workloadgrants' } as const;

/** Everything the use cases need. Other areas add their adapters here. */
export interface Deps extends AccessDeps, WorkloadDeps {
  readonly config: Config;
  readonly credential: TokenCredential;
  readonly audit: AuditLog;
  /** Pull credentials (enrolment and rotation), over the same ARM, Resource Graph and role-assignment adapters. */
  readonly credentials: CredentialsDeps;
  /** The last reconciliation sweep, for health and the status page. */
  readonly sweepRecords: SweepRecords;
  /** The sweep's lease and cursor: one sweep walks at a time, and one past its time budget is resumed by the next run. */
  readonly sweepProgress: SweepProgress;
  /** Deletes audit rows older than AUDIT_RETENTION_DAYS, by day partition. */
  readonly auditRetention: AuditRetention;
  /** Event Grid's dead-letter container; undefined when the settings name no blob endpoint (local). */
  readonly deadLetters?: DeadLetters;
  /** The features' reconcilers, in the order the resources layer hands a changed resource to them. */
  readonly reconcilers: readonly ResourceReconciler[];
}

export interface CreateDepsOptions {
  /** SDK pipeline options, passed to every client (for example the TLS trust of a private endpoint). */
  readonly clientOptions?: AzureClientOptions;
  readonly audit?: AuditLog;
  /** Timings of the per-identity lease of workload identity (tests shorten them). */
  readonly identityLease?: IdentityLeaseOptions;
  /** The ARM pacer every ARM client shares (default: a new one, so one per process through getDeps). */
  readonly armPacer?: ArmPacer;
}

/** Builds every adapter from config and credential. */
export function createDeps(config: Config, credential: TokenCredential, options: CreateDepsOptions = {}): Deps {
  // One pacer for every ARM client: they spend the same buckets (armPacing.ts).
  const armClientOptions = { ...options.clientOptions, armPacer: options.armPacer ?? createArmPacer() };
  const armClient = createArmClient(config, credential, armClientOptions);
  const arm = createArmResources(config, credential, { client: armClient, armPacer: armClientOptions.armPacer });
  const resourceGraph = createResourceGraph(config, credential, { client: armClient });
  const clientOptions = options.clientOptions ? { clientOptions: options.clientOptions } : {};
  const audit = options.audit ?? withDecisionMetrics(createTableAuditLog(createTableClient(config, credential, TABLE_SUFFIXES.audit)));
  const roleAssignments = createRoleAssignments(config, credential, { clientOptions: armClientOptions });
  const credentials = createCredentialsDeps(config, credential, audit, { arm, roleAssignments, resourceGraph, ...clientOptions });
  const features: Omit<Deps, 'reconcilers'> = {
    config,
    credential,
    audit,
    arm,
    resourceGraph,
    roleAssignments,
    credentials,
    sweepRecords: createTableSweepRecords(createTableClient(config, credential, STATUS_TABLE_SUFFIX)),
    sweepProgress: createTableSweepProgress(createTableClient(config, credential, STATUS_TABLE_SUFFIX)),
    registryContinuations: createTableRegistryContinuations(createTableClient(config, credential, STATUS_TABLE_SUFFIX)),
    auditRetention: createTableAuditRetention(createTableClient(config, credential, TABLE_SUFFIXES.audit)),
    ...(() => {
      const deadLetters = createDeadLetters(config, credential);
      return deadLetters ? { deadLetters } : {};
    })(),
    acrTasks: createAcrTasks(config, credential, { arm }),
    containerApps: createContainerApps(config, credential, { arm }),
    siteConfigs: createSiteConfigs(config, credential, { arm }),
    grantIndex: createTableGrantIndex(createTableClient(config, credential, TABLE_SUFFIXES.grants)),
    registries: createRegistryDirectory(resourceGraph, { subscriptions: config.watchedSubscriptions }),
    federatedCredentials: createFederatedCredentials(config, credential, { clientOptions: armClientOptions }),
    vaultGrantIndex: createTableGrantIndex(createTableClient(config, credential, TABLE_SUFFIXES.workloadGrants)),
    identityLocks: createIdentityLocks(),
    identityLeases: createTableIdentityLeases(createTableClient(config, credential, IDENTITY_LEASE_TABLE_SUFFIX), options.identityLease),
    listCredentialVaults: async () =>
      (await listEnrolments(credentials))
        .filter((e) => e.status !== ENROLMENT_STATUSES.unenrolled)
        .map((e) => ({ vaultName: e.vaultName, registryName: e.registryName })),
  };
  // The features this app has: registry access, then workload identity, then pull credentials (after access, for a registry).
  return {
    ...features,
    reconcilers: [createAccessReconciler(features), createWorkloadReconciler(features), createCredentialsReconciler(credentials)],
  };
}

let deps: Deps | undefined;

/** The process-wide dependencies, built on first use from the app settings. */
export function getDeps(): Deps {
  if (!deps) {
    const config = loadConfig(process.env);
    deps = createDeps(config, createCredential(config));
  }
  return deps;
}
