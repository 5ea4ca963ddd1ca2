/**
 * Why a webhook POST failed. Logged with the webhook's redacted URL and shown in
 * /api/v1/alerts (`webhooks[].lastError`); callers match on `code` (docs/errors.md).
 */
import { SpeedwatchError } from '@speedwatch/shared';

export type WebhookErrorCode =
  /** The receiver answered with a status other than 2xx. */
  | 'SW_WEBHOOK_STATUS'
  /** No complete answer within `alerts.delivery.timeout`. */
  | 'SW_WEBHOOK_TIMEOUT'
  /** The request failed before an answer: DNS, refused, reset, TLS. */
  | 'SW_WEBHOOK_NETWORK';

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
