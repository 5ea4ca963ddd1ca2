import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** The registry's codes carried by EnrollError (docs/errors.md, "Enrollment"). */
export type EnrollErrorCode = ErrorCodeCarriedBy<'EnrollError'>;

/** `speedwatch-agent enroll` did not complete; the message names the URL, the file or the collector's words. */
export class EnrollError extends SpeedwatchError {
  declare readonly code: EnrollErrorCode;

  constructor(code: EnrollErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'EnrollError';
  }
}
