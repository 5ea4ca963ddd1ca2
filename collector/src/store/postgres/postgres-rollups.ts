/**
 * Hourly roll-ups, retention and series on PostgreSQL, with SQLite's semantics (rollups.ts) and
 * its statistics code (the same medians and means to the last bit):
 * - An hour is rolled up from a snapshot without any lock, then written by upsert
 *   (`INSERT … ON CONFLICT DO UPDATE`) in a short transaction that takes the horizon lock
 *   exclusive, marks dirty the hour's rows committed after the snapshot (`tx` not visible in it)
 *   and moves the horizon. Writes of results hold the same lock shared and mark dirty the late
 *   rows of hours already rolled up: a row is caught by one or the other.
 * - Retention drops whole monthly partitions once all of a month is older than the retention,
 *   after deleting their ids from `result_ids`: a month's results go without a row-by-row delete
 *   of the results themselves, and they stay up to a month longer than SQLite keeps them.
 * - Partitions for this month and the next two are created ahead.
 */
import pg from 'pg';
import type { RollupStore } from '../collector-store.js';
import { maintainAll } from '../collector-store.js';
import { checkTime } from '../result-queries.js';
import type { HourPart, MaintenanceOutcome } from '../rollups.js';
import { bucketHours, collect, DIRTY_BATCH, floorHour, HOUR_MS, hourlyParts, rawSeries, ROLLUP_COLUMNS, rollupFigures } from '../rollups.js';
import { StoreError, storeReading } from '../store-error.js';
import { SERIES_METRICS } from '../store-types.js';
import type { SeriesMetric, SeriesPoint } from '../store-types.js';
import { LOCKS } from './postgres-db.js';
import type { PgDb } from './postgres-db.js';
import { monthStart, nextMonth } from './postgres-partitions.js';
import type { Partition, Partitions } from './postgres-partitions.js';

const DAY_MS = 86_400_000;
/** Months of partitions made ready after the current one. */
const MONTHS_AHEAD = 2;

const METRIC_COLUMNS = SERIES_METRICS.join(', ');
const escapeIdentifier = (name: string): string => pg.escapeIdentifier(name);

/** The roll-up upsert: one row per (agent, hour) from parallel arrays. */
const UPSERT_SQL = `
  INSERT INTO rollups_hourly (agent_id, hour, ${ROLLUP_COLUMNS.join(', ')})
  SELECT * FROM unnest($1::text[], $2::int8[], ${ROLLUP_COLUMNS.map((c, i) => `$${i + 3}::${c.endsWith('_count') ? 'int4' : 'float8'}[]`).join(', ')})
  ON CONFLICT (agent_id, hour) DO UPDATE SET ${ROLLUP_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`;

interface RollupState {
  rolled_up_to: number | null;
  deleted_before: number | null;
}

export class PgRollups implements RollupStore {
  readonly #db: PgDb;
  readonly #partitions: Partitions;
  readonly #retentionMs: number;

  constructor(db: PgDb, partitions: Partitions, retentionMs: number) {
    this.#db = db;
    this.#partitions = partitions;
    this.#retentionMs = retentionMs;
  }

  async series(agentId: string, metric: SeriesMetric, from: number, to: number, stepMs: number): Promise<SeriesPoint[]> {
    if (!SERIES_METRICS.includes(metric)) {
      throw new StoreError('SW_STORE_ARGUMENT', `metric must be one of ${SERIES_METRICS.join(', ')}, got ${JSON.stringify(metric)}`);
    }
    if (!(Number.isSafeInteger(stepMs) && stepMs > 0)) throw new StoreError('SW_STORE_ARGUMENT', `stepMs must be a positive integer, got ${stepMs}`);
    checkTime('from', from);
    checkTime('to', to);
    if (from >= to) return [];
    // `metric` is one of the fixed column names, never user text.
    const values = (client: pg.ClientBase | pg.Pool, low: number, high: number): Promise<[number, number][]> =>
      client
        .query<[number, number]>({ text: `SELECT ts, ${metric} FROM results WHERE agent_id = $1 AND ts >= $2 AND ts < $3 AND ${metric} IS NOT NULL ORDER BY ts`, values: [agentId, low, high], rowMode: 'array' })
        .then((r) => r.rows);
    const what = `read the ${metric} series of agent ${agentId}`;
    if (stepMs % HOUR_MS !== 0) return rawSeries(await storeReading(this.#db.location, what, () => values(this.#db.pool, from, to)), stepMs);
    // Roll-ups before the horizon and raw results after it, from one snapshot.
    return this.#db.reading(what, async (client) => {
      const fromHour = floorHour(from);
      const toHour = Math.ceil(to / HOUR_MS) * HOUR_MS;
      const state = await client.query<RollupState>('SELECT rolled_up_to, deleted_before FROM rollup_state WHERE id = 1');
      const rolledUpTo = state.rows[0]?.rolled_up_to ?? fromHour;
      const horizon = Math.min(Math.max(rolledUpTo, fromHour), toHour);
      const { rows: hours } = await client.query<HourPart>(
        `SELECT hour, ${metric}_count AS count, ${metric}_min AS min, ${metric}_mean AS mean, ${metric}_median AS median, ${metric}_max AS max
         FROM rollups_hourly WHERE agent_id = $1 AND hour >= $2 AND hour < $3 AND ${metric}_count > 0 ORDER BY hour`,
        [agentId, fromHour, horizon],
      );
      for (const part of hourlyParts(await values(client, horizon, toHour))) hours.push(part);
      return bucketHours(hours, stepMs);
    });
  }

