/**
 * The `latest_udp` table (SQLite migration 11, PostgreSQL 6): each agent's newest result that
 * carried a `udp` section, with its UDP quality figures in columns. Both stores upsert it in the
 * transaction that stores the results (newest wins, by ts then id), and read it with each
 * agent's latest activity: the /metrics gauges and the site page show it. An agent's latest
 * result may lack the section (the probe is off, or the reflector did not answer), and finding
 * the newest one among the documents would read every result of an agent that never had one.
 */
import type { UdpFigures } from './result-row.js';
import { UDP_FIGURES } from './result-row.js';

/** An agent's newest result that carried a `udp` section: not necessarily its latest result. */
export interface LatestUdp {
  /** The result's id. */
  id: string;
  /** Its startedAt, ms since the epoch. */
  ts: number;
  figures: UdpFigures;
}

/** A result's UDP quality figures, with its agent, id and start (ms): what the store keeps of an agent's newest. */
export interface UdpCandidate {
  agentId: string;
  id: string;
  ts: number;
  figures: UdpFigures;
}

/** The column of each of UdpFigures' fields, in UDP_FIGURES order. */
export const UDP_FIGURE_COLUMNS = ['rtt_median_ms', 'rtt_p95_ms', 'forward_jitter_ms', 'return_jitter_ms', 'loss_ratio', 'forward_loss_ratio', 'return_loss_ratio'] as const;

/** Every column of `latest_udp`, in the order of latestUdpValues. */
export const LATEST_UDP_COLUMNS = ['agent_id', 'result_id', 'ts', ...UDP_FIGURE_COLUMNS] as const;

/** A row of `latest_udp` less its agent, as both stores read it. */
export type LatestUdpRow = { result_id: string; ts: number } & Record<(typeof UDP_FIGURE_COLUMNS)[number], number>;

/** The values of a candidate's row, in LATEST_UDP_COLUMNS order. */
export function latestUdpValues(c: UdpCandidate): [agentId: string, resultId: string, ts: number, ...figures: number[]] {
  return [c.agentId, c.id, c.ts, ...UDP_FIGURES.map((name) => c.figures[name])];
}

/** A row read back. */
export function latestUdpOf(row: LatestUdpRow): LatestUdp {
  const figures = {} as Record<keyof UdpFigures, number>;
  UDP_FIGURES.forEach((name, i) => (figures[name] = row[UDP_FIGURE_COLUMNS[i] as (typeof UDP_FIGURE_COLUMNS)[number]]));
  return { id: row.result_id, ts: row.ts, figures };
}

/** `SET` and `WHERE` of the upsert, the same SQL on both stores: only a newer result (by ts, then id) replaces the one kept. */
export const LATEST_UDP_ON_CONFLICT = `ON CONFLICT (agent_id) DO UPDATE SET ${LATEST_UDP_COLUMNS.slice(1)
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')} WHERE (excluded.ts, excluded.result_id) > (latest_udp.ts, latest_udp.result_id)`;

/**
 * Of several results' UDP figures, each agent's newest (by ts, then id, as "latest" orders
 * everywhere), ordered by agent id: the rows a store upserts, always in the same order so that
 * two collectors writing at once lock them in the same order.
 */
export function newestUdpPerAgent(candidates: Iterable<UdpCandidate>): UdpCandidate[] {
  const newest = new Map<string, UdpCandidate>();
  for (const c of candidates) {
    const kept = newest.get(c.agentId);
    if (kept === undefined || c.ts > kept.ts || (c.ts === kept.ts && c.id > kept.id)) newest.set(c.agentId, c);
  }
  return [...newest.values()].sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
}
