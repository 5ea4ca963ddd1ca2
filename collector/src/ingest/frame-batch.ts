/** What the ingest thread hands the writer: a frame's accepted results, and their rows. */
import type { ResultColumns, ResultRow } from '../store/result-row.js';
import { resultSpans } from './frame-spans.js';

/**
 * The results accepted from one `results` frame: the frame's text as received, and for each
 * result that passed validation its position in the frame's `results` and its columns. The
 * stored document is that result's text as the agent sent it, cut out of the frame by the
 * writer thread (frame-spans.ts): no re-serialisation, and a string crosses threads as a
 * plain copy where objects would be serialised.
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
  /** The columns of each accepted result, in the same order. */
  columns: readonly ResultColumns[];
}

/** The rows of a frame batch. */
export function frameRows(batch: FrameBatch): ResultRow[] {
  const { agentId, receivedAt, frame, accepted, columns } = batch;
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
  return accepted.map((_, k) => {
    const [id, ts, status, downloadMbps, uploadMbps, latencyMs, jitterMs, lossRatio] = columns[k] as ResultColumns;
    return [id, agentId, ts, receivedAt, status, downloadMbps, uploadMbps, latencyMs, jitterMs, lossRatio, docs[k] as string];
  });
}
