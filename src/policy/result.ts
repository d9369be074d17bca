/**
 * Bad input is a value, not a throw: every parser in `policy/` answers with a `Result`, whose
 * `error` is a sentence a platform engineer can act on.
 */
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** A successful result. */
export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

/** A failed result carrying a plain-words reason. */
export function fail<T = never>(error: string): Result<T> {
  return { ok: false, error };
}

/** Azure resource tags as ARM returns them; absent when the resource has none. */
export type Tags = Readonly<Record<string, string>> | undefined;

export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a GUID in the 8-4-4-4-12 form ARM uses. */
export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

/** A value as it should appear inside a message: quoted, and cut short if it is long. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(shown);
}
