/**
 * The answer of /api/v1/site, as the console reads it: one site's page in one request (its
 * place, connection, targets, verdicts per window, time series over the chosen window, latest
 * tests and the box's health; docs/console.md, "Site page"). Imports only other wire types, so
 * the console's bundle can share it. Figures are rounded as `precision` says: Mbps and milliseconds to 1
 * decimal, loss ratios (0..1) to 4, shares (0..1) to 3.
 */

import type { OverviewVerdict } from './overview-wire.js';

/** Decimals the figures are rounded to. */
export const SITE_PRECISION = Object.freeze({ mbps: 1, ms: 1, ratio: 4, share: 3 });

/** How many of the site's latest tests the page lists. */
export const SITE_RECENT_TESTS = 20;

/** The series metrics, named as /api/v1/series names them. */
export type SiteSeriesMetric = 'download_mbps' | 'upload_mbps' | 'latency_ms' | 'jitter_ms' | 'loss_ratio';

export interface SiteIdentity {
  id: string;
  name: string;
  /** `school`, `office`, `clinic`, `other`. */
  kind: string;
  technology: string;
  isp: string | null;
  /** The area path, `Lạng Sơn/Cao Lộc/Hợp Thành`. */
  area: string | null;
  areaCode: string | null;
  lat: number | null;
  lon: number | null;
}

export interface SiteConnection {
  /** Connected to this collector now. */
  connected: boolean;
  /** The agent's last message (ISO 8601), null if it never connected. */
  lastSeenAt: string | null;
  pausedAt: string | null;
  revokedAt: string | null;
  /** The agent version from its latest hello. */
  version: string | null;
}

/** A target of the site's technology: a rate at least `minMbps`, or a latency at most `maxMs`. */
export type SiteTarget = { metric: 'download' | 'upload'; minMbps: number } | { metric: 'latency'; maxMs: number };

/** One metric's figures over a window's tests that carry it (Mbps, or ms for latency). */
export interface SiteFigures {
  tests: number;
  median: number;
  mean: number;
  /** Fraction (0..1) of these tests at the target or better; null with no target for the metric. */
  shareAtTarget: number | null;
}

/** The site's verdict over one window (docs/verdicts.md). */
export interface SiteVerdict {
  window: string;
  /** `ok` and `partial` tests in the window. */
  tests: number;
  /** `failed` tests in the window: counted, never in the figures. */
  failedTests: number;
  /** Tests a verdict needs (`verdicts.minTests.agent`). */
  minTests: number;
  download: SiteFigures | null;
  upload: SiteFigures | null;
  latency: SiteFigures | null;
  verdict: OverviewVerdict;
}

/** One bucket of a series: statistics of the tests that started in [ts, ts + stepMs). */
export interface SiteSeriesPoint {
  /** The bucket's start (ISO 8601). */
  ts: string;
  count: number;
  min: number;
  median: number;
  mean: number;
  max: number;
}

export interface SiteSeries {
  /** The window's range (ISO 8601): `from <= ts < to`, widened to whole hours when `stepMs` is whole hours. */
  from: string;
  to: string;
  /** Bucket length, ms: 15 min up to 2 days, then 1 h, 3 h, 6 h or 1 day, the first giving at most 300 buckets. */
  stepMs: number;
  /** Buckets with data only, ascending, per metric. */
  points: Record<SiteSeriesMetric, SiteSeriesPoint[]>;
  /** Over the window, the count-weighted mean of the buckets' means: null with no test carrying the metric. */
  meanJitterMs: number | null;
  meanLossRatio: number | null;
}

/** Round-trip times while the link was loaded, as one test measured them (medians, ms). */
export interface SiteLoadedLatency {
  /** The test's start (ISO 8601). */
  startedAt: string;
  downloadMs: number | null;
  uploadMs: number | null;
}

/**
 * UDP quality as the site's newest test that measured it (the agent's `--udp`; docs/measurement.md,
 * "UDP quality"): round trip and jitter in ms, losses as ratios 0..1. Forward is the way to the
 * endpoint's reflector (up), return the way back (down).
 */
export interface SiteUdp {
  /** That test's start (ISO 8601); it may be older than the latest test. */
  startedAt: string;
  rttMedianMs: number;
  rttP95Ms: number;
  /** RFC 3550 interarrival jitter, each way. */
  forwardJitterMs: number;
  returnJitterMs: number;
  /** Packets sent that got no answer in time, either way. */
  lossRatio: number;
  forwardLossRatio: number;
  returnLossRatio: number;
}

/** One of the site's latest tests. */
export interface SiteTest {
  id: string;
  startedAt: string;
  /** `ok`, `partial` or `failed`. */
  status: string;
  /** The first error's code and phase (docs/errors.md), null for a test without error. */
  error: { code: string; phase: string } | null;
  /** The measuring endpoint, as the test chose it. */
  endpoint: { name: string; url: string } | null;
  downloadMbps: number | null;
  uploadMbps: number | null;
  latencyMs: number | null;
  jitterMs: number | null;
  lossRatio: number | null;
  loadedLatency: { downloadMs: number | null; uploadMs: number | null } | null;
}

/** The box's latest health report (docs/collector.md#fleet-health), null where the agent could not read a figure. */
export interface HealthView {
  /** When the collector received it (ISO 8601). */
  reportedAt: string;
  /** The agent's clock minus the collector's at receipt, seconds. */
  clockSkewSeconds: number;
  agentClock: string;
  agent: { version: string; platform: string | null; arch: string | null; node: string | null };
  uptimeSeconds: number | null;
  systemUptimeSeconds: number | null;
  /** Results in the agent's outbox not yet acknowledged. */
  backlog: number;
  /** Results the outbox dropped for lack of space, in total. */
  dropped: number;
  lastTest: { status: string; finishedAt: string; errorCode: string | null } | null;
  failedTestsInARow: number | null;
  lastOkTestAt: string | null;
  diskFreeBytes: number | null;
  cpuTemperatureCelsius: number | null;
  /** This month's data use of the box's tests, and its monthly budget when it has one (bytes). */
  dataUsage: { month: string; usedBytes: number; budgetBytes: number | null } | null;
}

export interface SiteAnswer {
  /** When the verdicts were computed (ISO 8601); null before the first computation. */
  computedAt: string | null;
  window: string;
  /** The windows the collector judges, in config order. */
  windows: string[];
  /** The time zone the console shows times in (IANA name). */
  timeZone: string;
  precision: { mbps: number; ms: number; ratio: number; share: number };
  site: SiteIdentity;
  connection: SiteConnection;
  /** The targets of the site's technology: download first. */
  targets: SiteTarget[];
  /** One per window the site has a verdict for, in config order (none for a revoked site). */
  verdicts: SiteVerdict[];
  /** The chosen window's series. */
  series: SiteSeries;
  /** From the latest of `recent` that measured it; null if none did. */
  loadedLatency: SiteLoadedLatency | null;
  /** From the site's newest test that measured it, whenever it ran; null if none kept did. */
  udp: SiteUdp | null;
  /** The site's latest tests, newest first, whatever the window (a silent site's last ones too). */
  recent: SiteTest[];
  health: HealthView | null;
}
