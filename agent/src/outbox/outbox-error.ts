import { describeProblems, freezeProblems, SpeedwatchError } from '@speedwatch/shared';
import type { Problem } from '@speedwatch/shared';

/** Codes the outbox raises; each is documented in docs/errors.md. */
export const OUTBOX_ERROR_CODES = {
  SW_OUTBOX_OPTIONS: 'an outbox option is out of range',
  SW_OUTBOX_OPEN: 'the outbox directory or log could not be created, opened or read',
  SW_OUTBOX_VERSION: 'the outbox log was written by a newer format version',
  SW_OUTBOX_WRITE: 'a write or fsync of the outbox failed; the operation did not happen',
  SW_OUTBOX_CLOSED: 'the outbox is closed, or closed itself after a failed fsync',
  SW_OUTBOX_TOO_LARGE: 'one result is larger than the outbox can hold',
} as const;

export type OutboxErrorCode = keyof typeof OUTBOX_ERROR_CODES;

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
