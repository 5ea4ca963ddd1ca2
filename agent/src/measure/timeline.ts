/**
 * Cumulative payload bytes over time, and the rates read off it. Download adds a point at
 * every sampling tick (exact byte counts); upload adds one per confirmed request and is
 * interpolated between them, since the server read those bytes steadily in between.
 */
import type { ThroughputResult } from '@speedwatch/shared';
import { MIN_THROUGHPUT_WINDOW_MS, mbpsFromBytes, round } from '@speedwatch/shared';

/** The measured window must be at least this long to report a rate (options that leave less are refused). */
export const MIN_WINDOW_MS = MIN_THROUGHPUT_WINDOW_MS;
const WINDOW_SLACK_MS = 2;

export class Timeline {
  // Parallel arrays of (ms since phase start, cumulative bytes), in time order.
  readonly #t: number[] = [0];
  readonly #bytes: number[] = [0];

  /** Records that `cumulativeBytes` had arrived by `tMs`. Points must not go back in time. */
  add(tMs: number, cumulativeBytes: number): void {
    const lastT = this.#t[this.#t.length - 1] as number;
    if (tMs < lastT) throw new RangeError(`timeline point at ${tMs} ms is before ${lastT} ms`);
    this.#t.push(tMs);
    this.#bytes.push(cumulativeBytes);
  }

  get lastMs(): number {
    return this.#t[this.#t.length - 1] as number;
  }

  get totalBytes(): number {
    return this.#bytes[this.#bytes.length - 1] as number;
  }

  /** Bytes by `tMs`, linearly interpolated; flat after the last point. */
  bytesAt(tMs: number): number {
    const t = this.#t;
    if (tMs <= 0) return 0;
    if (tMs >= this.lastMs) return this.totalBytes;
    let lo = 0;
    let hi = t.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((t[mid] as number) <= tMs) lo = mid;
      else hi = mid;
    }
    const t0 = t[lo] as number;
    const t1 = t[hi] as number;
    const b0 = this.#bytes[lo] as number;
    const b1 = this.#bytes[hi] as number;
    return t1 === t0 ? b1 : b0 + ((b1 - b0) * (tMs - t0)) / (t1 - t0);
  }
}

/** Cumulative bytes as a function of ms since the phase started. */
export type BytesAt = (tMs: number) => number;

/** The rate in each whole interval of `stepMs` from 0 to `endMs`. */
export function rateSamples(bytesAt: BytesAt, stepMs: number, endMs: number): number[] {
  const out: number[] = [];
  for (let i = 1; i * stepMs <= endMs + 1e-9; i++) {
    const t = i * stepMs;
    out.push(round(mbpsFromBytes(bytesAt(t) - bytesAt(t - stepMs), stepMs), 3));
  }
  return out;
}

/** The sum of several timelines (one per upload stream), evaluated at a time. */
export function sumBytesAt(timelines: readonly Timeline[], tMs: number): number {
  let sum = 0;
  for (const timeline of timelines) sum += timeline.bytesAt(tMs);
  return sum;
}

/** The rate over [warm-up end, `endMs`], or undefined when that window is too short or empty. */
export function throughputFromCurve(
  bytesAt: BytesAt,
  options: { warmupMs: number; sampleIntervalMs: number; streams: number },
  endMs: number,
): ThroughputResult | undefined {
  const windowMs = endMs - options.warmupMs;
  // Node's timers run on a loop time cached at whole milliseconds: a phase that ends on its
  // deadline may read up to a millisecond short of it on performance.now().
  if (windowMs < MIN_WINDOW_MS - WINDOW_SLACK_MS) return undefined;
  const bytes = Math.round(bytesAt(endMs) - bytesAt(options.warmupMs));
  if (bytes <= 0) return undefined;
  return {
    mbps: round(mbpsFromBytes(bytes, windowMs), 3),
    bytes,
    durationMs: round(windowMs, 1),
    streams: options.streams,
    warmupMs: options.warmupMs,
    totalBytes: Math.round(bytesAt(endMs)),
    sampleIntervalMs: options.sampleIntervalMs,
    samplesMbps: rateSamples(bytesAt, options.sampleIntervalMs, endMs),
  };
}
