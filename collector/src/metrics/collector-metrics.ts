/**
 * Prometheus metrics (prom-client, on a registry of our own: no global state). Names follow
 * Prometheus' conventions: base units (seconds; bytes, so throughput is payload bytes per
 * second: 102 Mbps is 12 750 000 B/s), `_total` counters, `_info` for metadata. `promtool check
 * metrics` on a live scrape prints nothing (a test checks it). Per-agent series carry the site's
 * labels and disappear when the agent is revoked.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { MeasurementResult } from '@speedwatch/shared';
import { BITS_PER_MBPS } from '@speedwatch/shared';
import type { AgentRecord } from '../store/store-types.js';
import type { IngestEvents } from '../ingest/ingest-server.js';
import type { RejectReason } from '../ingest/ingest-errors.js';

const SITE_LABELS = ['agent_id', 'site_kind', 'technology', 'isp', 'area'] as const;
type SiteLabels = Record<(typeof SITE_LABELS)[number], string>;

/** Payload bytes per second in one Mbps. */
const BYTES_PER_SECOND_PER_MBPS = BITS_PER_MBPS / 8;

/** Throughput buckets in bytes/s; 42 and 102 Mbps are the plan's targets, so they are bucket edges. */
export const THROUGHPUT_BUCKETS = [1, 5, 10, 20, 30, 42, 60, 80, 102, 150, 200, 300, 500, 1000].map((m) => m * BYTES_PER_SECOND_PER_MBPS);

/** Default Node metrics that are gauges named `_total`, which Prometheus' conventions (and promtool) refuse. */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

function siteLabels(agent: AgentRecord): SiteLabels {
  return { agent_id: agent.id, site_kind: agent.siteKind, technology: agent.technology, isp: agent.isp ?? '', area: agent.area ?? '' };
}

export class CollectorMetrics implements IngestEvents {
  readonly registry = new Registry();
  readonly #download = this.#gauge('speedwatch_agent_download_bytes_per_second', 'Download payload rate of the latest result, bytes/s.', SITE_LABELS);
  readonly #upload = this.#gauge('speedwatch_agent_upload_bytes_per_second', 'Upload payload rate of the latest result, bytes/s.', SITE_LABELS);
  readonly #latency = this.#gauge('speedwatch_agent_latency_seconds', 'Median idle latency of the latest result.', SITE_LABELS);
  readonly #jitter = this.#gauge('speedwatch_agent_jitter_seconds', 'Jitter (mean absolute difference of consecutive pings) of the latest result.', SITE_LABELS);
  readonly #loss = this.#gauge('speedwatch_agent_latency_loss_ratio', 'Share of latency probes lost in the latest result.', SITE_LABELS);
  readonly #lastResult = this.#gauge('speedwatch_agent_last_result_timestamp_seconds', 'Start time of the latest result, Unix seconds.', SITE_LABELS);
  readonly #connected = this.#gauge('speedwatch_agent_connected', '1 while the agent holds a WebSocket connection to the collector.', SITE_LABELS);
  readonly #skew = this.#gauge('speedwatch_agent_clock_skew_seconds', "Agent clock minus collector clock at the agent's last hello.", ['agent_id']);
  readonly #info = this.#gauge('speedwatch_agent_info', 'Agent metadata; always 1.', ['agent_id', 'version']);
  readonly #results = new Counter({ name: 'speedwatch_results_total', help: 'Results stored, by technology and status.', labelNames: ['technology', 'status'], registers: [this.registry] });
  readonly #downloadHist = new Histogram({ name: 'speedwatch_download_bytes_per_second', help: 'Download payload rates of stored results, bytes/s.', labelNames: ['technology'], buckets: THROUGHPUT_BUCKETS, registers: [this.registry] });
  readonly #uploadHist = new Histogram({ name: 'speedwatch_upload_bytes_per_second', help: 'Upload payload rates of stored results, bytes/s.', labelNames: ['technology'], buckets: THROUGHPUT_BUCKETS, registers: [this.registry] });
  readonly #connections = this.#gauge('speedwatch_collector_agent_connections', 'Agent WebSocket connections open now.', []);
  readonly #ingested = new Counter({ name: 'speedwatch_collector_ingested_results_total', help: 'Results committed (new ones; re-sent duplicates are acked but not counted).', registers: [this.registry] });
  readonly #rejected = new Counter({ name: 'speedwatch_collector_rejected_total', help: 'Input refused, by reason.', labelNames: ['reason'], registers: [this.registry] });
  readonly #commit = new Histogram({ name: 'speedwatch_collector_batch_commit_seconds', help: 'Time to commit one batch of results.', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [this.registry] });
  readonly #size = this.#gauge('speedwatch_collector_database_size_bytes', 'SQLite database size on disk (main file and WAL).', []);
  readonly #verdict = this.#gauge('speedwatch_agent_verdict', "1 for the agent's current verdict per window (meets, below, insufficient-data, no-data).", ['agent_id', 'window', 'verdict']);
  readonly #target = this.#gauge('speedwatch_target_bytes_per_second', 'The plan\'s target per technology and direction (download, upload), payload bytes/s.', ['technology', 'direction']);
  /** Verdict label sets set at the last refresh, to remove those that changed. */
  #verdictLabels = new Map<string, Record<'agent_id' | 'window' | 'verdict', string>>();
  readonly #sizeSource: () => number;
  /** Per agent: its labels, the version in its info series, and the start of its latest result. */
  readonly #agents = new Map<string, { labels: SiteLabels; version?: string; latestMs: number }>();
  #connectionCount = 0;

