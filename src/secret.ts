import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret value (password, client secret) that prints as `[redacted]` everywhere —
 * string conversion, JSON, util.inspect — so it cannot leak into a log line, an audit row or
 * a response by accident. `.reveal()` is called only where the value goes to Azure.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The value itself: call only where it is handed to an Azure API. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}
