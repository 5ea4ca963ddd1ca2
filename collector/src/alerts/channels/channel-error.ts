/**
 * Why a message to a channel read by people (e-mail, Telegram, Zalo, ntfy) was not accepted.
 * Logged with the channel's configured name and kept as the notification's `lastError`;
 * callers match on `code` (docs/errors.md). A message never holds a secret: the channels scrub
 * their tokens and passwords from whatever a library or a server says before it gets here.
 */
import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** SW_CHANNEL_AUTH, SW_CHANNEL_RATE_LIMITED, SW_CHANNEL_REFUSED, SW_CHANNEL_TIMEOUT, SW_CHANNEL_NETWORK. */
export type ChannelErrorCode = ErrorCodeCarriedBy<'ChannelError'>;

export class ChannelError extends SpeedwatchError {
  declare readonly code: ChannelErrorCode;
  /** Worth another attempt in the same round (network, timeout, rate limit, 5xx, SMTP 4xx). */
  readonly retryable: boolean;
  /** The wait the channel asked for before the next attempt (Telegram's `retry_after`), ms. */
  readonly retryAfterMs?: number;
  /** The HTTP status, or the SMTP reply code, when there was one. */
  readonly status?: number;

  constructor(code: ChannelErrorCode, message: string, options: { retryable: boolean; retryAfterMs?: number; status?: number; cause?: unknown }) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChannelError';
    this.retryable = options.retryable;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * `text` with every secret replaced by `…`, and every secret's URL-encoded form too (a token in
 * a path is encoded). Secrets shorter than 4 characters are left alone: they would blank out
 * ordinary words, and no real token is that short.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    out = out.replaceAll(secret, '…');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.replaceAll(encoded, '…');
  }
  return out;
}

/**
 * `err` with `secrets` scrubbed from its message and stack and those of its causes, changed in
 * place (the error is the caller's own): a ChannelError's cause is logged with it.
 */
export function scrubError(err: unknown, secrets: readonly string[]): unknown {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    for (const key of ['message', 'stack'] as const) {
      const text = e[key];
      const clean = typeof text === 'string' ? scrub(text, secrets) : text;
      if (clean !== text) Object.defineProperty(e, key, { value: clean, writable: true, configurable: true, enumerable: false });
    }
  }
  return err;
}
