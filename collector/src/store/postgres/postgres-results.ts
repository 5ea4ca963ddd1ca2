/**
 * Results on PostgreSQL: group commits of frame batches, idempotent by id through `result_ids`
 * (postgres-migrations.ts), the pages and the verdict window's scans. Semantics are SQLite's
 * (result-writes.ts, result-queries.ts); the suite that holds both to them is
 * collector/test/store-contract.test.ts.
 */
import type { MeasurementResult, ResultStatus } from '@speedwatch/shared';
import type { ResultStore, ScanPosition } from '../collector-store.js';
import type { FrameBatch } from '../frame-batch.js';
import { frameRows, frameUdp } from '../frame-batch.js';
import { LATEST_UDP_COLUMNS, LATEST_UDP_ON_CONFLICT, latestUdpOf, latestUdpValues, newestUdpPerAgent, UDP_FIGURE_COLUMNS } from '../latest-udp.js';
import type { LatestUdpRow, UdpCandidate } from '../latest-udp.js';
import type { LatestActivity } from '../result-queries.js';
import { checkTime, decodeCursor, encodeCursor, MAX_QUERY_LIMIT, storedResult } from '../result-queries.js';
import type { ResultRow } from '../result-row.js';
import type { DocumentRow } from '../results-sql.js';
import { StoreError } from '../store-error.js';
import type { InsertOutcome, ResultQuery, StoredResult, VerdictRow } from '../store-types.js';
import { eachRow, LOCKS } from './postgres-db.js';
import type { PgDb } from './postgres-db.js';
import { copyRows } from './postgres-copy.js';
import { monthStart } from './postgres-partitions.js';
import type { Partitions } from './postgres-partitions.js';

const HOUR_MS = 3_600_000;

/** The columns of a row to store, in ResultRow order. */
const ROW_COLUMNS = ['id', 'agent_id', 'ts', 'received_at', 'status', 'download_mbps', 'upload_mbps', 'latency_ms', 'jitter_ms', 'loss_ratio', 'doc', 'busy'] as const;

/**
 * Where a group commit's rows are copied first: one per connection, emptied at each commit.
 * COPY sends each document nearly as it is, where a parameter array would escape every quote of
 * the JSON on both sides (a third of the commit's time).
 */
const INCOMING_SQL = `
  CREATE TEMP TABLE IF NOT EXISTS incoming_results (
    id text COLLATE "C", agent_id text COLLATE "C", ts bigint, received_at bigint, status text,
    download_mbps double precision, upload_mbps double precision, latency_ms double precision, jitter_ms double precision, loss_ratio double precision,
    doc text, busy smallint
  ) ON COMMIT DELETE ROWS`;

/**
 * One statement: claim the ids (those already claimed, by any collector, are skipped), store
 * the rows of the ids claimed, and mark for recomputation the hours already rolled up that
 * gain a late result. Runs after taking the horizon lock shared (see postgres-rollups.ts).
 */
const INSERT_SQL = `
  WITH input AS (
    SELECT * FROM incoming_results
  ), claimed AS (
    INSERT INTO result_ids (id, ts) SELECT id, ts FROM input ON CONFLICT (id) DO NOTHING RETURNING id
  ), stored AS (
    INSERT INTO results (id, agent_id, ts, received_at, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio, doc, busy)
    SELECT i.id, i.agent_id, i.ts, i.received_at, i.status, i.download_mbps, i.upload_mbps, i.latency_ms, i.jitter_ms, i.loss_ratio, i.doc::json, i.busy
    FROM input i JOIN claimed c ON c.id = i.id
    RETURNING id, agent_id, ts
  ), late AS (
    INSERT INTO dirty_hours (agent_id, hour)
    SELECT DISTINCT s.agent_id, floor(s.ts / ${HOUR_MS}.0)::bigint * ${HOUR_MS} FROM stored s, rollup_state r
    WHERE r.id = 1 AND s.ts < r.rolled_up_to
    ON CONFLICT DO NOTHING
  )
  SELECT id FROM stored`;

/** Each agent's newest result with UDP figures, as the rows stored by a commit leave it (latest-udp.ts): arrays, one per column. */
const UPSERT_UDP_SQL = `
  INSERT INTO latest_udp (${LATEST_UDP_COLUMNS.join(', ')})
  SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], ${UDP_FIGURE_COLUMNS.map((_, i) => `$${i + 4}::float8[]`).join(', ')})
  ${LATEST_UDP_ON_CONFLICT}`;

const DOCUMENT_COLUMNS = 'id, agent_id, ts, received_at, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio, doc';
const VERDICT_COLUMNS = 'tx, agent_id, ts, status, download_mbps, upload_mbps, latency_ms, busy';

/** A row of `results` as pg gives it: the document already parsed (json). */
type PgDocumentRow = Omit<DocumentRow, 'doc'> & { doc: MeasurementResult };

/** The `check_violation` PostgreSQL raises for a row no partition takes. */
const NO_PARTITION = '23514';

