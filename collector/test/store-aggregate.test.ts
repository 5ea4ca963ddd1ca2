import { median } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { aggregateValues, combineAggregates } from '../src/store/aggregate.js';

describe('aggregateValues', () => {
  it.each([
    // values, expected: the median of an even count is the mean of the two middle values.
    [[10, 20, 30, 40], { count: 4, min: 10, mean: 25, median: 25, max: 40 }],
    [[7, 1, 4], { count: 3, min: 1, mean: 4, median: 4, max: 7 }],
    [[5], { count: 1, min: 5, mean: 5, median: 5, max: 5 }],
  ])('summarises %j', (values, expected) => {
    expect(aggregateValues([...values])).toEqual(expected);
  });

  it('agrees with the shared median on random samples', () => {
    for (let n = 1; n < 40; n++) {
      const values = Array.from({ length: n }, () => Math.round(Math.random() * 1000) / 10);
      expect(aggregateValues([...values]).median).toBeCloseTo(median(values), 10);
    }
  });
});

describe('combineAggregates', () => {
  const part = (median: number, count: number) => ({ count, min: median - 1, mean: median, median, max: median + 1 });

  it.each([
    // parts as [median, count]; the weighted median is the first median (ascending) at which
    // the running count reaches half the total, or the mean with the next at exactly half.
    [[[20, 3], [40, 1]], 20], // half of 4 = 2: reached inside the first part
    [[[20, 2], [60, 2]], 40], // exactly half after the first part: (20 + 60) / 2
    [[[60, 1], [20, 1], [40, 1]], 40], // order of parts does not matter
    [[[10, 1], [90, 5]], 90],
  ])('takes the count-weighted median of %j as %d', (parts, expected) => {
    expect(combineAggregates(parts.map(([m, c]) => part(m as number, c as number))).median).toBe(expected);
  });

  it('adds counts, weights the mean by count and keeps the extremes', () => {
    expect(combineAggregates([part(20, 3), part(40, 1)])).toEqual({ count: 4, min: 19, mean: 25, median: 20, max: 41 });
  });

  it('equals the exact median when every part holds one value', () => {
    const values = [3, 9, 1, 7, 5, 11];
    expect(combineAggregates(values.map((v) => ({ count: 1, min: v, mean: v, median: v, max: v }))).median).toBe(median(values));
  });
});
