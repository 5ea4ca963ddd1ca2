/** Counters the endpoint keeps for `RunningEndpoint.stats()` and its logs. */
import type { UdpStats } from './udp/reflector.js';

/** Why a request or connection was refused; the keys of `stats().rejected`. */
export type RejectionReason =
  | 'bad-request'
  | 'not-found'
  | 'method-not-allowed'
  | 'body-too-large'
  | 'headers-too-large'
  | 'too-many-connections'
  | 'headers-timeout'
  | 'request-timeout'
  | 'idle-timeout'
  | 'tls-error';

export interface EndpointStats {
  /** Download payload bytes handed to sockets (bodies only). */
  sentBytes: number;
  /** Upload body bytes read. */
  receivedBytes: number;
  /** Refusals so far, by reason; reasons that never happened are absent. */
  rejected: Record<string, number>;
  /** The UDP reflector's counts (all zero when it is off). */
  udp: UdpStats;
}

export class StatsCounter {
  sentBytes = 0;
  receivedBytes = 0;
  readonly #rejected = new Map<RejectionReason, number>();

  reject(reason: RejectionReason): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
  }

  /** A copy, safe to keep. */
  snapshot(udp: UdpStats = { received: 0, reflected: 0, dropped: {}, sendErrors: 0 }): EndpointStats {
    return { sentBytes: this.sentBytes, receivedBytes: this.receivedBytes, rejected: Object.fromEntries(this.#rejected), udp };
  }
}
