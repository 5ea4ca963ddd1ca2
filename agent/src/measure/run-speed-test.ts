/**
 * One full speed test: choose the endpoint, then latency, download (with latency under load)
 * and upload (likewise), and assemble a MeasurementResult. Failures become the result's
 * `status` and `errors`; this function only rejects for misuse (bad options).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { MeasurementResult, Phase, ResultError, Technology, ThroughputResult } from '@speedwatch/shared';
import { RESULT_SCHEMA_VERSION, SpeedwatchError } from '@speedwatch/shared';
import { fetchClientIp } from './client-ip.js';
import { measureDownload } from './download.js';
import type { Endpoint } from './endpoints.js';
import { LoadedLatencySampler, measureLatency } from './latency.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { NoEndpointError, selectEndpoint } from './select-endpoint.js';
import type { PhaseOutcome, ThroughputOptions } from './throughput-options.js';
import { measureUpload } from './upload.js';

export type TestName = 'latency' | 'download' | 'upload';
export const TEST_NAMES: readonly TestName[] = ['latency', 'download', 'upload'];

export interface SpeedTestOptions {
  endpoints: readonly Endpoint[];
  /** Use this endpoint by name instead of the lowest-latency one. */
  server?: string;
  tests: readonly TestName[];
  technology?: Technology;
  /** Concurrent connections for download and upload. Default 4. */
  streams: number;
  /** Length of each throughput phase, warm-up included. Default 10 000 ms. */
  durationMs: number;
  /** Start of each throughput phase left out of the rate. Default 2 000 ms (a quarter of shorter phases). */
  warmupMs: number;
  /** Throughput sampling interval. Default 200 ms. */
  sampleIntervalMs: number;
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  /** Latency probes. Default 20. */
  latencyCount: number;
  latencyTimeoutMs: number;
  /** Interval of the latency probes under load. Default 250 ms. */
  loadedLatencyIntervalMs: number;
  /** Probes per candidate when choosing among several endpoints. Default 5. */
  selectionProbes: number;
  selectionConcurrency: number;
  ca?: string | Buffer;
  agentVersion: string;
  signal?: AbortSignal;
  onEvent?: (event: SpeedTestEvent) => void;
}

export type SpeedTestEvent =
  | { type: 'selected'; endpoint: string; reason: string }
  | { type: 'phase-start'; phase: TestName; durationMs?: number }
  | { type: 'progress'; phase: 'download' | 'upload'; elapsedMs: number; durationMs: number; mbps: number }
  | { type: 'probe'; rttMs: number | undefined; index: number; count: number }
  | { type: 'phase-end'; phase: TestName; error?: { code: string; message: string } };

export const DEFAULT_SPEED_TEST_OPTIONS = Object.freeze({
  tests: TEST_NAMES,
  streams: 4,
  durationMs: 10_000,
  warmupMs: 2_000,
  sampleIntervalMs: 200,
  connectTimeoutMs: 5_000,
  stallTimeoutMs: 5_000,
  latencyCount: 20,
  latencyTimeoutMs: 2_000,
  loadedLatencyIntervalMs: 250,
  selectionProbes: 5,
  selectionConcurrency: 4,
} as const);

/** The longest a test with these options may take; it is aborted past this. */
export function speedTestBoundMs(o: SpeedTestOptions): number {
  const selection = o.endpoints.length > 1 ? (o.selectionProbes + 1) * o.latencyTimeoutMs * Math.ceil(o.endpoints.length / o.selectionConcurrency) : 0;
  const latency = o.tests.includes('latency') ? (o.latencyCount + 1) * o.latencyTimeoutMs + 3 * o.connectTimeoutMs : 0;
  const throughput = o.durationMs + 2_000 + o.stallTimeoutMs + o.connectTimeoutMs;
  const phases = (o.tests.includes('download') ? throughput : 0) + (o.tests.includes('upload') ? throughput : 0);
  return selection + latency + phases + o.latencyTimeoutMs + 5_000;
}

export interface SpeedTestDeps {
  now?: () => Date;
  newId?: () => string;
}

