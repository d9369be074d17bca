/**
 * Timer triggers: NCRONTAB (six fields, seconds first) or a TimeSpan `hh:mm:ss`, with
 * `%SETTING%` references resolved from app settings as the Functions host does.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
 */
import { CronExpressionParser } from 'cron-parser';

/** The timer payload the host sends; `@azure/functions` camel-cases it into `Timer`. */
export interface TimerPayload {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string };
  IsPastDue: boolean;
}

/** Replaces `%NAME%` with the app setting NAME; throws naming the missing setting. */
export function resolveSettingReferences(expression: string, env: Readonly<Record<string, string | undefined>>): string {
  return expression.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const value = env[name];
    if (value === undefined || value.trim() === '') throw new Error(`Timer schedule refers to app setting ${name}, which is not set.`);
    return value.trim();
  });
}

/** A parsed schedule: gives the next occurrence strictly after `from`. */
export interface Schedule {
  readonly expression: string;
  next(from: Date): Date;
}

/** Parses NCRONTAB (six fields) or TimeSpan; throws on anything else. */
export function parseSchedule(expression: string): Schedule {
  const timeSpan = /^(\d+):(\d{2}):(\d{2})$/.exec(expression);
  if (timeSpan) {
    const ms = ((Number(timeSpan[1]) * 60 + Number(timeSpan[2])) * 60 + Number(timeSpan[3])) * 1000;
    if (ms <= 0) throw new Error(`Timer schedule "${expression}" is a zero interval.`);
    return { expression, next: (from) => new Date(from.getTime() + ms) };
  }
  if (expression.trim().split(/\s+/).length !== 6) {
    throw new Error(`Timer schedule "${expression}" is not an NCRONTAB expression of six fields (second minute hour day month weekday).`);
  }
  CronExpressionParser.parse(expression); // throws on a malformed expression
  return {
    expression,
    next: (from) => CronExpressionParser.parse(expression, { currentDate: from }).next().toDate(),
  };
}

/** Longest single setTimeout Node allows; longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Fires `onTick` on every occurrence of `schedule` until stopped. */
export function startSchedule(schedule: Schedule, onTick: (payload: TimerPayload) => Promise<void>, runOnStartup: boolean): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let last = new Date();
  const payload = (isPastDue: boolean, next: Date): TimerPayload => ({
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: last.toISOString(), Next: next.toISOString(), LastUpdated: new Date().toISOString() },
    IsPastDue: isPastDue,
  });
  const arm = (due: Date) => {
    if (stopped) return;
    const wait = Math.min(Math.max(due.getTime() - Date.now(), 0), MAX_TIMEOUT_MS);
    timer = setTimeout(() => {
      if (Date.now() < due.getTime()) return arm(due);
      const following = schedule.next(due);
      const late = Date.now() - due.getTime() > 1000;
      void onTick(payload(late, following)).finally(() => {
        last = due;
        arm(schedule.next(new Date(Math.max(Date.now(), due.getTime()))));
      });
    }, wait);
    timer.unref?.();
  };
  if (runOnStartup) void onTick(payload(false, schedule.next(new Date())));
  arm(schedule.next(new Date()));
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
