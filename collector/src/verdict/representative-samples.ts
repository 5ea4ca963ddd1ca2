/**
 * Representative samples, the way VNNIC builds an area's published figure from i-Speed tests:
 * repeated tests of one site within one time bucket count once, and implausible values are
 * filtered out. From a site's tests (columns sorted by ts):
 *
 * - a `failed` test stays as it is: it counts in `failedTests` and never in a figure;
 * - a `partial` test is left out (one of its phases failed: not a measurement of the line);
 * - an `ok` test whose download (on the verdict's basis: × `throughputScale`) is above the
 *   site's contracted speed by more than the margin is left out (no line of that contract gives it: a test from another network, a clock gone
 *   wrong, a cache);
 * - the remaining tests of one site in one bucket (`floor(ts / bucketMs)`, so buckets are the
 *   same for every window) become one sample: the median of their downloads, of their uploads
 *   and of their latencies, each over the tests carrying it, dated at the first of them.
 *
 * The minimum-sample rule then counts these samples, not the tests.
 */
import { median, RESULT_STATUSES } from '@speedwatch/shared';
import type { SampleColumns } from './sample-columns.js';
import { FAILED } from './sample-columns.js';

const OK = RESULT_STATUSES.indexOf('ok');

export interface RepresentativeRule {
  bucketMs: number;
  /** A share: 0.1 leaves out downloads above 110 % of the contract. */
  contractMargin: number;
}

/**
 * Columns of representative samples (failed tests kept as they are), sorted by ts, in the
 * columns' own units. `throughputScale` turns a stored download into the verdict basis's
 * figure for the contract filter only (1: payload).
 */
export function representativeSamples(
  columns: SampleColumns,
  rule: RepresentativeRule,
  contractOf: (agentId: string) => number | undefined,
  throughputScale = 1,
): SampleColumns {
  // The ceiling in stored units, so the loop compares stored values as they are.
  const ceilings = columns.agentIds.map((id) => {
    const contract = contractOf(id);
    return contract === undefined ? Number.POSITIVE_INFINITY : (contract * (1 + rule.contractMargin)) / throughputScale;
  });
  // Per (agent, bucket), in order of the group's first test: its tests' indexes.
  const groups = new Map<string, number[]>();
  const order: (number[] | number)[] = [];
  for (let i = 0; i < columns.length; i++) {
    const status = columns.status[i] as number;
    if (status === FAILED) {
      order.push(i);
      continue;
    }
    if (status !== OK) continue;
    const agent = columns.agent[i] as number;
    if ((columns.downloadMbps[i] as number) > (ceilings[agent] as number)) continue;
    const key = `${agent}:${Math.floor((columns.ts[i] as number) / rule.bucketMs)}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = [];
      groups.set(key, group);
      order.push(group);
    }
    group.push(i);
  }
  const n = order.length;
  const out = {
    length: n,
    agentIds: columns.agentIds,
    agent: new Int32Array(n),
    ts: new Float64Array(n),
    status: new Uint8Array(n),
    downloadMbps: new Float64Array(n),
    uploadMbps: new Float64Array(n),
    latencyMs: new Float64Array(n),
  };
  const scratch: number[] = [];
  const medianOf = (indexes: readonly number[], field: Float64Array): number => {
    scratch.length = 0;
    for (const i of indexes) {
      const value = field[i] as number;
      if (!Number.isNaN(value)) scratch.push(value);
    }
    return scratch.length === 0 ? Number.NaN : median(scratch);
  };
  order.forEach((entry, k) => {
    const first = typeof entry === 'number' ? entry : (entry[0] as number);
    out.agent[k] = columns.agent[first] as number;
    out.ts[k] = columns.ts[first] as number;
    if (typeof entry === 'number') {
      out.status[k] = FAILED;
      out.downloadMbps[k] = columns.downloadMbps[entry] as number;
      out.uploadMbps[k] = columns.uploadMbps[entry] as number;
      out.latencyMs[k] = columns.latencyMs[entry] as number;
      return;
    }
    out.status[k] = OK;
    out.downloadMbps[k] = medianOf(entry, columns.downloadMbps);
    out.uploadMbps[k] = medianOf(entry, columns.uploadMbps);
    out.latencyMs[k] = medianOf(entry, columns.latencyMs);
  });
  return out;
}
