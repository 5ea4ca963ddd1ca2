import { describe, expect, it } from 'vitest';
import { Ramp } from '../src/measure/ramp.js';
import { Timeline } from '../src/measure/timeline.js';

/**
 * A phase on a made-up line: every 200 ms each stream moves what it asks for (`demand`, bytes a
 * ms, from its age and the time), scaled down together to the line's `linkBytesPerMs`; the
 * ramp looks, and the streams it adds start at the next tick.
 */
function simulate(
  ramp: Ramp,
  durationMs: number,
  linkBytesPerMs: number,
  demand: (ageMs: number, tMs: number) => number = () => 1000,
): { added: number[]; atMs: number[] } {
  const streams: { startedMs: number; curve: Timeline; bytes: number }[] = [];
  const start = (atMs: number, count: number): void => {
    for (let i = 0; i < count; i++) {
      const curve = new Timeline();
      if (atMs > 0) curve.add(atMs, 0);
      streams.push({ startedMs: atMs, curve, bytes: 0 });
    }
  };
  start(0, ramp.streams);
  const bytesAt = (t: number, from = 0): number => streams.slice(from).reduce((sum, s) => sum + s.curve.bytesAt(t), 0);
  const added: number[] = [];
  const atMs: number[] = [];
  for (let t = 200; t <= durationMs; t += 200) {
    const asks = streams.map((s) => demand(t - s.startedMs, t));
    const total = asks.reduce((a, b) => a + b, 0);
    const scale = total > linkBytesPerMs ? linkBytesPerMs / total : 1;
    streams.forEach((s, i) => {
      s.bytes += (asks[i] as number) * scale * 200;
      s.curve.add(t, s.bytes);
    });
    const more = ramp.step(t, bytesAt);
    if (more > 0) {
      added.push(more);
      atMs.push(t);
      start(t, more);
    }
  }
  return { added, atMs };
}

/** Slow start on a long path: from 1/64 of `windowBytesPerMs`, doubling every `rttMs`, until the window holds it. */
const slowStart = (windowBytesPerMs: number, rttMs: number) => (ageMs: number) => Math.min(windowBytesPerMs, (windowBytesPerMs / 64) * 2 ** (ageMs / rttMs));

