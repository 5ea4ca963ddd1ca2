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
    expect(r?.librespeedMbps).toBe(106); // as LibreSpeed's client shows it: × 1.06
    // Soft edges of a second: the weighted window is 8 s − 1 s long and holds 7 s of bytes.
    expect(r?.bytes).toBe(87_500_000);
    expect(r?.durationMs).toBe(7000);
    expect(r?.totalBytes).toBe(112_500_000);
    expect(r?.sampleIntervalMs).toBe(500);
    expect(r?.samplesMbps).toHaveLength(20);
    expect(r?.samplesMbps[0]).toBe(50); // (0, 500] ms, in slow start
    expect(r?.samplesMbps[19]).toBe(100); // (9500, 10000] ms
  });

  // 100 Mbit/s throughout, except that TCP held back what arrived in (1800, 2040] ms after a
  // loss and released it at 2040 ms in one burst: 3 MB, of which 2.5 MB arrived before the cut.
  const heldAcrossCut = (tMs: number): number => (tMs > 1800 && tMs < 2040 ? 12_500 * 1800 : 12_500 * tMs);

  it('counts a burst held back across the warm-up cut at a small weight (a hard window reads +2.5%)', () => {
    const hard = (heldAcrossCut(10_000) - heldAcrossCut(2000)) / 8000 / 125;
    expect(hard).toBeCloseTo(102.5, 6);
    const r = throughputFromCurve(heldAcrossCut, { warmupMs: 2000, sampleIntervalMs: 200, streams: 4 }, 10_000);
    // The 2.5 MB from before the cut land 40 ms into a 1000 ms edge: weight ≈ 0.04 (0.1 MB of 87.5 MB).
    expect(r?.mbps).toBeGreaterThan(100);
    expect(r?.mbps).toBeLessThan(100.15);
  });

  it('counts bytes still held back at the end at a small weight', () => {
    const heldAtEnd = (tMs: number): number => (tMs > 9950 ? 12_500 * 9950 : 12_500 * tMs);
    const r = throughputFromCurve(heldAtEnd, { warmupMs: 2000, sampleIntervalMs: 200, streams: 4 }, 10_000);
    expect(r?.mbps).toBeLessThan(100);
    expect(r?.mbps).toBeGreaterThan(99.98);
  });

  it('uses a quarter of a short window as its edge', () => {
    const r = throughputFromCurve(bytesAt, { warmupMs: 2000, sampleIntervalMs: 200, streams: 1 }, 3000);
    expect(r?.mbps).toBe(100);
    expect(r?.durationMs).toBe(750);
  });

  it('reports nothing for a window under a second or without bytes', () => {
    expect(throughputFromCurve(bytesAt, { warmupMs: 2000, sampleIntervalMs: 200, streams: 1 }, 2900)).toBeUndefined();
    expect(throughputFromCurve(() => 0, { warmupMs: 0, sampleIntervalMs: 200, streams: 1 }, 5000)).toBeUndefined();
  });

  it('samples at every step up to the end', () => {
    expect(rateSamples((t) => t * 125, 1000, 3000)).toEqual([1, 1, 1]);
  });
});
