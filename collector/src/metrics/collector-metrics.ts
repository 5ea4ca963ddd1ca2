/**
 * Prometheus metrics (prom-client, on a registry of our own: no global state). Names follow
 * Prometheus' conventions: base units (seconds; bytes, so throughput is payload bytes per
 * second: 102 Mbps is 12 750 000 B/s), `_total` counters, `_info` for metadata. `promtool check
 * metrics` on a live scrape prints nothing (a test checks it). Per-agent series carry the site's
 * labels and disappear when the agent is revoked.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BITS_PER_MBPS } from '@speedwatch/shared';
import type { AgentHealthRecord, AgentRecord } from '../store/store-types.js';
import type { LatestUdp } from '../store/latest-udp.js';
import type { ResultFigures } from '../store/result-row.js';
import type { IngestEvents } from '../ingest/ingest-server.js';
import type { RejectReason } from '../ingest/ingest-errors.js';
import { AgentSeries } from './agent-series.js';
import type { AgentGauge, HealthValues, SiteLabelValues } from './agent-series.js';


/** Payload bytes per second in one Mbps. */
const BYTES_PER_SECOND_PER_MBPS = BITS_PER_MBPS / 8;

/** Throughput buckets in bytes/s; 42 and 102 Mbps are the plan's targets, so they are bucket edges. */
export const THROUGHPUT_BUCKETS = [1, 5, 10, 20, 30, 42, 60, 80, 102, 150, 200, 300, 500, 1000].map((m) => m * BYTES_PER_SECOND_PER_MBPS);

/** Default Node metrics that are gauges named `_total`, which Prometheus' conventions (and promtool) refuse. */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

function siteLabels(agent: AgentRecord): SiteLabelValues {
  return {
    agent_id: agent.id,
    site_kind: agent.siteKind,
    technology: agent.technology,
    isp: agent.isp ?? '',
    area: agent.area ?? '',
    ...(agent.lat === undefined || agent.lon === undefined ? {} : { lat: agent.lat, lon: agent.lon }),
  };
}

/** A health report's figures in base units: seconds, bytes, °C, Unix seconds. */
function healthValues(record: AgentHealthRecord): HealthValues {
  const { report } = record;
  const figures: HealthValues['figures'] = { reportedAt: record.receivedAt / 1000, backlog: report.backlog, dropped: report.dropped };
  if (report.uptimeSeconds !== undefined) figures.uptime = report.uptimeSeconds;
  if (report.systemUptimeSeconds !== undefined) figures.systemUptime = report.systemUptimeSeconds;
  if (report.diskFreeBytes !== undefined) figures.diskFree = report.diskFreeBytes;
  if (report.cpuTemperatureCelsius !== undefined) figures.cpuTemperature = report.cpuTemperatureCelsius;
  if (report.failedTestsInARow !== undefined) figures.failedInARow = report.failedTestsInARow;
  if (report.lastOkTestAt !== undefined) figures.lastOkTest = Date.parse(report.lastOkTestAt) / 1000;
  return report.lastTest === undefined ? { figures } : { figures, lastTestStatus: report.lastTest.status };
}

export class CollectorMetrics implements IngestEvents {
  readonly registry = new Registry();
  readonly #results = new Counter({ name: 'speedwatch_results_total', help: 'Results stored, by technology and status.', labelNames: ['technology', 'status'], registers: [this.registry] });
  readonly #downloadHist = new Histogram({ name: 'speedwatch_download_bytes_per_second', help: 'Download payload rates of stored results, bytes/s.', labelNames: ['technology'], buckets: THROUGHPUT_BUCKETS, registers: [this.registry] });
  readonly #uploadHist = new Histogram({ name: 'speedwatch_upload_bytes_per_second', help: 'Upload payload rates of stored results, bytes/s.', labelNames: ['technology'], buckets: THROUGHPUT_BUCKETS, registers: [this.registry] });
  readonly #connections = this.#gauge('speedwatch_collector_agent_connections', 'Agent WebSocket connections open now.', []);
  readonly #ingested = new Counter({ name: 'speedwatch_collector_ingested_results_total', help: 'Results committed (new ones; re-sent duplicates are acked but not counted).', registers: [this.registry] });
  readonly #rejected = new Counter({ name: 'speedwatch_collector_rejected_total', help: 'Input refused, by reason.', labelNames: ['reason'], registers: [this.registry] });
  readonly #commit = new Histogram({ name: 'speedwatch_collector_batch_commit_seconds', help: 'Time to commit one batch of results.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [this.registry] });
  readonly #maintenance = new Histogram({
    name: 'speedwatch_collector_maintenance_seconds',
    help: 'Time of each maintenance pass on its thread, by part: rollups (roll-ups and retention) and verdicts (window top-up and every verdict).',
    labelNames: ['part'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly #threadHeap = this.#gauge(
    'speedwatch_collector_thread_heap_bytes',
    'V8 heap of each of the collector\'s threads (serving, writer, maintenance): used, and total (used plus garbage and free space). The writer\'s as of its latest write, the maintenance thread\'s at the end of its latest pass.',
    ['thread', 'kind'],
  );
  readonly #size = this.#gauge('speedwatch_collector_database_size_bytes', 'SQLite database size on disk (main file and WAL).', []);
  readonly #target = this.#gauge('speedwatch_target_bytes_per_second', 'The plan\'s target per technology and direction (download, upload), payload bytes/s.', ['technology', 'direction']);
  readonly #sizeSource: () => number | Promise<number>;
  /** Per-agent series (rendered by hand: see agent-series.ts). */
  readonly #series = new AgentSeries();
  /**
   * Each agent's latest result, kept whether or not its series are shown (with other
   * collectors an agent's series move here when it connects): a replayed backlog cannot roll
   * it back, and series made later start with it.
   */
  readonly #latest = new Map<string, ResultFigures>();
  /** Each agent's newest result with UDP quality, kept as #latest is (it may be older than the latest result). */
  readonly #latestUdp = new Map<string, LatestUdp>();
  #connectionCount = 0;

