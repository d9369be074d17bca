/**
 * Who consents to a grant, in the words reasons use: the registry (pull, push) or the Key Vault.
 * Apart from consent.ts so a tag grammar can name its consent subject without importing the
 * consent evaluator (which reads every grammar's tag names).
 */

/** The resource that consents, in the words reasons use, and the tag it consents with. */
export interface ConsentSubject {
  /** `registry`, `Key Vault`. */
  readonly noun: string;
  readonly tag: string;
  /**
   * Set when a missing tag means no consent whatever `ACCESS_DEFAULT_CONSENT` says: the words the
   * reason gives for it.
   */
  readonly withoutDefault?: string;
  /** How reasons say what the rule allows: `allows` unless set (`allows push by`). */
  readonly allows?: string;
}

/** What a target without its consent tag consents to (`ACCESS_DEFAULT_CONSENT`): a closed set. */
export const CONSENT_DEFAULTS = ['none', 'same-resource-group', 'same-subscription', 'any'] as const;
export type ConsentDefault = (typeof CONSENT_DEFAULTS)[number];
