import type { ErrorCode } from './error-codes.js';

/**
 * Base class of every error speedwatch raises on purpose. Callers and tests match on `code`,
 * which is stable across releases; `message` is for people and may change. Codes come from
 * the registry (error-codes.ts), which docs/errors.md is generated from.
 */
export class SpeedwatchError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SpeedwatchError';
    this.code = code;
  }
}

/** A value from the network, a file, argv or env did not have the expected shape. */
export class ValidationError extends SpeedwatchError {
  declare readonly code: 'SW_VALIDATION';
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
  declare readonly code: 'SW_USAGE';
  constructor(message: string) {
    super('SW_USAGE', message);
    this.name = 'UsageError';
  }
}

/** One thing wrong with a config, a flag set or an options object. */
export interface Problem {
  /** The key path, e.g. `alerts.delivery.maxBackoff` or `verdicts.windows[1]`; `''` for the whole. */
  readonly path: string;
  /** For people; starts with the path when there is one (`port: expected …`). */
  readonly message: string;
}

/** A Problem at `path` whose message is `detail` after the path. */
export function problemAt(path: string, detail: string): Problem {
  return { path, message: path === '' ? detail : `${path}: ${detail}` };
}

/** `heading:` then one problem a line, each message as it is: the text of an options error. */
export function describeProblems(heading: string, problems: readonly Problem[]): string {
  return `${heading}:\n  - ${problems.map((p) => p.message).join('\n  - ')}`;
}

/** Plain frozen copies, so that an error's `problems` serialise and cannot change. */
export function freezeProblems(problems: readonly Problem[]): readonly Problem[] {
  return Object.freeze(problems.map((p) => Object.freeze({ path: p.path, message: p.message })));
}

/**
 * A config, flag set or options object that is not usable. `problems` lists every problem
 * found, each with its key path, not only the first. Each component fixes its own `code`
 * (SW_CONFIG, SW_AGENT_CONFIG, SW_ENDPOINT_OPTIONS, …) in a subclass.
 */
export class OptionsError extends SpeedwatchError {
  readonly problems: readonly Problem[];

  /** `heading` says what is not valid, e.g. `configuration is not valid`. */
  constructor(code: ErrorCode, heading: string, problems: readonly Problem[]) {
    super(code, describeProblems(heading, problems));
    this.name = 'OptionsError';
    this.problems = freezeProblems(problems);
  }
}
