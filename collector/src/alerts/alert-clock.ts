/**
 * Time for the alerts: the wall clock and a cancellable sleep (between webhook retries).
 * Injected, so tests run `for` durations and backoff on a fake clock.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface AlertClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects (AbortError) when `signal` aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const SYSTEM_CLOCK: AlertClock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }),
});
