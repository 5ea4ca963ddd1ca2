/**
 * Reading stored results: pages in (ts, id) order with opaque cursors, agents' latest
 * figures, and the verdict window's scans (all rows of a window, then only rows stored since).
 */
import type { MeasurementResult, ResultStatus } from '@speedwatch/shared';
import type { Db } from './database.js';
import { latestUdpOf } from './latest-udp.js';
import type { LatestUdp } from './latest-udp.js';
import type { ResultFigures } from './result-row.js';
import type { DocumentRow, ResultStatements } from './results-sql.js';
import { StoreError, storeRead } from './store-error.js';
import type { ResultQuery, StoredResult, VerdictRow } from './store-types.js';

export const MAX_QUERY_LIMIT = 10_000;

/** An agent's latest result, as the serving thread's in-memory tables are seeded with it. */
export interface LatestActivity {
  agentId: string;
  figures: ResultFigures;
  /** The latest result that has a download: its start (ms) and rate. */
  download?: { ts: number; mbps: number };
  /** The newest result that had a `udp` section (kept in latest_udp): its UDP quality figures. */
  udp?: LatestUdp;
}

export class ResultQueries {
  readonly #db: Db;
  readonly #path: string;
  readonly #s: ResultStatements;

  constructor(db: Db, path: string, statements: ResultStatements) {
    this.#db = db;
    this.#path = path;
    this.#s = statements;
  }

  /**
   * Results with `from <= ts < to`, ordered by (ts, id), `limit` per page; `nextCursor` is
   * present when more rows follow. A cursor this store did not issue throws `SW_STORE_CURSOR`.
   */
  page(query: ResultQuery): { results: StoredResult[]; nextCursor?: string } {
    const { limit } = query;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_QUERY_LIMIT)) {
      throw new StoreError('SW_STORE_ARGUMENT', `limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${limit}`);
    }
    const from = checkTime('from', query.from ?? Number.MIN_SAFE_INTEGER);
    const to = checkTime('to', query.to ?? Number.MAX_SAFE_INTEGER);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // Keyset: rows after (afterTs, afterId). With ts >= afterTs given by `low`, "after" is
    // ts > afterTs OR id > afterId; without a cursor, every id is > ''.
    const low = after === undefined ? from : Math.max(from, after.ts);
    const afterTs = after?.ts ?? low;
    const afterId = after?.id ?? '';
    const rows = storeRead(this.#path, 'query results', () =>
      query.agentId === undefined ? this.#s.pageAll.all(low, to, afterTs, afterId, limit + 1) : this.#s.pageAgent.all(query.agentId, low, to, afterTs, afterId, limit + 1),
    );
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const results = rows.map(toStoredResult);
    const last = rows[rows.length - 1];
    return more && last !== undefined ? { results, nextCursor: encodeCursor(last.ts, last.id) } : { results };
  }

  /**
   * The agent's latest `limit` results (1..10 000), newest first (by ts, then id): the console's
   * list of a site's recent tests, which `page`'s ascending order would reach only at the end.
   */
  recent(agentId: string, limit: number): StoredResult[] {
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_QUERY_LIMIT)) {
      throw new StoreError('SW_STORE_ARGUMENT', `limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${limit}`);
    }
    return storeRead(this.#path, `read the latest results of agent ${agentId}`, () => this.#s.recentAgent.all(agentId, limit)).map(toStoredResult);
  }

  /**
   * For each listed agent with a result: the figures of its latest result, its latest
   * download (which a later result without a download phase does not replace), and its newest
   * UDP quality figures (likewise).
   */
  latestActivity(agentIds: readonly string[]): LatestActivity[] {
    const out: LatestActivity[] = [];
    storeRead(this.#path, 'read the agents\' latest results', () => {
      for (const agentId of agentIds) {
        const row = this.#s.latestFigures.get(agentId);
        if (row === undefined) continue;
        const figures: ResultFigures = {
          id: row.id,
          ts: row.ts,
          status: row.status as ResultStatus,
          downloadMbps: row.download_mbps,
          uploadMbps: row.upload_mbps,
          latencyMs: row.latency_ms,
          jitterMs: row.jitter_ms,
          lossRatio: row.loss_ratio,
          loadedDownloadMs: row.loaded_download_ms,
          loadedUploadMs: row.loaded_upload_ms,
        };
        const latest: LatestActivity = { agentId, figures };
        const download = this.#s.latestDownload.get(agentId);
        if (download !== undefined) latest.download = { ts: download.ts, mbps: download.download_mbps };
        const udp = this.#s.latestUdp.get(agentId);
        if (udp !== undefined) latest.udp = latestUdpOf(udp);
        out.push(latest);
      }
    });
    return out;
  }

  /**
   * Passes `visit` each result with `ts >= from`, one row at a time: without `afterRowid` all
   * of them in ts order, with it only those stored after that row, in the order stored. Returns
   * the rowid to pass as `afterRowid` next time (rowids only grow: see the retention delete).
   */
  /** Passes `visit` each result with `from <= ts < to` in ts order, in one read (a report's range). */
  scanVerdictRowsBetween(from: number, to: number, visit: (row: VerdictRow) => void): void {
    checkTime('from', from);
    checkTime('to', to);
    storeRead(this.#path, 'read verdict samples of a range', () => {
      for (const row of this.#s.samplesBetween.iterate(from, to)) visit(row);
    });
  }

  /**
   * The time before which the retention deleted raw results (a range starting earlier is
   * incomplete), or undefined if it never deleted any.
   */
  deletedBefore(): number | undefined {
    return storeRead(this.#path, 'read the retention horizon', () => this.#s.deletedBefore.get()?.ts ?? undefined);
  }

  scanVerdictRows(from: number, afterRowid: number | undefined, visit: (row: VerdictRow) => void): number {
    checkTime('from', from);
    if (afterRowid !== undefined) {
      let last = afterRowid;
      storeRead(this.#path, 'read new verdict samples', () => {
        for (const row of this.#s.samplesSinceRowid.iterate(afterRowid, from)) {
          visit(row);
          last = row[0];
        }
      });
      return last;
    }
    // One read transaction: the largest rowid and the rows are of the same snapshot, so a row
    // the writer thread commits meanwhile is read next time, not twice or never.
    return storeRead(this.#path, 'read verdict samples', () =>
      this.#db.transaction(() => {
        const last = this.#s.maxRowid.get()?.n ?? 0;
        for (const row of this.#s.samplesFromTs.iterate(from)) visit(row);
        return last;
      })(),
    );
  }
}

