/**
 * One error type with a stable code; subclasses say what happens next.
 * Codes are PascalCase and match Azure's where one exists.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from a user or an event: record it and stop; never retry. */
export class InvalidInputError extends AppError {}

/** Policy says no (registry consent, platform deny policy): record it and stop. */
export class PolicyDeniedError extends AppError {}

/** Something is not there yet (provisioning, replication): defer to redelivery or a bounded retry. */
export class NotReadyError extends AppError {}

/** Azure failed in a way that may pass (429 past the retry budget, 5xx): throw so the host retries. */
export class TransientAzureError extends AppError {}

/** A closed error code taken from any thrown value, for audit rows and problem types. */
export function errorCode(error: unknown): string {
  if (error instanceof AppError) return error.code;
  if (error && typeof error === 'object' && 'code' in error && typeof error.code === 'string') return error.code;
  return 'InternalError';
}
