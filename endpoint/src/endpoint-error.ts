/**
 * Errors the endpoint raises on purpose. Each fixes its `code` (see docs/errors.md); callers
 * match on the code, never on the message.
 */
import { OptionsError, SpeedwatchError } from '@speedwatch/shared';
import type { Problem } from '@speedwatch/shared';

/**
 * `startEndpoint` options are unusable; `problems` lists every one found, not only the first,
 * each with the option's key path (`maxMbps`, `tls.cert`).
 */
export class EndpointOptionsError extends OptionsError {
  constructor(problems: readonly Problem[]) {
    super('SW_ENDPOINT_OPTIONS', 'endpoint options are not valid', problems);
    this.name = 'EndpointOptionsError';
  }
}

/** The server could not bind its address (port in use, no permission, unknown host), TCP or (the reflector) UDP. */
export class EndpointListenError extends SpeedwatchError {
  constructor(host: string, port: number, cause: unknown, transport: 'TCP' | 'UDP' = 'TCP') {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('SW_ENDPOINT_LISTEN', `cannot listen on ${host}:${port}${transport === 'UDP' ? ' (UDP)' : ''}: ${reason}`, { cause });
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
