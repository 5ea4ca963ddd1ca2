/**
 * Every statement over the `results` table, in one place: the writes, the pages, the verdict
 * scans, the roll-up sources and the retention delete; and over `latest_udp`, which the writes
 * keep beside it (latest-udp.ts). Other modules of the store use these and
 * write no SQL over `results` of their own, so the table's indexes and the queries that rely on
 * them are read together.
 */
import type Database from 'better-sqlite3';
import type { Db } from './database.js';
import { LATEST_UDP_COLUMNS, LATEST_UDP_ON_CONFLICT, UDP_FIGURE_COLUMNS } from './latest-udp.js';
import type { LatestUdpRow } from './latest-udp.js';
import type { ResultRow } from './result-row.js';
import { SERIES_METRICS } from './store-types.js';
import type { SeriesMetric, VerdictRow } from './store-types.js';

export const RESULT_COLUMNS = 'id, agent_id, ts, received_at, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio, doc';

/** A stored row with its document, as pages and `latest` return it. */
export interface DocumentRow {
  id: string;
  agent_id: string;
  ts: number;
  received_at: number;
  status: string;
  download_mbps: number | null;
  upload_mbps: number | null;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_ratio: number | null;
  doc: string;
}

/** A result's figure columns, and its two loaded latencies from the document. */
export type FiguresRow = Omit<DocumentRow, 'agent_id' | 'received_at' | 'doc'> & {
  loaded_download_ms: number | null;
  loaded_upload_ms: number | null;
};

/** agent_id, ts, then the five metrics in SERIES_METRICS order. */
export type RollupSourceRow = [agentId: string, ts: number, ...metrics: (number | null)[]];

/** (ts, value) rows of one metric of one agent over [from, to), ordered by ts. */
export type MetricValuesStatement = Database.Statement<[string, number, number], [number, number]>;

type Stmt<P extends unknown[], R = unknown> = Database.Statement<P, R>;

export interface ResultStatements {
  insert: Stmt<ResultRow>;
  pageAll: Stmt<[low: number, to: number, afterTs: number, afterId: string, limit: number], DocumentRow>;
  pageAgent: Stmt<[agentId: string, low: number, to: number, afterTs: number, afterId: string, limit: number], DocumentRow>;
  recentAgent: Stmt<[agentId: string, limit: number], DocumentRow>;
  latestDownload: Stmt<[agentId: string], { ts: number; download_mbps: number }>;
  latestFigures: Stmt<[agentId: string], FiguresRow>;
  /** Keeps a result's UDP figures as its agent's newest, unless a newer one is kept (latest-udp.ts). */
  upsertUdp: Stmt<unknown[]>;
  latestUdp: Stmt<[agentId: string], LatestUdpRow>;
  samplesFromTs: Stmt<[from: number], VerdictRow>;
  samplesSinceRowid: Stmt<[afterRowid: number, from: number], VerdictRow>;
  samplesBetween: Stmt<[from: number, to: number], VerdictRow>;
  maxRowid: Stmt<[], { n: number | null }>;
  deletedBefore: Stmt<[], { ts: number | null }>;
  metricValues: Record<SeriesMetric, MetricValuesStatement>;
  oldestTs: Stmt<[], { ts: number | null }>;
  rollupSource: Stmt<[from: number, to: number], RollupSourceRow>;
  rollupSourceAgent: Stmt<[agentId: string, from: number, to: number], RollupSourceRow>;
  deleteOld: Stmt<[cutoff: number, limit: number]>;
}

