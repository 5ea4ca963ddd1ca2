/**
 * /api/v1/site?agent=ID&window=NAME: the console's page of one site in one answer. The verdicts,
 * the connection and the health come from the serving thread's memory; the chosen window's five
 * series and the latest tests are two short indexed reads of the agent's rows (hourly roll-ups
 * past 3 days), so the page costs the database what /api/v1/series and /api/v1/results cost,
 * plus the agent's latest activity (a few single-row reads) for its newest UDP quality.
 */
import type { CollectorStore } from '../store/collector-store.js';
import type { LatestUdp } from '../store/latest-udp.js';
import { SERIES_METRICS } from '../store/store-types.js';
import type { AgentHealthRecord, AgentRecord, SeriesPoint, StoredResult } from '../store/store-types.js';
import type { CollectorTarget, VerdictWindow } from '../verdict/verdict-config.js';
import type { AgentVerdict, Figures } from '../verdict/verdicts.js';
import { healthView } from './health-view.js';
import { BadParameterError, Params } from './query-params.js';
import { SITE_PRECISION, SITE_RECENT_TESTS } from './site-wire.js';
import type { SiteAnswer, SiteFigures, SiteLoadedLatency, SiteSeries, SiteSeriesMetric, SiteSeriesPoint, SiteTarget, SiteTest, SiteUdp, SiteVerdict } from './site-wire.js';

/** What the site page needs of the verdicts and the console's settings. */
export interface SiteDeps {
  /** The windows judged, in config order, with their lengths. */
  windows: readonly VerdictWindow[];
  /** Every technology's targets. */
  targets: readonly CollectorTarget[];
  /** The time zone the console shows times in (IANA name). */
  timeZone: string;
  /** When the verdicts served were computed, ms; undefined before the first computation. */
  computedAt: () => number | undefined;
  /** The agent's verdicts, window by window; undefined for a revoked agent or before the first computation. */
  verdicts: (agentId: string) => readonly AgentVerdict[] | undefined;
}

