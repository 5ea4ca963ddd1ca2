/**
 * The monthly partitions of `results` (UTC months, bounds in ms): which exist, creating those a
 * write or maintenance needs (under an advisory lock, so that two collectors do not race), and
 * dropping whole months for retention.
 */
import type pg from 'pg';
import { StoreError } from '../store-error.js';
import { LOCKS } from './postgres-db.js';
import type { PgDb } from './postgres-db.js';

/** The start (ms) of the UTC month `ms` falls in. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) {
    throw new StoreError('SW_STORE_ARGUMENT', `a result's time must fall in the years 1 to 9999, got ${ms}`);
  }
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The start of the month after the one starting at `start`. */
export function nextMonth(start: number): number {
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** `results_p2026_03` for the month starting at `start`. */
export function partitionName(start: number): string {
  const d = new Date(start);
  return `results_p${String(d.getUTCFullYear()).padStart(4, '0')}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export interface Partition {
  name: string;
  /** [from, to) in ms. */
  from: number;
  to: number;
}

const BOUNDS = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/;

export class Partitions {
  readonly #db: PgDb;
  /** Month starts known to have a partition. */
  #known = new Set<number>();

  constructor(db: PgDb) {
    this.#db = db;
  }

  /** Every partition of `results`, oldest first (read from the catalogue, and remembered). */
  async list(): Promise<Partition[]> {
    const rows = await this.#db.read<{ name: string; bound: string }>(
      'list the partitions of results',
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'results'::regclass`,
    );
    const partitions = rows.flatMap(({ name, bound }) => {
      const match = BOUNDS.exec(bound);
      return match === null ? [] : [{ name, from: Number(match[1]), to: Number(match[2]) }];
    });
    partitions.sort((a, b) => a.from - b.from);
    this.#known = new Set(partitions.map((p) => p.from));
    return partitions;
  }

  /** Creates the partitions missing for the months starting at `months`. */
  async ensure(months: Iterable<number>): Promise<void> {
    const missing = [...new Set(months)].filter((m) => !this.#known.has(m));
    if (missing.length === 0) return;
    await this.#db.writing(`create the partitions of results for ${missing.map(partitionName).join(', ')}`, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.partitions]);
      for (const from of missing) await createPartition(client, from);
    });
    for (const from of missing) this.#known.add(from);
  }

  /** Forgets what it knew (another collector may have dropped partitions): the next ensure checks again. */
  forget(): void {
    this.#known.clear();
  }

  /**
   * Drops the partition (its results go at once, without a row-by-row delete) and records that
   * results before its end are gone, in one transaction.
   */
  async drop(partition: Partition): Promise<void> {
    await this.#db.writing(`drop partition ${partition.name} (retention)`, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.partitions]);
      await client.query(`DROP TABLE IF EXISTS ${client.escapeIdentifier(partition.name)}`);
      await client.query('UPDATE rollup_state SET deleted_before = greatest(coalesce(deleted_before, $1), $1) WHERE id = 1', [partition.to]);
    });
    this.#known.delete(partition.from);
  }
}

async function createPartition(client: pg.PoolClient, from: number): Promise<void> {
  // Bounds are integers made here, never text from outside.
  await client.query(`CREATE TABLE IF NOT EXISTS ${client.escapeIdentifier(partitionName(from))} PARTITION OF results FOR VALUES FROM (${from}) TO (${nextMonth(from)})`);
}