  constructor(options: { databaseSizeBytes: () => number | Promise<number> }) {
    this.#sizeSource = options.databaseSizeBytes;
    const prefix = 'speedwatch_collector_';
    collectDefaultMetrics({ register: this.registry, prefix });
    for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(`${prefix}${name}`);
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  #ensure(agent: AgentRecord): void {
    const created = !this.#series.has(agent.id);
    this.#series.ensure(siteLabels(agent));
    if (agent.version !== undefined) this.#series.setVersion(agent.id, agent.version);
    if (!created) return;
    const latest = this.#latest.get(agent.id);
    if (latest !== undefined) this.#showLatest(agent.id, latest);
    const udp = this.#latestUdp.get(agent.id);
    if (udp !== undefined) this.#showUdp(agent.id, udp);
  }

  /** Seeds an agent's series (at start, or when it is added): metadata and its latest stored result. */
  setAgent(agent: AgentRecord, latest: ResultFigures | undefined, connected: boolean): void {
    this.#ensure(agent);
    this.#series.set(agent.id, 'connected', connected ? 1 : 0);
    if (latest !== undefined) this.#setLatest(agent.id, latest);
  }

  /** An agent's latest stored result, read after start; a newer one ingest has shown wins. */
  seedLatest(agentId: string, latest: ResultFigures): void {
    this.#setLatest(agentId, latest);
  }

  /** An agent's newest stored result with UDP quality, read after start; a newer one ingest has shown wins. */
  seedUdp(agentId: string, udp: LatestUdp): void {
    this.#setUdp(agentId, udp);
  }

  /** Removes every series of an agent and what is kept of it (revoked). */
  removeAgent(agentId: string): void {
    this.#series.remove(agentId);
    this.#latest.delete(agentId);
    this.#latestUdp.delete(agentId);
  }

  /** Removes an agent's series from this collector's scrape (another collector carries them); its latest result is kept. */
  dropSeries(agentId: string): void {
    this.#series.remove(agentId);
  }

  hasAgent(agentId: string): boolean {
    return this.#series.has(agentId);
  }

  knownAgentIds(): string[] {
    return this.#series.ids();
  }

  /** Only a result newer than the one kept replaces it: a replayed backlog must not roll the gauges back. */
  #setLatest(agentId: string, result: ResultFigures): void {
    if (result.ts < (this.#latest.get(agentId)?.ts ?? Number.NEGATIVE_INFINITY)) return;
    this.#latest.set(agentId, result);
    if (this.#series.has(agentId)) this.#showLatest(agentId, result);
  }

  #showLatest(agentId: string, result: ResultFigures): void {
    const startedMs = result.ts;
    // Divided, not multiplied by 1/1000: the gauges show the same float the result's ms give.
    const set = (gauge: AgentGauge, value: number | null, per: 'mbps' | 'ms' | 'ratio'): void => {
      if (value === null) return;
      this.#series.set(agentId, gauge, per === 'mbps' ? value * BYTES_PER_SECOND_PER_MBPS : per === 'ms' ? value / 1000 : value);
    };
    set('download', result.downloadMbps, 'mbps');
    set('upload', result.uploadMbps, 'mbps');
    set('latency', result.latencyMs, 'ms');
    set('jitter', result.jitterMs, 'ms');
    set('loss', result.lossRatio, 'ratio');
    set('downloadLoaded', result.loadedDownloadMs, 'ms');
    set('uploadLoaded', result.loadedUploadMs, 'ms');
    set('lastResult', startedMs, 'ms');
  }

  /** As #setLatest, for the newest result with UDP quality. */
  #setUdp(agentId: string, udp: LatestUdp): void {
    if (udp.ts < (this.#latestUdp.get(agentId)?.ts ?? Number.NEGATIVE_INFINITY)) return;
    this.#latestUdp.set(agentId, udp);
    if (this.#series.has(agentId)) this.#showUdp(agentId, udp);
  }

  #showUdp(agentId: string, { ts, figures: f }: LatestUdp): void {
    // Divided, as in #showLatest: the gauges show the same float the result's ms give.
    this.#series.setUdp(agentId, {
      rttMedian: f.rttMedianMs / 1000,
      rttP95: f.rttP95Ms / 1000,
      jitterUp: f.forwardJitterMs / 1000,
      jitterDown: f.returnJitterMs / 1000,
      lossUp: f.forwardLossRatio,
      lossDown: f.returnLossRatio,
      lossRoundTrip: f.lossRatio,
      startedAt: ts / 1000,
    });
  }

