/** A token bucket: `capacity` messages at once, refilled at `capacity` per `periodMs`. */
export class TokenBucket {
  readonly #capacity: number;
  readonly #perMs: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(capacity: number, periodMs: number, now: () => number) {
    this.#capacity = capacity;
    this.#perMs = capacity / periodMs;
    this.#now = now;
    this.#tokens = capacity;
    this.#at = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
