/**
 * Verdict samples as columns, ascending by ts: one typed array per field and no object per
 * sample, so that millions of tests (1 000 sites testing every 15 minutes fill a 30-day window
 * with 2.9 million) cost tens of bytes each and a window is a binary search away.
 */
import { RESULT_STATUSES } from '@speedwatch/shared';
import type { VerdictSample } from '../store/store-types.js';

/** RESULT_STATUSES index of `failed`, as stored in `status`. */
export const FAILED = RESULT_STATUSES.indexOf('failed');

export interface SampleColumns {
  /** Samples held; every array below has at least this many entries. */
  readonly length: number;
  /** The agents the samples belong to: `agent[i]` indexes into it. */
  readonly agentIds: readonly string[];
  readonly agent: Int32Array;
  /** startedAt, ms since the epoch; ascending. */
  readonly ts: Float64Array;
  /** Index into RESULT_STATUSES. */
  readonly status: Uint8Array;
  /** NaN where the result has no such figure. */
  readonly downloadMbps: Float64Array;
  readonly uploadMbps: Float64Array;
  readonly latencyMs: Float64Array;
  /** 1 where the test ran on a busy line (docs/verdicts.md, "Busy lines"); absent: none did. */
  readonly busy?: Uint8Array;
}

/** Columns of sample objects (in any order; sorted here, ties kept in input order). */
export function sampleColumns(samples: readonly VerdictSample[]): SampleColumns {
  const order = samples.map((_, i) => i).sort((a, b) => (samples[a] as VerdictSample).ts - (samples[b] as VerdictSample).ts || a - b);
  const agentIds: string[] = [];
  const indexOf = new Map<string, number>();
  const n = samples.length;
  const out = {
    length: n,
    agentIds,
    agent: new Int32Array(n),
    ts: new Float64Array(n),
    status: new Uint8Array(n),
    downloadMbps: new Float64Array(n),
    uploadMbps: new Float64Array(n),
    latencyMs: new Float64Array(n),
    busy: new Uint8Array(n),
  };
  order.forEach((from, i) => {
    const s = samples[from] as VerdictSample;
    let agent = indexOf.get(s.agentId);
    if (agent === undefined) {
      agent = agentIds.push(s.agentId) - 1;
      indexOf.set(s.agentId, agent);
    }
    out.agent[i] = agent;
    out.ts[i] = s.ts;
    out.status[i] = RESULT_STATUSES.indexOf(s.status);
    out.downloadMbps[i] = s.downloadMbps ?? Number.NaN;
    out.uploadMbps[i] = s.uploadMbps ?? Number.NaN;
    out.latencyMs[i] = s.latencyMs ?? Number.NaN;
    out.busy[i] = s.busy === true ? 1 : 0;
  });
  return out;
}

/** The first index in [0, length) whose ts is >= `value` (`length` if none). */
export function firstAtOrAfter(columns: SampleColumns, value: number): number {
  let lo = 0;
  let hi = columns.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((columns.ts[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The samples that did not run on a busy line, as new columns (the same columns when none did). */
export function withoutBusy(columns: SampleColumns): SampleColumns {
  const busy = columns.busy;
  if (busy === undefined || !busy.includes(1)) return columns;
  const keep: number[] = [];
  for (let i = 0; i < columns.length; i++) if (busy[i] !== 1) keep.push(i);
  const pick = <T extends Float64Array | Int32Array | Uint8Array>(from: T, to: T): T => {
    keep.forEach((i, k) => {
      to[k] = from[i] as number;
    });
    return to;
  };
  const n = keep.length;
  return {
    length: n,
    agentIds: columns.agentIds,
    agent: pick(columns.agent, new Int32Array(n)),
    ts: pick(columns.ts, new Float64Array(n)),
    status: pick(columns.status, new Uint8Array(n)),
    downloadMbps: pick(columns.downloadMbps, new Float64Array(n)),
    uploadMbps: pick(columns.uploadMbps, new Float64Array(n)),
    latencyMs: pick(columns.latencyMs, new Float64Array(n)),
  };
}
