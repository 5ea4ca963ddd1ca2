/**
 * Limits token guessing: each client address may fail authentication `maxFailures` times in a
 * burst, refilled at `maxFailures` per `periodMs`; past that its upgrades are refused with 429
 * before any token is looked at. A 256-bit token cannot be guessed anyway; this keeps a
 * guesser from costing the collector a hash and a database lookup per attempt, and makes the
 * attempt visible (rejected_total{reason="auth_rate_limited"}).
 *
 * Memory is bounded: at most `maxAddresses` addresses are tracked, the least recently failed
 * forgotten first. Behind a reverse proxy every agent shares the proxy's address: raise the
 * limit there or limit at the proxy.
 */
export interface AuthLimits {
  maxFailures: number;
  periodMs: number;
  maxAddresses: number;
}

export const AUTH_LIMIT_DEFAULTS: Readonly<AuthLimits> = Object.freeze({ maxFailures: 10, periodMs: 60_000, maxAddresses: 10_000 });

interface Bucket {
  tokens: number;
  at: number;
}

export class AuthFailureLimiter {
  readonly #limits: AuthLimits;
  readonly #now: () => number;
  /** Address → bucket, in order of last failure (Map iteration order), oldest first. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(limits: AuthLimits, now: () => number) {
    this.#limits = limits;
    this.#now = now;
  }

  #refilled(address: string): Bucket | undefined {
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) return undefined;
    const now = this.#now();
    const { maxFailures, periodMs } = this.#limits;
    bucket.tokens = Math.min(maxFailures, bucket.tokens + ((now - bucket.at) * maxFailures) / periodMs);
    bucket.at = now;
    if (bucket.tokens >= maxFailures) {
      this.#buckets.delete(address); // full again: nothing to remember
      return undefined;
    }
    return bucket;
  }

  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const bucket = this.#refilled(address);
    if (bucket === undefined || bucket.tokens >= 1) return 0;
    return Math.ceil(((1 - bucket.tokens) * this.#limits.periodMs) / this.#limits.maxFailures / 1000);
  }

  /** Records a failed attempt from `address`. */
  failed(address: string): void {
    const bucket = this.#refilled(address) ?? { tokens: this.#limits.maxFailures, at: this.#now() };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    this.#buckets.delete(address);
    this.#buckets.set(address, bucket);
    if (this.#buckets.size > this.#limits.maxAddresses) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }
}
