/**
 * What a speed test is asked to do, its defaults and its time bound. Kept apart from the
 * engine (run-speed-test.ts) so that the daemon can plan tests without loading the HTTP client:
 * its idle memory stays small.
 */
import type { Technology } from '@speedwatch/shared';
import type { Endpoint } from './endpoints.js';
import type { MeasureErrorCode } from './measure-error.js';

export type TestName = 'latency' | 'download' | 'upload';
export const TEST_NAMES: readonly TestName[] = ['latency', 'download', 'upload'];
/**
 * The UDP probe's stream (udp-probe.ts): 50 packets a second for 5 s of 172-byte UDP payloads,
 * the shape of a G.711 voice call (a 160-byte 20 ms audio frame behind a 12-byte RTP header,
 * every 20 ms), the most common and the most loss-sensitive flow of a call. About 86 kB each
 * way with UDP/IP headers.
 */
export const UDP_PROBE_DEFAULTS = Object.freeze({
  packets: 250,
  intervalMs: 20,
  packetBytes: 172,
});

/** The phases a test may run: the tests, and the UDP probe (`udp`). */
export type PhaseName = TestName | 'udp';

export interface SpeedTestOptions {
  endpoints: readonly Endpoint[];
  /** Use this endpoint by name instead of the lowest-latency one. */
  server?: string;
  tests: readonly TestName[];
  technology?: Technology;
  /** Concurrent connections for download and upload at the start of each phase. Default 4. */
  streams: number;
  /**
   * Most connections a phase may run: streams are added during warm-up while the rate grows
   * (ramp.ts). Default, absent or equal to `streams`: a fixed count (docs/measurement.md, "Warm-up
   * and streams", says why).
   */
  maxStreams?: number;
  /** Length of each throughput phase, warm-up included. Default 10 000 ms. */
  durationMs: number;
  /**
   * Start of each throughput phase left out of the rate: a fixed time, or `auto` (default): until
   * the rate has settled, at least 1 s and at most half the phase (ramp.ts).
   */
  warmupMs: number | 'auto';
  /** Throughput sampling interval. Default 200 ms. */
  sampleIntervalMs: number;
  /** A TCP (and TLS) connection not made within this fails with SW_CONNECT_TIMEOUT. Default 5 000 ms. */
  connectTimeoutMs: number;
  /** A stream that moves no byte (or has no upload confirmed) for this long fails with SW_STALLED. Default 5 000 ms. */
  stallTimeoutMs: number;
  /**
   * Run the UDP probe (udp-probe.ts) after latency: a paced STAMP stream to the endpoint's
   * reflector. Default false: LibreSpeed backends have no reflector, and a collector older than
   * the `udp` result section refuses results that carry one.
   */
  udp: boolean;
  /** The reflector's UDP port. Default: the endpoint URL's port (80/443 when it names none). */
  udpPort?: number;
  /** Latency probes. Default 20. */
  latencyCount: number;
  latencyTimeoutMs: number;
  /** Interval of the latency probes under load. Default 250 ms. */
  loadedLatencyIntervalMs: number;
  /** Probes per candidate when choosing among several endpoints. Default 5. */
  selectionProbes: number;
  selectionConcurrency: number;
  ca?: string | Buffer;
  /**
   * Count cross traffic during the test (the result's `busyLine`; Linux): on this interface, or
   * the one the route to the first endpoint leaves by. A test whose cross traffic is above
   * `thresholdBytesPerSec` (traffic/busy-line.ts) is flagged.
   */
  crossTraffic?: { interface?: string; thresholdBytesPerSec: number };
  /**
   * The test's data cap, bytes of its own traffic (the result's `usage`): a throughput phase
   * ends when the test reaches it, and one that has not started by then does not run
   * (SW_BUDGET_CAPPED). Latency and the UDP probe are not held to it. None: no cap.
   */
  maxBytes?: number;
  agentVersion: string;
  signal?: AbortSignal;
  onEvent?: (event: SpeedTestEvent) => void;
}

export type SpeedTestEvent =
  | { type: 'selected'; endpoint: string; reason: string }
  | { type: 'phase-start'; phase: PhaseName; durationMs?: number }
  | { type: 'progress'; phase: 'download' | 'upload'; elapsedMs: number; durationMs: number; mbps: number }
  | { type: 'probe'; rttMs: number | undefined; index: number; count: number }
  | { type: 'phase-end'; phase: PhaseName; error?: { code: MeasureErrorCode; message: string } };

export const DEFAULT_SPEED_TEST_OPTIONS = Object.freeze({
  tests: TEST_NAMES,
  streams: 4,
  maxStreams: 4,
  durationMs: 10_000,
  warmupMs: 'auto',
  sampleIntervalMs: 200,
  connectTimeoutMs: 5_000,
  stallTimeoutMs: 5_000,
  udp: false,
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
  const udp = o.udp ? UDP_PROBE_DEFAULTS.packets * UDP_PROBE_DEFAULTS.intervalMs + o.latencyTimeoutMs + 1_000 : 0;
  return selection + latency + udp + phases + o.latencyTimeoutMs + 5_000;
}

