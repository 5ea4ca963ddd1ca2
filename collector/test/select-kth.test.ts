/**
 * selectKth and summarise (src/verdict/window-buckets.ts) against plain sorting and
 * @speedwatch/shared's statistics: for seeded random arrays and awkward shapes (duplicates,
 * sorted, reverse sorted, all equal, lengths 1 and 2) and every k, selectKth returns the k-th
 * smallest, leaves it at a[k] with nothing greater before and nothing smaller after, and only
 * permutes the array; summarise gives exactly shared's median, its mean, and atTarget counts
 * for 'min' and 'max' bounds, values exactly at the threshold included.
 */
import { mean, median, seededRandom } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { selectKth, summarise } from '../src/verdict/window-buckets.js';

const ascending = (a: number, b: number) => a - b;

/** Named arrays of awkward shapes and random ones, all from `seed`. */
function arrays(seed: number): [string, number[]][] {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  const cases: [string, number[]][] = [
    ['one', [42]],
    ['two ascending', [1, 2]],
    ['two descending', [2, 1]],
    ['two equal', [7, 7]],
    ['three equal', [3, 3, 3]],
    ['with infinities', [5, Number.POSITIVE_INFINITY, -1, Number.NEGATIVE_INFINITY, 5, 0]],
    ['all equal', Array.from({ length: 33 }, () => 9.5)],
    ['sorted', Array.from({ length: 40 }, (_, i) => i)],
    ['reverse sorted', Array.from({ length: 41 }, (_, i) => 100 - i)],
    ['organ pipe', Array.from({ length: 31 }, (_, i) => Math.min(i, 30 - i))],
    ['sawtooth', Array.from({ length: 48 }, (_, i) => i % 5)],
    ['alternating', Array.from({ length: 37 }, (_, i) => (i % 2 === 0 ? 1 : -1))],
    ['sorted with duplicates', Array.from({ length: 45 }, (_, i) => Math.floor(i / 4))],
  ];
  for (let n = 1; n <= 64; n++) {
    cases.push([`random, length ${n}`, Array.from({ length: n }, () => random() * 1_000 - 500)]);
    cases.push([`few distinct, length ${n}`, Array.from({ length: n }, () => int(3))]);
  }
  for (let r = 0; r < 20; r++) {
    const n = 1 + int(200);
    const distinct = 1 + int(10);
    cases.push([`random #${r}, length ${n}, ${distinct} distinct`, Array.from({ length: n }, () => int(distinct) * 12.5)]);
  }
  return cases;
}

/** Fails unless `a` (after selectKth(a, k)) is a permutation of `original` partitioned around k. */
function expectSelected(original: readonly number[], a: Float64Array, k: number, got: number): void {
  const sorted = [...original].sort(ascending);
  const kth = sorted[k] as number;
  expect(got).toBe(kth);
  expect(a[k]).toBe(kth);
  for (let i = 0; i < k; i++) if (!((a[i] as number) <= kth)) expect.fail(`a[${i}] = ${a[i]} > a[${k}] = ${kth}`);
  for (let i = k + 1; i < a.length; i++) if (!((a[i] as number) >= kth)) expect.fail(`a[${i}] = ${a[i]} < a[${k}] = ${kth}`);
  expect(Array.from(a).sort(ascending)).toEqual(sorted);
}

