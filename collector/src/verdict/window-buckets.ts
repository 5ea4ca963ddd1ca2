/**
 * The hot part of verdicts: spreading one window's samples into per-row value buckets and
 * summarising each bucket. A row is whatever a figure is computed for (an agent, or a group
 * and technology); an agent may feed several rows (its commune, district and province).
 *
 * Two passes over the samples per window and no allocation per sample: the first pass counts
 * per row and metric, the counts become offsets into one Float64Array per metric, the second
 * pass fills it, and each row's slice is sorted in place (typed-array sort is numeric).
 */
import type { VerdictSample } from '../store/store-types.js';

export const METRIC_FIELDS = ['downloadMbps', 'uploadMbps', 'latencyMs'] as const;
export type MetricField = (typeof METRIC_FIELDS)[number];

export interface BucketInput {
  samples: readonly VerdictSample[];
  /** Per sample, the index of its agent in `rowsOfAgent`, or -1 to skip it (unknown or revoked agent). */
  agentOfSample: Int32Array;
  /** Per agent index, the rows its samples count in. */
  rowsOfAgent: readonly (readonly number[])[];
  rowCount: number;
  /** Inclusive start, ms. */
  from: number;
  /** Exclusive end, ms. */
  to: number;
}

export interface WindowBuckets {
  /** Per row: `ok` and `partial` results in the window. */
  tests: Uint32Array;
  /** Per row: `failed` results in the window. */
  failedTests: Uint32Array;
  /** Per row: agents with at least one result (any status) in the window. */
  agentsReporting: Uint32Array;
  /** Per metric field: all rows' values, each row's slice sorted ascending. */
  values: Record<MetricField, Float64Array>;
  /** Per metric field: row r's values are `values[field].subarray(offsets[field][r], offsets[field][r + 1])`. */
  offsets: Record<MetricField, Uint32Array>;
}

export function fillBuckets(input: BucketInput): WindowBuckets {
  const { samples, agentOfSample, rowsOfAgent, rowCount, from, to } = input;
  const tests = new Uint32Array(rowCount);
  const failedTests = new Uint32Array(rowCount);
  const agentsReporting = new Uint32Array(rowCount);
  const reported = new Uint8Array(rowsOfAgent.length);
  const counts = {
    downloadMbps: new Uint32Array(rowCount + 1),
    uploadMbps: new Uint32Array(rowCount + 1),
    latencyMs: new Uint32Array(rowCount + 1),
  };

  for (let i = 0; i < samples.length; i++) {
    const agent = agentOfSample[i] as number;
    if (agent < 0) continue;
    const sample = samples[i] as VerdictSample;
    if (sample.ts < from || sample.ts >= to) continue;
    const rows = rowsOfAgent[agent] as readonly number[];
    reported[agent] = 1;
    if (sample.status === 'failed') {
      for (const row of rows) bump(failedTests, row);
      continue;
    }
    for (const row of rows) bump(tests, row);
    // Counted at row + 1 so that the prefix sum below turns counts into start offsets.
    if (sample.downloadMbps !== undefined) for (const row of rows) bump(counts.downloadMbps, row + 1);
    if (sample.uploadMbps !== undefined) for (const row of rows) bump(counts.uploadMbps, row + 1);
    if (sample.latencyMs !== undefined) for (const row of rows) bump(counts.latencyMs, row + 1);
  }
  reported.forEach((flag, agent) => {
    if (flag === 1) for (const row of rowsOfAgent[agent] as readonly number[]) bump(agentsReporting, row);
  });

  const offsets = { downloadMbps: prefixSum(counts.downloadMbps), uploadMbps: prefixSum(counts.uploadMbps), latencyMs: prefixSum(counts.latencyMs) };
  const values = {
    downloadMbps: new Float64Array(offsets.downloadMbps[rowCount] as number),
    uploadMbps: new Float64Array(offsets.uploadMbps[rowCount] as number),
    latencyMs: new Float64Array(offsets.latencyMs[rowCount] as number),
  };
  // Write cursors, one per row and metric, starting at each row's offset.
  const next = { downloadMbps: offsets.downloadMbps.slice(), uploadMbps: offsets.uploadMbps.slice(), latencyMs: offsets.latencyMs.slice() };

  for (let i = 0; i < samples.length; i++) {
    const agent = agentOfSample[i] as number;
    if (agent < 0) continue;
    const sample = samples[i] as VerdictSample;
    if (sample.ts < from || sample.ts >= to || sample.status === 'failed') continue;
    const rows = rowsOfAgent[agent] as readonly number[];
    const { downloadMbps, uploadMbps, latencyMs } = sample;
    if (downloadMbps !== undefined) for (const row of rows) values.downloadMbps[bump(next.downloadMbps, row)] = downloadMbps;
    if (uploadMbps !== undefined) for (const row of rows) values.uploadMbps[bump(next.uploadMbps, row)] = uploadMbps;
    if (latencyMs !== undefined) for (const row of rows) values.latencyMs[bump(next.latencyMs, row)] = latencyMs;
  }

  for (const field of METRIC_FIELDS) {
    const fieldOffsets = offsets[field];
    for (let row = 0; row < rowCount; row++) {
      values[field].subarray(fieldOffsets[row] as number, fieldOffsets[row + 1] as number).sort();
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
 * `sorted` is ascending and not empty.
 */
export function summarise(sorted: Float64Array, threshold?: { bound: 'min' | 'max'; value: number }): BucketFigures {
  const n = sorted.length;
  const rank = (n - 1) / 2;
  const low = sorted[Math.floor(rank)] as number;
  const high = sorted[Math.ceil(rank)] as number;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  const figures: BucketFigures = { tests: n, median: low + (high - low) * (rank - Math.floor(rank)), mean: sum / n };
  if (threshold !== undefined) figures.atTarget = countAtTarget(sorted, threshold.bound, threshold.value);
  return figures;
}

/** Binary search on the sorted values for the first one `>= value` (or the first `> value`). */
function countAtTarget(sorted: Float64Array, bound: 'min' | 'max', value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (bound === 'min' ? v < value : v <= value) lo = mid + 1;
    else hi = mid;
  }
  return bound === 'min' ? sorted.length - lo : lo;
}
