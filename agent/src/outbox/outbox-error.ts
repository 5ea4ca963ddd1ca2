import { describeProblems, freezeProblems, SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy, Problem } from '@speedwatch/shared';

/** Codes the outbox raises: the registry's codes carried by OutboxError (docs/errors.md). */
export type OutboxErrorCode = ErrorCodeCarriedBy<'OutboxError' | 'OutboxOptionsError'>;

/** An error of the outbox; `code` says which, `cause` holds the file-system error when there is one. */
export class OutboxError extends SpeedwatchError {
  declare readonly code: OutboxErrorCode;

  constructor(code: OutboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'OutboxError';
  }
}

/** Outbox options, or an argument such as `pending(limit)`, out of range: `problems` lists every one with its key. */
export class OutboxOptionsError extends OutboxError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], heading = 'outbox options are not valid') {
    super('SW_OUTBOX_OPTIONS', describeProblems(heading, problems));
    this.name = 'OutboxOptionsError';
    this.problems = freezeProblems(problems);
  }
}
