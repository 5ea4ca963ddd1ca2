/**
 * The types the collector's store speaks in (store/sqlite-store.ts and its rooms).
 * Times are milliseconds since the epoch (UTC) unless a name says otherwise.
 */
import type { HealthMessage, MeasurementResult, ResultStatus, SiteKind, Technology } from '@speedwatch/shared';

export interface AgentRecord {
  /** Chosen by the operator (`agents add --id`), e.g. "lso-caoloc-thcs-hopthanh". */
  id: string;
  name: string;
  siteKind: SiteKind;
  technology: Technology;
  isp?: string;
  /** "province/district/commune". */
  area?: string;
  /** The official code of the area's unit, when the site names its area by code (area-units.ts). */
  areaCode?: string;
  lat?: number;
  lon?: number;
  /** The contracted download speed, Mbps, when the site declares one. */
  contractMbps?: number;
  createdAt: number;
  /** Set when revoked; a revoked agent cannot authenticate and leaves metrics. */
  revokedAt?: number;
  /** From the agent's latest hello. */
  version?: string;
  lastSeenAt?: number;
  /** Set while paused from the API: the agent stays connected and runs no test. */
  pausedAt?: number;
}

export type NewAgent = Omit<AgentRecord, 'createdAt' | 'revokedAt' | 'version' | 'lastSeenAt' | 'pausedAt'>;

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
  /** The test ran on a busy line (its result's `busyLine.flagged`). */
  busy?: boolean;
}

/**
 * A result's verdict fields as `scanVerdictRows` passes them: rowid, agent, ts, status, download,
 * upload, latency, and busy (1 when it ran under cross traffic, 0 when checked and quiet, null
 * when not checked).
 */
export type VerdictRow = [rowid: number, agentId: string, ts: number, status: string, downloadMbps: number | null, uploadMbps: number | null, latencyMs: number | null, busy: number | null];

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

/** A version and last-seen time to record for an agent (the version only when it said hello). */
export interface AgentTouch {
  id: string;
  version?: string;
  lastSeenAt: number;
}

/** An agent's `health` message as kept: validated, without its `type`. */
export type HealthReport = Omit<HealthMessage, 'type'>;

/** An agent's latest health report and when the collector received it (table `agent_health`). */
export interface AgentHealthRecord {
  agentId: string;
  /** The collector's clock when the report arrived, ms. */
  receivedAt: number;
  /** The agent's clock (the report's `clock`) minus the collector's at receipt, ms. */
  skewMs: number;
  report: HealthReport;
}
