/** A result flattened to the columns of the `results` table, and the figures ingest keeps of it. */
import type { MeasurementResult, ResultStatus, UdpResult } from '@speedwatch/shared';

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
  /** 1: ran under cross traffic (busyLine.flagged); 0: checked, quiet; null: not checked. */
  busy: number | null,
];

/**
 * The UDP quality figures the collector keeps of a result's `udp` section (docs/measurement.md,
 * "UDP quality"), as the agent sent them: times in ms, losses as ratios 0..1. Forward is the way
 * to the reflector (up), return the way back (down).
 */
export type UdpFigures = Pick<UdpResult, 'rttMedianMs' | 'rttP95Ms' | 'forwardJitterMs' | 'returnJitterMs' | 'lossRatio' | 'forwardLossRatio' | 'returnLossRatio'>;

/** UdpFigures' fields, in the order they are packed and stored. */
export const UDP_FIGURES = ['rttMedianMs', 'rttP95Ms', 'forwardJitterMs', 'returnJitterMs', 'lossRatio', 'forwardLossRatio', 'returnLossRatio'] as const satisfies readonly (keyof UdpFigures)[];

/** UdpFigures from UDP_FIGURES' values at `values[at]` onwards (packed for another thread). */
export function unpackUdpFigures(values: ArrayLike<number>, at = 0): UdpFigures {
  const figures = {} as Record<keyof UdpFigures, number>;
  UDP_FIGURES.forEach((name, i) => (figures[name] = values[at + i] as number));
  return figures;
}

/** The figures of a result's `udp` section. */
export function udpFigures(udp: UdpResult): UdpFigures {
  const { rttMedianMs, rttP95Ms, forwardJitterMs, returnJitterMs, lossRatio, forwardLossRatio, returnLossRatio } = udp;
  return { rttMedianMs, rttP95Ms, forwardJitterMs, returnJitterMs, lossRatio, forwardLossRatio, returnLossRatio };
}

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
  /** As the row's `busy` (absent: null); only what is stored needs it. */
  busy?: number | null;
  /** The UDP quality figures, when the result has a `udp` section. */
  udp?: UdpFigures;
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
    ...(result.busyLine === undefined ? {} : { busy: result.busyLine.flagged ? 1 : 0 }),
    ...(result.udp === undefined ? {} : { udp: udpFigures(result.udp) }),
  };
}
