/**
 * A secret read from a file or an environment variable the config names (an SMTP password, a
 * bot token, an access token). Its value is reached only through `reveal()`: logged, printed
 * or serialised (pino's JSON, `util.inspect`, a template string), a Secret shows where it came
 * from and never what it is.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;
  /** Where the value came from, for messages: `file /etc/speedwatch/telegram-token`, `env SPEEDWATCH_SMTP_PASSWORD`. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  /** The value, for the one place that sends it (a header, a URL path, SMTP AUTH). */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return `[secret from ${this.source}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
