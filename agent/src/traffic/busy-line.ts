/**
 * Busy lines: before a scheduled test the daemon counts the bytes through the interface that
 * leads to the endpoint while it is itself idle. Above the threshold the line is in use (pupils
 * streaming video, a backup running) and the test is postponed and checked again a little later,
 * a bounded number of times within its slot; a test that still runs on a busy line is flagged.
 *
 * The rule follows SamKnows' (now Cisco ThousandEyes') cross-traffic check: "The default
 * acceptable cross-traffic threshold is 25,000 bytes per second … combined downstream and
 * upstream" (docs.thousandeyes.com, "Testing Thresholds"), and on cross traffic a scheduled test
 * "will enter a pause-and-retry loop, checking cross-traffic levels every 30 seconds"
 * (samknows.com, "Scheduled tests"). Threshold checks "apply to scheduled tests only"; instant
 * tests run at once: the daemon's first test after enrolling is checked once and never held back.
 */
import type { Clock } from '../schedule/scheduler.js';
import type { InterfaceCounters } from './interface-counters.js';
import { countersDelta } from './interface-counters.js';

export interface BusyLineSettings {
  /** Check the line before each test and count cross traffic during it. Default true (Linux only). */
  check: boolean;
  /** More than this many bytes a second, both directions together, is a busy line. Default 25 000 (200 kbit/s). */
  thresholdBytesPerSec: number;
  /** Length of one check, ms. Default 3 000. */
  sampleMs: number;
  /** Checks before a test at most; after the last busy one the test runs, flagged. Default 3. */
  tries: number;
  /** Wait after a busy check before the next, ms, doubled after each: 30 s, then 60 s. Default 30 000. */
  retryAfterMs: number;
}

export const BUSY_LINE_DEFAULTS: Readonly<BusyLineSettings> = Object.freeze({
  check: true,
  thresholdBytesPerSec: 25_000,
  sampleMs: 3_000,
  tries: 3,
  retryAfterMs: 30_000,
});

/** The rate (bytes a second, both directions together) between two readings `elapsedMs` apart. */
export function bytesPerSecond(before: InterfaceCounters, after: InterfaceCounters, elapsedMs: number): number {
  const d = countersDelta(before, after);
  return elapsedMs > 0 ? ((d.rxBytes + d.txBytes) * 1000) / elapsedMs : 0;
}

export interface LineCheck {
  /** The last check was at or below the threshold. */
  quiet: boolean;
  /** Each check's rate, bytes a second, in the order taken. */
  samplesBytesPerSec: number[];
}

export interface LineCheckOptions {
  iface: string;
  settings: Pick<BusyLineSettings, 'thresholdBytesPerSec' | 'sampleMs' | 'tries' | 'retryAfterMs'>;
  /** The interface's counters now (interface-counters.ts). */
  read: (iface: string) => Promise<InterfaceCounters>;
  clock: Clock;
  /** Aborting it ends the wait: the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /**
   * Clock time by which the test should start at the latest (its slot's end less its bound):
   * no wait is begun whose next check would end after it. The first check is always taken.
   */
  startBy: number;
  /** Told of each busy check that is followed by a wait of `waitMs`. */
  onPostponed?: (e: { bytesPerSec: number; check: number; waitMs: number }) => void;
}

/**
 * Checks the line until a check is quiet, the tries are used up, or the next check would end
 * after `startBy`; waits between checks are `retryAfterMs` doubled each time.
 */
export async function checkLine(o: LineCheckOptions): Promise<LineCheck> {
  const { settings, clock, signal } = o;
  const samplesBytesPerSec: number[] = [];
  for (let check = 1; ; check++) {
    const before = await o.read(o.iface);
    const from = clock.now();
    await wait(clock, settings.sampleMs, signal);
    const after = await o.read(o.iface);
    const rate = Math.round(bytesPerSecond(before, after, clock.now() - from));
    samplesBytesPerSec.push(rate);
    if (rate <= settings.thresholdBytesPerSec) return { quiet: true, samplesBytesPerSec };
    const waitMs = settings.retryAfterMs * 2 ** (check - 1);
    if (check >= settings.tries || clock.now() + waitMs + settings.sampleMs > o.startBy) return { quiet: false, samplesBytesPerSec };
    o.onPostponed?.({ bytesPerSec: rate, check, waitMs });
    await wait(clock, waitMs, signal);
  }
}

/** Resolves after `ms` on `clock`; rejects with the signal's reason when it aborts first. */
function wait(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
