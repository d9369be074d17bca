/**
 * ARM reads shared by every feature for the length of one run: the resources layer reads the
 * resource once and each feature's further reads of it (and of anything else) are answered from
 * the same copy — within one event that is one ARM read (the budget), not one per feature.
 */
import type { ArmResource, ArmResources } from '../azure/arm.js';
import { resourceIdKey } from '../policy/resourceId.js';

/** Each resource is read once (unless a caller asks for an answer sent after it asked); a write through it drops the copy; a failed read is not shared. */
export function readOnce(arm: ArmResources): ArmResources {
  const reads = new Map<string, Promise<ArmResource | undefined>>();
  const keyOf = (id: string) => resourceIdKey(id);
  return {
    getResource(id, options) {
      const key = keyOf(id);
      let read = reads.get(key);
      // A caller that needs ARM's answer from after it asked (a consent re-read before a grant) is
      // never handed the copy read earlier; its fresh answer becomes the copy.
      if (!read || options?.sentAfterCall) {
        read = arm.getResource(id, options);
        // A failed read is not shared: the next caller asks ARM again.
        read.catch(() => reads.delete(key));
        reads.set(key, read);
      }
      return read;
    },
    async patchResource(id, body, options) {
      reads.delete(keyOf(id));
      return arm.patchResource(id, body, options);
    },
  };
}
