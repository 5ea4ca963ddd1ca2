/**
 * Hourly roll-ups of the five series metrics (kept for ever, they serve long ranges), the
 * retention of raw results, and the series read from both. Maintenance is a sequence of short
 * steps, each its own transaction, so that the result writer's commits interleave with it
 * (another connection's step holds the write lock for tens of milliseconds, not for the
 * minutes a first maintenance of a large database takes): an hour's roll-up is computed from a
 * read snapshot, without the lock, and written in a short transaction that also marks for
 * recomputation any hour that received results after the snapshot.
 */
import type { Aggregate } from './aggregate.js';
import { aggregateValues, combineAggregates } from './aggregate.js';
import type { Db } from './database.js';
import { checkTime } from './result-queries.js';
import type { ResultStatements } from './results-sql.js';
import { StoreError, storeRead, storeWrite } from './store-error.js';
import { SERIES_METRICS } from './store-types.js';
import type { SeriesMetric, SeriesPoint } from './store-types.js';

export const HOUR_MS = 3_600_000;
/** Dirty agent-hours recomputed per transaction. */
export const DIRTY_BATCH = 500;
/** Raw results deleted per statement. */
export const DELETE_BATCH = 5_000;
/** Rows `PRAGMA optimize` may read per index when it runs ANALYZE (unbounded, it reads the whole table). */
const ANALYSIS_LIMIT = 1_000;

/** The roll-up columns of each metric, in SERIES_METRICS order. */
export const ROLLUP_COLUMNS = SERIES_METRICS.flatMap((m) => ['count', 'min', 'mean', 'median', 'max'].map((stat) => `${m}_${stat}`));

/** What a maintenance step (or a whole maintenance) did. */
export interface MaintenanceOutcome {
  /** (agent, hour) roll-ups written. */
  rolledUpHours: number;
  /** Raw results deleted for being older than the retention. */
  deletedResults: number;
}

interface RollupState {
  rolled_up_to: number | null;
  deleted_before: number | null;
}

/** One hour's statistics, from `rollups_hourly` or computed from raw results. */
export interface HourPart extends Aggregate {
  hour: number;
}