describe('selectKth', () => {
  it.each([1, 2, 3])('finds the k-th smallest for every k of many arrays, partitioned around it (seed %i)', (seed) => {
    let checked = 0;
    for (const [name, values] of arrays(seed)) {
      for (let k = 0; k < values.length; k++) {
        const a = Float64Array.from(values);
        const got = selectKth(a, k);
        try {
          expectSelected(values, a, k, got);
        } catch (err) {
          throw new Error(`${name}, k = ${k}, input ${JSON.stringify(values)}: ${(err as Error).message}`);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(4_000);
  });

  it('selects in large arrays, random and with long runs of equal values', () => {
    const random = seededRandom(99);
    const n = 20_001;
    const inputs = {
      random: Array.from({ length: n }, () => random()),
      'two values': Array.from({ length: n }, () => (random() < 0.5 ? 1 : 2)),
      sorted: Array.from({ length: n }, (_, i) => i),
      'reverse sorted': Array.from({ length: n }, (_, i) => -i),
    };
    for (const [name, values] of Object.entries(inputs)) {
      for (const k of [0, 1, 9_999, 10_000, 10_001, n - 2, n - 1, Math.floor(random() * n)]) {
        const a = Float64Array.from(values);
        const got = selectKth(a, k);
        try {
          expectSelected(values, a, k, got);
        } catch (err) {
          throw new Error(`${name}, k = ${k}: ${(err as Error).message}`);
        }
      }
    }
  });

  it('selects the same value again in an array it has already partitioned', () => {
    const random = seededRandom(5);
    const values = Array.from({ length: 101 }, () => Math.floor(random() * 20));
    const a = Float64Array.from(values);
    for (const k of [50, 0, 100, 50, 25, 75, 50]) expectSelected(values, a, k, selectKth(a, k));
  });
});

describe('summarise', () => {
  it.each([1, 2, 3])('gives exactly the median of @speedwatch/shared and its mean (seed %i)', (seed) => {
    const random = seededRandom(seed);
    for (let r = 0; r < 300; r++) {
      const n = 1 + Math.floor(random() * 80);
      const distinct = random() < 0.3 ? 1 + Math.floor(random() * 4) : 0;
      const values = Array.from({ length: n }, () => (distinct > 0 ? Math.floor(random() * distinct) * 7.25 : random() * 900 + 0.5));
      const a = Float64Array.from(values);
      const figures = summarise(a);
      const where = `input ${JSON.stringify(values)}`;
      expect(figures.tests, where).toBe(n);
      expect(figures.median, where).toBe(median(values));
      expect(figures.mean, where).toBeCloseTo(mean(values), 9);
      expect('atTarget' in figures, where).toBe(false);
      // Reordered in place, nothing lost.
      expect(Array.from(a).sort(ascending)).toEqual([...values].sort(ascending));
    }
  });

  it.each<[number[], number, number]>([
    [[5], 5, 5],
    [[1, 3], 2, 2],
    [[3, 1, 2, 4], 2.5, 2.5],
    [[4, 4, 1, 4], 4, 3.25],
    [[10, 0, 0, 0, 10], 0, 4],
    [[2, 9, 9, 2], 5.5, 5.5],
  ])('summarises %j: median %d, mean %d', (values, expectedMedian, expectedMean) => {
    const figures = summarise(Float64Array.from(values));
    expect(figures).toEqual({ tests: values.length, median: expectedMedian, mean: expectedMean });
  });

  it('counts values at or better than the threshold: >= for min, <= for max, the threshold itself included', () => {
    const values = [10, 20, 20, 30, 5, 20, 45.5];
    const at = (bound: 'min' | 'max', value: number) => summarise(Float64Array.from(values), { bound, value }).atTarget;
    expect(at('min', 20)).toBe(5);
    expect(at('max', 20)).toBe(5);
    expect(at('min', 20.000001)).toBe(2);
    expect(at('max', 19.999999)).toBe(2);
    expect(at('min', 45.5)).toBe(1);
    expect(at('max', 5)).toBe(1);
    expect(at('min', 46)).toBe(0);
    expect(at('max', 4.9)).toBe(0);
    expect(at('min', 5)).toBe(values.length);
    expect(at('max', 45.5)).toBe(values.length);
    // The other figures do not depend on the threshold.
    expect(summarise(Float64Array.from(values), { bound: 'min', value: 20 })).toEqual({ tests: 7, median: 20, mean: 150.5 / 7, atTarget: 5 });
  });

  it('counts atTarget like a filter over random arrays, thresholds taken from the values', () => {
    const random = seededRandom(17);
    for (let r = 0; r < 300; r++) {
      const n = 1 + Math.floor(random() * 60);
      const values = Array.from({ length: n }, () => Math.floor(random() * 12) * 2.5);
      // Mostly a value present in the array (ties at the threshold), sometimes one between.
      const threshold = random() < 0.8 ? (values[Math.floor(random() * n)] as number) : Math.floor(random() * 12) * 2.5 + 1.25;
      const min = summarise(Float64Array.from(values), { bound: 'min', value: threshold });
      const max = summarise(Float64Array.from(values), { bound: 'max', value: threshold });
      const where = `threshold ${threshold}, input ${JSON.stringify(values)}`;
      expect(min.atTarget, where).toBe(values.filter((v) => v >= threshold).length);
      expect(max.atTarget, where).toBe(values.filter((v) => v <= threshold).length);
      expect(min.median, where).toBe(median(values));
    }
  });
});
