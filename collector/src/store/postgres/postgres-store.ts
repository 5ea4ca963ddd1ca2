/**
 * The collector's store on PostgreSQL (the `pg` driver and a pool): the same CollectorStore as
 * SQLite's, for a fleet past one box. Opening it connects, checks `schema_migrations` and applies
 * the migrations this build has and the database has not (postgres-migrations.ts), under an
 * advisory lock so that collectors starting together migrate once.
 */
import type pg from 'pg';
import type { ClusterStore, CollectorStore } from '../collector-store.js';
import type { StoreSpec } from '../store-spec.js';
import { reasonOf, StoreError } from '../store-error.js';
import type { PostgresConnection } from './postgres-connection.js';
import { describePostgres, openPool } from './postgres-connection.js';
import { LOCKS, PgDb } from './postgres-db.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { Partitions } from './postgres-partitions.js';
import { PgResults } from './postgres-results.js';
import { PgAgents, PgAreaUnits, PgEnrollment, PgHealth } from './postgres-registry.js';
import { PgRollups } from './postgres-rollups.js';
import { PgAlerts } from './postgres-alerts.js';
import { PgConnections } from './postgres-connections.js';
import { PgLeases } from './postgres-leases.js';
import { PgVerdicts } from './postgres-verdicts.js';

export interface PostgresStoreOptions extends PostgresConnection {
  /** Days raw results are kept, at least (whole months are dropped). Default 400. */
  retentionDays?: number;
}

const DAY_MS = 86_400_000;

/** Connects, migrates and returns the store; SW_STORE_OPEN or SW_STORE_VERSION when it cannot. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const retentionDays = options.retentionDays ?? 400;
  if (!(Number.isFinite(retentionDays) && retentionDays > 0)) {
    throw new StoreError('SW_STORE_ARGUMENT', `retentionDays must be a number of days > 0, got ${retentionDays}`);
  }
  const pool = openPool(options);
  const location = describePostgres(options.url);
  try {
    await migrate(pool, location);
    const store = new PostgresStore(new PgDb(pool, location), { ...options, retentionDays });
    await store.partitions.list();
    return store;
  } catch (cause) {
    await pool.end().catch(() => undefined);
    if (cause instanceof StoreError && cause.code !== 'SW_STORE_READ') throw cause;
    throw new StoreError('SW_STORE_OPEN', `cannot open the database ${location}: ${reasonOf(cause)}`, { cause });
  }
}

/** Applies the migrations the database has not run yet, all in one transaction. */
async function migrate(pool: pg.Pool, location: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCKS.migrate]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const version = rows[0]?.version ?? 0;
    if (version > POSTGRES_MIGRATIONS.length) {
      throw new StoreError(
        'SW_STORE_VERSION',
        `database ${location} has schema version ${version}, newer than the ${POSTGRES_MIGRATIONS.length} this speedwatch knows: upgrade speedwatch or restore a backup made by this version`,
      );
    }
    for (let v = version; v < POSTGRES_MIGRATIONS.length; v++) {
      await client.query(POSTGRES_MIGRATIONS[v] as string);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export class PostgresStore implements CollectorStore {
  readonly kind = 'postgres' as const;
  readonly spec: StoreSpec;
  readonly #db: PgDb;
  readonly partitions: Partitions;
  readonly agents: PgAgents;
  readonly enrollment: PgEnrollment;
  readonly health: PgHealth;
  readonly areaUnits: PgAreaUnits;
  readonly results: PgResults;
  readonly rollups: PgRollups;
  readonly cluster: ClusterStore & { readonly leases: PgLeases; readonly connections: PgConnections };
  /**
   * One connection for the lease's claims and renewals alone (opened at the first): a renewal
   * queued behind the pool's long statements (a group commit, a storm's connections) could miss
   * the lease's time to live.
   */
  readonly #leasePool: pg.Pool;
  #closed: Promise<void> | undefined;

  /** Use `openPostgresStore`. */
  constructor(db: PgDb, options: PostgresStoreOptions & { retentionDays: number }) {
    this.#db = db;
    this.spec = { kind: 'postgres', options };
    this.partitions = new Partitions(db);
    this.agents = new PgAgents(db);
    this.enrollment = new PgEnrollment(db);
    this.health = new PgHealth(db);
    this.areaUnits = new PgAreaUnits(db);
    this.results = new PgResults(db, this.partitions);
    this.rollups = new PgRollups(db, this.partitions, options.retentionDays * DAY_MS);
    this.#leasePool = openPool({ ...options, poolSize: 1 });
    this.cluster = { leases: new PgLeases(new PgDb(this.#leasePool, db.location)), connections: new PgConnections(db), verdicts: new PgVerdicts(db), alerts: new PgAlerts(db) };
  }

  /** postgres://user@host:port/database. */
  get location(): string {
    return this.#db.location;
  }

  /** The pool, for tools that write around the store (the benchmark's raw COPY). */
  get pool(): pg.Pool {
    return this.#db.pool;
  }

  async sizeBytes(): Promise<number> {
    return (await this.#db.read<{ bytes: number }>('measure the size', 'SELECT pg_database_size(current_database()) AS bytes'))[0]?.bytes ?? 0;
  }

  close(): Promise<void> {
    this.#closed ??= Promise.all([this.#db.pool.end(), this.#leasePool.end()]).then(() => undefined);
    return this.#closed;
  }
}
