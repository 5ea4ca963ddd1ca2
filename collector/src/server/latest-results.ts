/**
 * Each agent's latest result as the serving thread knows it, in memory: seeded from the store
 * by the first maintenance, then kept up to date by ingest as results are committed. The
 * alerts (an agent silent, an agent below target on its latest download, its UDP quality) and
 * the API's agent list read it without a query per agent on the event loop.
 */
import type { AgentActivity } from '../alerts/alert-rules.js';
import type { LatestUdp } from '../store/latest-udp.js';
import type { LatestActivity } from '../store/result-queries.js';
import type { ResultFigures } from '../store/result-row.js';

/** What is kept of an agent's latest result. */
export type LatestFigures = Pick<ResultFigures, 'id' | 'ts' | 'status' | 'downloadMbps' | 'uploadMbps' | 'latencyMs'>;

interface Latest {
  figures: LatestFigures;
  downloadTs: number;
  downloadMbps?: number;
  /** The newest result with a `udp` section: not necessarily the latest result. */
  udp?: LatestUdp;
}

export class LatestResults {
  readonly #byAgent = new Map<string, Latest>();

  /** A committed result (a replayed older one changes nothing it should not). */
  record(agentId: string, figures: ResultFigures): void {
    this.#update(agentId, figures, figures.downloadMbps === null ? undefined : { ts: figures.ts, mbps: figures.downloadMbps });
    if (figures.udp !== undefined) this.#updateUdp(agentId, { id: figures.id, ts: figures.ts, figures: figures.udp });
  }

  /** What the store held at start; anything ingest recorded since and newer wins. */
  seed(latest: LatestActivity): void {
    this.#update(latest.agentId, latest.figures, latest.download);
    if (latest.udp !== undefined) this.#updateUdp(latest.agentId, latest.udp);
  }

  /** The agent's latest result, as far as this collector knows (nothing before the first maintenance seeds it). */
  latest(agentId: string): LatestFigures | undefined {
    return this.#byAgent.get(agentId)?.figures;
  }

  remove(agentId: string): void {
    this.#byAgent.delete(agentId);
  }

  /** Per agent id with a result: its latest start, latest download and newest UDP quality. */
  activity(agentIds: readonly string[]): Map<string, AgentActivity> {
    const out = new Map<string, AgentActivity>();
    for (const id of agentIds) {
      const latest = this.#byAgent.get(id);
      if (latest === undefined) continue;
      const activity: AgentActivity = { lastResultAt: latest.figures.ts };
      if (latest.downloadMbps !== undefined) activity.latestDownloadMbps = latest.downloadMbps;
      if (latest.udp !== undefined) activity.udp = latest.udp;
      out.set(id, activity);
    }
    return out;
  }

  /** As the store's latest_udp: the newest by start, then id, wins (a replayed older one changes nothing). */
  #updateUdp(agentId: string, udp: LatestUdp): void {
    const latest = this.#byAgent.get(agentId);
    if (latest === undefined) return;
    const kept = latest.udp;
    if (kept === undefined || udp.ts > kept.ts || (udp.ts === kept.ts && udp.id >= kept.id)) latest.udp = udp;
  }

  #update(agentId: string, f: LatestFigures, download: { ts: number; mbps: number } | undefined): void {
    const figures: LatestFigures = { id: f.id, ts: f.ts, status: f.status, downloadMbps: f.downloadMbps, uploadMbps: f.uploadMbps, latencyMs: f.latencyMs };
    let latest = this.#byAgent.get(agentId);
    if (latest === undefined) {
      latest = { figures, downloadTs: Number.NEGATIVE_INFINITY };
      this.#byAgent.set(agentId, latest);
    } else if (f.ts >= latest.figures.ts) {
      latest.figures = figures;
    }
    if (download !== undefined && download.ts >= latest.downloadTs) {
      latest.downloadTs = download.ts;
      latest.downloadMbps = download.mbps;
    }
  }
}
