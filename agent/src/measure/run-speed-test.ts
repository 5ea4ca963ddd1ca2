/**
 * One full speed test: choose the endpoint, then latency, download (with latency under load)
 * and upload (likewise), and assemble a MeasurementResult. Failures become the result's
 * `status` and `errors`; this function only rejects for misuse (bad options).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { DataUsage, MeasurementResult, Phase, ResultError, ThroughputResult } from '@speedwatch/shared';
import { MEASUREMENT_METHOD, RESULT_SCHEMA_VERSION, SpeedwatchError } from '@speedwatch/shared';
import { fetchClientIp } from './client-ip.js';
import { measureDownload } from './download.js';
import type { Endpoint } from './endpoints.js';
import { LoadedLatencySampler, measureLatency } from './latency.js';
import { MeasureError, toMeasureError } from './measure-error.js';
import { NoEndpointError, selectEndpoint } from './select-endpoint.js';
import type { PhaseOutcome, ThroughputOptions } from './throughput-options.js';
import { measureUpload } from './upload.js';
import { measureUdp } from './udp-probe.js';
import type { ByteCounts } from '../traffic/own-traffic.js';
import { OwnTraffic, tcpHeaderBytes } from '../traffic/own-traffic.js';
import type { InterfaceCounters } from '../traffic/interface-counters.js';
import { readInterfaceCounters } from '../traffic/interface-counters.js';
import { interfaceForHost } from '../traffic/route-interface.js';
import { busyDuringTest, crossBytes } from '../traffic/cross-traffic.js';

import type { PhaseName, SpeedTestEvent, SpeedTestOptions } from './speed-test-options.js';
import { speedTestBoundMs, UDP_PROBE_DEFAULTS } from './speed-test-options.js';

/**
 * How long a step may go on after the bound fires before it is abandoned. Every phase stops
 * itself on the bound's signal; this backstop keeps the bound a promise even if one does not.
 */
export const BOUND_GRACE_MS = 2_000;