  maintain(now: number): Promise<MaintenanceOutcome> {
    return maintainAll(this.steps(now));
  }

  async *steps(now: number): AsyncGenerator<MaintenanceOutcome, void, void> {
    checkTime('now', now);
    const complete = floorHour(now);
    const cutoff = now - this.#retentionMs;
    let state = await this.#state();
    let start = state.rolled_up_to;
    if (start === null) {
      // First run: nothing before the oldest result's hour needs rolling up.
      const oldest = (await this.#db.read<{ ts: number | null }>('find the oldest result', 'SELECT min(ts) AS ts FROM results'))[0]?.ts ?? null;
      const horizon = oldest === null ? complete : Math.min(floorHour(oldest), complete);
      await this.#db.write('start the roll-ups', 'UPDATE rollup_state SET rolled_up_to = $1 WHERE id = 1 AND rolled_up_to IS NULL', [horizon]);
      state = await this.#state();
      start = state.rolled_up_to ?? horizon;
    }
    while (start < complete) {
      const step = await this.#rollUp(start, complete);
      start = step.end;
      yield { rolledUpHours: step.rolledUpHours, deletedResults: 0 };
    }
    for (;;) {
      const written = await this.#recomputeDirty(state.deleted_before);
      if (written === undefined) break;
      yield { rolledUpHours: written, deletedResults: 0 };
    }
    for (const partition of await this.#partitions.list()) {
      if (partition.to > cutoff) break;
      // Its ids first, a day of them at a time (the days that have results, found in the
      // partition's index), then the partition: a pass stopped in between carries on.
      for (let day = await this.#nextDay(partition, partition.from); day !== undefined; day = await this.#nextDay(partition, day + DAY_MS)) {
        const deleted = await this.#db.write('delete the ids of results past the retention', 'DELETE FROM result_ids WHERE ts >= $1 AND ts < $2', [day, Math.min(day + DAY_MS, partition.to)]);
        yield { rolledUpHours: 0, deletedResults: deleted.rowCount ?? 0 };
      }
      await this.#partitions.drop(partition);
      yield { rolledUpHours: 0, deletedResults: 0 };
    }
    const months = [monthStart(now)];
    for (let i = 0; i < MONTHS_AHEAD; i++) months.push(nextMonth(months[months.length - 1] as number));
    await this.#partitions.ensure(months);
  }

  async #state(): Promise<RollupState> {
    const rows = await this.#db.read<RollupState>('read the roll-up state', 'SELECT rolled_up_to, deleted_before FROM rollup_state WHERE id = 1');
    return rows[0] ?? { rolled_up_to: null, deleted_before: null };
  }

