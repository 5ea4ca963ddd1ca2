import type { MeasureError } from './measure-error.js';
import type { ThroughputResult } from '@speedwatch/shared';
import type { SpeedTestOptions } from './speed-test-options.js';

/** What a download or upload phase needs: the test's own settings, plus its progress callback. */
export interface ThroughputOptions
  extends Pick<SpeedTestOptions, 'streams' | 'maxStreams' | 'durationMs' | 'warmupMs' | 'sampleIntervalMs' | 'connectTimeoutMs' | 'stallTimeoutMs' | 'ca' | 'signal'> {
  userAgent: string;
  /** Live progress: the rate over about the last second. */
  onProgress?: (progress: { elapsedMs: number; mbps: number }) => void;
  /**
   * Asked at every sample: true ends the phase as if its time were up (the test reached its
   * data cap). The rate is then over the shorter window, or none under a second of it.
   */
  timeUp?: () => boolean;
}

/**
 * What a throughput phase produced: a measurement, an error, or both (a measurement made
 * while some stream failed, which makes the test `partial`).
 */
export interface PhaseOutcome<T = ThroughputResult> {
  result?: T;
  error?: MeasureError;
}

/** Rate over the last second, for progress displays. */
export class RecentRate {
  readonly #points: { t: number; bytes: number }[] = [];

  add(tMs: number, bytes: number): number {
    this.#points.push({ t: tMs, bytes });
    while (this.#points.length > 2 && tMs - (this.#points[1] as { t: number }).t >= 1000) this.#points.shift();
    const first = this.#points[0] as { t: number; bytes: number };
    return tMs > first.t ? ((bytes - first.bytes) * 8) / ((tMs - first.t) / 1000) / 1e6 : 0;
  }
}