export function checkTime(name: string, ms: number): number {
  if (!Number.isFinite(ms)) throw new StoreError('SW_STORE_ARGUMENT', `${name} must be a time in ms since the epoch, got ${ms}`);
  return ms;
}

function toStoredResult(row: DocumentRow): StoredResult {
  // The document was stored from a validated result.
  return storedResult(row, JSON.parse(row.doc) as MeasurementResult);
}

/** A stored row and its parsed document as a StoredResult (figures NULL in the row are absent). */
export function storedResult(row: Omit<DocumentRow, 'doc'>, result: MeasurementResult): StoredResult {
  const stored: StoredResult = {
    id: row.id,
    agentId: row.agent_id,
    ts: row.ts,
    receivedAt: row.received_at,
    status: row.status as ResultStatus,
    result,
  };
  if (row.download_mbps !== null) stored.downloadMbps = row.download_mbps;
  if (row.upload_mbps !== null) stored.uploadMbps = row.upload_mbps;
  if (row.latency_ms !== null) stored.latencyMs = row.latency_ms;
  if (row.jitter_ms !== null) stored.jitterMs = row.jitter_ms;
  if (row.loss_ratio !== null) stored.lossRatio = row.loss_ratio;
  return stored;
}

const CURSOR = /^(-?\d{1,16})\.([\s\S]+)$/;

/** base64url of "<ts>.<id>" of the last row of a page. */
export function encodeCursor(ts: number, id: string): string {
  return Buffer.from(`${ts}.${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { ts: number; id: string } {
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = CURSOR.exec(text);
  const ts = Number(match?.[1]);
  const id = match?.[2];
  if (id === undefined || !Number.isSafeInteger(ts) || encodeCursor(ts, id) !== cursor) {
    throw new StoreError('SW_STORE_CURSOR', 'cursor is not one this collector issued: start again without a cursor');
  }
  return { ts, id };
}
