/**
 * Structured logging through the invocation context: one JSON object per line, starting with
 * invocationId and functionName, then the correlation fields known for this invocation.
 */
export interface LogSink {
  readonly invocationId: string;
  readonly functionName: string;
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger that adds these fields to every line. */
  child(fields: Record<string, unknown>): Logger;
}

/** A logger bound to one invocation, with fields such as eventId and resourceId on every line. */
export function invocationLogger(context: LogSink, fields: Record<string, unknown> = {}): Logger {
  const base = { invocationId: context.invocationId, functionName: context.functionName, ...fields };
  const line = (level: string, message: string, extra?: Record<string, unknown>) =>
    JSON.stringify({ ...base, level, message, ...extra }, (_key, value) =>
      value instanceof Error ? { name: value.name, message: value.message, code: (value as { code?: unknown }).code } : value,
    );
  return {
    info: (message, extra) => context.log(line('info', message, extra)),
    warn: (message, extra) => context.warn(line('warning', message, extra)),
    error: (message, extra) => context.error(line('error', message, extra)),
    child: (more) => invocationLogger(context, { ...fields, ...more }),
  };
}
