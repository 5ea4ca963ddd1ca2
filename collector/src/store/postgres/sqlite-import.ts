/**
 * Copies a SQLite store into a PostgreSQL one (`speedwatch-collector migrate`): agents with their
 * token hashes, enrollment codes, health reports, area units, then the results in rowid order,
 * a batch per transaction, then each agent's latest UDP figures, the roll-ups and their state. Re-runnable: rows are upserted or
 * skipped when present (results by id), and the last rowid copied is kept in `sqlite_imports`, so
 * a second run (after the old collector is stopped) copies only what was stored since the first.
 * The SQLite file is only read: a collector may keep running on it during the first run.
 */
import type { Db } from '../database.js';
import { LATEST_UDP_ON_CONFLICT, UDP_FIGURE_COLUMNS } from '../latest-udp.js';
import type { ResultRow } from '../result-row.js';
import { ROLLUP_COLUMNS } from '../rollups.js';
import { storeReading, storeWriting } from '../store-error.js';
import type { PostgresStore } from './postgres-store.js';

/** Results copied per PostgreSQL transaction. */
const RESULT_BATCH = 5_000;
/** Other rows copied per statement. */
const ROW_BATCH = 5_000;

export interface ImportProgress {
  /** Results read from the SQLite file in this run, and how many of them were new to PostgreSQL. */
  resultsRead: number;
  resultsStored: number;
}

export interface ImportOutcome extends ImportProgress {
  agents: number;
  enrollmentCodes: number;
  healthReports: number;
  areaUnits: number;
  /** Agents' newest UDP quality figures (latest_udp rows). */
  latestUdp: number;
  rollups: number;
  /** Results the first run had copied already (skipped by rowid). */
  resumedAfterRowid: number;
}

type Row = Record<string, unknown>;

/**
 * Copies `sqlite` (an open, migrated database; `source` names it in `sqlite_imports`) into
 * `target`; `progress` is called after each batch of results.
 */