export class PgResults implements ResultStore {
  readonly #db: PgDb;
  readonly #partitions: Partitions;
  /** Connections of the pool that have their incoming_results table. */
  readonly #incoming = new WeakSet<object>();

  constructor(db: PgDb, partitions: Partitions) {
    this.#db = db;
    this.#partitions = partitions;
  }

  async insertFrames(batches: readonly FrameBatch[]): Promise<InsertOutcome[]> {
    if (batches.length === 0) return [];
    const groups = batches.map(frameRows);
    // The first copy of an id in the call is the one that may be stored; later ones are duplicates.
    const first = new Map<string, ResultRow>();
    for (const rows of groups) for (const row of rows) if (!first.has(row[0])) first.set(row[0], row);
    const candidates = [...first.values()];
    const total = groups.reduce((n, g) => n + g.length, 0);
    const udp = batches.flatMap(frameUdp);
    const stored = candidates.length === 0 ? new Set<string>() : await this.insertRows(candidates, `store ${total} results of ${groups.length} batches`, udp);
    return groups.map((rows) => {
      const outcome: InsertOutcome = { inserted: [], duplicates: [] };
      for (const row of rows) (stored.has(row[0]) && first.get(row[0]) === row ? outcome.inserted : outcome.duplicates).push(row[0]);
      return outcome;
    });
  }

