/**
 * Base class of every error speedwatch raises on purpose. Callers and tests match on `code`,
 * which is stable across releases; `message` is for people and may change.
 * Every code is listed in docs/errors.md (a test checks this).
 */
export class SpeedwatchError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SpeedwatchError';
    this.code = code;
  }
}

/** A value from the network, a file, argv or env did not have the expected shape. */
export class ValidationError extends SpeedwatchError {
  /** Where the problem is, e.g. `download.samplesMbps[3]`; `''` for the value itself. */
  readonly path: string;
  /** What was expected there, e.g. `a number >= 0`. */
  readonly expected: string;

  /** `message` replaces the default `<path>: expected <expected>` where that reads badly. */
  constructor(path: string, expected: string, options?: { cause?: unknown; message?: string }) {
    super('SW_VALIDATION', `${path === '' ? 'value' : path}: ${options?.message ?? `expected ${expected}`}`, options);
    this.name = 'ValidationError';
    this.path = path;
    this.expected = expected;
  }
}

/** A command-line flag, or a combination of them, is not usable. */
export class UsageError extends SpeedwatchError {
  constructor(message: string) {
    super('SW_USAGE', message);
    this.name = 'UsageError';
  }
}
