/**
 * Token buckets for the UDP reflector: one for the whole reflector and one per source address,
 * the latter in a map of bounded size (least recently seen address evicted first), so a flood
 * from many addresses costs bounded memory. Times are monotonic milliseconds, passed in.
 */

/** A token bucket: `ratePerSecond` tokens a second, holding at most `burst`; starts full. */
export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = nowMs;
  }

  /** Takes one token if there is one. */
  take(nowMs: number): boolean {
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, nowMs - this.#at) * this.#ratePerMs);
    this.#at = nowMs;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export interface SourceLimiterOptions {
  /** Packets a second each source address may send on average. */
  ratePerSecond: number;
  /** Packets a source may send at once after a pause. */
  burst: number;
  /** Addresses tracked at most; the least recently seen is forgotten first (it starts again with a full bucket). */
  maxSources: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** One token bucket per source address, in a bounded map. */
export class SourceLimiter {
  readonly #options: SourceLimiterOptions;
  readonly #ratePerMs: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: SourceLimiterOptions) {
    this.#options = options;
    this.#ratePerMs = options.ratePerSecond / 1000;
  }

  /** Whether `address` may send one more packet now (it is charged for it if so). */
  allow(address: string, nowMs: number): boolean {
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#options.maxSources) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
      bucket = { tokens: this.#options.burst, at: nowMs };
    } else {
      // Re-inserted below: the map's order is least recently seen first.
      this.#buckets.delete(address);
      bucket.tokens = Math.min(this.#options.burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * this.#ratePerMs);
      bucket.at = nowMs;
    }
    this.#buckets.set(address, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Addresses tracked now. */
  get size(): number {
    return this.#buckets.size;
  }
}
