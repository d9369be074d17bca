/**
 * One writer at a time per user-assigned identity, within this process.
 *
 * Entra rejects concurrent federated-credential writes to one identity (409
 * `ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity`), and the cap of 20 must
 * be checked against what is there when we write. The Functions host runs several invocations
 * at once in one process, so each identity gets a promise chain: a reconciliation of an identity
 * starts only when the previous one has finished. Another instance racing us still gets the 409,
 * which the adapter turns into a NotReadyError (Event Grid redelivers).
 */
import { normalizeResourceId } from '../policy/resourceId.js';

export interface IdentityLocks {
  /** Runs `work` after every earlier `run` for the same identity has settled; answers what it answers. */
  run<T>(identityId: string, work: () => Promise<T>): Promise<T>;
}

/** The per-process lock table; one per app, built in deps.ts. */
export function createIdentityLocks(): IdentityLocks {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(identityId: string, work: () => Promise<T>): Promise<T> {
      const key = normalizeResourceId(identityId) ?? identityId.toLowerCase();
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
