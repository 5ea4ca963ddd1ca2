/**
 * The ramp of a throughput phase: when warm-up ends, and how many streams run. Fixed values
 * are kept as given; adaptive ones follow the rate as the phase goes, as Ookla's and
 * LibreSpeed's clients do rather than trusting one warm-up and one stream count for every line:
 *
 * - Warm-up ends once the rate has **settled**: the rate over the last half second is no more
 *   than `SETTLED_GROWTH` above the half second before (never before `MIN_WARMUP_MS`). It then
 *   ends at the start of that last half second, whose rate is the settled one.
 * - Streams are **added while that adds to the rate**: once the rate has settled the count
 *   doubles (up to `maxStreams`), to see whether the line has room the streams could not use
 *   (each TCP connection is held to its window, or to what its congestion control makes of
 *   loss). Once the rate, and that of the added streams, has settled again (a second at the
 *   least), each added stream carrying at least half what an older one does (`SHARE_OF_OLDER`),
 *   it tells: grown almost as much as the count (`PROPORTIONAL`), the streams were the limit and
 *   the count doubles again; less, and the line is full or nearly: warm-up ends.
 * - Warm-up ends at half the phase whatever the rate does (`limit`), so half of it is measured.
 *
 * The rate is read off the phase's cumulative byte curve up to the time it is known
 * (`knownMs`: the sampling tick for download, the oldest stream's last confirmation for
 * upload). Nothing here reads a clock: the phase calls `step` and the ramp answers.
 */
import type { ThroughputRamp } from '@speedwatch/shared';
import { MIN_WINDOW_MS } from './timeline.js';

/** Length of each of the two windows whose rates are compared. */
export const HALF_MS = 500;
/** No adaptive warm-up ends before this. */
export const MIN_WARMUP_MS = 1000;
/** Time after streams are added before the rate says whether they helped. */
export const CHANGE_MS = 1000;
/** The rate has settled when it grows by no more than this from one half second to the next. */
export const SETTLED_GROWTH = 0.05;
/** Added streams helped when the rate grew by at least this. */
export const GAIN = 0.1;
/** A probe's streams are judged only once each carries at least this share of what each older stream does. */
export const SHARE_OF_OLDER = 0.5;
/** More streams are tried only when the last ones raised the rate by this share of their own share of the count (doubling: 90%). */
export const PROPORTIONAL = 0.9;

/** Bytes of the streams `fromStream` on (in the order started; default all) by `tMs`. */
export type StreamBytesAt = (tMs: number, fromStream?: number) => number;

export interface RampOptions {
  /** Streams at the start. */
  streams: number;
  /** Most streams the ramp may run; absent or equal to `streams`, a fixed count. */
  maxStreams?: number | undefined;
  /** A fixed warm-up in ms, or `auto`. */
  warmupMs: number | 'auto';
  /** The phase's length, warm-up included. */
  durationMs: number;
}

export class Ramp {
  readonly #options: RampOptions & { maxStreams: number };
  readonly #limitMs: number;
  #streams: number;
  #warmupMs: number | undefined;
  #how: ThroughputRamp['warmup'] | undefined;
  /** Time of the last change of stream count (0: the start). */
  #changedMs = 0;
  /** The last streams added, to probe for room: the settled rate before, and the first of them. */
  #probe: { fromRate: number; firstStream: number } | undefined;
  /** False once streams added to a settled rate did not raise it: no more are added. */
  #adding: boolean;

  constructor(options: RampOptions) {
    this.#options = { ...options, maxStreams: Math.max(options.streams, options.maxStreams ?? options.streams) };
    this.#streams = options.streams;
    // Half the phase, and never so much that less than a second is left to measure.
    this.#limitMs = options.warmupMs === 'auto' ? Math.max(0, Math.min(options.durationMs / 2, options.durationMs - MIN_WINDOW_MS)) : options.warmupMs;
    this.#adding = this.#options.maxStreams > options.streams;
    if (options.warmupMs !== 'auto' && this.#options.maxStreams <= options.streams) {
      this.#warmupMs = options.warmupMs;
      this.#how = 'fixed';
    }
  }

  /** Streams running now. */
  get streams(): number {
    return this.#streams;
  }

  /** The end of warm-up, once decided. */
  get warmupMs(): number | undefined {
    return this.#warmupMs;
  }