export interface SpeedTestDeps {
  now?: () => Date;
  newId?: () => string;
  /** Counts the test's own traffic (default: a new OwnTraffic, watching every client socket of the process). */
  traffic?: OwnTraffic;
  /** An interface's byte counters now (default: /proc/net/dev). */
  readCounters?: (iface: string) => Promise<InterfaceCounters>;
  /** The interface traffic to a host leaves by (default: the routing table). */
  interfaceFor?: (hostname: string) => Promise<string | undefined>;
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
  let backstopTimer: NodeJS.Timeout | undefined;
  const backstop = new Promise<never>((_resolve, reject) => {
    const arm = (): void => {
      backstopTimer = setTimeout(() => reject(new MeasureError('SW_ABORTED', `a step did not stop within ${BOUND_GRACE_MS} ms of the test's bound (${boundMs} ms) and was abandoned`)), BOUND_GRACE_MS);
    };
    if (signal.aborted) arm();
    else signal.addEventListener('abort', arm, { once: true });
  });
  backstop.catch(() => {}); // raced below; never unhandled when nothing is racing it
  const bounded = <T>(step: Promise<T>): Promise<T> => Promise.race([step, backstop]);
  const result: MeasurementResult = {
    schemaVersion: RESULT_SCHEMA_VERSION,
    method: MEASUREMENT_METHOD,
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
  // The test's own traffic, by phase: a snapshot when a phase starts, the difference when it ends.
  const own = (deps.traffic ?? new OwnTraffic()).start();
  const phaseBytes: Partial<Record<Phase, number>> = {};
  const phaseMs: Partial<Record<Phase, number>> = {};
  let phaseStart: { bytes: ByteCounts; ms: number } | undefined;
  const emit = (event: SpeedTestEvent): void => {
    if (event.type === 'phase-start') {
      current = event.phase;
      phaseStart = { bytes: own.snapshot(), ms: performance.now() };
    } else if (event.type === 'phase-end' && phaseStart !== undefined) {
      const end = own.snapshot();
      const { bytes: start } = phaseStart;
      phaseBytes[event.phase] = (phaseBytes[event.phase] ?? 0) + end.rxBytes - start.rxBytes + end.txBytes - start.txBytes;
      phaseMs[event.phase] = (phaseMs[event.phase] ?? 0) + performance.now() - phaseStart.ms;
      phaseStart = undefined;
    }
    onEvent(event);
  };
  // The data cap: throughput phases end once the test's own traffic reaches it.
  const cap = options.maxBytes;
  const capReached = (): boolean => {
    if (cap === undefined) return false;
    const used = own.snapshot();
    return used.rxBytes + used.txBytes >= cap;
  };
  const busy = options.crossTraffic === undefined ? undefined : await startCrossTraffic(options, deps);

  try {
    let endpoint: Endpoint;
    try {
      const selection = await bounded(selectEndpoint(options.endpoints, {
        ...probeOptions,
        probes: options.selectionProbes,
        concurrency: options.selectionConcurrency,
        ...(options.server === undefined ? {} : { force: options.server }),
      }));
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

    const ip = await bounded(fetchClientIp(endpoint.getIpUrl, { timeoutMs: options.latencyTimeoutMs, ...(options.ca === undefined ? {} : { ca: options.ca }) })).catch(() => undefined);
    if (ip !== undefined) result.clientIp = ip;

    if (options.tests.includes('latency') && !signal.aborted) {
      emit({ type: 'phase-start', phase: 'latency' });
      try {
        result.latency = await bounded(measureLatency(endpoint.pingUrl, {
          ...probeOptions,
          count: options.latencyCount,
          intervalMs: 0,
          signal,
          onProbe: (rttMs, index) => emit({ type: 'probe', rttMs, index, count: options.latencyCount }),
        }));
        emit({ type: 'phase-end', phase: 'latency' });
      } catch (err) {
        const error = record('latency', err);
        emit({ type: 'phase-end', phase: 'latency', error: { code: error.code, message: error.message } });
      }
    }

    if (options.udp && !signal.aborted) {
      emit({ type: 'phase-start', phase: 'udp', durationMs: UDP_PROBE_DEFAULTS.packets * UDP_PROBE_DEFAULTS.intervalMs });
      try {
        const url = new URL(endpoint.baseUrl);
        result.udp = await bounded(measureUdp({
          ...UDP_PROBE_DEFAULTS,
          host: url.hostname,
          port: options.udpPort ?? (url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80),
          timeoutMs: options.latencyTimeoutMs,
          signal,
        }));
        own.addDatagrams(result.udp.sent, result.udp.received + result.udp.duplicates, result.udp.packetBytes, url.hostname.includes(':') ? 'IPv6' : 'IPv4');
        emit({ type: 'phase-end', phase: 'udp' });
      } catch (err) {
        const error = record('udp', err);
        emit({ type: 'phase-end', phase: 'udp', error: { code: error.code, message: error.message } });
      }
    }

    const throughputOptions = (phase: 'download' | 'upload'): ThroughputOptions => ({
      streams: options.streams,
      ...(options.maxStreams === undefined ? {} : { maxStreams: options.maxStreams }),
      durationMs: options.durationMs,
      warmupMs: options.warmupMs === 'auto' ? 'auto' : Math.min(options.warmupMs, options.durationMs / 4),
      sampleIntervalMs: options.sampleIntervalMs,
      connectTimeoutMs: options.connectTimeoutMs,
      stallTimeoutMs: options.stallTimeoutMs,
      userAgent: probeOptions.userAgent,
      signal,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      onProgress: ({ elapsedMs, mbps }) => emit({ type: 'progress', phase, elapsedMs, durationMs: options.durationMs, mbps }),
      ...(cap === undefined ? {} : { timeUp: capReached }),
    });
    const capped = (phase: 'download' | 'upload', before: boolean): MeasureError =>
      new MeasureError('SW_BUDGET_CAPPED', `the test reached its data cap of ${cap ?? 0} bytes ${before ? 'before' : 'during'} its ${phase} phase${before ? '' : ', before a second of it was measured'}`);
    const runPhase = async (
      phase: 'download' | 'upload',
      measure: (e: Endpoint, o: ThroughputOptions) => Promise<PhaseOutcome>,
    ): Promise<ThroughputResult | undefined> => {
      if (capReached()) {
        record(phase, capped(phase, true));
        return undefined;
      }
      emit({ type: 'phase-start', phase, durationMs: options.durationMs });
      const loaded = new LoadedLatencySampler(endpoint.pingUrl, { ...probeOptions, intervalMs: options.loadedLatencyIntervalMs });
      const outcome = await bounded(measure(endpoint, throughputOptions(phase))).catch((err: unknown): PhaseOutcome => ({ error: toMeasureError(err, phase) }));
      const underLoad = await bounded(loaded.stop()).catch(() => undefined);
      if (underLoad !== undefined) result.loadedLatency = { ...result.loadedLatency, [phase]: underLoad };
      // Cut short by the cap before it measured anything: say so, unless it failed on its own.
      if (outcome.result === undefined && outcome.error === undefined && capReached()) outcome.error = capped(phase, false);
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
    clearTimeout(backstopTimer);
    const total = own.snapshot();
    own.stop();
    result.usage = usageOf(total, phaseBytes, phaseMs);
    if (busy !== undefined) {
      const after = await busy.read().catch(() => undefined);
      if (after !== undefined) {
        const durationMs = Math.round(performance.now() - busy.startedMs);
        const ownPayload = own.payload();
        const cross = crossBytes(busy.before, after, ownPayload, tcpHeaderBytes(own.family()));
        const crossTrafficBytes = cross.rxBytes + cross.txBytes;
        const thresholdBytesPerSec = busy.thresholdBytesPerSec;
        result.busyLine = {
          interface: busy.iface,
          crossTrafficBytes,
          crossRxBytes: cross.rxBytes,
          crossTxBytes: cross.txBytes,
          durationMs,
          thresholdBytesPerSec,
          flagged: busyDuringTest(crossTrafficBytes, ownPayload.rxBytes + ownPayload.txBytes, durationMs, thresholdBytesPerSec),
        };
      }
    }
    const requested: PhaseName[] = options.udp ? [...options.tests, 'udp'] : [...options.tests];
    const measured = requested.filter((t) => result[t] !== undefined).length;
    result.status = measured === 0 ? 'failed' : measured === requested.length && errors.length === 0 ? 'ok' : 'partial';
    if (errors.length > 0) {
      result.error = errors[0] as ResultError;
      result.errors = errors;
    }
    result.finishedAt = now().toISOString();
  }
}

/** The test's traffic as the result reports it: `select` is what fell outside the named phases. */
function usageOf(total: ByteCounts, phases: Partial<Record<Phase, number>>, durations: Partial<Record<Phase, number>>): DataUsage {
  const rxBytes = Math.round(total.rxBytes);
  const txBytes = Math.round(total.txBytes);
  const rounded: Partial<Record<Phase, number>> = {};
  for (const [phase, b] of Object.entries(phases) as [Phase, number][]) rounded[phase] = Math.round(b);
  // What the named phases leave: the phases add up to `bytes`.
  const named = Object.values(rounded).reduce((sum, b) => sum + b, 0);
  const phaseMs: Partial<Record<Phase, number>> = {};
  for (const [phase, ms] of Object.entries(durations) as [Phase, number][]) phaseMs[phase] = Math.round(ms);
  return { bytes: rxBytes + txBytes, rxBytes, txBytes, phases: { select: Math.max(0, rxBytes + txBytes - named), ...rounded }, phaseMs };
}

interface CrossTrafficStart {
  iface: string;
  before: InterfaceCounters;
  startedMs: number;
  thresholdBytesPerSec: number;
  read: () => Promise<InterfaceCounters>;
}

/**
 * The interface's counters at the test's start, on the interface given or the one the route to
 * the first endpoint's download host leaves by. Undefined where they cannot be read (not Linux,
 * no route): the result then has no `busyLine`.
 */
async function startCrossTraffic(options: SpeedTestOptions, deps: SpeedTestDeps): Promise<CrossTrafficStart | undefined> {
  const wanted = options.crossTraffic;
  const first = options.endpoints[0];
  if (wanted === undefined || first === undefined) return undefined;
  const readCounters = deps.readCounters ?? ((iface: string) => readInterfaceCounters(iface));
  const interfaceFor = deps.interfaceFor ?? ((host: string) => interfaceForHost(host));
  try {
    const iface = wanted.interface ?? (await interfaceFor(first.downloadUrl.hostname));
    // On loopback the endpoint's side of the test passes the same counters: nothing to tell apart.
    if (iface === undefined || iface === 'lo') return undefined;
    const before = await readCounters(iface);
    return { iface, before, startedMs: performance.now(), thresholdBytesPerSec: wanted.thresholdBytesPerSec, read: () => readCounters(iface) };
  } catch {
    return undefined;
  }
}
