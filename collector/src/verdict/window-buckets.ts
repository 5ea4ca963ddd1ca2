/**
 * The hot part of verdicts: spreading one window's samples into per-row value buckets and
 * summarising each bucket. A row is whatever a figure is computed for (an agent, or a group
 * and technology); an agent may feed several rows (its commune, district and province).
 *
 * The samples are columns sorted by ts, so a window is a range found by binary search. Two
 * passes over that range and no allocation per sample: the first counts per row and metric,
 * the counts become offsets into one Float64Array per metric, and the second fills it. A
 * row's median is then found by selection, not sorting: sorting every row's slice (2.9 million
 * tests, each in ~8 rows) took 8 s a refresh.
 */
import type { SampleColumns } from './sample-columns.js';
import { FAILED, firstAtOrAfter } from './sample-columns.js';

export const METRIC_FIELDS = ['downloadMbps', 'uploadMbps', 'latencyMs'] as const;
export type MetricField = (typeof METRIC_FIELDS)[number];

export interface BucketInput {
  samples: SampleColumns;
  /** Per agent of `samples.agentIds`, the rows its samples count in (none: skipped, e.g. revoked). */
  rowsOfAgent: readonly (readonly number[])[];
  rowCount: number;
  /** Inclusive start, ms. */
  from: number;
  /** Exclusive end, ms. */
  to: number;
  /** Download and upload values are multiplied by this (`throughputScale`, the verdict basis). Default 1. */
  throughputScale?: number;
}

export interface WindowBuckets {
  /** Per row: `ok` and `partial` results in the window. */
  tests: Uint32Array;
  /** Per row: `failed` results in the window. */
  failedTests: Uint32Array;
  /** Per row: agents with at least one result (any status) in the window. */
  agentsReporting: Uint32Array;
  /** Per metric field: all rows' values, each row's slice in ts order until `summarise` reorders it. */
  values: Record<MetricField, Float64Array>;
  /** Per metric field: row r's values are `values[field].subarray(offsets[field][r], offsets[field][r + 1])`. */
  offsets: Record<MetricField, Uint32Array>;
}

export function fillBuckets(input: BucketInput): WindowBuckets {
  const { samples, rowCount, from, to } = input;
  const scale = input.throughputScale ?? 1;
  const { agent: agentOf, status, downloadMbps, uploadMbps, latencyMs } = samples;
  // The agents' rows flattened: agent a's rows are rowList[rowStart[a] .. rowStart[a + 1]).
  const rowStart = new Uint32Array(input.rowsOfAgent.length + 1);
  input.rowsOfAgent.forEach((rows, a) => (rowStart[a + 1] = (rowStart[a] as number) + rows.length));
  const rowList = Uint32Array.from(input.rowsOfAgent.flat());
  const first = firstAtOrAfter(samples, from);
  const end = firstAtOrAfter(samples, to);
  const tests = new Uint32Array(rowCount);
  const failedTests = new Uint32Array(rowCount);
  const agentsReporting = new Uint32Array(rowCount);
  const reported = new Uint8Array(input.rowsOfAgent.length);
  // Counted at row + 1 so that the prefix sum below turns counts into start offsets.
  const downCount = new Uint32Array(rowCount + 1);
  const upCount = new Uint32Array(rowCount + 1);
  const latencyCount = new Uint32Array(rowCount + 1);

  for (let i = first; i < end; i++) {
    const agent = agentOf[i] as number;
    const r0 = rowStart[agent] as number;
    const r1 = rowStart[agent + 1] as number;
    if (r0 === r1) continue;
    reported[agent] = 1;
    if (status[i] === FAILED) {
      for (let r = r0; r < r1; r++) bump(failedTests, rowList[r] as number);
      continue;
    }
    const down = !Number.isNaN(downloadMbps[i]);
    const up = !Number.isNaN(uploadMbps[i]);
    const latency = !Number.isNaN(latencyMs[i]);
    for (let r = r0; r < r1; r++) {
      const row = rowList[r] as number;
      bump(tests, row);
      if (down) bump(downCount, row + 1);
      if (up) bump(upCount, row + 1);
      if (latency) bump(latencyCount, row + 1);
    }
  }
  reported.forEach((flag, agent) => {
    if (flag === 1) for (let r = rowStart[agent] as number; r < (rowStart[agent + 1] as number); r++) bump(agentsReporting, rowList[r] as number);
  });

  const offsets = { downloadMbps: prefixSum(downCount), uploadMbps: prefixSum(upCount), latencyMs: prefixSum(latencyCount) };
  const values = {
    downloadMbps: new Float64Array(downCount[rowCount] as number),
    uploadMbps: new Float64Array(upCount[rowCount] as number),
    latencyMs: new Float64Array(latencyCount[rowCount] as number),
  };
  // Write cursors, one per row and metric, starting at each row's offset.
  const downNext = downCount.slice();
  const upNext = upCount.slice();
  const latencyNext = latencyCount.slice();
  const downValues = values.downloadMbps;
  const upValues = values.uploadMbps;
  const latencyValues = values.latencyMs;

  for (let i = first; i < end; i++) {
    const agent = agentOf[i] as number;
    const r0 = rowStart[agent] as number;
    const r1 = rowStart[agent + 1] as number;
    if (r0 === r1 || status[i] === FAILED) continue;
    const down = (downloadMbps[i] as number) * scale;
    const up = (uploadMbps[i] as number) * scale;
    const latency = latencyMs[i] as number;
    for (let r = r0; r < r1; r++) {
      const row = rowList[r] as number;
      if (!Number.isNaN(down)) downValues[bump(downNext, row)] = down;
      if (!Number.isNaN(up)) upValues[bump(upNext, row)] = up;
      if (!Number.isNaN(latency)) latencyValues[bump(latencyNext, row)] = latency;
    }
  }
  return { tests, failedTests, agentsReporting, values, offsets };
}

