import { describe, expect, it } from 'vitest';
import { Ramp } from '../src/measure/ramp.js';
import { Timeline } from '../src/measure/timeline.js';

/**
 * A phase on a made-up line: every 200 ms the bytes grow at `rateOf(streams, t)` (bytes a ms),
 * the ramp looks, and the streams it adds count from the next tick.
 */
function simulate(ramp: Ramp, durationMs: number, rateOf: (streams: number, tMs: number) => number): { added: number[]; atMs: number[] } {
  const curve = new Timeline();
  const added: number[] = [];
  const atMs: number[] = [];
  let bytes = 0;
  for (let t = 200; t <= durationMs; t += 200) {
    bytes += rateOf(ramp.streams, t) * 200;
    curve.add(t, bytes);
    const more = ramp.step(t, (x) => curve.bytesAt(x));
    if (more > 0) {
      added.push(more);
      atMs.push(t);
    }
  }
  return { added, atMs };
}

/** 1 000 bytes a ms (8 Mbit/s) per stream from the first tick, up to `linkBytesPerMs` in all. */
const perStream = (linkBytesPerMs: number) => (streams: number) => Math.min(linkBytesPerMs, 1000 * streams);

describe('Ramp', () => {
  it('keeps a fixed warm-up and stream count as given', () => {
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 2000, durationMs: 10_000 });
    expect(simulate(ramp, 10_000, perStream(1e9)).added).toEqual([]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 2000, streams: 4, ramp: { warmup: 'fixed', initialStreams: 4 } });
  });

  it('ends an adaptive warm-up at the first look on a steady line when the count is fixed: 1 000 ms', () => {
    // Looks come at the 200 ms ticks: the first at 1 600 ms compares (600, 1100] with
    // (1100, 1600]: equal, so settled; warm-up ends where the settled half second began.
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 'auto', durationMs: 10_000 });
    simulate(ramp, 10_000, perStream(1e9));
    expect(ramp.record(10_000)).toEqual({ warmupMs: 1100, streams: 4, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('adds streams once to a settled line that is full, sees no gain, and ends warm-up: 4 → 8 streams, 2 100 ms', () => {
    // Full at 4 streams (4 000 bytes a ms). 1 600 ms: settled, so probe with 8. 2 600 ms: the
    // rate is 4 000, not 10% over it: no gain, and (1600, 2100] equals (2100, 2600]: ends at 2 100.
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, perStream(4000));
    expect(added).toEqual([4]);
    expect(atMs).toEqual([1600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 2100, streams: 8, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('doubles the streams while each doubling raises the rate, up to maxStreams, then settles', () => {
    // Room for 12 streams' worth: 4 → 8 at 1 600 ms (probe), 8 → 16 at 2 600 ms (the probe gained
    // 100%, and the rate settled again), then no room: at 3 600 ms (2600, 3100] (the line's
    // 12 000) equals (3100, 3600]: settled, ends at 3 100.
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, perStream(12_000));
    expect(added).toEqual([4, 8]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3100, streams: 16, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('adds no stream while the rate still grows (slow start on a long path), then probes once it has settled', () => {
    // Speeding up until 3 000 ms whatever the streams: no look before 3 600 ms finds it settled
    // ((3100, 3600] reads 3 000 against (2600, 3100]'s 2 920, two fifths of it at 2 800: within
    // 5%), so the probe comes then, 4 → 8; at 4 600 ms no gain: ends at 4 100.
    const ramp = new Ramp({ streams: 4, maxStreams: 10, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, (_streams, t) => (t < 3000 ? t : 3000));
    expect(added).toEqual([4]);
    expect(atMs).toEqual([3600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 4100, streams: 8, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('stops at maxStreams', () => {
    // Room for 20 streams' worth, at most 10: 4 → 8 at 1 600 ms, 8 → 10 at 2 600 ms, settled at 3 600 ms.
    const ramp = new Ramp({ streams: 4, maxStreams: 10, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, perStream(20_000));
    expect(added).toEqual([4, 2]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3100, streams: 10, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('ends warm-up at half the phase on a line whose rate never settles', () => {
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 'auto', durationMs: 8000 });
    simulate(ramp, 8000, (_streams, t) => t * t);
    expect(ramp.record(8000)).toEqual({ warmupMs: 4000, streams: 4, ramp: { warmup: 'limit', initialStreams: 4 } });
  });

  it('leaves at least a second to measure in a short phase', () => {
    const ramp = new Ramp({ streams: 2, maxStreams: 2, warmupMs: 'auto', durationMs: 1500 });
    simulate(ramp, 1500, perStream(1e9));
    expect(ramp.record(1500).warmupMs).toBe(500);
    const none = new Ramp({ streams: 2, warmupMs: 'auto', durationMs: 1000 });
    simulate(none, 1000, perStream(1e9));
    expect(none.record(1000)).toEqual({ warmupMs: 0, streams: 2, ramp: { warmup: 'limit', initialStreams: 2 } });
  });

  it('adds streams before a fixed warm-up ends, and none after', () => {
    const ramp = new Ramp({ streams: 2, maxStreams: 8, warmupMs: 3000, durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, perStream(1e9));
    // 1 600 ms: settled, probe 2 → 4; 2 600 ms: gained, still room: 4 → 8; then the warm-up is over.
    expect(added).toEqual([2, 4]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3000, streams: 8, ramp: { warmup: 'fixed', initialStreams: 2 } });
  });
});
