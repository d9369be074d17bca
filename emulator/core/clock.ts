import type { Clock } from './contract.js';

/** Real time plus an offset that only moves forward (POST /admin/clock/advance). */
export class EmulatorClock implements Clock {
  private offsetMs = 0;
  private readonly listeners: Array<(now: Date) => void> = [];

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`clock can only move forward, got ${ms} ms`);
    this.offsetMs += ms;
    const now = this.now();
    for (const listener of this.listeners) {
      try {
        listener(now);
      } catch (error) {
        // A listener's bug must not stop time for the others.
        console.error('[emulator] clock listener failed:', error);
      }
    }
  }

  onAdvance(listener: (now: Date) => void): void {
    this.listeners.push(listener);
  }

  offset(): number {
    return this.offsetMs;
  }

  reset(): void {
    this.offsetMs = 0;
  }
}