describe('Ramp', () => {
  it('keeps a fixed warm-up and stream count as given', () => {
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 2000, durationMs: 10_000 });
    expect(simulate(ramp, 10_000, 1e9).added).toEqual([]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 2000, streams: 4, ramp: { warmup: 'fixed', initialStreams: 4 } });
  });

  it('ends an adaptive warm-up at the first look on a steady line when the count is fixed: 1 000 ms', () => {
    // Looks come at the 200 ms ticks: the first at 1 600 ms compares (600, 1100] with
    // (1100, 1600]: equal, so settled; warm-up ends where the settled half second began.
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 'auto', durationMs: 10_000 });
    simulate(ramp, 10_000, 1e9);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 1100, streams: 4, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('adds streams once to a settled line that is full, sees no gain, and ends warm-up: 4 → 8 streams, 2 100 ms', () => {
    // Full at 4 streams (4 000 bytes a ms). 1 600 ms: settled, so probe with 8. 2 600 ms: the
    // rate is 4 000, not 10% over it: no gain, and (1600, 2100] equals (2100, 2600]: ends at 2 100.
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, 4000);
    expect(added).toEqual([4]);
    expect(atMs).toEqual([1600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 2100, streams: 8, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('doubles the streams while each doubling raises the rate, up to maxStreams, then settles', () => {
    // Room for 12 streams' worth: 4 → 8 at 1 600 ms (probe), 8 → 16 at 2 600 ms (the probe gained
    // 100%, and the rate settled again), then no room: at 3 600 ms (2600, 3100] (the line's
    // 12 000) equals (3100, 3600]: settled, ends at 3 100.
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, 12_000);
    expect(added).toEqual([4, 8]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3100, streams: 16, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('on a long path waits for slow start to end, for the streams it adds too, and doubles again only while the rate doubles', () => {
    // 200 ms round trips, each stream held to 1 000 bytes a ms by its window, a line of 10 000.
    const ramp = new Ramp({ streams: 4, maxStreams: 32, warmupMs: 'auto', durationMs: 15_000 });
    const { added, atMs } = simulate(ramp, 15_000, 10_000, slowStart(1000, 200));
    // Each tick's bytes are its demand × 200 ms. The first 4 ask their window from the tick at
    // 1 200 ms on, so (1000, 1500] and (1500, 2000] both read 4 000: settled at 2 000 ms, probe
    // with 8. The 4 added ask theirs from the tick at 3 200 ms, so at 4 000 ms they have settled
    // ((3000, 3500] and (3500, 4000] at 4 000) and the total reads 8 000: doubled, the streams
    // were the limit: probe with 16. The line is full once the 8 added ask 250 each (4 800 ms);
    // from the tick at 5 200 ms all 16 get 625, so at 6 000 ms the 8 added have settled at 5 000
    // and the total reads 10 000: 25% up, not 90%: the line is full, warm-up ends at 5 500 ms.
    expect(added).toEqual([4, 8]);
    expect(atMs).toEqual([2000, 4000]);
    expect(ramp.record(15_000)).toEqual({ warmupMs: 5500, streams: 16, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('judges a probe only once the streams it added have settled, and stops when the rate grew less than the count', () => {
    // As above on a line of 6 000: at 3 000 ms, a second after the probe, the 4 added are still
    // doubling: no decision. From
    // the tick at 3 200 ms all 8 get 750; at 4 000 ms the 4 added have settled at 3 000 and the
    // total reads 6 000: 50% up, not 90%: warm-up ends at 3 500 ms with 8 streams.
    const ramp = new Ramp({ streams: 4, maxStreams: 32, warmupMs: 'auto', durationMs: 15_000 });
    const { added, atMs } = simulate(ramp, 15_000, 6000, slowStart(1000, 200));
    expect(added).toEqual([4]);
    expect(atMs).toEqual([2000]);
    expect(ramp.record(15_000)).toEqual({ warmupMs: 3500, streams: 8, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('judges a probe only once each added stream carries half what an older one does', () => {
    // Streams added at 1 600 ms trickle at 20 bytes a ms for their first 2 s (an upload stream
    // whose first body is spread over the second it took): steady, but not yet carrying. Then
    // they carry 1 000 each like the others, on a line with room for 16: 8 000, a doubling, so
    // 8 → 16 at 4 600 ms ((3600, 4100] and (4100, 4600] at 4 000 for the added ones, who carry
    // from the tick at 3 800 ms).
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 15_000 });
    const { added, atMs } = simulate(ramp, 15_000, 16_000, (age, t) => (t - age === 0 || age > 2000 ? 1000 : 20));
    expect(added).toEqual([4, 8]);
    expect(atMs).toEqual([1600, 4600]);
  });

  it('adds no stream while the rate still grows', () => {
    // Every stream speeds up until 3 000 ms whatever the others do: no look before 3 600 ms
    // finds it settled ((3100, 3600] reads 3 000 against (2600, 3100]'s 2 920, two fifths of it
    // at 2 800: within 5%), so the probe comes then, 4 → 8, on a line full at 3 000.
    const ramp = new Ramp({ streams: 4, maxStreams: 16, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, 3000, (_age, t) => Math.min(t, 3000) / 4);
    expect(added).toEqual([4]);
    expect(atMs).toEqual([3600]);
  });

  it('stops at maxStreams', () => {
    // Room for 20 streams' worth, at most 10: 4 → 8 at 1 600 ms, 8 → 10 at 2 600 ms, settled at 3 600 ms.
    const ramp = new Ramp({ streams: 4, maxStreams: 10, warmupMs: 'auto', durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, 20_000);
    expect(added).toEqual([4, 2]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3100, streams: 10, ramp: { warmup: 'settled', initialStreams: 4 } });
  });

  it('ends warm-up at half the phase on a line whose rate never settles', () => {
    const ramp = new Ramp({ streams: 4, maxStreams: 4, warmupMs: 'auto', durationMs: 8000 });
    simulate(ramp, 8000, 1e9, (_age, t) => t * t);
    expect(ramp.record(8000)).toEqual({ warmupMs: 4000, streams: 4, ramp: { warmup: 'limit', initialStreams: 4 } });
  });

  it('leaves at least a second to measure in a short phase', () => {
    const ramp = new Ramp({ streams: 2, maxStreams: 2, warmupMs: 'auto', durationMs: 1500 });
    simulate(ramp, 1500, 1e9);
    expect(ramp.record(1500).warmupMs).toBe(500);
    const none = new Ramp({ streams: 2, warmupMs: 'auto', durationMs: 1000 });
    simulate(none, 1000, 1e9);
    expect(none.record(1000)).toEqual({ warmupMs: 0, streams: 2, ramp: { warmup: 'limit', initialStreams: 2 } });
  });

  it('adds streams before a fixed warm-up ends, and none after', () => {
    const ramp = new Ramp({ streams: 2, maxStreams: 8, warmupMs: 3000, durationMs: 10_000 });
    const { added, atMs } = simulate(ramp, 10_000, 1e9);
    // 1 600 ms: settled, probe 2 → 4; 2 600 ms: gained, still room: 4 → 8; then the warm-up is over.
    expect(added).toEqual([2, 4]);
    expect(atMs).toEqual([1600, 2600]);
    expect(ramp.record(10_000)).toEqual({ warmupMs: 3000, streams: 8, ramp: { warmup: 'fixed', initialStreams: 2 } });
  });
});