function prepare(db: Db) {
  const rollupHours = Object.fromEntries(
    SERIES_METRICS.map((metric) => [
      metric,
      db.prepare<[string, number, number], HourPart>(
        `SELECT hour, ${metric}_count AS count, ${metric}_min AS min, ${metric}_mean AS mean, ${metric}_median AS median, ${metric}_max AS max
         FROM rollups_hourly WHERE agent_id = ? AND hour >= ? AND hour < ? AND ${metric}_count > 0 ORDER BY hour`,
      ),
    ]),
  ) as unknown as Record<SeriesMetric, { all(agentId: string, from: number, to: number): HourPart[] }>;
  return {
    rollupHours,
    state: db.prepare<[], RollupState>('SELECT rolled_up_to, deleted_before FROM rollup_state WHERE id = 1'),
    setHorizon: db.prepare<[number]>('UPDATE rollup_state SET rolled_up_to = ? WHERE id = 1'),
    setDeletedBefore: db.prepare<{ cutoff: number }>('UPDATE rollup_state SET deleted_before = max(coalesce(deleted_before, @cutoff), @cutoff) WHERE id = 1'),
    writeRollup: db.prepare<(string | number | null)[]>(
      `INSERT OR REPLACE INTO rollups_hourly (agent_id, hour, ${ROLLUP_COLUMNS.join(', ')})
       VALUES (?, ?, ${ROLLUP_COLUMNS.map(() => '?').join(', ')})`,
    ),
    // Results of [start, end) stored after a snapshot's last rowid: their hours are recomputed.
    storedSince: db.prepare<[number, number, number], { agent_id: string; ts: number }>(
      'SELECT agent_id, ts FROM results NOT INDEXED WHERE rowid > ? AND ts >= ? AND ts < ?',
    ),
    markDirty: db.prepare<[string, number]>('INSERT INTO dirty_hours (agent_id, hour) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    dirtyHours: db.prepare<[number], { agent_id: string; hour: number }>('SELECT agent_id, hour FROM dirty_hours LIMIT ?'),
    clearDirty: db.prepare<[string, number]>('DELETE FROM dirty_hours WHERE agent_id = ? AND hour = ?'),
  };
}

export class Rollups {
  readonly #db: Db;
  readonly #path: string;
  readonly #retentionMs: number;
  readonly #results: ResultStatements;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Db, path: string, retentionMs: number, results: ResultStatements) {
    this.#db = db;
    this.#path = path;
    this.#retentionMs = retentionMs;
    this.#results = results;
    this.#s = prepare(db);
  }

  /**
   * Points for buckets of `stepMs` aligned to the epoch (bucket = floor(ts / stepMs) * stepMs),
   * only buckets with data, ascending. NULL values (a phase not measured) are skipped.
   * When `stepMs` is a whole number of hours the points come from hourly roll-ups, and the
   * range is widened to whole hours (hours overlapping [from, to)); hours not rolled up yet
   * are computed from raw results the same way. Otherwise from raw results with `from <= ts < to`,
   * with exact medians.
   */
  series(agentId: string, metric: SeriesMetric, from: number, to: number, stepMs: number): SeriesPoint[] {
    if (!SERIES_METRICS.includes(metric)) {
      throw new StoreError('SW_STORE_ARGUMENT', `metric must be one of ${SERIES_METRICS.join(', ')}, got ${JSON.stringify(metric)}`);
    }
    if (!(Number.isSafeInteger(stepMs) && stepMs > 0)) throw new StoreError('SW_STORE_ARGUMENT', `stepMs must be a positive integer, got ${stepMs}`);
    checkTime('from', from);
    checkTime('to', to);
    if (from >= to) return [];
    return storeRead(this.#path, `read the ${metric} series of agent ${agentId}`, () =>
      stepMs % HOUR_MS === 0
        ? this.#db.transaction(() => this.#rollupSeries(agentId, metric, from, to, stepMs))()
        : rawSeries(this.#results.metricValues[metric].all(agentId, from, to), stepMs),
    );
  }

  /** Hours before the roll-up horizon from `rollups_hourly`, later ones computed from raw results. */
  #rollupSeries(agentId: string, metric: SeriesMetric, from: number, to: number, stepMs: number): SeriesPoint[] {
    const fromHour = floorHour(from);
    const toHour = Math.ceil(to / HOUR_MS) * HOUR_MS;
    const rolledUpTo = this.#s.state.get()?.rolled_up_to ?? fromHour;
    const horizon = Math.min(Math.max(rolledUpTo, fromHour), toHour);
    const hours: HourPart[] = this.#s.rollupHours[metric].all(agentId, fromHour, horizon);
    for (const part of hourlyParts(this.#results.metricValues[metric].all(agentId, horizon, toHour))) hours.push(part);
    return bucketHours(hours, stepMs);
  }

  /**
   * Runs every maintenance step (see `steps`) at once; for the CLI and tests. The serving
   * collector runs the steps on its maintenance thread, yielding between them.
   */
  maintain(now: number): MaintenanceOutcome {
    const total: MaintenanceOutcome = { rolledUpHours: 0, deletedResults: 0 };
    for (const step of this.steps(now)) {
      total.rolledUpHours += step.rolledUpHours;
      total.deletedResults += step.deletedResults;
    }
    return total;
  }

  /**
   * Maintenance as of `now`, one short transaction per step: rolls up every complete hour
   * (ending at or before `now`) not rolled up yet, recomputes hours that received late
   * results, then deletes raw results older than the retention. Idempotent. A late result for
   * an hour whose raw results were already deleted is stored but leaves that hour's roll-up as
   * it was. Steps throw StoreError (`SW_STORE_WRITE`, `SW_STORE_READ`); what earlier steps
   * committed stays, and the next maintenance carries on from there.
   */
  *steps(now: number): Generator<MaintenanceOutcome, void, void> {
    checkTime('now', now);
    const complete = floorHour(now);
    const cutoff = now - this.#retentionMs;
    const state = storeRead(this.#path, 'read the roll-up state', () => this.#s.state.get());
    let start = state?.rolled_up_to ?? null;
    if (start === null) {
      // First run: nothing before the oldest result's hour needs rolling up.
      const oldest = storeRead(this.#path, 'find the oldest result', () => this.#results.oldestTs.get()?.ts ?? null);
      start = oldest === null ? complete : Math.min(floorHour(oldest), complete);
      const horizon = start;
      storeWrite(this.#path, 'start the roll-ups', () => this.#s.setHorizon.run(horizon));
    }
    for (; start < complete; start += HOUR_MS) yield { rolledUpHours: this.#rollUpHour(start), deletedResults: 0 };
    for (;;) {
      const written = this.#recomputeDirty(state?.deleted_before ?? null);
      if (written === undefined) break;
      yield { rolledUpHours: written, deletedResults: 0 };
    }
    for (;;) {
      const deleted = storeWrite(this.#path, 'delete results past the retention', () => this.#results.deleteOld.run(cutoff, DELETE_BATCH).changes);
      yield { rolledUpHours: 0, deletedResults: deleted };
      if (deleted < DELETE_BATCH) break;
    }
    storeWrite(this.#path, 'record the retention cut', () => {
      this.#s.setDeletedBefore.run({ cutoff });
      // Refreshes the planner's statistics where they are stale, reading a bounded sample.
      this.#db.pragma(`analysis_limit = ${ANALYSIS_LIMIT}`);
      this.#db.pragma('optimize');
    });
  }

  /** Rolls up one hour for every agent and moves the horizon past it; returns roll-ups written. */
  #rollUpHour(start: number): number {
    const end = start + HOUR_MS;
    // Read without the write lock, in one snapshot with its last rowid.
    const { groups, lastRowid } = storeRead(this.#path, 'read results to roll up', () =>
      this.#db.transaction(() => {
        const lastRowid = this.#results.maxRowid.get()?.n ?? 0;
        const groups = new Map<string, number[][]>();
        for (const [agentId, , ...metrics] of this.#results.rollupSource.all(start, end)) {
          let values = groups.get(agentId);
          if (values === undefined) {
            values = SERIES_METRICS.map(() => []);
            groups.set(agentId, values);
          }
          collect(values, metrics);
        }
        return { groups, lastRowid };
      })(),
    );
    storeWrite(this.#path, 'write hourly roll-ups', () =>
      this.#db
        .transaction(() => {
          for (const [agentId, values] of groups) this.#writeRollup(agentId, start, values);
          // Stored after the snapshot (not marked dirty: the horizon had not passed them yet).
          for (const row of this.#s.storedSince.all(lastRowid, start, end)) this.#s.markDirty.run(row.agent_id, floorHour(row.ts));
          this.#s.setHorizon.run(end);
        })
        .immediate(),
    );
    return groups.size;
  }

  /** Recomputes up to DIRTY_BATCH dirty hours (unless their raw results are partly deleted); undefined when none is left. */
  #recomputeDirty(deletedBefore: number | null): number | undefined {
    return storeWrite(this.#path, 'recompute late hours', () =>
      this.#db
        .transaction(() => {
          const dirty = this.#s.dirtyHours.all(DIRTY_BATCH);
          if (dirty.length === 0) return undefined;
          let written = 0;
          for (const { agent_id: agentId, hour } of dirty) {
            if (deletedBefore === null || hour >= deletedBefore) {
              const values: number[][] = SERIES_METRICS.map(() => []);
              for (const [, , ...metrics] of this.#results.rollupSourceAgent.all(agentId, hour, hour + HOUR_MS)) {
                collect(values, metrics);
              }
              this.#writeRollup(agentId, hour, values);
              written++;
            }
            this.#s.clearDirty.run(agentId, hour);
          }
          return written;
        })
        .immediate(),
    );
  }

  /** Writes (or replaces) the roll-up of one agent-hour from its values per metric, in SERIES_METRICS order. */
  #writeRollup(agentId: string, hour: number, values: readonly number[][]): void {
    this.#s.writeRollup.run(agentId, hour, ...rollupFigures(values));
  }
}

/**
 * The roll-up columns (ROLLUP_COLUMNS order) of one agent-hour from its values per metric, in
 * SERIES_METRICS order: count, min, mean, median and max of each (0 and NULLs when it has none).
 */
export function rollupFigures(values: readonly number[][]): (number | null)[] {
  const figures: (number | null)[] = [];
  for (const list of values) {
    if (list.length === 0) {
      figures.push(0, null, null, null, null);
    } else {
      const a = aggregateValues(list);
      figures.push(a.count, a.min, a.mean, a.median, a.max);
    }
  }
  return figures;
}

/** Adds a row's metrics (SERIES_METRICS order) to the values per metric, leaving out NULLs. */
export function collect(values: number[][], metrics: readonly (number | null)[]): void {
  for (let m = 0; m < metrics.length; m++) {
    const value = metrics[m];
    if (value != null) values[m]?.push(value);
  }
}

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** Exact statistics per bucket from (ts, value) rows ordered by ts. */
export function rawSeries(rows: readonly [number, number][], stepMs: number): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  let bucket = Number.NaN;
  let values: number[] = [];
  for (const [ts, value] of rows) {
    const b = Math.floor(ts / stepMs) * stepMs;
    if (b !== bucket) {
      if (values.length > 0) points.push({ ts: bucket, ...aggregateValues(values) });
      bucket = b;
      values = [];
    }
    values.push(value);
  }
  if (values.length > 0) points.push({ ts: bucket, ...aggregateValues(values) });
  return points;
}

/** Hourly statistics from (ts, value) rows ordered by ts. */
export function hourlyParts(rows: readonly [number, number][]): HourPart[] {
  return rawSeries(rows, HOUR_MS).map(({ ts, ...aggregate }) => ({ hour: ts, ...aggregate }));
}

/** Combines hourly parts, ordered by hour, into buckets of `stepMs` (a multiple of an hour). */
export function bucketHours(hours: readonly HourPart[], stepMs: number): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  let bucket = Number.NaN;
  let parts: Aggregate[] = [];
  for (const { hour, ...aggregate } of hours) {
    const b = Math.floor(hour / stepMs) * stepMs;
    if (b !== bucket) {
      if (parts.length > 0) points.push({ ts: bucket, ...combineAggregates(parts) });
      bucket = b;
      parts = [];
    }
    parts.push(aggregate);
  }
  if (parts.length > 0) points.push({ ts: bucket, ...combineAggregates(parts) });
  return points;
}