/** Prepares every statement over `results` on `db`. */
export function prepareResultStatements(db: Db): ResultStatements {
  // `metric` is one of the fixed column names, never user text.
  const metricValues = Object.fromEntries(
    SERIES_METRICS.map((metric) => [
      metric,
      db
        .prepare<[string, number, number], [number, number]>(
          `SELECT ts, ${metric} FROM results INDEXED BY results_agent_ts WHERE agent_id = ? AND ts >= ? AND ts < ? AND ${metric} IS NOT NULL ORDER BY ts`,
        )
        .raw(),
    ]),
  ) as Record<SeriesMetric, MetricValuesStatement>;
  return {
    insert: db.prepare<ResultRow>(`INSERT INTO results (${RESULT_COLUMNS}, busy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),

    // low, to, afterTs, afterId, limit
    pageAll: db.prepare<[number, number, number, string, number], DocumentRow>(
      `SELECT ${RESULT_COLUMNS} FROM results INDEXED BY results_ts
       WHERE ts >= ? AND ts < ? AND (ts > ? OR id > ?) ORDER BY ts, id LIMIT ?`,
    ),
    pageAgent: db.prepare<[string, number, number, number, string, number], DocumentRow>(
      `SELECT ${RESULT_COLUMNS} FROM results INDEXED BY results_agent_ts
       WHERE agent_id = ? AND ts >= ? AND ts < ? AND (ts > ? OR id > ?) ORDER BY ts, id LIMIT ?`,
    ),

    // An agent's latest results, newest first: the index read backwards, no sort.
    recentAgent: db.prepare<[string, number], DocumentRow>(
      `SELECT ${RESULT_COLUMNS} FROM results INDEXED BY results_agent_ts WHERE agent_id = ? ORDER BY ts DESC, id DESC LIMIT ?`,
    ),

    // The figures of the latest result without parsing its document in JavaScript: the two
    // loaded latencies are read out of it by SQLite.
    latestFigures: db.prepare<[string], FiguresRow>(
      `SELECT id, ts, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio,
         json_extract(doc, '$.loadedLatency.download.medianMs') AS loaded_download_ms,
         json_extract(doc, '$.loadedLatency.upload.medianMs') AS loaded_upload_ms
       FROM results INDEXED BY results_agent_ts WHERE agent_id = ? ORDER BY ts DESC, id DESC LIMIT 1`,
    ),
    upsertUdp: db.prepare<unknown[]>(
      `INSERT INTO latest_udp (${LATEST_UDP_COLUMNS.join(', ')}) VALUES (${LATEST_UDP_COLUMNS.map(() => '?').join(', ')}) ${LATEST_UDP_ON_CONFLICT}`,
    ),
    latestUdp: db.prepare<[string], LatestUdpRow>(`SELECT result_id, ts, ${UDP_FIGURE_COLUMNS.join(', ')} FROM latest_udp WHERE agent_id = ?`),
    latestDownload: db.prepare<[string], { ts: number; download_mbps: number }>(
      'SELECT ts, download_mbps FROM results INDEXED BY results_agent_ts WHERE agent_id = ? AND download_mbps IS NOT NULL ORDER BY ts DESC LIMIT 1',
    ),

    samplesFromTs: db
      .prepare<[number], VerdictRow>(
        'SELECT rowid, agent_id, ts, status, download_mbps, upload_mbps, latency_ms, busy FROM results INDEXED BY results_ts WHERE ts >= ? ORDER BY ts',
      )
      .raw(true),
    samplesSinceRowid: db
      .prepare<[number, number], VerdictRow>(
        // NOT INDEXED: the rowid range, never the ts index (which would walk the whole window).
        'SELECT rowid, agent_id, ts, status, download_mbps, upload_mbps, latency_ms, busy FROM results NOT INDEXED WHERE rowid > ? AND ts >= ? ORDER BY rowid',
      )
      .raw(true),
    samplesBetween: db
      .prepare<[number, number], VerdictRow>(
        'SELECT rowid, agent_id, ts, status, download_mbps, upload_mbps, latency_ms, busy FROM results INDEXED BY results_ts WHERE ts >= ? AND ts < ? ORDER BY ts',
      )
      .raw(true),
    maxRowid: db.prepare<[], { n: number | null }>('SELECT max(rowid) AS n FROM results'),
    deletedBefore: db.prepare<[], { ts: number | null }>('SELECT deleted_before AS ts FROM rollup_state WHERE id = 1'),

    metricValues,
    oldestTs: db.prepare<[], { ts: number | null }>('SELECT min(ts) AS ts FROM results'),
    rollupSource: db
      .prepare<[number, number], RollupSourceRow>(`SELECT agent_id, ts, ${SERIES_METRICS.join(', ')} FROM results INDEXED BY results_ts WHERE ts >= ? AND ts < ?`)
      .raw(),
    rollupSourceAgent: db
      .prepare<[string, number, number], RollupSourceRow>(
        `SELECT agent_id, ts, ${SERIES_METRICS.join(', ')} FROM results INDEXED BY results_agent_ts
         WHERE agent_id = ? AND ts >= ? AND ts < ?`,
      )
      .raw(),
    // Never the row with the largest rowid: SQLite would give that rowid to the next row, and
    // the verdict window follows new rows by rowid (verdict/sample-window.ts). It goes at a later
    // maintenance, once a newer row exists.
    deleteOld: db.prepare<[number, number]>(
      'DELETE FROM results WHERE rowid IN (SELECT rowid FROM results INDEXED BY results_ts WHERE ts < ? AND rowid < (SELECT max(rowid) FROM results) LIMIT ?)',
    ),
  };
}
