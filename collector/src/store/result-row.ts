/** A result flattened to the columns of the `results` table. */
import type { MeasurementResult } from '@speedwatch/shared';
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

/** The row of a validated result; throws SW_STORE_ARGUMENT if its `startedAt` is not a date. */
export function resultRow(agentId: string, result: MeasurementResult, receivedAt: number): ResultRow {
  const [id, ts, status, downloadMbps, uploadMbps, latencyMs, jitterMs, lossRatio] = resultColumns(result);
  if (!Number.isFinite(ts)) {
    throw new StoreError('SW_STORE_ARGUMENT', `result ${result.id}: startedAt is not a date: ${JSON.stringify(result.startedAt)}`);
  }
  return [id, agentId, ts, receivedAt, status, downloadMbps, uploadMbps, latencyMs, jitterMs, lossRatio, JSON.stringify(result)];
}

/** The columns of a result but its agent, arrival time and document: what validation yields. */
export type ResultColumns = [
  id: string,
  ts: number,
  status: string,
  downloadMbps: number | null,
  uploadMbps: number | null,
  latencyMs: number | null,
  jitterMs: number | null,
  lossRatio: number | null,
];

/** The columns of a validated result; `ts` is its `startedAt` in ms, when the caller has it already. */
export function resultColumns(result: MeasurementResult, ts = Date.parse(result.startedAt)): ResultColumns {
  const { latency } = result;
  return [
    result.id,
    ts,
    result.status,
    result.download?.mbps ?? null,
    result.upload?.mbps ?? null,
    latency?.medianMs ?? null,
    latency?.jitterMs ?? null,
    latency?.lossRatio ?? null,
  ];
}
