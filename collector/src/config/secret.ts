/**
 * A secret read from a file or an environment variable the config names (an SMTP password, a
 * bot token, an access token, the PostgreSQL password, the API tokens), and the one reader of
 * such files and variables. A Secret's value is reached only through `reveal()`: logged, printed
 * or serialised (pino's JSON, `util.inspect`, a template string), a Secret shows where it came
 * from and never what it is. A secret that cannot be read is a problem at its config key, for the
 * caller's ConfigError; the problem names the file or variable, never the value.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import type { Problem } from '@speedwatch/shared';
import { problemAt } from '@speedwatch/shared';

/** Where a secret comes from: a file (its content, trimmed) or an environment variable. */
export type SecretRef = { file: string } | { env: string };

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

export interface SecretFileOptions {
  /** Fewer characters than this is a problem ("holds fewer than N characters"); default 1 ("is empty"). */
  minLength?: number;
  /** Keep spaces at either end and drop only a final newline (a password may start or end with a space); default: trimmed. */
  keepSpaces?: boolean;
}

/**
 * The content of the secret file `file`, or undefined when it cannot be read. A problem at `key`
 * (`readTokenFile`, `store.passwordFile`) when it cannot be read or is shorter than
 * `minLength`; a content too short is still returned, for the caller's other checks.
 */
export function readSecretFile(file: string, key: string, problems: Problem[], options: SecretFileOptions = {}): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(problemAt(key, `cannot read ${file} (${(err as { code?: string }).code ?? String(err)})`));
    return undefined;
  }
  text = options.keepSpaces === true ? text.replace(/\r?\n$/, '') : text.trim();
  const minLength = options.minLength ?? 1;
  if (text.length < minLength) problems.push(problemAt(key, minLength === 1 ? `${file} is empty` : `${file} holds fewer than ${minLength} characters`));
  return text;
}

/**
 * The secret `ref` names, trimmed, read from `env` or the file; undefined, with a problem at
 * `${key}.env` or `${key}.file`, when the variable is unset or empty or the file cannot be read or is empty.
 */
export function readSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv, problems: Problem[]): Secret | undefined {
  if ('env' in ref) {
    const value = env[ref.env]?.trim() ?? '';
    if (value === '') {
      problems.push(problemAt(`${key}.env`, `the environment variable ${ref.env} is not set or is empty`));
      return undefined;
    }
    return new Secret(value, `env ${ref.env}`);
  }
  const value = readSecretFile(ref.file, `${key}.file`, problems);
  return value === undefined || value === '' ? undefined : new Secret(value, `file ${ref.file}`);
}