  /**
   * Stores rows whose ids are unique among them, in one transaction: the ids it stored (the
   * others were stored already). For insertFrames, and for copying another store's rows. Of
   * `udp`, the UDP figures of some of the rows, each agent's newest stored one becomes its
   * latest_udp unless a newer one is kept.
   */
  async insertRows(rows: readonly ResultRow[], what = `store ${rows.length} results`, udp: readonly UdpCandidate[] = []): Promise<Set<string>> {
    const months = new Set(rows.map((row) => monthStart(row[2])));
    for (let attempt = 1; ; attempt++) {
      await this.#partitions.ensure(months);
      try {
        return await this.#db.writing(what, async (client) => {
          try {
            await client.query('SELECT pg_advisory_xact_lock_shared($1)', [LOCKS.horizon]);
            if (!this.#incoming.has(client)) {
              await client.query(INCOMING_SQL);
              this.#incoming.add(client);
            }
            await copyRows(client, 'incoming_results', ROW_COLUMNS, rows);
            const { rows: ids } = await client.query<{ id: string }>(INSERT_SQL);
            const stored = new Set(ids.map((r) => r.id));
            // Only a row stored now, and as its agent's (an id another agent sent too is that agent's duplicate).
            const agentOf = udp.length === 0 ? undefined : new Map(rows.map((row) => [row[0], row[1]]));
            const newest = newestUdpPerAgent(udp.filter((c) => stored.has(c.id) && agentOf?.get(c.id) === c.agentId));
            if (newest.length > 0) {
              const values = newest.map(latestUdpValues);
              await client.query(UPSERT_UDP_SQL, LATEST_UDP_COLUMNS.map((_, i) => values.map((v) => v[i])));
            }
            return stored;
          } catch (err) {
            // Rolled back: a table this transaction made is gone with it.
            this.#incoming.delete(client);
            throw err;
          }
        });
      } catch (err) {
        // A partition dropped meanwhile by another collector's retention: look again, once.
        if (attempt > 1 || (err as { cause?: { code?: string } }).cause?.code !== NO_PARTITION) throw err;
        this.#partitions.forget();
      }
    }
  }

  async page(query: ResultQuery): Promise<{ results: StoredResult[]; nextCursor?: string }> {
    const { limit } = query;
    checkLimit(limit);
    const from = checkTime('from', query.from ?? Number.MIN_SAFE_INTEGER);
    const to = checkTime('to', query.to ?? Number.MAX_SAFE_INTEGER);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // Keyset, as SQLite's: rows after (afterTs, afterId); without a cursor every id is > ''.
    const low = after === undefined ? from : Math.max(from, after.ts);
    const params: unknown[] = [low, to, after?.ts ?? low, after?.id ?? '', limit + 1];
    const agent = query.agentId === undefined ? '' : ` AND agent_id = $${params.push(query.agentId)}`;
    const rows = await this.#db.read<PgDocumentRow>(
      'query results',
      `SELECT ${DOCUMENT_COLUMNS} FROM results WHERE ts >= $1 AND ts < $2 AND (ts, id) > ($3, $4::text COLLATE "C")${agent} ORDER BY ts, id LIMIT $5`,
      params,
    );
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const results = rows.map((row) => storedResult(row, row.doc));
    const last = rows[rows.length - 1];
    return more && last !== undefined ? { results, nextCursor: encodeCursor(last.ts, last.id) } : { results };
  }

  async recent(agentId: string, limit: number): Promise<StoredResult[]> {
    checkLimit(limit);
    const rows = await this.#db.read<PgDocumentRow>(
      `read the latest results of agent ${agentId}`,
      `SELECT ${DOCUMENT_COLUMNS} FROM results WHERE agent_id = $1 ORDER BY ts DESC, id DESC LIMIT $2`,
      [agentId, limit],
    );
    return rows.map((row) => storedResult(row, row.doc));
  }

  async latestActivity(agentIds: readonly string[]): Promise<LatestActivity[]> {
    if (agentIds.length === 0) return [];
    type Row = {
      agent_id: string; id: string; ts: number; status: string;
      download_mbps: number | null; upload_mbps: number | null; latency_ms: number | null; jitter_ms: number | null; loss_ratio: number | null;
      loaded_download_ms: number | null; loaded_upload_ms: number | null; download_ts: number | null; download: number | null;
      udp: LatestUdpRow | null;
    };
    const rows = await this.#db.read<Row>(
      'read the agents\' latest results',
      `SELECT a.agent_id, f.*, d.ts AS download_ts, d.download_mbps AS download,
         CASE WHEN u.agent_id IS NULL THEN NULL ELSE json_build_object('result_id', u.result_id, 'ts', u.ts, ${UDP_FIGURE_COLUMNS.map((c) => `'${c}', u.${c}`).join(', ')}) END AS udp
       FROM unnest($1::text[]) WITH ORDINALITY AS a (agent_id, n)
       CROSS JOIN LATERAL (
         SELECT id, ts, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio,
           (doc #>> '{loadedLatency,download,medianMs}')::float8 AS loaded_download_ms,
           (doc #>> '{loadedLatency,upload,medianMs}')::float8 AS loaded_upload_ms
         FROM results r WHERE r.agent_id = a.agent_id ORDER BY ts DESC, id DESC LIMIT 1) f
       LEFT JOIN LATERAL (
         SELECT ts, download_mbps FROM results r WHERE r.agent_id = a.agent_id AND download_mbps IS NOT NULL ORDER BY ts DESC LIMIT 1) d ON true
       LEFT JOIN latest_udp u ON u.agent_id = a.agent_id
       ORDER BY a.n`,
      [agentIds],
    );
    return rows.map((row) => {
      const latest: LatestActivity = {
        agentId: row.agent_id,
        figures: {
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
        },
      };
      if (row.download_ts !== null && row.download !== null) latest.download = { ts: row.download_ts, mbps: row.download };
      if (row.udp !== null) latest.udp = latestUdpOf(row.udp);
      return latest;
    });
  }

  /**
   * The position is the snapshot the rows were read in: the next scan reads the rows visible now
   * and not in it (committed since, by any collector, in whatever order their transactions
   * ended), so none is read twice or missed.
   */
  async scanVerdictRows(from: number, after: ScanPosition | undefined, visit: (row: VerdictRow) => void): Promise<ScanPosition> {
    checkTime('from', from);
    if (after !== undefined && !/^\d+:\d+:[\d,]*$/.test(after)) throw new StoreError('SW_STORE_ARGUMENT', `not a scan position of this PostgreSQL store: ${JSON.stringify(after.slice(0, 40))}`);
    return this.#db.reading(after === undefined ? 'read verdict samples' : 'read new verdict samples', async (client) => {
      const { rows } = await client.query<{ snapshot: string }>('SELECT pg_current_snapshot()::text AS snapshot');
      const visitRow = (row: unknown[]): void => visit(row as VerdictRow);
      if (after === undefined) {
        await eachRow(client, `SELECT ${VERDICT_COLUMNS} FROM results WHERE ts >= $1 ORDER BY ts`, [from], visitRow);
      } else {
        await eachRow(
          client,
          `SELECT ${VERDICT_COLUMNS} FROM results
           WHERE ts >= $1 AND tx >= pg_snapshot_xmin($2::pg_snapshot)::text::bigint AND NOT pg_visible_in_snapshot(tx::text::xid8, $2::pg_snapshot)
           ORDER BY tx`,
          [from, after],
          visitRow,
        );
      }
      return (rows[0] as { snapshot: string }).snapshot;
    });
  }

  async scanVerdictRowsBetween(from: number, to: number, visit: (row: VerdictRow) => void): Promise<void> {
    checkTime('from', from);
    checkTime('to', to);
    await this.#db.reading('read verdict samples of a range', (client) =>
      eachRow(client, `SELECT ${VERDICT_COLUMNS} FROM results WHERE ts >= $1 AND ts < $2 ORDER BY ts`, [from, to], (row) => visit(row as VerdictRow)),
    );
  }

  async deletedBefore(): Promise<number | undefined> {
    const rows = await this.#db.read<{ ts: number | null }>('read the retention horizon', 'SELECT deleted_before AS ts FROM rollup_state WHERE id = 1');
    return rows[0]?.ts ?? undefined;
  }
}

function checkLimit(limit: number): void {
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= MAX_QUERY_LIMIT)) {
    throw new StoreError('SW_STORE_ARGUMENT', `limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${limit}`);
  }
}