  constructor(options: { databaseSizeBytes: () => number }) {
    this.#sizeSource = options.databaseSizeBytes;
    const prefix = 'speedwatch_collector_';
    collectDefaultMetrics({ register: this.registry, prefix });
    for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(`${prefix}${name}`);
  }

  #gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] });
  }

  #entry(agent: AgentRecord): { labels: SiteLabels; version?: string; latestMs: number } {
    let entry = this.#agents.get(agent.id);
    if (entry === undefined) {
      entry = { labels: siteLabels(agent), latestMs: Number.NEGATIVE_INFINITY };
      this.#agents.set(agent.id, entry);
    }
    if (agent.version !== undefined && agent.version !== entry.version) {
      if (entry.version !== undefined) this.#info.remove({ agent_id: agent.id, version: entry.version });
      this.#info.set({ agent_id: agent.id, version: agent.version }, 1);
      entry.version = agent.version;
    }
    return entry;
  }

  /** Seeds an agent's series (at start, or when it is added): metadata and its latest stored result. */
  setAgent(agent: AgentRecord, latest: MeasurementResult | undefined, connected: boolean): void {
    const entry = this.#entry(agent);
    this.#connected.set(entry.labels, connected ? 1 : 0);
    if (latest !== undefined) this.#setLatest(entry, latest);
  }

  /** Removes every series of an agent (revoked). */
  removeAgent(agentId: string): void {
    const entry = this.#agents.get(agentId);
    if (entry === undefined) return;
    for (const gauge of [this.#download, this.#upload, this.#latency, this.#jitter, this.#loss, this.#lastResult, this.#connected]) gauge.remove(entry.labels);
    this.#skew.remove({ agent_id: agentId });
    for (const [key, labels] of this.#verdictLabels) {
      if (labels.agent_id === agentId) {
        this.#verdict.remove(labels);
        this.#verdictLabels.delete(key);
      }
    }
    if (entry.version !== undefined) this.#info.remove({ agent_id: agentId, version: entry.version });
    this.#agents.delete(agentId);
  }

  knownAgentIds(): string[] {
    return [...this.#agents.keys()];
  }

  /** Only a result newer than the one shown replaces it: a replayed backlog must not roll the gauges back. */
  #setLatest(entry: { labels: SiteLabels; latestMs: number }, result: MeasurementResult): void {
    const startedMs = Date.parse(result.startedAt);
    if (startedMs < entry.latestMs) return;
    entry.latestMs = startedMs;
    const labels = entry.labels;
    if (result.download !== undefined) this.#download.set(labels, result.download.mbps * BYTES_PER_SECOND_PER_MBPS);
    if (result.upload !== undefined) this.#upload.set(labels, result.upload.mbps * BYTES_PER_SECOND_PER_MBPS);
    if (result.latency !== undefined) {
      this.#latency.set(labels, result.latency.medianMs / 1000);
      this.#jitter.set(labels, result.latency.jitterMs / 1000);
      this.#loss.set(labels, result.latency.lossRatio);
    }
    this.#lastResult.set(labels, startedMs / 1000);
  }

  /** Mirrors freshly computed verdicts: one series per agent and window, labelled with the verdict. */
  setVerdicts(verdicts: readonly { agentId: string; window: string; verdict: string }[], targets: readonly { technology: string; metric: string; minMbps?: number }[]): void {
    const next = new Map<string, Record<'agent_id' | 'window' | 'verdict', string>>();
    for (const v of verdicts) {
      if (!this.#agents.has(v.agentId)) continue;
      const labels = { agent_id: v.agentId, window: v.window, verdict: v.verdict };
      next.set(`${v.agentId}\u0000${v.window}\u0000${v.verdict}`, labels);
    }
    for (const [key, labels] of this.#verdictLabels) if (!next.has(key)) this.#verdict.remove(labels);
    for (const labels of next.values()) this.#verdict.set(labels, 1);
    this.#verdictLabels = next;
    for (const t of targets) {
      if (t.minMbps !== undefined && (t.metric === 'download' || t.metric === 'upload')) {
        this.#target.set({ technology: t.technology, direction: t.metric }, t.minMbps * BYTES_PER_SECOND_PER_MBPS);
      }
    }
  }

  /** Call before each scrape: refreshes values read on demand. */
  refresh(): void {
    this.#size.set(this.#sizeSource());
  }

  // IngestEvents
  connected(agent: AgentRecord): void {
    this.#connectionCount++;
    this.#connections.set(this.#connectionCount);
    this.#connected.set(this.#entry(agent).labels, 1);
  }

  disconnected(agent: AgentRecord): void {
    this.#connectionCount = Math.max(0, this.#connectionCount - 1);
    this.#connections.set(this.#connectionCount);
    const entry = this.#agents.get(agent.id);
    if (entry !== undefined) this.#connected.set(entry.labels, 0);
  }

  stored(agent: AgentRecord, results: readonly MeasurementResult[]): void {
    const entry = this.#entry(agent);
    for (const result of results) {
      this.#results.inc({ technology: agent.technology, status: result.status });
      if (result.download !== undefined) this.#downloadHist.observe({ technology: agent.technology }, result.download.mbps * BYTES_PER_SECOND_PER_MBPS);
      if (result.upload !== undefined) this.#uploadHist.observe({ technology: agent.technology }, result.upload.mbps * BYTES_PER_SECOND_PER_MBPS);
      this.#setLatest(entry, result);
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
    this.#skew.set({ agent_id: agent.id }, skewMs / 1000);
  }
}