/** `array[index]++`, returning the value before the increment. */
function bump(array: Uint32Array, index: number): number {
  const before = array[index] as number;
  array[index] = before + 1;
  return before;
}

/** Turns per-row counts (at index row + 1, index 0 being 0) into start offsets, in place. */
function prefixSum(counts: Uint32Array): Uint32Array {
  for (let i = 1; i < counts.length; i++) counts[i] = (counts[i] as number) + (counts[i - 1] as number);
  return counts;
}

export interface BucketFigures {
  tests: number;
  median: number;
  mean: number;
  /** Values at or better than the threshold; undefined without a threshold. */
  atTarget?: number;
}

/**
 * Median (the same interpolation as `@speedwatch/shared`'s `median`), mean and, with a
 * threshold, how many values are `>= threshold` (`'min'`) or `<= threshold` (`'max'`).
 * `values` is not empty; it is reordered in place (the mean is summed before, in the given order).
 */
export function summarise(values: Float64Array, threshold?: { bound: 'min' | 'max'; value: number }): BucketFigures {
  const n = values.length;
  let sum = 0;
  let atTarget = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += v;
    if (threshold !== undefined && (threshold.bound === 'min' ? v >= threshold.value : v <= threshold.value)) atTarget++;
  }
  const rank = (n - 1) / 2;
  const k = Math.floor(rank);
  const low = selectKth(values, k);
  let median = low;
  if (rank !== k) {
    // After selection everything past k is >= low: the next order statistic is their minimum.
    let high = Number.POSITIVE_INFINITY;
    for (let i = k + 1; i < n; i++) if ((values[i] as number) < high) high = values[i] as number;
    median = low + (high - low) * (rank - k);
  }
  const figures: BucketFigures = { tests: n, median, mean: sum / n };
  if (threshold !== undefined) figures.atTarget = atTarget;
  return figures;
}

/**
 * Rearranges `a` so that `a[k]` is its k-th smallest value (0-based), with nothing greater
 * before it and nothing smaller after it, and returns that value. Hoare's selection with a
 * median-of-three pivot: linear on average, and runs of equal values split evenly.
 */
export function selectKth(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < (a[lo] as number)) swap(a, mid, lo);
    if ((a[hi] as number) < (a[lo] as number)) swap(a, hi, lo);
    if ((a[hi] as number) < (a[mid] as number)) swap(a, hi, mid);
    const pivot = a[mid] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // Now a[lo..j] <= pivot <= a[i..hi], and anything between j and i equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}
