/**
 * A virtual-clock pacer: bytes reserve consecutive slots on a timeline that runs at the
 * configured rate, and `reserve` says how long to wait before the reserved bytes may move.
 * Many connections share one pacer, so their sum, not each one, is held to the rate.
 *
 * After a pause the clock may lag `now` by at most `burstMs`: that much unused time can be
 * spent at once (it also absorbs timer lateness), and no more, so an idle server does not
 * bank a burst that would spoil the next measurement.
 */
import { BITS_PER_MBPS } from '@speedwatch/shared';

export interface PacerOptions {
  /** Payload rate in Mbps (10^6 bit/s). */
  mbps: number;
  /** Unused time, in milliseconds, that may be spent at once after a pause. Default 10. */
  burstMs?: number;
  /** A monotonic clock in milliseconds; default `performance.now`. */
  now?: () => number;
}

export class Pacer {
  readonly mbps: number;
  readonly #msPerByte: number;
  readonly #burstMs: number;
  readonly #now: () => number;
  /** The virtual time at which the last reserved byte finishes, ms on the `now` clock. */
  #nextFreeAt = Number.NEGATIVE_INFINITY;

  constructor(options: PacerOptions) {
    this.mbps = options.mbps;
    this.#msPerByte = (8 * 1000) / (options.mbps * BITS_PER_MBPS);
    this.#burstMs = options.burstMs ?? 10;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Reserves the next slot for `bytes` and returns the milliseconds to wait before they may
   * move (0 when they may move now). The caller must wait that long; the slot is taken either way.
   */
  reserve(bytes: number): number {
    const now = this.#now();
    const start = Math.max(this.#nextFreeAt, now - this.#burstMs);
    this.#nextFreeAt = start + bytes * this.#msPerByte;
    return start > now ? start - now : 0;
  }

  /** Bytes that move in `durationMs` at this rate, e.g. to size writes to a few milliseconds each. */
  bytesIn(durationMs: number): number {
    return durationMs / this.#msPerByte;
  }
}
