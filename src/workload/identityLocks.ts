/**
 * One writer at a time per user-assigned identity, within this process.
 *
 * Entra rejects concurrent federated-credential writes to one identity (409
 * `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`). The Functions host runs
 * several invocations at once in one process, so each identity gets a promise chain: a
 * reconciliation of an identity starts only when the previous one here has finished. This is an
 * optimisation only — runs of one instance queue here instead of polling the lease table; across
 * instances the lease in Table Storage (identityLeases.ts) is what serialises. Safe with several
 * instances: it holds nothing but promises of this process's own runs.
 */
import { resourceIdKey } from '../policy/resourceId.js';

export interface IdentityLocks {
  /** Runs `work` after every earlier `run` for the same identity has settled; answers what it answers. */
  run<T>(identityId: string, work: () => Promise<T>): Promise<T>;
}

/** The per-process lock table; one per app, built in deps.ts. */
export function createIdentityLocks(): IdentityLocks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(identityId: string, work: () => Promise<T>): Promise<T> {
      const key = resourceIdKey(identityId);
      const previous = tails.get(key) ?? Promise.resolve();
      const result = previous.then(work, work);
      // The tail never rejects, so one failed run does not poison the chain.
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
  };
}
