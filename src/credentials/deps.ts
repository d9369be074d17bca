/**
 * What the credentials use cases need, as plain interfaces, and the factory the composition
 * root (src/deps.ts) calls, with every endpoint taken from configuration.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { AuditLog, Trigger } from '../audit/auditLog.js';
import type { Config } from '../config.js';
import type { ArmResources, AzureClientOptions } from '../azure/arm.js';
import { createGraph, type GraphApplications } from '../azure/graph.js';
import { createVaultSecrets, type VaultSecrets } from '../azure/keyVault.js';
import { createPasswordProof, type PasswordProof } from '../azure/passwordProof.js';
import type { ResourceGraph } from '../azure/resourceGraph.js';
import type { RoleAssignments } from '../azure/roleAssignments.js';
import { createTableClient, type LazyTable } from '../azure/tables.js';
import type { Logger } from '../log.js';
import { createTableEnrolmentStore, ENROLMENT_TABLE_SUFFIX, type EnrolmentStore } from './enrolmentStore.js';
import type { Enrolment, RotationStep } from './enrolment.js';
import { findPasswordConsumers, type PasswordConsumer } from './passwordConsumers.js';

export type CredentialsConfig = Pick<
  Config,
  'rotationPeriodDays' | 'rotationGraceHours' | 'deleteApplicationOnUnenrol' | 'credentialsCallTimeoutSeconds' | 'rotationSchedule'
>;

export interface CredentialsDeps {
  readonly config: CredentialsConfig;
  readonly store: EnrolmentStore;
  readonly graph: GraphApplications;
  readonly vaults: VaultSecrets;
  readonly proof: PasswordProof;
  readonly arm: Pick<ArmResources, 'getResource'>;
  readonly roleAssignments: Pick<RoleAssignments, 'create' | 'delete' | 'listAtScope'>;
  readonly audit: AuditLog;
  readonly now: () => Date;
  /** How long a run holds an enrolment (CREDENTIALS_LEASE_SECONDS); a run that died loses it after this. */
  readonly leaseSeconds: number;
  /**
   * How long a run waits for one Key Vault, Graph or Entra call (CREDENTIALS_CALL_TIMEOUT_SECONDS),
   * well under the lease: a run that stalls gives up before another run may take its enrolment.
   */
  readonly callTimeoutMs: number;
  /**
   * The watched resources that use the pull application's password by value (issue 19.4), from
   * Resource Graph; absent where nothing can look (then nothing is listed).
   */
  readonly passwordConsumers?: (appId: string | undefined) => Promise<PasswordConsumer[]>;
}

/** Shared adapters the composition root already builds for access; built here when absent. */
export interface CredentialsDepsOptions {
  readonly arm: Pick<ArmResources, 'getResource'>;
  readonly roleAssignments: Pick<RoleAssignments, 'create' | 'delete' | 'listAtScope'>;
  readonly resourceGraph: ResourceGraph;
  readonly table?: LazyTable;
  /** SDK pipeline options, passed to every client (for example the TLS trust of a private endpoint). */
  readonly clientOptions?: AzureClientOptions;
  readonly now?: () => Date;
  readonly leaseSeconds?: number;
}

/** Builds the credentials dependencies from config, the app's credential and the shared adapters. */
export function createCredentialsDeps(
  config: Config,
  credential: TokenCredential,
  audit: AuditLog,
  options: CredentialsDepsOptions,
): CredentialsDeps {
  return {
    config,
    store: createTableEnrolmentStore(options.table ?? createTableClient(config, credential, ENROLMENT_TABLE_SUFFIX)),
    graph: createGraph(config, credential, { clientOptions: options.clientOptions }),
    vaults: createVaultSecrets(config, credential, { resourceGraph: options.resourceGraph, clientOptions: options.clientOptions }),
    proof: createPasswordProof(config, { clientOptions: options.clientOptions }),
    arm: options.arm,
    roleAssignments: options.roleAssignments,
    audit,
    now: options.now ?? (() => new Date()),
    leaseSeconds: options.leaseSeconds ?? config.credentialsLeaseSeconds,
    callTimeoutMs: config.credentialsCallTimeoutSeconds * 1000,
    passwordConsumers: (appId) => findPasswordConsumers(options.resourceGraph, appId, config.watchedSubscriptions),
  };
}

/** Options every credentials use case takes. */
export interface RunOptions {
  readonly log?: Logger;
  readonly trigger?: Trigger;
  /**
   * Called after each step boundary with the state just persisted. A throw here stops the run
   * exactly there, as a crash would: how tests inject faults without mocking Azure.
   */
  readonly afterStep?: (step: RotationStep, state: Enrolment) => void | Promise<void>;
}
