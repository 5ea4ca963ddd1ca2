/**
 * Why a webhook POST failed. Logged with the webhook's redacted URL and shown in
 * /api/v1/alerts (`webhooks[].lastError`); callers match on `code` (docs/errors.md).
 */
import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** The registry's codes carried by WebhookError: SW_WEBHOOK_STATUS, SW_WEBHOOK_TIMEOUT, SW_WEBHOOK_NETWORK. */
export type WebhookErrorCode = ErrorCodeCarriedBy<'WebhookError'>;

export class WebhookError extends SpeedwatchError {
  declare readonly code: WebhookErrorCode;
  /** The HTTP status, for `SW_WEBHOOK_STATUS`. */
  readonly status?: number;
  /**
   * Worth another attempt in the same round: network errors, timeouts, 5xx, 408 and 429. A
   * 3xx or another 4xx waits for a later round (the receiver or the config has to change).
   */
  readonly retryable: boolean;

  constructor(code: WebhookErrorCode, message: string, options: { status?: number; retryable: boolean; cause?: unknown }) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WebhookError';
    if (options.status !== undefined) this.status = options.status;
    this.retryable = options.retryable;
  }
}
