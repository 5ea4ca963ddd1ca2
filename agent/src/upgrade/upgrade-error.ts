import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** The registry's codes carried by UpgradeError (docs/errors.md, "Upgrades"). */
export type UpgradeErrorCode = ErrorCodeCarriedBy<'UpgradeError'>;

/**
 * An upgrade did not happen, or was undone: the download, the check of what was announced, the
 * package, the install in the data dir, or the new version's trial. The message names the URL,
 * the file or the figure that did not match.
 */
export class UpgradeError extends SpeedwatchError {
  declare readonly code: UpgradeErrorCode;
  /** For a busy collector (HTTP 503 or 429): how long it asked to wait, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** The HTTP status of a refused download. */
  readonly httpStatus: number | undefined;

  constructor(code: UpgradeErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number; httpStatus?: number }) {
    super(code, message, options);
    this.name = 'UpgradeError';
    this.retryAfterMs = options?.retryAfterMs;
    this.httpStatus = options?.httpStatus;
  }
}
