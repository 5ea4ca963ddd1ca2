/**
 * Errors the endpoint raises on purpose. Each fixes its `code` (see docs/errors.md); callers
 * match on the code, never on the message.
 */
import { SpeedwatchError } from '@speedwatch/shared';

/** One thing wrong with the options given to `startEndpoint`. */
export interface OptionProblem {
  /** The option's key, e.g. `maxMbps` or `tls.cert`. */
  readonly option: string;
  /** What the option must be, e.g. `an integer from 0 to 65535`. */
  readonly expected: string;
  /** A short description of the value received, e.g. `"abc"` or `-1`. */
  readonly got: string;
}

/** `startEndpoint` options are unusable; `problems` lists every one found, not only the first. */
export class EndpointOptionsError extends SpeedwatchError {
  readonly problems: readonly OptionProblem[];

  constructor(problems: readonly OptionProblem[]) {
    super(
      'SW_ENDPOINT_OPTIONS',
      `invalid endpoint options: ${problems.map((p) => `${p.option}: expected ${p.expected}, got ${p.got}`).join('; ')}`,
    );
    this.name = 'EndpointOptionsError';
    this.problems = Object.freeze([...problems]);
  }
}

/** The server could not bind its address (port in use, no permission, unknown host). */
export class EndpointListenError extends SpeedwatchError {
  constructor(host: string, port: number, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('SW_ENDPOINT_LISTEN', `cannot listen on ${host}:${port}: ${reason}`, { cause });
    this.name = 'EndpointListenError';
  }
}

/** The TLS certificate or key was rejected (not PEM, or the key does not match the certificate). */
export class EndpointTlsError extends SpeedwatchError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('SW_ENDPOINT_TLS', `cannot use the TLS certificate and key: ${reason}`, { cause });
    this.name = 'EndpointTlsError';
  }
}
