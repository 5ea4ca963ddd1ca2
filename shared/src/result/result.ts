/**
 * The measurement result: what one run of the agent produced. It is the unit that the agent
 * stores, streams and the collector judges, so every number carries its unit in its name.
 * Throughput is payload Mbps (see units.ts); times are milliseconds.
 */
import { errorCodesCarriedBy } from '../errors/error-codes.js';
import type { ErrorCodeCarriedBy } from '../errors/error-codes.js';
import type { MeasurementMethod } from './librespeed-figure.js';

export const RESULT_SCHEMA_VERSION = 1;

export const TECHNOLOGIES = ['fixed', 'mobile'] as const;
export type Technology = (typeof TECHNOLOGIES)[number];

export const RESULT_STATUSES = ['ok', 'partial', 'failed'] as const;
/** `ok`: every requested phase measured; `partial`: some did; `failed`: none did. */
export type ResultStatus = (typeof RESULT_STATUSES)[number];

export const PHASES = ['select', 'latency', 'udp', 'download', 'upload'] as const;
export type Phase = (typeof PHASES)[number];

export const SELECTION_REASONS = ['only', 'forced', 'lowest-latency'] as const;
/** Why this endpoint: the only one given, `--server NAME`, or the lowest median ping of several. */
export type SelectionReason = (typeof SELECTION_REASONS)[number];

export interface EndpointCandidate {
  name: string;
  /** Median ping of the selection probe, when it answered. */
  medianMs?: number;
  /** Error code when the probe failed. */
  errorCode?: ResultErrorCode;
}

export interface EndpointChoice {
  name: string;
  /** Base URL of the server, as given or as the server list's `server` field. */
  url: string;
  reason: SelectionReason;
  /** Every endpoint probed during selection (absent when there was nothing to choose). */
  candidates?: EndpointCandidate[];
}

export interface LatencyResult {
  /** Probes sent. */
  count: number;
  minMs: number;
  medianMs: number;
  meanMs: number;
  p90Ms: number;
  maxMs: number;
  /** Mean absolute difference of consecutive round trips. */
  jitterMs: number;
  /** Probes that timed out or failed, over `count`. */
  lossRatio: number;
  /** Median time to open a TCP connection (TCP handshake only, no TLS). */
  connectMs?: number;
  /** Round trips in the order taken. */
  samplesMs: number[];
}

export interface ThroughputResult {
  /** Payload rate over the measured window (after warm-up). */
  mbps: number;
  /**
   * What a LibreSpeed-style client would display for the same transfer: `mbps` × 1.06
   * (LibreSpeed's `overheadCompensationFactor`), to 0.001 (`librespeedStyleMbps`). Absent in
   * results of agents older than `method`.
   */
  librespeedMbps?: number;
  /** Payload bytes in the measured window. */
  bytes: number;
  /** Length of the measured window. */
  durationMs: number;
  /** Concurrent TCP connections used. */
  streams: number;
  /** Time at the start excluded as TCP slow-start warm-up. */
  warmupMs: number;
  /** Payload bytes over the whole phase, warm-up included. */
  totalBytes: number;
  /** Length of each interval of `samplesMbps`. */
  sampleIntervalMs: number;
  /**
   * Payload rate in each interval across the whole phase: element i covers
   * (i × sampleIntervalMs, (i + 1) × sampleIntervalMs] ms after the phase started. A plain
   * number array (not objects with a time each) keeps a result ~1.8 kB instead of ~3.6 kB,
   * which halves what an agent uploads and the collector parses, validates and stores.
   */
  samplesMbps: number[];
  /** Upload only: how bytes were confirmed: the endpoint's received-bytes header, or completed requests. */
  confirmedBy?: 'header' | 'response';
  /** How warm-up ended and how many streams began (method `speedwatch-3` on); `streams` and `warmupMs` are what was used. Absent from older agents' results. */
  ramp?: ThroughputRamp;
}

/**
 * How a throughput phase came to its warm-up and streams (docs/measurement.md, "Warm-up and
 * streams"): an adaptive warm-up ended when the rate `settled`, or at its `limit` (half the
 * phase) if it never did; a `fixed` one was set. Streams start at `initialStreams` and may be
 * added during warm-up while the rate grows; `streams` is how many ran through the window.
 */
export interface ThroughputRamp {
  warmup: 'settled' | 'limit' | 'fixed';
  initialStreams: number;
}

/**
 * UDP quality (docs/measurement.md, "UDP quality"): a paced stream of STAMP packets to the
 * endpoint's reflector and back. Present when the probe ran and at least one answer came back.
 * Times in ms, losses as ratios 0..1.
 */
export interface UdpResult {
  /** The reflector's UDP port. */
  port: number;
  /** UDP payload bytes of each packet, in both directions (an answer is as long as its request). */
  packetBytes: number;
  /** Time between two packets sent. */
  intervalMs: number;
  /** Packets sent. */
  sent: number;
  /** Distinct packets whose answer came back in time. */
  received: number;
  /** Packets with no answer, over `sent`. */
  lossRatio: number;
  /**
   * Lost on the way to the reflector: of the packets sent up to the last one answered, the share
   * the reflector never counted (its own sequence number says how many it got).
   */
  forwardLossRatio: number;
  /** Lost on the way back: of the packets the reflector counted (up to the last one answered), the share whose answer never came. */
  returnLossRatio: number;
  /** Answers that came more than once (not counted in `received` again). */
  duplicates: number;
  /** Answers that came after the answer to a later packet. */
  reordered: number;
  /** Round trips, less the time the packet spent in the reflector: (T4 − T1) − (T3 − T2). */
  rttMinMs: number;
  rttMedianMs: number;
  rttP95Ms: number;
  rttMaxMs: number;
  /** RFC 3550 interarrival jitter of the way out: the sender's send times against the reflector's receive times. */
  forwardJitterMs: number;
  /** RFC 3550 interarrival jitter of the way back: the reflector's send times against the sender's receive times. */
  returnJitterMs: number;
}

