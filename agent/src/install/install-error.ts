import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** The registry's codes carried by InstallError (docs/errors.md, "Install"). */
export type InstallErrorCode = ErrorCodeCarriedBy<'InstallError'>;

/** `speedwatch-agent install-service` refused to start or a step failed; the message names the step, the path or the command. */
export class InstallError extends SpeedwatchError {
  declare readonly code: InstallErrorCode;

  constructor(code: InstallErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'InstallError';
  }
}
