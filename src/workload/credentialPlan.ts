/**
 * The pure planner for one identity's federated identity credentials: what is wanted (one per
 * cluster with an OIDC issuer and service account), what exists, and Entra's cap of 20 per
 * identity → what to create, update, delete, leave, and what does not fit.
 *
 * Deletes come first when applied (they free slots); only credentials whose name carries our
 * prefix are ever deleted. Entra requires issuer + subject to be unique on an identity, so a
 * credential made by hand that already trusts the same issuer and subject counts as present.
 */
import { FEDERATED_CREDENTIAL_LIMIT, isOwnedCredentialName, WORKLOAD_AUDIENCE } from '../policy/workloadTags.js';

/** A federated identity credential as the adapter reads it. */
export interface FederatedCredential {
  readonly name: string;
  readonly issuer: string;
  readonly subject: string;
  readonly audiences: readonly string[];
}

/** One credential the tags ask for. */
export interface WantedCredential extends FederatedCredential {
  readonly clusterId: string;
  readonly clusterName: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface CredentialPlanInput {
  readonly identityName: string;
  /** In the order the tags name them: earlier ones get the free slots first. */
  readonly wanted: readonly WantedCredential[];
  readonly existing: readonly FederatedCredential[];
  /** False when part of what is wanted could not be worked out (bad tag item, ambiguous cluster): delete nothing. */
  readonly allowDeletes: boolean;
  /**
   * Why the identity may not be federated at all (federationEligibility.ts), when it may not: then
   * nothing is created or updated and every credential of ours is deleted, however the tags read.
   */
  readonly ineligible?: string;
  readonly limit?: number;
}

export interface CredentialPlan {
  readonly creates: readonly { readonly credential: WantedCredential; readonly reason: string }[];
  readonly updates: readonly { readonly credential: WantedCredential; readonly previous: FederatedCredential; readonly reason: string }[];
  readonly unchanged: readonly {
    readonly credential: WantedCredential;
    readonly existingName: string;
    readonly owned: boolean;
    readonly reason: string;
  }[];
  readonly deletes: readonly { readonly credential: FederatedCredential; readonly reason: string }[];
  /** Ours that are not wanted but kept because deletes are not allowed this time. */
  readonly kept: readonly { readonly credential: FederatedCredential; readonly reason: string }[];
  /** Wanted, but past the cap: not written. */
  readonly overLimit: readonly { readonly credential: WantedCredential; readonly reason: string }[];
  /** How many credentials the identity holds once the plan is applied. */
  readonly countAfter: number;
  readonly limit: number;
}

/** Plans one identity's federated credentials; never more than `limit` (20) in total. */
export function planFederatedCredentials(input: CredentialPlanInput): CredentialPlan {
  const limit = input.limit ?? FEDERATED_CREDENTIAL_LIMIT;
  const byName = new Map(input.existing.map((c) => [c.name.toLowerCase(), c]));
  const wantedNames = new Set(input.wanted.map((w) => w.name.toLowerCase()));
  const what = (w: WantedCredential) => `${w.namespace}/${w.serviceAccount} on cluster ${w.clusterName}`;

  const creates: CredentialPlan['creates'][number][] = [];
  const updates: CredentialPlan['updates'][number][] = [];
  const unchanged: CredentialPlan['unchanged'][number][] = [];
  const deletes: CredentialPlan['deletes'][number][] = [];
  const kept: CredentialPlan['kept'][number][] = [];
  const overLimit: CredentialPlan['overLimit'][number][] = [];

  if (input.ineligible !== undefined) {
    for (const c of input.existing.filter((x) => isOwnedCredentialName(x.name))) {
      deletes.push({ credential: c, reason: `${c.name} (${c.subject}) is deleted: ${input.ineligible}` });
    }
    return { creates, updates, unchanged, deletes, kept, overLimit, countAfter: input.existing.length - deletes.length, limit };
  }

  for (const c of input.existing) {
    if (!isOwnedCredentialName(c.name) || wantedNames.has(c.name.toLowerCase())) continue;
    if (input.allowDeletes)
      deletes.push({
        credential: c,
        reason: `${c.name} (${c.subject}) is no longer asked for by the workload tags on ${input.identityName}`,
      });
    else
      kept.push({
        credential: c,
        reason: `${c.name} is not asked for, but kept: the workload tags on ${input.identityName} could not be fully read this time`,
      });
  }

  let count = input.existing.length - deletes.length;
  for (const w of input.wanted) {
    const current = byName.get(w.name.toLowerCase());
    if (current) {
      if (sameCredential(current, w))
        unchanged.push({
          credential: w,
          existingName: current.name,
          owned: true,
          reason: `federated credential for ${what(w)} is in place`,
        });
      else updates.push({ credential: w, previous: current, reason: updateReason(current, w, what(w)) });
      continue;
    }
    const byHand = input.existing.find((c) => !isOwnedCredentialName(c.name) && c.issuer === w.issuer && c.subject === w.subject);
    if (byHand) {
      unchanged.push({
        credential: w,
        existingName: byHand.name,
        owned: false,
        reason: `${what(w)} is already trusted by credential ${byHand.name}, made outside the automation; left as it is`,
      });
      continue;
    }
    if (count >= limit) {
      overLimit.push({
        credential: w,
        reason: `not created: ${input.identityName} would hold more than Entra's ${limit} federated credentials per identity (${count} after this run's changes); remove a subject or cluster, or use another identity`,
      });
      continue;
    }
    count += 1;
    creates.push({ credential: w, reason: `${what(w)} trusts issuer ${w.issuer}` });
  }
  return { creates, updates, unchanged, deletes, kept, overLimit, countAfter: count, limit };
}

/** Whether an existing credential already says what is wanted (issuer exactly, subject, audiences). */
export function sameCredential(a: FederatedCredential, b: FederatedCredential): boolean {
  return (
    a.issuer === b.issuer &&
    a.subject === b.subject &&
    a.audiences.length === b.audiences.length &&
    a.audiences.every((x, i) => x === b.audiences[i])
  );
}

function updateReason(previous: FederatedCredential, wanted: WantedCredential, what: string): string {
  if (previous.issuer !== wanted.issuer)
    return `cluster ${wanted.clusterName}'s OIDC issuer changed from ${previous.issuer} to ${wanted.issuer}; credential for ${what} updated`;
  if (previous.subject !== wanted.subject) return `credential for ${what} had subject ${previous.subject}; set to ${wanted.subject}`;
  return `credential for ${what} had audiences ${previous.audiences.join(',')}; set to ${WORKLOAD_AUDIENCE}`;
}