export interface LoadedLatency {
  count: number;
  medianMs: number;
  p90Ms: number;
  lossRatio: number;
}

/** Codes a result's `error` and `errors[]` may hold: the registry's codes carried by `result`. */
export type ResultErrorCode = ErrorCodeCarriedBy<'result'>;
export const RESULT_ERROR_CODES: readonly ResultErrorCode[] = errorCodesCarriedBy('result');

export interface ResultError {
  phase: Phase;
  /** A stable code from the registry (docs/errors.md). */
  code: ResultErrorCode;
  message: string;
}

/**
 * The test's own traffic (docs/measurement.md, "Data used"): what it moved through the network
 * interface, both directions, estimated from every socket's byte counts plus the TCP/IP and
 * Ethernet headers each packet carries (and the ACKs the other way). Bytes.
 */
export interface DataUsage {
  /** Received plus sent. */
  bytes: number;
  rxBytes: number;
  txBytes: number;
  /** The same by phase (received plus sent); `select` holds what fell outside the named phases (choosing the endpoint, the client address). */
  phases: Partial<Record<Phase, number>>;
  /** How long each named phase took, ms, start to end (a throughput phase's bytes a ms are estimated over it). */
  phaseMs?: Partial<Record<Phase, number>>;
}

/**
 * Cross traffic: bytes through the agent's network interface during the test that were not the
 * test's own (docs/measurement.md, "Busy lines"): the interface's counters (/proc/net/dev)
 * less `usage`. A line busy with other traffic reads low, and the test loads the others.
 */
export interface BusyLine {
  /** The interface counted: the one the route to the endpoint leaves by. */
  interface: string;
  /** Received plus sent, over `durationMs`. */
  crossTrafficBytes: number;
  crossRxBytes: number;
  crossTxBytes: number;
  /** Time counted, from the test's start to its end, in ms. */
  durationMs: number;
  /** The rule: more than this many bytes a second (both directions together) is a busy line. */
  thresholdBytesPerSec: number;
  /** The daemon's checks before the test: each sample's length in ms, and each one's rate (bytes a second), in the order taken. */
  sampleMs?: number;
  preTestBytesPerSec?: number[];
  /** The test ran under cross traffic (its last check before, or its own time, above the threshold): verdicts may leave it out. */
  flagged: boolean;
}

export const BUDGET_ACTIONS = ['full', 'shortened', 'skipped'] as const;
/** `full`: as planned; `shortened`: throughput phases shorter or one of them left out; `skipped`: no throughput phase. */
export type BudgetAction = (typeof BUDGET_ACTIONS)[number];

export const BUDGET_REASONS = ['within-allowance', 'over-allowance', 'budget-spent', 'no-history'] as const;
/**
 * Why: the test fits this test's share of what is left (`within-allowance`), it does not
 * (`over-allowance`), nothing is left this month (`budget-spent`), or the agent has no test of
 * this line yet to estimate from and runs the throughput phases at their shortest (`no-history`).
 */
export type BudgetReason = (typeof BUDGET_REASONS)[number];

/** What a monthly data budget made of this test (docs/agent.md, "Metered links"). Bytes as `usage` counts them. */
export interface BudgetDecision {
  monthlyBytes: number;
  /** The budget's month, `YYYY-MM` in its time zone. */
  month: string;
  /** Used this month before this test. */
  usedBytes: number;
  /** This test's share: what is left, over the tests left in the month. */
  allowanceBytes: number;
  /** This test's bytes as estimated from the last tests, as run. */
  estimatedBytes: number;
  action: BudgetAction;
  reason: BudgetReason;
  /** Throughput phases left out for the budget. */
  skipped?: ('download' | 'upload')[];
  /** The throughput phases' duration as run, when shortened, ms. */
  durationMs?: number;
  /** The test's data cap (bytes): past it, throughput phases end early (SW_BUDGET_CAPPED when one measured less than a second). */
  capBytes?: number;
  /** The test reached its cap. */
  capped?: boolean;
}

export interface MeasurementResult {
  schemaVersion: typeof RESULT_SCHEMA_VERSION;
  /**
   * How the figures were measured (docs/measurement.md, "Method versions"), e.g. `speedwatch-3`.
   * Absent in results of agents older than this field.
   */
  method?: MeasurementMethod;
  /** Unique id made by the agent (a UUID), so re-sent results are recognised. */
  id: string;
  status: ResultStatus;
  /** ISO 8601 timestamps, UTC. */
  startedAt: string;
  finishedAt: string;
  technology?: Technology;
  endpoint?: EndpointChoice;
  /** The client address the endpoint saw. */
  clientIp?: string;
  latency?: LatencyResult;
  /** UDP quality, when the test was asked for it (`--udp`) and the reflector answered. */
  udp?: UdpResult;
  download?: ThroughputResult;
  upload?: ThroughputResult;
  loadedLatency?: { download?: LoadedLatency; upload?: LoadedLatency };
  /** The first error, when status is not `ok`. */
  error?: ResultError;
  /** Every error, in the order they happened. */
  errors?: ResultError[];
  agent?: { version: string; platform: string; arch: string; node: string };
  /** The test's own traffic (absent from agents older than it, and when the test process failed). */
  usage?: DataUsage;
  /** Cross traffic during the test, where the agent counted it (Linux; the daemon's `busyLine.check`). */
  busyLine?: BusyLine;
  /** What the site's data budget made of this test, when it has one. */
  budget?: BudgetDecision;
}
