import { describe, expect, it } from 'vitest';
import { jitter, mean, median, percentile, summarize } from '../src/index.js';

describe('statistics', () => {
  describe('percentile', () => {
    // Type-7 values checked against R: quantile(c(15, 20, 35, 40, 50), c(0, .4, .9, 1)).
    it.each([
      [0, 15],
      [40, 29],
      [90, 46],
      [100, 50],
    ])('gives the %ith percentile of 15,20,35,40,50 as %d', (p, expected) => {
      expect(percentile([50, 15, 40, 20, 35], p)).toBeCloseTo(expected, 10);
    });

    it('refuses a percentile outside 0..100 and an empty sample', () => {
      expect(() => percentile([1], 101)).toThrow(RangeError);
      expect(() => percentile([], 50)).toThrow(RangeError);
    });
  });

  it('takes the median of an even count as the mean of the middle two', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('computes jitter as the mean absolute difference of consecutive samples, in order', () => {
    // |12-10| + |11-12| + |15-11| = 7 over 3 differences.
    expect(jitter([10, 12, 11, 15])).toBeCloseTo(7 / 3, 12);
    expect(jitter([10, 11, 12, 15])).toBeCloseTo(5 / 3, 12);
    expect(jitter([42])).toBe(0);
  });

  it('summarises samples, and returns undefined for none', () => {
    expect(summarize([])).toBeUndefined();
    expect(summarize([3, 1, 2])).toEqual({ count: 3, min: 1, max: 3, mean: 2, median: 2, p90: 2.8, jitter: 1.5 });
    expect(mean([1, 2, 3, 4])).toBe(2.5);
  });
});
