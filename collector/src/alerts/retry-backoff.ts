/**
 * Delays between webhook attempts: exponential, capped, with "equal jitter" (half the delay
 * fixed, half random), so retries of many notifications spread out but never come back at
 * once. `random` is injected (a fake in tests).
 */

export interface BackoffOptions {
  /** Delay after the first failed attempt, ms. */
  backoffMs: number;
  /** Longest delay, ms. */
  maxBackoffMs: number;
}

/**
 * The delay after the `failures`-th failed attempt in a row (1 for the first), in whole ms:
 * with `base = min(maxBackoffMs, backoffMs × 2^(failures − 1))`, `base / 2 + random() × base / 2`
 * rounded. `random` returns a number in [0, 1), as Math.random.
 */
export function backoffDelayMs(failures: number, options: BackoffOptions, random: () => number): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 40); // 2^40 × any sane backoff is past any cap
  const base = Math.min(options.maxBackoffMs, options.backoffMs * 2 ** exponent);
  return Math.round(base / 2 + (base / 2) * random());
}
