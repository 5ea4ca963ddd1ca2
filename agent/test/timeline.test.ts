import { describe, expect, it } from 'vitest';
import { rateSamples, sumBytesAt, throughputFromCurve, Timeline } from '../src/measure/timeline.js';

describe('Timeline', () => {
  it('interpolates cumulative bytes linearly between points and stays flat after the last', () => {
    const t = new Timeline();
    t.add(1000, 1000);
    t.add(3000, 5000);
    expect(t.bytesAt(500)).toBe(500);
    expect(t.bytesAt(2000)).toBe(3000);
    expect(t.bytesAt(9000)).toBe(5000);
  });

  it('refuses a point earlier than the last', () => {
    const t = new Timeline();
    t.add(10, 1);
    expect(() => t.add(5, 2)).toThrow(RangeError);
  });

  it('sums several streams', () => {
    const a = new Timeline();
    const b = new Timeline();
    a.add(1000, 100);
    b.add(2000, 400);
    expect(sumBytesAt([a, b], 1000)).toBe(300);
  });
});

describe('throughputFromCurve', () => {
  // 12.5 MB/s is exactly 100 Mbit/s; the first two seconds go at half speed (slow start).
  const bytesAt = (tMs: number): number => (tMs <= 2000 ? 6250 * tMs : 12_500_000 + 12_500 * (tMs - 2000));

  it('leaves the warm-up out of the rate', () => {
    const r = throughputFromCurve(bytesAt, { warmupMs: 2000, sampleIntervalMs: 500, streams: 4 }, 10_000);
    expect(r?.mbps).toBe(100);
    expect(r?.bytes).toBe(100_000_000);
    expect(r?.durationMs).toBe(8000);
    expect(r?.totalBytes).toBe(112_500_000);
    expect(r?.sampleIntervalMs).toBe(500);
    expect(r?.samplesMbps).toHaveLength(20);
    expect(r?.samplesMbps[0]).toBe(50); // (0, 500] ms, in slow start
    expect(r?.samplesMbps[19]).toBe(100); // (9500, 10000] ms
  });

  it('reports nothing for a window under a second or without bytes', () => {
    expect(throughputFromCurve(bytesAt, { warmupMs: 2000, sampleIntervalMs: 200, streams: 1 }, 2900)).toBeUndefined();
    expect(throughputFromCurve(() => 0, { warmupMs: 0, sampleIntervalMs: 200, streams: 1 }, 5000)).toBeUndefined();
  });

  it('samples at every step up to the end', () => {
    expect(rateSamples((t) => t * 125, 1000, 3000)).toEqual([1, 1, 1]);
  });
});
