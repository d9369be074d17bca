/**
 * What a feature registers with the resources layer (src/resources/): the resource types it acts
 * on, and how it settles one resource as ARM has it now. The layer parses the event, reads the
 * resource once and hands it to every registered reconciler that handles its type; the sweep walks
 * the same registry. Features implement this and never import each other nor the layer; the
 * composition root (src/deps.ts) registers the ones the app has, tests register what they need.
 */
import type { AuditEntry } from './audit/auditLog.js';
import type { DecisionOptions } from './audit/decisionRecorder.js';
import type { ArmResource, ArmResources } from './azure/arm.js';
import type { RoleAssignmentInfo } from './azure/roleAssignments.js';

/** The features that register reconcilers, by name: ordering (`runsAfter`) and the sweep's claims use these. */
export const FEATURES = { access: 'access', workload: 'workload identity', credentials: 'pull credentials' } as const;
export type Feature = (typeof FEATURES)[keyof typeof FEATURES];

/** One resource as the layer read it from ARM for this run. */
export interface ReadResource {
  /** The resource id as parsed (ARM's casing where the event gave it). */
  readonly id: string;
  /** Its type, lower-cased (`microsoft.containerregistry/registries`). */
  readonly type: string;
  readonly name: string;
  /** ARM's answer to the one read; undefined: the resource does not exist (deleted). */
  readonly resource: ArmResource | undefined;
}

/** `dryRun`: plan only. `reads`: ARM reads shared by every feature for the length of one run (the resource itself is among them). */
export type ResourceRunOptions = DecisionOptions & { readonly reads: ArmResources };

/** What every feature's reconciliation returns: its decisions, in the order made (in a dry run, the would-be audit rows). */
export interface FeatureResult {
  readonly decisions: readonly AuditEntry[];
}

/** A resource-graph row the sweep read: what a feature needs to say whether it settles it. */
export interface SweptRow {
  readonly id: string;
  /** Lower-cased. */
  readonly type: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** How a feature takes part in the reconciliation sweep. */
export interface ReconcilerSweep {
  /** A KQL predicate over `resources`: the tagged rows this feature may want (OR-ed with the others'). */
  readonly where: string;
  /** Whether the sweep hands this row to the feature. */
  wants(row: SweptRow): boolean;
  /** Resources one of our role assignments points at that the feature settles (its scope, the consumer its description names). */
  pointedAt?(assignment: RoleAssignmentInfo): readonly string[];
  /** Resources the feature must settle whatever their tags say now (registries enrolled for pull credentials). */
  listKnown?(): Promise<readonly string[]>;
  /** Ours for `consumerId` at `scope` are gone for good: drop what the feature's own index remembers there. */
  forget?(consumerId: string, scope: string): Promise<void>;
}

export interface ResourceReconciler<R extends FeatureResult = FeatureResult> {
  /** The feature's name, for logs and ordering (`access`, `workload identity`, `pull credentials`). */
  readonly feature: Feature;
  /** Features whose reconciliation of the same resource must have finished, without a throw, before this one runs. */
  readonly runsAfter?: readonly Feature[];
  /** Whether it acts on resources of this type (lower-cased). */
  handles(type: string): boolean;
  /** Settles one resource from ARM's current state; throws only what redelivery can fix (or a bug). */
  reconcile(resource: ReadResource, options: ResourceRunOptions): Promise<R>;
  readonly sweep?: ReconcilerSweep;
}