/** The parts of the API's dependencies the page reads. */
export interface SitePageInputs {
  store: Pick<CollectorStore, 'results' | 'rollups'>;
  agent: (id: string) => AgentRecord | undefined;
  connectedIds: () => ReadonlySet<string>;
  health: (id: string) => AgentHealthRecord | undefined;
  now: () => number;
  site: SiteDeps;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Bucket lengths tried in order; the first giving at most MAX_BUCKETS over the window is used. */
const STEPS = [15 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, DAY] as const;
/** Enough points for a chart a desktop wide, few enough for a phone's data plan. */
const MAX_BUCKETS = 300;

/** The bucket length for a window: 15 min for 24 h, 1 h for 7 d, 3 h for 30 d. */
export function seriesStepMs(windowMs: number): number {
  return STEPS.find((step) => windowMs / step <= MAX_BUCKETS) ?? Math.ceil(windowMs / MAX_BUCKETS / DAY) * DAY;
}

const round = (value: number, decimals: number): number => {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
};
const orNull = (value: number | undefined, decimals: number): number | null => (value === undefined ? null : round(value, decimals));
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Decimals of each series metric. */
const SERIES_DECIMALS: Record<SiteSeriesMetric, number> = {
  download_mbps: SITE_PRECISION.mbps,
  upload_mbps: SITE_PRECISION.mbps,
  latency_ms: SITE_PRECISION.ms,
  jitter_ms: SITE_PRECISION.ms,
  loss_ratio: SITE_PRECISION.ratio,
};

/** Answers the query `search` (agent, window); throws BadParameterError naming a bad or unknown one. */
export async function sitePage(search: URLSearchParams, deps: SitePageInputs): Promise<SiteAnswer> {
  const params = new Params(search, ['agent', 'window']);
  const agentId = params.string('agent');
  if (agentId === undefined) throw new BadParameterError('agent', 'required: the id of a site (GET /api/v1/agents lists them)');
  const agent = deps.agent(agentId);
  if (agent === undefined) throw new BadParameterError('agent', `no agent ${JSON.stringify(agentId)}`);
  const windowNames = deps.site.windows.map((w) => w.name);
  const windowName = params.oneOf('window', windowNames) ?? windowNames[0];
  const window = deps.site.windows.find((w) => w.name === windowName);
  if (window === undefined) throw new BadParameterError('window', 'this collector judges no window');

  const [recent, siteSeries, activity] = await Promise.all([
    deps.store.results.recent(agent.id, SITE_RECENT_TESTS),
    series(deps.store.rollups, agent.id, window.ms, deps.now()),
    deps.store.results.latestActivity([agent.id]),
  ]);
  return {
    computedAt: iso(deps.site.computedAt()),
    window: window.name,
    windows: windowNames,
    timeZone: deps.site.timeZone,
    precision: { ...SITE_PRECISION },
    site: {
      id: agent.id,
      name: agent.name,
      kind: agent.siteKind,
      technology: agent.technology,
      isp: agent.isp ?? null,
      area: agent.area ?? null,
      areaCode: agent.areaCode ?? null,
      lat: agent.lat ?? null,
      lon: agent.lon ?? null,
    },
    connection: {
      connected: deps.connectedIds().has(agent.id),
      lastSeenAt: iso(agent.lastSeenAt),
      pausedAt: iso(agent.pausedAt),
      revokedAt: iso(agent.revokedAt),
      version: agent.version ?? null,
    },
    targets: targetsOf(deps.site.targets, agent.technology),
    verdicts: (deps.site.verdicts(agent.id) ?? []).map(siteVerdict),
    series: siteSeries,
    loadedLatency: latestLoaded(recent),
    udp: siteUdp(activity[0]?.udp),
    recent: recent.map(siteTest),
    health: healthView(deps.health(agent.id)),
  };
}

function targetsOf(targets: readonly CollectorTarget[], technology: string): SiteTarget[] {
  const order = { download: 0, upload: 1, latency: 2 } as const;
  return targets
    .filter((t) => t.technology === technology)
    .sort((a, b) => order[a.metric] - order[b.metric])
    .map((t) => (t.metric === 'latency' ? { metric: 'latency', maxMs: t.maxMs } : { metric: t.metric, minMbps: t.minMbps }));
}

function figures(f: Figures | undefined, decimals: number): SiteFigures | null {
  if (f === undefined) return null;
  return { tests: f.tests, median: round(f.median, decimals), mean: round(f.mean, decimals), shareAtTarget: orNull(f.shareAtTarget, SITE_PRECISION.share) };
}

function siteVerdict(v: AgentVerdict): SiteVerdict {
  return {
    window: v.window,
    tests: v.tests,
    failedTests: v.failedTests,
    minTests: v.minTests,
    download: figures(v.download, SITE_PRECISION.mbps),
    upload: figures(v.upload, SITE_PRECISION.mbps),
    latency: figures(v.latency, SITE_PRECISION.ms),
    verdict: v.verdict,
  };
}

async function series(rollups: CollectorStore['rollups'], agentId: string, windowMs: number, now: number): Promise<SiteSeries> {
  const stepMs = seriesStepMs(windowMs);
  const from = now - windowMs;
  const each = await Promise.all(SERIES_METRICS.map((metric) => rollups.series(agentId, metric, from, now, stepMs)));
  const raw = Object.fromEntries(SERIES_METRICS.map((metric, i) => [metric, each[i]])) as Record<SiteSeriesMetric, SeriesPoint[]>;
  const points = Object.fromEntries(
    SERIES_METRICS.map((metric) => {
      const decimals = SERIES_DECIMALS[metric];
      const rounded: SiteSeriesPoint[] = raw[metric].map((p) => ({
        ts: new Date(p.ts).toISOString(),
        count: p.count,
        min: round(p.min, decimals),
        median: round(p.median, decimals),
        mean: round(p.mean, decimals),
        max: round(p.max, decimals),
      }));
      return [metric, rounded];
    }),
  ) as Record<SiteSeriesMetric, SiteSeriesPoint[]>;
  // Hourly steps read whole hours: the range says so.
  const wholeHours = stepMs % HOUR === 0;
  return {
    from: new Date(wholeHours ? Math.floor(from / HOUR) * HOUR : from).toISOString(),
    to: new Date(wholeHours ? Math.ceil(now / HOUR) * HOUR : now).toISOString(),
    stepMs,
    points,
    meanJitterMs: orNull(weightedMean(raw.jitter_ms), SITE_PRECISION.ms),
    meanLossRatio: orNull(weightedMean(raw.loss_ratio), SITE_PRECISION.ratio),
  };
}

/** The mean over every test of the buckets: each bucket's mean weighted by its count. */
function weightedMean(points: readonly SeriesPoint[]): number | undefined {
  let sum = 0;
  let count = 0;
  for (const p of points) {
    sum += p.mean * p.count;
    count += p.count;
  }
  return count === 0 ? undefined : sum / count;
}

function loadedOf(r: StoredResult): { downloadMs: number | null; uploadMs: number | null } | null {
  const loaded = r.result.loadedLatency;
  if (loaded === undefined || (loaded.download === undefined && loaded.upload === undefined)) return null;
  return { downloadMs: orNull(loaded.download?.medianMs, SITE_PRECISION.ms), uploadMs: orNull(loaded.upload?.medianMs, SITE_PRECISION.ms) };
}

function latestLoaded(recent: readonly StoredResult[]): SiteLoadedLatency | null {
  for (const r of recent) {
    const loaded = loadedOf(r);
    if (loaded !== null) return { startedAt: r.result.startedAt, ...loaded };
  }
  return null;
}

function siteUdp(udp: LatestUdp | undefined): SiteUdp | null {
  if (udp === undefined) return null;
  const { figures: f } = udp;
  const ms = SITE_PRECISION.ms;
  const ratio = SITE_PRECISION.ratio;
  return {
    startedAt: new Date(udp.ts).toISOString(),
    rttMedianMs: round(f.rttMedianMs, ms),
    rttP95Ms: round(f.rttP95Ms, ms),
    forwardJitterMs: round(f.forwardJitterMs, ms),
    returnJitterMs: round(f.returnJitterMs, ms),
    lossRatio: round(f.lossRatio, ratio),
    forwardLossRatio: round(f.forwardLossRatio, ratio),
    returnLossRatio: round(f.returnLossRatio, ratio),
  };
}

function siteTest(r: StoredResult): SiteTest {
  const { error, endpoint } = r.result;
  return {
    id: r.id,
    startedAt: r.result.startedAt,
    status: r.status,
    error: error === undefined ? null : { code: error.code, phase: error.phase },
    endpoint: endpoint === undefined ? null : { name: endpoint.name, url: endpoint.url },
    downloadMbps: orNull(r.downloadMbps, SITE_PRECISION.mbps),
    uploadMbps: orNull(r.uploadMbps, SITE_PRECISION.mbps),
    latencyMs: orNull(r.latencyMs, SITE_PRECISION.ms),
    jitterMs: orNull(r.jitterMs, SITE_PRECISION.ms),
    lossRatio: orNull(r.lossRatio, SITE_PRECISION.ratio),
    loadedLatency: loadedOf(r),
  };
}