  /**
   * Called as the phase goes, with the time up to which the byte curves are known:
   * `bytesAt(t, from)` is the bytes of streams `from`, `from` + 1, … (in the order they were
   * started) by `t`. Returns how many streams to add now (0: none).
   */
  step(knownMs: number, bytesAt: StreamBytesAt): number {
    if (this.#warmupMs !== undefined) return 0;
    if (knownMs >= this.#limitMs) {
      this.#end(this.#limitMs, this.#options.warmupMs === 'auto' ? 'limit' : 'fixed');
      return 0;
    }
    // The first look compares the half seconds after MIN_WARMUP_MS − HALF_MS: before it,
    // connections open and slow start ends, which is no sign of a line the streams cannot fill.
    if (knownMs < MIN_WARMUP_MS + HALF_MS || knownMs - this.#changedMs < CHANGE_MS) return 0;
    const rate = (from: number, to: number, firstStream: number): number => (bytesAt(to, firstStream) - bytesAt(from, firstStream)) / (to - from);
    const settledFrom = (firstStream: number): boolean =>
      rate(knownMs - HALF_MS, knownMs, firstStream) <= rate(knownMs - 2 * HALF_MS, knownMs - HALF_MS, firstStream) * (1 + SETTLED_GROWTH);
    // Streams are added to a settled rate only: added during slow start on a long path, they
    // overshoot the bottleneck's queue together and lose more than they bring. After a probe
    // the streams it added must have settled too: on a long path they are still in slow start a
    // second later, growing from little, while the total may look flat.
    if (!settledFrom(0) || (this.#probe !== undefined && !this.#probeSettled(knownMs, rate, settledFrom))) return 0;
    const last = rate(knownMs - HALF_MS, knownMs, 0);
    if (this.#probe !== undefined) {
      // Go on only if the rate grew almost as the streams did: then they were the limit. Less,
      // and the line is full, or nearly: more streams would only crowd its queue (on the lab's
      // long path a second doubling onto a full line cost 16% of its rate).
      const { fromRate, firstStream } = this.#probe;
      const expected = (this.#streams - firstStream) / firstStream;
      if (last < fromRate * (1 + Math.max(GAIN, PROPORTIONAL * expected))) this.#adding = false;
      this.#probe = undefined;
    }
    if (!this.#adding || this.#streams >= this.#options.maxStreams) return this.#settle(knownMs);
    this.#probe = { fromRate: last, firstStream: this.#streams };
    const added = Math.min(this.#streams, this.#options.maxStreams - this.#streams);
    this.#streams += added;
    this.#changedMs = knownMs;
    return added;
  }

  /**
   * The streams the probe added have settled, and each carries at least `SHARE_OF_OLDER` of what
   * each older one does: streams that have barely started look settled too (an upload stream's
   * first body, confirmed a second after it was sent, is spread evenly over that second), while
   * a full line shares itself out, and streams held by their windows each carry the same.
   */
  #probeSettled(knownMs: number, rate: (from: number, to: number, firstStream: number) => number, settledFrom: (firstStream: number) => boolean): boolean {
    const first = (this.#probe as { firstStream: number }).firstStream;
    if (!settledFrom(first)) return false;
    const added = rate(knownMs - HALF_MS, knownMs, first) / (this.#streams - first);
    const older = (rate(knownMs - HALF_MS, knownMs, 0) - rate(knownMs - HALF_MS, knownMs, first)) / first;
    return added >= older * SHARE_OF_OLDER;
  }

  /** What the result records: how warm-up ended (`auto` still undecided at the end counts as the limit) and the streams at the start. */
  record(endMs: number): { warmupMs: number; streams: number; ramp: ThroughputRamp } {
    const warmupMs = this.#warmupMs ?? Math.min(this.#limitMs, endMs);
    const warmup = this.#how ?? (this.#options.warmupMs === 'auto' ? 'limit' : 'fixed');
    return { warmupMs, streams: this.#streams, ramp: { warmup, initialStreams: this.#options.streams } };
  }

  #settle(knownMs: number): number {
    // A fixed warm-up ends at its time; the streams stay as they are until then.
    if (this.#options.warmupMs === 'auto') this.#end(knownMs - HALF_MS, 'settled');
    return 0;
  }

  #end(atMs: number, how: ThroughputRamp['warmup']): void {
    this.#warmupMs = atMs;
    this.#how = how;
  }
}
