/**
 * How short a pull password's lifetime may be. Pure: constants and checks, no I/O.
 *
 * Key Vault publishes `Microsoft.KeyVault.SecretNearExpiry` 30 days before a secret version
 * expires (https://learn.microsoft.com/azure/key-vault/general/event-grid-overview), and the app
 * rotates on that event. A version whose whole life is 30 days or less is "near expiry" the moment
 * it is written, so each new password would be rotated at once: a loop. And a rotation waits until
 * the previous password's grace period (ROTATION_GRACE_HOURS) is over, so the near-expiry event of
 * a new password must come after that grace ends. Hence the minimum:
 *   30 days (near-expiry window) + the grace period in whole days + 1 day of headroom.
 */

/** Days before expiry at which Key Vault announces SecretNearExpiry. */
export const KEY_VAULT_NEAR_EXPIRY_DAYS = 30;

/** The longest password lifetime Entra and the tag grammar accept here (two years). */
export const MAX_PERIOD_DAYS = 730;

/** The shortest rotation period, in days, that neither loops on near-expiry nor breaks the grace promise. */
export function minimumPeriodDays(graceHours: number): number {
  return KEY_VAULT_NEAR_EXPIRY_DAYS + Math.ceil(graceHours / 24) + 1;
}

/** Why a rotation period cannot be used (a sentence a person can act on), or undefined when it can. */
export function periodProblem(days: number, graceHours: number): string | undefined {
  const min = minimumPeriodDays(graceHours);
  if (!Number.isInteger(days) || days > MAX_PERIOD_DAYS) return `${days} is not a whole number of days from ${min} to ${MAX_PERIOD_DAYS}`;
  if (days >= min) return undefined;
  return (
    `a password lifetime of ${days} days is too short: Key Vault announces SecretNearExpiry ${KEY_VAULT_NEAR_EXPIRY_DAYS} days before a password expires, ` +
    `and a new password may replace the previous one only after ROTATION_GRACE_HOURS (${graceHours} h), so every new password would be rotated at once; ` +
    `use at least ${min} days`
  );
}
