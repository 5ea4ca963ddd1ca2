/**
 * How the data API rounds its figures on the wire (docs/collector.md#precision). Medians and
 * means come out of float arithmetic as `30.003500000000003`; nobody can read that and it
 * promises digits no test measured. Rounded here, once, where each answer is built: the
 * collector keeps full precision for verdicts, alerts and metrics, and only what leaves over
 * HTTP is rounded. Imports only types, so the maintenance thread can use it too.
 */
import type { MeasurementResult, ThroughputResult } from '@speedwatch/shared';
import type { SeriesMetric, SeriesPoint } from '../store/store-types.js';
import type { MetricCheck, Figures, WindowVerdict } from '../verdict/verdicts.js';

/**
 * Decimals of the data API (/api/v1/agents, /results, /results.csv, /series, /compliance),
 * chosen to lose nothing a test can tell apart: Mbps to 1 kbit/s, milliseconds to 1 µs,
 * shares and ratios (0..1) to 0.01 %, seconds to 1 ms, degrees Celsius to 0.1. The console's
 * overview rounds coarser, for people (overview-wire.ts).
 */
export const API_PRECISION = Object.freeze({ mbps: 3, ms: 3, share: 4, seconds: 3, celsius: 1 });

export type ApiPrecision = typeof API_PRECISION;

/** `value` to `decimals` places, half away from zero (so -0.0005 and 0.0005 round alike). */
export function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  const rounded = Math.sign(value) * Math.round(Math.abs(value) * f) / f;
  // -0 would print as 0 in JSON anyway; keep it a plain 0 for tests comparing with Object.is.
  return rounded === 0 ? 0 : rounded;
}

/** Mbps to API_PRECISION.mbps decimals. */
export const roundMbps = (value: number): number => roundTo(value, API_PRECISION.mbps);
/** Milliseconds to API_PRECISION.ms decimals. */
export const roundMs = (value: number): number => roundTo(value, API_PRECISION.ms);
/** A share or ratio (0..1) to API_PRECISION.share decimals. */
export const roundShare = (value: number): number => roundTo(value, API_PRECISION.share);

/** `round(value)`, or null for a missing figure. */
export function roundOrNull(value: number | null | undefined, round: (value: number) => number): number | null {
  return value == null ? null : round(value);
}

function roundFigures(figures: Figures | undefined, round: (value: number) => number): Figures | undefined {
  if (figures === undefined) return undefined;
  const out: Figures = { tests: figures.tests, median: round(figures.median), mean: round(figures.mean) };
  if (figures.shareAtTarget !== undefined) out.shareAtTarget = roundShare(figures.shareAtTarget);
  return out;
}

function roundCheck(check: MetricCheck): MetricCheck {
  if (check.median === undefined) return check;
  return { ...check, median: check.target.metric === 'latency' ? roundMs(check.median) : roundMbps(check.median) };
}

/**
 * A verdict (an agent's or a group's) with its figures rounded: download and upload in Mbps,
 * latency in ms, shares at target, and each check's median. Counts, the target and every
 * other field are as computed.
 */
export function roundVerdict<V extends WindowVerdict>(verdict: V): V {
  const out: V = { ...verdict, checks: verdict.checks.map(roundCheck) };
  const download = roundFigures(verdict.download, roundMbps);
  const upload = roundFigures(verdict.upload, roundMbps);
  const latency = roundFigures(verdict.latency, roundMs);
  if (download !== undefined) out.download = download;
  if (upload !== undefined) out.upload = upload;
  if (latency !== undefined) out.latency = latency;
  return out;
}

/** The unit of a series metric's points, as its rounding. */
const SERIES_ROUNDING: Readonly<Record<SeriesMetric, (value: number) => number>> = {
  download_mbps: roundMbps,
  upload_mbps: roundMbps,
  latency_ms: roundMs,
  jitter_ms: roundMs,
  loss_ratio: roundShare,
};

/** A series point with min, mean, median and max rounded for the metric's unit. */
export function roundSeriesPoint(metric: SeriesMetric, point: SeriesPoint): SeriesPoint {
  const round = SERIES_ROUNDING[metric];
  return { ts: point.ts, count: point.count, min: round(point.min), mean: round(point.mean), median: round(point.median), max: round(point.max) };
}

function roundThroughput(phase: ThroughputResult | undefined): ThroughputResult | undefined {
  if (phase === undefined) return undefined;
  const out: ThroughputResult = {
    ...phase,
    mbps: roundMbps(phase.mbps),
    durationMs: roundMs(phase.durationMs),
    warmupMs: roundMs(phase.warmupMs),
    sampleIntervalMs: roundMs(phase.sampleIntervalMs),
    samplesMbps: phase.samplesMbps.map(roundMbps),
  };
  if (phase.librespeedMbps !== undefined) out.librespeedMbps = roundMbps(phase.librespeedMbps);
  return out;
}

/**
 * A stored result as the API shows it: every figure in Mbps, ms or a ratio rounded (the phase
 * summaries, the samples, the endpoint probes' medians); counts, bytes, streams, ids, times,
 * texts and errors exactly as the agent sent them. The stored document itself is not changed.
 */
export function roundResult(result: MeasurementResult): MeasurementResult {
  const out: MeasurementResult = { ...result };
  if (result.endpoint?.candidates !== undefined) {
    out.endpoint = { ...result.endpoint, candidates: result.endpoint.candidates.map((c) => (c.medianMs === undefined ? c : { ...c, medianMs: roundMs(c.medianMs) })) };
  }
  if (result.latency !== undefined) {
    const l = result.latency;
    out.latency = {
      ...l,
      minMs: roundMs(l.minMs),
      medianMs: roundMs(l.medianMs),
      meanMs: roundMs(l.meanMs),
      p90Ms: roundMs(l.p90Ms),
      maxMs: roundMs(l.maxMs),
      jitterMs: roundMs(l.jitterMs),
      lossRatio: roundShare(l.lossRatio),
      samplesMs: l.samplesMs.map(roundMs),
    };
    if (l.connectMs !== undefined) out.latency.connectMs = roundMs(l.connectMs);
  }
  if (result.udp !== undefined) {
    const u = result.udp;
    out.udp = {
      ...u,
      intervalMs: roundMs(u.intervalMs),
      lossRatio: roundShare(u.lossRatio),
      forwardLossRatio: roundShare(u.forwardLossRatio),
      returnLossRatio: roundShare(u.returnLossRatio),
      rttMinMs: roundMs(u.rttMinMs),
      rttMedianMs: roundMs(u.rttMedianMs),
      rttP95Ms: roundMs(u.rttP95Ms),
      rttMaxMs: roundMs(u.rttMaxMs),
      forwardJitterMs: roundMs(u.forwardJitterMs),
      returnJitterMs: roundMs(u.returnJitterMs),
    };
  }
  const download = roundThroughput(result.download);
  const upload = roundThroughput(result.upload);
  if (download !== undefined) out.download = download;
  if (upload !== undefined) out.upload = upload;
  if (result.loadedLatency !== undefined) {
    const loaded: NonNullable<MeasurementResult['loadedLatency']> = {};
    for (const direction of ['download', 'upload'] as const) {
      const d = result.loadedLatency[direction];
      if (d !== undefined) loaded[direction] = { ...d, medianMs: roundMs(d.medianMs), p90Ms: roundMs(d.p90Ms), lossRatio: roundShare(d.lossRatio) };
    }
    out.loadedLatency = loaded;
  }
  return out;
}
