/**
 * The collector's storage contract: what ingest, the API, metrics and verdicts may ask of the
 * database. Implemented by `SqliteStore` (store/sqlite-store.ts) on better-sqlite3.
 * Times are milliseconds since the epoch (UTC) unless a name says otherwise.
 */
import type { MeasurementResult, ResultStatus, SiteKind, Technology } from '@speedwatch/shared';
import type { ResultRow } from './result-row.js';

export interface AgentRecord {
  /** Chosen by the operator (`agents add --id`), e.g. "lso-caoloc-thcs-hopthanh". */
  id: string;
  name: string;
  siteKind: SiteKind;
  technology: Technology;
  isp?: string;
  /** "province/district/commune". */
  area?: string;
  lat?: number;
  lon?: number;
  createdAt: number;
  /** Set when revoked; a revoked agent cannot authenticate and leaves metrics. */
  revokedAt?: number;
  /** From the agent's latest hello. */
  version?: string;
  lastSeenAt?: number;
}

export type NewAgent = Omit<AgentRecord, 'createdAt' | 'revokedAt' | 'version' | 'lastSeenAt'>;

/** One stored result, with the fields queries need pulled out of the JSON document. */
export interface StoredResult {
  id: string;
  agentId: string;
  /** `startedAt` of the result, ms. */
  ts: number;
  /** When the collector committed it, ms. */
  receivedAt: number;
  status: ResultStatus;
  downloadMbps?: number;
  uploadMbps?: number;
  latencyMs?: number;
  jitterMs?: number;
  lossRatio?: number;
  /** The whole result as the agent sent it. */
  result: MeasurementResult;
}

/** The slim row verdicts are computed from. */
export interface VerdictSample {
  agentId: string;
  ts: number;
  status: ResultStatus;
  downloadMbps?: number;
  uploadMbps?: number;
  latencyMs?: number;
}

/** A result's verdict fields as `scanVerdictRows` passes them: rowid, agent, ts, status, download, upload, latency. */
export type VerdictRow = [rowid: number, agentId: string, ts: number, status: string, downloadMbps: number | null, uploadMbps: number | null, latencyMs: number | null];

export const SERIES_METRICS = ['download_mbps', 'upload_mbps', 'latency_ms', 'jitter_ms', 'loss_ratio'] as const;
export type SeriesMetric = (typeof SERIES_METRICS)[number];

export interface SeriesPoint {
  /** Start of the bucket, ms. */
  ts: number;
  count: number;
  min: number;
  mean: number;
  /** Median of the bucket (from raw results), or the count-weighted median of hourly medians (from roll-ups). */
  median: number;
  max: number;
}

export interface InsertOutcome {
  /** Ids stored by this call. */
  inserted: string[];
  /** Ids that were already stored (re-sent); not stored again. */
  duplicates: string[];
}

export interface ResultQuery {
  agentId?: string;
  from?: number;
  to?: number;
  /** 1..10 000. */
  limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface Store {
  // Agents and their tokens (only SHA-256 hashes of tokens are stored).
  addAgent(agent: NewAgent, tokenHash: string, now: number): AgentRecord;
  agentByTokenHash(tokenHash: string): AgentRecord | undefined;
  agent(id: string): AgentRecord | undefined;
  /** All agents, revoked ones included, ordered by id. */
  listAgents(): AgentRecord[];
  revokeAgent(id: string, now: number): boolean;
  /** Replaces the token hash; false if there is no such (unrevoked) agent. */
  rotateToken(id: string, tokenHash: string): boolean;
  recordHello(id: string, version: string, now: number): void;

  /** One transaction: results new by id are inserted, known ids reported as duplicates. */
  insertResults(agentId: string, results: readonly MeasurementResult[], receivedAt: number): InsertOutcome;
  /**
   * Several agents' batches in ONE transaction (one fsync: group commit), an outcome per batch
   * in order. An id met twice counts as inserted the first time and a duplicate after.
   */
  insertResultBatches(batches: readonly { agentId: string; results: readonly MeasurementResult[] }[], receivedAt: number): InsertOutcome[];
  /** As insertResultBatches, for rows already flattened by `resultRow` (what the writer thread gets). */
  insertRowGroups(groups: readonly (readonly ResultRow[])[]): InsertOutcome[];
  queryResults(query: ResultQuery): { results: StoredResult[]; nextCursor?: string };
  latestResult(agentId: string): StoredResult | undefined;
  /** Rows for verdicts with `from <= ts < to`, optionally for one agent. */
  verdictSamples(from: number, to: number, agentId?: string): VerdictSample[];
  /**
   * Passes `visit` each result with `ts >= from`, one row at a time: without `afterRowid` all
   * of them in ts order, with it only those stored after that row, in the order stored. Returns
   * the rowid to pass as `afterRowid` next time (rowids only grow).
   */
  scanVerdictRows(from: number, afterRowid: number | undefined, visit: (row: VerdictRow) => void): number;
  /** Bucketed points; served from hourly roll-ups when `stepMs` is a multiple of an hour. */
  series(agentId: string, metric: SeriesMetric, from: number, to: number, stepMs: number): SeriesPoint[];

  /** Computes hourly roll-ups for complete hours not yet rolled up, and drops raw results older than the retention. */
  maintain(now: number): { rolledUpHours: number; deletedResults: number };
  /** SQLite online backup to `path`. */
  backup(path: string): Promise<void>;
  /** Database size on disk in bytes (main file plus WAL). */
  sizeBytes(): number;
  close(): void;
}
