/**
 * The sweep's time budget (SWEEP_TIME_BUDGET_SECONDS) and its place in a pass that spans runs.
 *
 * A sweep walks each watched subscription in two phases (resources reconciled, then our
 * assignments' principals checked), each in a fixed order (the normalised resource id), so a
 * cursor — subscription, phase, last item started — says exactly what is done. Once the budget has
 * run out no new item starts; those in flight finish, and the cursor names the last one started, so
 * the next run (sweepProgress.ts keeps the cursor in Table Storage) starts after it. Items are
 * idempotent: a run cut short by a crash, whose cursor was never saved, is walked again, not lost.
 */
import type { SweepCursor, SweepPhase } from '../state/sweepProgress.js';

export const DEFAULT_SWEEP_TIME_BUDGET_SECONDS = 240;

/** How long the sweep's lease lasts: its budget, plus as long again (at least 5 minutes) for the items in flight and the summary. */
export function sweepLeaseMs(budgetSeconds: number): number {
  return budgetSeconds * 1000 + Math.max(budgetSeconds * 1000, 300_000);
}

/** Where one run of a pass is, and whether it may start more work. */
export class SweepBudget {
  /** Set once an item was not started for want of time: where the next run resumes. */
  private stop: { subscriptionId: string; phase: SweepPhase; after: string; left: number } | undefined;
  /** The last item started, per subscription and phase. */
  private last: { subscriptionId: string; phase: SweepPhase; after: string } | undefined;
  /** Items skipped because an earlier run of the pass did them. */
  skippedDone = 0;
  /** Whether this run started any item: each run starts at least one, so a pass always moves on. */
  private startedAny = false;

  constructor(
    readonly deadline: number,
    /** Where the pass stood when this run began (undefined: a new pass). */
    readonly resumeFrom: SweepCursor | undefined,
    readonly subscriptionOrder: readonly string[],
  ) {
    // A cursor in a subscription no longer watched cannot be placed: the pass starts over.
    if (resumeFrom && !subscriptionOrder.some((s) => s.toLowerCase() === resumeFrom.subscriptionId)) this.resumeFrom = undefined;
  }

  /** Whether the run stopped for want of time. */
  get stopped(): boolean {
    return this.stop !== undefined;
  }

  /** Whether time is up: no new item may start. */
  get exhausted(): boolean {
    return Date.now() >= this.deadline;
  }

  /** The cursor to save when the run stopped early, for the pass this run belongs to. */
  cursorFor(pass: { passId: string; passStartedAt: string; runs: number }): SweepCursor | undefined {
    return this.stop ? { ...pass, ...this.stop } : undefined;
  }

  /** Items of this subscription's phase still left when the run stopped (0 when it did not). */
  get left(): number {
    return this.stop?.left ?? 0;
  }

  /** Whether a whole subscription was done by an earlier run of the pass. */
  isSubscriptionDone(subscriptionId: string): boolean {
    if (!this.resumeFrom) return false;
    const at = this.subscriptionOrder.findIndex((s) => s.toLowerCase() === this.resumeFrom!.subscriptionId);
    const here = this.subscriptionOrder.findIndex((s) => s.toLowerCase() === subscriptionId.toLowerCase());
    return here < at;
  }

  /** The items of a phase this run still has to do: in order, those an earlier run of the pass did left out. */
  remaining<T>(subscriptionId: string, phase: SweepPhase, items: readonly T[], keyOf: (item: T) => string): T[] {
    const sorted = [...items].sort((a, b) => compare(keyOf(a), keyOf(b)));
    const from = this.resumeFrom;
    if (!from || from.subscriptionId !== subscriptionId.toLowerCase()) return sorted;
    if (phaseIndex(phase) < phaseIndex(from.phase)) {
      this.skippedDone += sorted.length;
      return [];
    }
    if (phase !== from.phase) return sorted;
    const rest = sorted.filter((item) => compare(keyOf(item), from.after) > 0);
    this.skippedDone += sorted.length - rest.length;
    return rest;
  }

  /**
   * Runs `fn` over `items` (already in order), at most `limit` at a time, starting none once the
   * budget is spent; a throw goes to `onError` and the others carry on.
   */
  async forEach<T>(
    subscriptionId: string,
    phase: SweepPhase,
    items: readonly T[],
    keyOf: (item: T) => string,
    limit: number,
    fn: (item: T) => Promise<void>,
    onError: (item: T, error: unknown) => Promise<void>,
  ): Promise<void> {
    let next = 0;
    const sub = subscriptionId.toLowerCase();
    const worker = async () => {
      while (next < items.length && !this.stop) {
        if (this.exhausted && this.startedAny) {
          // Everything before `next` has started; the cursor is the last of those (or the one before this phase).
          const after =
            next > 0 ? keyOf(items[next - 1] as T) : this.last?.subscriptionId === sub && this.last.phase === phase ? this.last.after : '';
          this.stop = { subscriptionId: sub, phase, after, left: items.length - next };
          return;
        }
        const item = items[next++] as T;
        this.startedAny = true;
        this.last = { subscriptionId: sub, phase, after: keyOf(item) };
        try {
          await fn(item);
        } catch (error) {
          await onError(item, error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  }
}

function phaseIndex(phase: SweepPhase): number {
  return phase === 'targets' ? 0 : 1;
}

/** Ordinal comparison: the same order on every instance, whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
