/** What the ingest thread hands the writer: a frame's accepted results, and their columns. */
import { RESULT_STATUSES } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import type { UdpCandidate } from './latest-udp.js';
import type { ResultFigures, ResultRow } from './result-row.js';
import { resultFigures, UDP_FIGURES, unpackUdpFigures } from './result-row.js';
import { resultSpans } from './frame-spans.js';

/**
 * The results accepted from one `results` frame: the frame's text as received, and for each
 * result that passed validation its position in the frame's `results`, its id and its numeric
 * columns. The stored document is that result's text as the agent sent it, cut out of the frame
 * by the writer thread (frame-spans.ts): no re-serialisation. Everything here crosses threads
 * as flat copies (a string, string and number arrays, one Float64Array); an array of row
 * objects would be serialised field by field, which cost the ingest thread 4 µs a result.
 */
export interface FrameBatch {
  agentId: string;
  /** When the frame was read, ms since the epoch. */
  receivedAt: number;
  /** The frame's JSON text; its `results` were parsed and validated on the ingest thread. */
  frame: string;
  /** How many results the frame holds, accepted or not. */
  count: number;
  /** Indexes into the frame's `results` of the results to store, in order. */
  accepted: readonly number[];
  /** The id of each accepted result, in the same order. */
  ids: readonly string[];
  /** NUMERIC_COLUMNS values of each accepted result in turn; NaN stands for NULL. */
  columns: Float64Array;
  /**
   * The UDP quality figures of the accepted results that have them: for each, its position in
   * `accepted`, then its UDP_FIGURES values (empty when none has one, as in most frames).
   */
  udp: Float64Array;
}

/** The numeric columns packed per result; `status` is an index into RESULT_STATUSES. */
const NUMERIC_COLUMNS = ['ts', 'status', 'downloadMbps', 'uploadMbps', 'latencyMs', 'jitterMs', 'lossRatio', 'busy'] as const;
const WIDTH = NUMERIC_COLUMNS.length;
const UDP_WIDTH = 1 + UDP_FIGURES.length;

/** The batch of a frame's accepted results, from their positions in the frame and their figures. */
export function frameBatch(agentId: string, receivedAt: number, frame: string, count: number, accepted: readonly number[], figures: readonly ResultFigures[]): FrameBatch {
  const columns = new Float64Array(figures.length * WIDTH);
  figures.forEach((f, k) => {
    const at = k * WIDTH;
    columns[at] = f.ts;
    columns[at + 1] = RESULT_STATUSES.indexOf(f.status);
    columns[at + 2] = f.downloadMbps ?? Number.NaN;
    columns[at + 3] = f.uploadMbps ?? Number.NaN;
    columns[at + 4] = f.latencyMs ?? Number.NaN;
    columns[at + 5] = f.jitterMs ?? Number.NaN;
    columns[at + 6] = f.lossRatio ?? Number.NaN;
    columns[at + 7] = f.busy ?? Number.NaN;
  });
  let withUdp = 0;
  for (const f of figures) if (f.udp !== undefined) withUdp++;
  const udp = new Float64Array(withUdp * UDP_WIDTH);
  let at = 0;
  figures.forEach((f, k) => {
    if (f.udp === undefined) return;
    udp[at++] = k;
    for (const name of UDP_FIGURES) udp[at++] = f.udp[name];
  });
  return { agentId, receivedAt, frame, count, accepted, ids: figures.map((f) => f.id), columns, udp };
}

/** The UDP quality figures of a frame batch's results that have them, in order. */
export function frameUdp(batch: FrameBatch): UdpCandidate[] {
  const { agentId, ids, columns, udp } = batch;
  const out: UdpCandidate[] = [];
  for (let at = 0; at < udp.length; at += UDP_WIDTH) {
    const k = udp[at] as number;
    out.push({ agentId, id: ids[k] as string, ts: columns[k * WIDTH] as number, figures: unpackUdpFigures(udp, at + 1) });
  }
  return out;
}


const orNull = (value: number): number | null => (Number.isNaN(value) ? null : value);

/** The rows of a frame batch. */
export function frameRows(batch: FrameBatch): ResultRow[] {
  const { agentId, receivedAt, frame, accepted, ids, columns } = batch;
  const spans = resultSpans(frame);
  // The ingest thread counted the same text with JSON.parse; a disagreement would be a scanner
  // bug, so fall back to serialising the parsed results rather than store a wrong document.
  let docs: string[];
  if (spans.length === batch.count) {
    docs = accepted.map((index) => {
      const [start, end] = spans[index] as [number, number];
      return frame.slice(start, end);
    });
  } else {
    const { results } = JSON.parse(frame) as { results: unknown[] };
    docs = accepted.map((index) => JSON.stringify(results[index]));
  }
  return ids.map((id, k) => {
    const at = k * WIDTH;
    const status = RESULT_STATUSES[columns[at + 1] as number] as string;
    return [
      id,
      agentId,
      columns[at] as number,
      receivedAt,
      status,
      orNull(columns[at + 2] as number),
      orNull(columns[at + 3] as number),
      orNull(columns[at + 4] as number),
      orNull(columns[at + 5] as number),
      orNull(columns[at + 6] as number),
      docs[k] as string,
      orNull(columns[at + 7] as number),
    ];
  });
}

/**
 * The batch of validated results as one frame would carry them, every result accepted: how
 * tests, benchmarks and tools store results through the same write path as ingest.
 */
export function batchOfResults(agentId: string, receivedAt: number, results: readonly MeasurementResult[]): FrameBatch {
  const frame = JSON.stringify({ type: 'results', results });
  return frameBatch(agentId, receivedAt, frame, results.length, results.map((_, i) => i), results.map((r) => resultFigures(r)));
}
