/**
 * Cumulative payload bytes over time, and the rates read off it. Download adds a point at
 * every sampling tick (exact byte counts); upload adds one per confirmed request and is
 * interpolated between them, since the server read those bytes steadily in between.
 */
import type { ThroughputResult } from '@speedwatch/shared';
import { librespeedStyleMbps, MIN_THROUGHPUT_WINDOW_MS, mbpsFromBytes, round } from '@speedwatch/shared';

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

  /**
   * Records that the bytes counted at `tMs` did not grow until now and that what comes next
   * arrived from `tMs` on (TCP held it back): points after `tMs` go (they hold the same count)
   * and (`tMs`, `cumulativeBytes`) takes their place, so the next point's bytes are spread
   * from `tMs`. A time before the last point that is kept is moved up to it.
   */
  heldSince(tMs: number, cumulativeBytes: number): void {
    const t = this.#t;
    while (t.length > 1 && (t[t.length - 1] as number) > tMs && (this.#bytes[this.#bytes.length - 1] as number) === cumulativeBytes) {
      t.pop();
      this.#bytes.pop();
    }
    this.add(Math.max(tMs, this.lastMs), cumulativeBytes);
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

/** Longest edge of the measured window (see `throughputFromCurve`). */
export const EDGE_MS = 1000;

/** Mean of `bytesAt` over [fromMs, toMs] (midpoint rule, 5 ms steps or finer: the curves are piecewise linear between points 200 ms or more apart). */
function meanBytes(bytesAt: BytesAt, fromMs: number, toMs: number): number {
  const steps = Math.max(1, Math.ceil((toMs - fromMs) / 5));
  const step = (toMs - fromMs) / steps;
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += bytesAt(fromMs + (i + 0.5) * step);
  return sum / steps;
}

/**
 * The rate over [warm-up end, `endMs`], or undefined when that window is too short or empty.
 *
 * The window's edges are soft: the rate is the mean of the rates over every window of length
 * (window − edge) whose start lies in the first `edge` after warm-up, with `edge` =
 * min(EDGE_MS, window / 4). A byte's weight rises linearly from 0 to 1 across the first edge
 * and falls back across the last, so bytes counted a little late or early near an edge move
 * the rate by a fraction of what a hard edge would: a burst of data that TCP held back after a
 * loss just before warm-up ended (and released just after), bytes still held at the end, or
 * an upload body straddling an edge whose bytes are interpolated across its request. On a
 * steady link it is the same rate as a hard window. `bytes` is the weighted byte count and
 * `durationMs` the weighted length (window − edge), so `mbps` = bytes / durationMs.
 * `librespeedMbps` is that rate as a LibreSpeed-style client shows it (× 1.06, from `mbps` as
 * reported, so that anyone holding the result gets the same figure from it).
 */
export function throughputFromCurve(
  bytesAt: BytesAt,
  options: { warmupMs: number; sampleIntervalMs: number; streams: number },
  endMs: number,
): ThroughputResult | undefined {
  const windowMs = endMs - options.warmupMs;
  // Node's timers run on a loop time cached at whole milliseconds: a phase that ends on its
  // deadline may read up to a millisecond short of it on performance.now().
  if (windowMs < MIN_WINDOW_MS - WINDOW_SLACK_MS) return undefined;
  const edgeMs = Math.min(EDGE_MS, windowMs / 4);
  const weightedMs = windowMs - edgeMs;
  const weightedBytes = meanBytes(bytesAt, endMs - edgeMs, endMs) - meanBytes(bytesAt, options.warmupMs, options.warmupMs + edgeMs);
  const bytes = Math.round(weightedBytes);
  if (bytes <= 0) return undefined;
  const mbps = round(mbpsFromBytes(weightedBytes, weightedMs), 3);
  return {
    mbps,
    librespeedMbps: librespeedStyleMbps(mbps),
    bytes,
    durationMs: round(weightedMs, 1),
    streams: options.streams,
    warmupMs: options.warmupMs,
    totalBytes: Math.round(bytesAt(endMs)),
    sampleIntervalMs: options.sampleIntervalMs,
    samplesMbps: rateSamples(bytesAt, options.sampleIntervalMs, endMs),
  };
}
