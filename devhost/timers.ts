/**
 * Timer triggers: NCRONTAB (six fields, seconds first) or a TimeSpan `hh:mm:ss`, with
 * `%SETTING%` references resolved from app settings as the Functions host does.
 * https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#ncrontab-expressions
 *
 * Schedules run in UTC, as on Azure, never in this machine's zone: "The default time zone used with
 * the CRON expressions is Coordinated Universal Time (UTC)", unless the app setting
 * `WEBSITE_TIME_ZONE` names another (MicrosoftDocs/azure-docs includes/functions-timezone.md).
 */
import { CronExpressionParser } from 'cron-parser';

/** The timer payload the host sends; `@azure/functions` camel-cases it into `Timer`. */
export interface TimerPayload {
  Schedule: { AdjustForDST: boolean };
  ScheduleStatus: { Last: string; Next: string; LastUpdated: string };
  IsPastDue: boolean;
}

/** A binding that names an app setting no one set: the Functions host puts that function in error. */
export class UnresolvedSettingError extends Error {
  constructor(readonly setting: string) {
    // The words of the WebJobs SDK's indexing error, so a search for the message finds the cause
    // (e.g. Azure/azure-functions-host#2165, microsoft/vscode-azurefunctions#5084).
    super(`'%${setting}%' does not resolve to a value.`);
    this.name = 'UnresolvedSettingError';
  }
}

/**
 * Replaces `%NAME%` with the app setting NAME, from app settings only: no default stands in for a
 * setting that is missing (Azure's host has none to offer). Throws `UnresolvedSettingError`.
 */
export function resolveSettingReferences(expression: string, env: Readonly<Record<string, string | undefined>>): string {
  return expression.replace(/%([^%]+)%/g, (_whole, name: string) => {
    const value = env[name];
    if (value === undefined || value.trim() === '') throw new UnresolvedSettingError(name);
    return value.trim();
  });
}

/** The app setting that moves timers off UTC. */
export const TIME_ZONE_SETTING = 'WEBSITE_TIME_ZONE';

/**
 * The zone timers run in: `WEBSITE_TIME_ZONE` when set (a tz database name, as Linux plans take),
 * else UTC. The machine's own zone (`TZ`, /etc/localtime) never counts. Throws on a name that is
 * not a tz database zone, e.g. a Windows name such as `Eastern Standard Time`.
 */
export function timerTimeZone(env: Readonly<Record<string, string | undefined>>): string {
  const zone = env[TIME_ZONE_SETTING]?.trim();
  if (!zone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new Error(
      `${TIME_ZONE_SETTING}: expected a tz database time zone, got ${JSON.stringify(zone)} (example: America/New_York; Windows names such as "Eastern Standard Time" work on Windows plans only).`,
    );
  }
  return zone;
}

/** A parsed schedule: gives the next occurrence strictly after `from`. */
export interface Schedule {
  readonly expression: string;
  next(from: Date): Date;
}

/** Parses NCRONTAB (six fields) or TimeSpan, NCRONTAB read in `timeZone` (default UTC); throws on anything else. */
export function parseSchedule(expression: string, timeZone = 'UTC'): Schedule {
  const timeSpan = /^(\d+):(\d{2}):(\d{2})$/.exec(expression);
  if (timeSpan) {
    const ms = ((Number(timeSpan[1]) * 60 + Number(timeSpan[2])) * 60 + Number(timeSpan[3])) * 1000;
    if (ms <= 0) throw new Error(`Timer schedule "${expression}" is a zero interval.`);
    return { expression, next: (from) => new Date(from.getTime() + ms) };
  }
  if (expression.trim().split(/\s+/).length !== 6) {
    throw new Error(`Timer schedule "${expression}" is not an NCRONTAB expression of six fields (second minute hour day month weekday).`);
  }
  CronExpressionParser.parse(expression, { tz: timeZone }); // throws on a malformed expression
  return {
    expression,
    // `tz` always given: without it cron-parser reads the expression in the machine's zone.
    next: (from) => CronExpressionParser.parse(expression, { currentDate: from, tz: timeZone }).next().toDate(),
  };
}

/** Longest single setTimeout Node allows; longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Fires `onTick` on every occurrence of `schedule` until stopped. */
export function startSchedule(
  schedule: Schedule,
  onTick: (payload: TimerPayload) => Promise<void>,
  runOnStartup: boolean,
): { stop(): void } {
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