  /** The start of the first UTC day at or after `from` on which `partition` holds a result. */
  async #nextDay(partition: Partition, from: number): Promise<number | undefined> {
    const rows = await this.#db.read<{ ts: number | null }>(
      'find results past the retention',
      `SELECT min(ts) AS ts FROM ${escapeIdentifier(partition.name)} WHERE ts >= $1`,
      [from],
    );
    const ts = rows[0]?.ts ?? null;
    return ts === null ? undefined : Math.floor(ts / DAY_MS) * DAY_MS;
  }

  /**
   * Rolls up the hour starting at `start` for every agent, or, when it and the hours after it
   * hold no result, all of them up to the next hour that does (or `complete`) at once; moves the
   * horizon past them. Returns where it got to and the roll-ups written.
   */
  async #rollUp(start: number, complete: number): Promise<{ end: number; rolledUpHours: number }> {
    const { snapshot, end, groups } = await this.#db.reading('read results to roll up', async (client) => {
      const { rows } = await client.query<{ snapshot: string; next: number | null }>(
        'SELECT pg_current_snapshot()::text AS snapshot, (SELECT min(ts) FROM results WHERE ts >= $1) AS next',
        [start],
      );
      const { snapshot, next } = rows[0] as { snapshot: string; next: number | null };
      const groups = new Map<string, number[][]>();
      const gapEnd = next === null ? complete : Math.min(floorHour(next), complete);
      if (gapEnd > start) return { snapshot, end: gapEnd, groups };
      const source = await client.query<[string, number, ...(number | null)[]]>({
        text: `SELECT agent_id, ts, ${METRIC_COLUMNS} FROM results WHERE ts >= $1 AND ts < $2`,
        values: [start, start + HOUR_MS],
        rowMode: 'array',
      });
      for (const [agentId, , ...metrics] of source.rows) {
        let values = groups.get(agentId);
        if (values === undefined) {
          values = SERIES_METRICS.map(() => []);
          groups.set(agentId, values);
        }
        collect(values, metrics);
      }
      return { snapshot, end: start + HOUR_MS, groups };
    });
    await this.#db.writing('write hourly roll-ups', async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.horizon]);
      await upsertRollups(client, [...groups].map(([agentId, values]) => ({ agentId, hour: start, values })));
      // Committed after the snapshot (not marked dirty by their writes: the horizon had not passed them yet).
      await client.query(
        `INSERT INTO dirty_hours (agent_id, hour)
         SELECT DISTINCT agent_id, floor(ts / ${HOUR_MS}.0)::bigint * ${HOUR_MS} FROM results
         WHERE ts >= $1 AND ts < $2 AND NOT pg_visible_in_snapshot(tx::text::xid8, $3::pg_snapshot)
         ON CONFLICT DO NOTHING`,
        [start, end, snapshot],
      );
      await client.query('UPDATE rollup_state SET rolled_up_to = greatest(coalesce(rolled_up_to, $1), $1) WHERE id = 1', [end]);
    });
    return { end, rolledUpHours: groups.size };
  }

  /** Recomputes up to DIRTY_BATCH dirty hours (unless their raw results are partly dropped); undefined when none is left. */
  async #recomputeDirty(deletedBefore: number | null): Promise<number | undefined> {
    return this.#db.writing('recompute late hours', async (client) => {
      // Taken off the list first: a result committed after this transaction's reads marks its hour again.
      const { rows: dirty } = await client.query<{ agent_id: string; hour: number }>(
        `DELETE FROM dirty_hours WHERE (agent_id, hour) IN (SELECT agent_id, hour FROM dirty_hours LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING agent_id, hour`,
        [DIRTY_BATCH],
      );
      if (dirty.length === 0) return undefined;
      const todo = dirty.filter((d) => deletedBefore === null || d.hour >= deletedBefore);
      if (todo.length === 0) return 0;
      const key = (agentId: string, hour: number): string => `${hour}\u0000${agentId}`;
      const values = new Map(todo.map((d) => [key(d.agent_id, d.hour), SERIES_METRICS.map((): number[] => [])]));
      const source = await client.query<[string, number, ...(number | null)[]]>({
        text: `SELECT r.agent_id, d.hour, ${SERIES_METRICS.map((m) => `r.${m}`).join(', ')}
               FROM unnest($1::text[], $2::int8[]) AS d (agent_id, hour)
               JOIN results r ON r.agent_id = d.agent_id AND r.ts >= d.hour AND r.ts < d.hour + ${HOUR_MS}`,
        values: [todo.map((d) => d.agent_id), todo.map((d) => d.hour)],
        rowMode: 'array',
      });
      for (const [agentId, hour, ...metrics] of source.rows) {
        const list = values.get(key(agentId, hour));
        if (list !== undefined) collect(list, metrics);
      }
      await upsertRollups(client, todo.map((d) => ({ agentId: d.agent_id, hour: d.hour, values: values.get(key(d.agent_id, d.hour)) as number[][] })));
      return todo.length;
    });
  }
}

/** Writes (or replaces) the roll-ups of agent-hours from their values per metric, one statement. */
async function upsertRollups(client: pg.PoolClient, rollups: readonly { agentId: string; hour: number; values: readonly number[][] }[]): Promise<void> {
  if (rollups.length === 0) return;
  const columns: unknown[][] = [rollups.map((r) => r.agentId), rollups.map((r) => r.hour), ...ROLLUP_COLUMNS.map(() => new Array<unknown>(rollups.length))];
  rollups.forEach((r, i) => {
    rollupFigures(r.values).forEach((figure, c) => {
      (columns[c + 2] as unknown[])[i] = figure;
    });
  });
  await client.query(UPSERT_SQL, columns);
}
