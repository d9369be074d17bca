/** How often an NCRONTAB schedule fires, for telling a stale timer from a late one. */
import { CronExpressionParser } from 'cron-parser';

/** The gap between the schedule's next two occurrences, in milliseconds (a day when it cannot be read). */
export function scheduleIntervalMs(ncrontab: string, from: Date = new Date()): number {
  try {
    const next = CronExpressionParser.parse(ncrontab, { currentDate: from });
    const a = next.next().getTime();
    const b = next.next().getTime();
    return Math.max(b - a, 60_000);
  } catch {
    return 86_400_000;
  }
}

/** The schedule's first occurrence strictly after `after` (undefined when it cannot be read). */
export function nextOccurrence(ncrontab: string, after: Date): Date | undefined {
  try {
    return CronExpressionParser.parse(ncrontab, { currentDate: after }).next().toDate();
  } catch {
    return undefined;
  }
}
