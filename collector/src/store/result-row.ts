/** A result flattened to the columns of the `results` table, and the figures ingest keeps of it. */
import type { MeasurementResult, ResultStatus } from '@speedwatch/shared';
import { StoreError } from './store-error.js';

/** The columns of `results`, in the order of the INSERT. */
export type ResultRow = [
  id: string,
  agentId: string,
  ts: number,
  receivedAt: number,
  status: string,
  downloadMbps: number | null,
  uploadMbps: number | null,
  latencyMs: number | null,
  jitterMs: number | null,
  lossRatio: number | null,
  doc: string,
];

/**
 * What ingest keeps of a validated result once its document is on its way to the store: the
 * row's columns but agent, arrival time and document, and the loaded latencies the gauges show.
 * Kept instead of the parsed result while its commit runs: a few fields rather than the whole
 * tree, which under load lived long enough to leave the young generation and cost a quarter of
 * the ingest thread in garbage collection.
 */
export interface ResultFigures {
  id: string;
  /** startedAt, ms since the epoch. */
  ts: number;
  status: ResultStatus;
  downloadMbps: number | null;
  uploadMbps: number | null;
  /** Idle latency median. */
  latencyMs: number | null;
  jitterMs: number | null;
  lossRatio: number | null;
  /** Latency median under download and under upload load. */
  loadedDownloadMs: number | null;
  loadedUploadMs: number | null;
}

/** The figures of a validated result; `ts` is its `startedAt` in ms, when the caller has it already. */
export function resultFigures(result: MeasurementResult, ts = Date.parse(result.startedAt)): ResultFigures {
  const { latency, loadedLatency } = result;
  return {
    id: result.id,
    ts,
    status: result.status,
    downloadMbps: result.download?.mbps ?? null,
    uploadMbps: result.upload?.mbps ?? null,
    latencyMs: latency?.medianMs ?? null,
    jitterMs: latency?.jitterMs ?? null,
    lossRatio: latency?.lossRatio ?? null,
    loadedDownloadMs: loadedLatency?.download?.medianMs ?? null,
    loadedUploadMs: loadedLatency?.upload?.medianMs ?? null,
  };
}

/** The row of a result from its figures and stored document. */
export function rowOf(agentId: string, receivedAt: number, f: ResultFigures, doc: string): ResultRow {
  return [f.id, agentId, f.ts, receivedAt, f.status, f.downloadMbps, f.uploadMbps, f.latencyMs, f.jitterMs, f.lossRatio, doc];
}

/** The row of a validated result; throws SW_STORE_ARGUMENT if its `startedAt` is not a date. */
export function resultRow(agentId: string, result: MeasurementResult, receivedAt: number): ResultRow {
  const figures = resultFigures(result);
  if (!Number.isFinite(figures.ts)) {
    throw new StoreError('SW_STORE_ARGUMENT', `result ${result.id}: startedAt is not a date: ${JSON.stringify(result.startedAt)}`);
  }
  return rowOf(agentId, receivedAt, figures, JSON.stringify(result));
}
