/**
 * Each agent's latest result as the serving thread knows it, in memory: seeded from the store
 * by the first maintenance, then kept up to date by ingest as results are committed. The
 * alerts (an agent silent, an agent below target on its latest download) and the API's agent
 * list read it without a query per agent on the event loop.
 */
import type { AgentActivity } from '../alerts/alert-rules.js';
import type { LatestActivity } from '../store/result-queries.js';
import type { ResultFigures } from '../store/result-row.js';

/** What is kept of an agent's latest result. */
export type LatestFigures = Pick<ResultFigures, 'id' | 'ts' | 'status' | 'downloadMbps' | 'uploadMbps' | 'latencyMs'>;

interface Latest {
  figures: LatestFigures;
  downloadTs: number;
  downloadMbps?: number;
}

export class LatestResults {
  readonly #byAgent = new Map<string, Latest>();

  /** A committed result (a replayed older one changes nothing it should not). */
  record(agentId: string, figures: ResultFigures): void {
    this.#update(agentId, figures, figures.downloadMbps === null ? undefined : { ts: figures.ts, mbps: figures.downloadMbps });
  }

  /** What the store held at start; anything ingest recorded since and newer wins. */
  seed(latest: LatestActivity): void {
    this.#update(latest.agentId, latest.figures, latest.download);
  }

  /** The agent's latest result, as far as this collector knows (nothing before the first maintenance seeds it). */
  latest(agentId: string): LatestFigures | undefined {
    return this.#byAgent.get(agentId)?.figures;
  }

  remove(agentId: string): void {
    this.#byAgent.delete(agentId);
  }

  /** Per agent id with a result: its latest start and latest download. */
  activity(agentIds: readonly string[]): Map<string, AgentActivity> {
    const out = new Map<string, AgentActivity>();
    for (const id of agentIds) {
      const latest = this.#byAgent.get(id);
      if (latest === undefined) continue;
      const lastResultAt = latest.figures.ts;
      out.set(id, latest.downloadMbps === undefined ? { lastResultAt } : { lastResultAt, latestDownloadMbps: latest.downloadMbps });
    }
    return out;
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