export async function runSpeedTest(options: SpeedTestOptions, deps: SpeedTestDeps = {}): Promise<MeasurementResult> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const errors: ResultError[] = [];
  const record = (phase: Phase, err: unknown): MeasureError => {
    const error = toMeasureError(err, phase);
    errors.push({ phase, code: error.code, message: error.message });
    return error;
  };

  const bound = new AbortController();
  const boundMs = speedTestBoundMs(options);
  const timer = setTimeout(() => bound.abort(), boundMs);
  const signal = options.signal === undefined ? bound.signal : AbortSignal.any([options.signal, bound.signal]);
  const result: MeasurementResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    id: (deps.newId ?? randomUUID)(),
    status: 'failed',
    startedAt,
    finishedAt: startedAt,
    ...(options.technology === undefined ? {} : { technology: options.technology }),
    agent: { version: options.agentVersion, platform: os.platform(), arch: os.arch(), node: process.versions.node },
  };
  const probeOptions = {
    timeoutMs: options.latencyTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    userAgent: `speedwatch-agent/${options.agentVersion}`,
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  };
  let current: Phase = 'select';
  const onEvent = options.onEvent ?? (() => {});
  const emit = (event: SpeedTestEvent): void => {
    if (event.type === 'phase-start') current = event.phase;
    onEvent(event);
  };

  try {
    let endpoint: Endpoint;
    try {
      const selection = await selectEndpoint(options.endpoints, {
        ...probeOptions,
        probes: options.selectionProbes,
        concurrency: options.selectionConcurrency,
        ...(options.server === undefined ? {} : { force: options.server }),
      });
      endpoint = selection.endpoint;
      result.endpoint = selection.choice;
      emit({ type: 'selected', endpoint: endpoint.name, reason: selection.choice.reason });
    } catch (err) {
      if (err instanceof SpeedwatchError && !(err instanceof MeasureError)) throw err; // misuse, e.g. unknown --server
      if (err instanceof NoEndpointError) {
        const first = options.endpoints[0] as Endpoint;
        result.endpoint = { name: first.name, url: first.baseUrl, reason: 'lowest-latency', candidates: err.candidates };
      }
      record('select', err);
      return result;
    }

    const ip = await fetchClientIp(endpoint.getIpUrl, { timeoutMs: options.latencyTimeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) });
    if (ip !== undefined) result.clientIp = ip;

    if (options.tests.includes('latency') && !signal.aborted) {
      emit({ type: 'phase-start', phase: 'latency' });
      try {
        result.latency = await measureLatency(endpoint.pingUrl, {
          ...probeOptions,
          count: options.latencyCount,
          intervalMs: 0,
          signal,
          onProbe: (rttMs, index) => emit({ type: 'probe', rttMs, index, count: options.latencyCount }),
        });
        emit({ type: 'phase-end', phase: 'latency' });
      } catch (err) {
        const error = record('latency', err);
        emit({ type: 'phase-end', phase: 'latency', error: { code: error.code, message: error.message } });
      }
    }

    const throughputOptions = (phase: 'download' | 'upload'): ThroughputOptions => ({
      streams: options.streams,
      durationMs: options.durationMs,
      warmupMs: Math.min(options.warmupMs, options.durationMs / 4),
      sampleIntervalMs: options.sampleIntervalMs,
      connectTimeoutMs: options.connectTimeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      userAgent: probeOptions.userAgent,
      signal,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      onProgress: ({ elapsedMs, mbps }) => emit({ type: 'progress', phase, elapsedMs, durationMs: options.durationMs, mbps }),
    });
    const runPhase = async (
      phase: 'download' | 'upload',
      measure: (e: Endpoint, o: ThroughputOptions) => Promise<PhaseOutcome>,
    ): Promise<ThroughputResult | undefined> => {
      emit({ type: 'phase-start', phase, durationMs: options.durationMs });
      const loaded = new LoadedLatencySampler(endpoint.pingUrl, { ...probeOptions, intervalMs: options.loadedLatencyIntervalMs });
      const outcome = await measure(endpoint, throughputOptions(phase)).catch((err: unknown): PhaseOutcome => ({ error: toMeasureError(err, phase) }));
      const underLoad = await loaded.stop();
      if (underLoad !== undefined) result.loadedLatency = { ...result.loadedLatency, [phase]: underLoad };
      const error = outcome.error === undefined ? undefined : record(phase, outcome.error);
      emit({ type: 'phase-end', phase, ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }) });
      return outcome.result;
    };
    if (options.tests.includes('download') && !signal.aborted) {
      const download = await runPhase('download', measureDownload);
      if (download !== undefined) result.download = download;
    }
    if (options.tests.includes('upload') && !signal.aborted) {
      const upload = await runPhase('upload', measureUpload);
      if (upload !== undefined) result.upload = upload;
    }
    if (signal.aborted && !errors.some((e) => e.code === 'SW_ABORTED')) {
      const why = bound.signal.aborted ? `the test overran its bound of ${boundMs} ms` : 'the test was stopped';
      record(current, new MeasureError('SW_ABORTED', why));
    }
    return result;
  } finally {
    clearTimeout(timer);
    const measured = options.tests.filter((t) => result[t] !== undefined).length;
    result.status = measured === 0 ? 'failed' : measured === options.tests.length && errors.length === 0 ? 'ok' : 'partial';
    if (errors.length > 0) {
      result.error = errors[0] as ResultError;
      result.errors = errors;
    }
    result.finishedAt = now().toISOString();
  }
}