export async function importSqlite(sqlite: Db, source: string, target: PostgresStore, progress: (p: ImportProgress) => void = () => {}): Promise<ImportOutcome> {
  const where = target.location;
  const read = <T>(what: string, fn: () => T): Promise<T> => storeReading(source, what, async () => fn());
  const write = (what: string, sql: string, params: unknown[]): Promise<unknown> => storeWriting(where, what, () => target.pool.query(sql, params));
  /** Inserts `rows` into `table` in statements of ROW_BATCH (one array parameter per column), then `onConflict`. */
  const upsert = async (what: string, table: string, rows: readonly Row[], columns: readonly [name: string, type: string][], onConflict: string): Promise<number> => {
    for (let at = 0; at < rows.length; at += ROW_BATCH) {
      const chunk = rows.slice(at, at + ROW_BATCH);
      await write(
        what,
        `INSERT INTO ${table} (${columns.map(([c]) => c).join(', ')}) SELECT * FROM unnest(${columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) ${onConflict}`,
        columns.map(([c]) => chunk.map((r) => r[c] ?? null)),
      );
    }
    return rows.length;
  };

  const agentRows = await read('read the agents', () => sqlite.prepare<[], Row>('SELECT * FROM agents ORDER BY id').all());
  const agentColumns: [string, string][] = [
    ['id', 'text'], ['name', 'text'], ['site_kind', 'text'], ['technology', 'text'], ['isp', 'text'], ['area', 'text'], ['area_code', 'text'],
    ['lat', 'float8'], ['lon', 'float8'], ['contract_mbps', 'float8'], ['token_hash', 'text'], ['created_at', 'int8'], ['revoked_at', 'int8'], ['version', 'text'], ['last_seen_at', 'int8'], ['paused_at', 'int8'],
  ];
  const agents = await upsert(
    'copy the agents',
    'agents',
    agentRows,
    agentColumns,
    `ON CONFLICT (id) DO UPDATE SET ${agentColumns.slice(1).map(([c]) => `${c} = excluded.${c}`).join(', ')}`,
  );
  const enrollmentCodes = await upsert(
    'copy the enrollment codes',
    'enrollment_codes',
    await read('read the enrollment codes', () => sqlite.prepare<[], Row>('SELECT * FROM enrollment_codes').all()),
    [['code_hash', 'text'], ['agent_id', 'text'], ['created_at', 'int8'], ['expires_at', 'int8'], ['used_at', 'int8']],
    'ON CONFLICT (code_hash) DO UPDATE SET expires_at = excluded.expires_at, used_at = excluded.used_at',
  );
  const healthReports = await upsert(
    'copy the health reports',
    'agent_health',
    await read('read the health reports', () => sqlite.prepare<[], Row>('SELECT * FROM agent_health').all()),
    [['agent_id', 'text'], ['received_at', 'int8'], ['skew_ms', 'int8'], ['report', 'text']],
    'ON CONFLICT (agent_id) DO UPDATE SET received_at = excluded.received_at, skew_ms = excluded.skew_ms, report = excluded.report WHERE excluded.received_at >= agent_health.received_at',
  );
  const areaUnits = await upsert(
    'copy the area units',
    'area_units',
    await read('read the area units', () => sqlite.prepare<[], Row>('SELECT * FROM area_units').all()),
    [['code', 'text'], ['name', 'text'], ['parent_code', 'text'], ['valid_from', 'int8'], ['valid_to', 'int8']],
    'ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, valid_from = excluded.valid_from, valid_to = excluded.valid_to',
  );

  // Results, from where the last run stopped.
  const done = await storeReading(where, 'read how far the last run got', () => target.pool.query<{ last_rowid: number }>('SELECT last_rowid FROM sqlite_imports WHERE source = $1', [source]));
  const resumedAfterRowid = done.rows[0]?.last_rowid ?? 0;
  const page = sqlite.prepare<[number, number], [number, ...ResultRow]>(
    'SELECT rowid, id, agent_id, ts, received_at, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio, doc, busy FROM results WHERE rowid > ? ORDER BY rowid LIMIT ?',
  ).raw();
  const counts: ImportProgress = { resultsRead: 0, resultsStored: 0 };
  for (let after = resumedAfterRowid; ; ) {
    const rows = await read('read results', () => page.all(after, RESULT_BATCH));
    if (rows.length === 0) break;
    after = (rows[rows.length - 1] as [number, ...ResultRow])[0];
    const stored = await target.results.insertRows(rows.map(([, ...row]) => row), `copy ${rows.length} results`);
    await write('record how far the copy got', 'INSERT INTO sqlite_imports (source, last_rowid, updated_at) VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET last_rowid = excluded.last_rowid, updated_at = excluded.updated_at', [source, after, Date.now()]);
    counts.resultsRead += rows.length;
    counts.resultsStored += stored.size;
    progress({ ...counts });
  }

  // After the results: a newer one copied there may have set an agent's row already (newest wins).
  const latestUdp = await upsert(
    'copy the latest UDP figures',
    'latest_udp',
    await read('read the latest UDP figures', () => sqlite.prepare<[], Row>('SELECT * FROM latest_udp').all()),
    [['agent_id', 'text'], ['result_id', 'text'], ['ts', 'int8'], ...UDP_FIGURE_COLUMNS.map((c): [string, string] => [c, 'float8'])],
    LATEST_UDP_ON_CONFLICT,
  );

  // Roll-ups last: the copied results above did not mark hours dirty (the horizon was not set yet).
  const rollupRows = await read('read the roll-ups', () => sqlite.prepare<[], Row>('SELECT * FROM rollups_hourly').all());
  const rollups = await upsert(
    'copy the roll-ups',
    'rollups_hourly',
    rollupRows,
    [['agent_id', 'text'], ['hour', 'int8'], ...ROLLUP_COLUMNS.map((c): [string, string] => [c, c.endsWith('_count') ? 'int4' : 'float8'])],
    `ON CONFLICT (agent_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
  );
  await upsert(
    'copy the hours to recompute',
    'dirty_hours',
    await read('read the hours to recompute', () => sqlite.prepare<[], Row>('SELECT * FROM dirty_hours').all()),
    [['agent_id', 'text'], ['hour', 'int8']],
    'ON CONFLICT DO NOTHING',
  );
  const state = await read('read the roll-up state', () => sqlite.prepare<[], { rolled_up_to: number | null; deleted_before: number | null }>('SELECT rolled_up_to, deleted_before FROM rollup_state WHERE id = 1').get());
  await write(
    'copy the roll-up state',
    `UPDATE rollup_state SET rolled_up_to = coalesce(greatest(rolled_up_to, $1), $1, rolled_up_to), deleted_before = coalesce(greatest(deleted_before, $2), $2, deleted_before) WHERE id = 1`,
    [state?.rolled_up_to ?? null, state?.deleted_before ?? null],
  );
  return { agents, enrollmentCodes, healthReports, areaUnits, latestUdp, rollups, resumedAfterRowid, ...counts };
}