  /**
   * The whole scrape, UTF-8, in two pieces to be written one after the other (joining them
   * would copy the per-agent part, 18 MB at 10 000 agents, once more): prom-client's metrics,
   * then the per-agent series.
   */
  async render(): Promise<[Buffer, Buffer]> {
    this.#size.set(await this.#sizeSource());
    return [Buffer.from(await this.registry.metrics()), this.#series.render()];
  }

  /** An agent's current verdict per window (none: its verdict series go). */
  setAgentVerdicts(agentId: string, states: readonly (readonly [window: string, verdict: string])[]): void {
    this.#series.setVerdicts(agentId, states);
  }

  /** The plan's download and upload targets, as gauges. */
  setTargets(targets: readonly { technology: string; metric: string; minMbps?: number }[]): void {
    for (const t of targets) {
      if (t.minMbps !== undefined && (t.metric === 'download' || t.metric === 'upload')) {
        this.#target.set({ technology: t.technology, direction: t.metric }, t.minMbps * BYTES_PER_SECOND_PER_MBPS);
      }
    }
  }

  /** A thread's V8 heap, bytes. */
  threadHeap(thread: 'serving' | 'writer' | 'maintenance', heap: { used: number; total: number }): void {
    this.#threadHeap.set({ thread, kind: 'used' }, heap.used);
    this.#threadHeap.set({ thread, kind: 'total' }, heap.total);
  }

  /** A maintenance pass ended: how long its two parts took, ms. */
  maintained(rollupMs: number, verdictMs: number): void {
    this.#maintenance.observe({ part: 'rollups' }, rollupMs / 1000);
    this.#maintenance.observe({ part: 'verdicts' }, verdictMs / 1000);
  }

  // IngestEvents
  connected(agent: AgentRecord): void {
    this.#connectionCount++;
    this.#connections.set(this.#connectionCount);
    this.#ensure(agent);
    this.#series.set(agent.id, 'connected', 1);
  }

  disconnected(agent: AgentRecord): void {
    this.#connectionCount = Math.max(0, this.#connectionCount - 1);
    this.#connections.set(this.#connectionCount);
    this.#series.set(agent.id, 'connected', 0);
  }

  stored(agent: AgentRecord, results: readonly ResultFigures[]): void {
    this.#ensure(agent);
    for (const result of results) {
      this.#results.inc({ technology: agent.technology, status: result.status });
      if (result.downloadMbps !== null) this.#downloadHist.observe({ technology: agent.technology }, result.downloadMbps * BYTES_PER_SECOND_PER_MBPS);
      if (result.uploadMbps !== null) this.#uploadHist.observe({ technology: agent.technology }, result.uploadMbps * BYTES_PER_SECOND_PER_MBPS);
      this.#setLatest(agent.id, result);
      if (result.udp !== undefined) this.#setUdp(agent.id, { id: result.id, ts: result.ts, figures: result.udp });
    }
    this.#ingested.inc(results.length);
  }

  rejected(reason: RejectReason, count: number): void {
    this.#rejected.inc({ reason }, count);
  }

  committed(seconds: number): void {
    this.#commit.observe(seconds);
  }

  clockSkew(agent: AgentRecord, skewMs: number): void {
    this.#ensure(agent); // carries the version the hello just reported
    this.#series.setSkew(agent.id, skewMs / 1000);
  }

  health(agent: AgentRecord, record: AgentHealthRecord): void {
    this.#ensure(agent);
    this.#series.setHealth(agent.id, healthValues(record));
  }

  /** An agent's latest health report as loaded at start, with its clock skew then. */
  seedHealth(agentId: string, record: AgentHealthRecord): void {
    if (!this.#series.has(agentId)) return;
    this.#series.setSkew(agentId, record.skewMs / 1000);
    this.#series.setHealth(agentId, healthValues(record));
  }
}
