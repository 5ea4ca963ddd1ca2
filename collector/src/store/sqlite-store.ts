/**
 * The collector's store on one SQLite file (better-sqlite3, WAL): one connection and its rooms,
 * each of one concern: `agents` (registry and tokens), `enrollment` (one-time codes), `health` (agents' latest health), `writes` (group commits of results),
 * `results` (pages, latest, verdict scans), `rollups` (roll-ups, retention, series), and the
 * online backup. Raw results are kept for `retentionDays`; hourly roll-ups for ever.
 * Every method is synchronous except `backup`; failures are StoreErrors (store-error.ts).
 */
import { statSync } from 'node:fs';
import { AgentHealthTable } from './agent-health.js';
import { AgentRegistry } from './agent-registry.js';
import type { Db, DatabaseOptions } from './database.js';
import { openDatabase } from './database.js';
import { AreaUnits } from './area-units.js';
import { EnrollmentCodes } from './enrollment-codes.js';
import { ResultQueries } from './result-queries.js';
import { ResultWrites } from './result-writes.js';
import { prepareResultStatements } from './results-sql.js';
import { Rollups } from './rollups.js';
import { StoreError, reasonOf, storeRead } from './store-error.js';

export { StoreError } from './store-error.js';
export type { StoreErrorCode } from './store-error.js';

export interface StoreOptions extends DatabaseOptions {
  /** Days raw results are kept (roll-ups are kept for ever). Default 400. */
  retentionDays?: number;
}

export const STORE_DEFAULTS = Object.freeze({ retentionDays: 400, synchronous: 'FULL' as const });

const DAY_MS = 86_400_000;

/** Opens (creating if needed) and migrates the database at `path`. */
export function openStore(path: string, options: StoreOptions = {}): SqliteStore {
  const retentionDays = options.retentionDays ?? STORE_DEFAULTS.retentionDays;
  if (!(Number.isFinite(retentionDays) && retentionDays > 0)) {
    throw new StoreError('SW_STORE_ARGUMENT', `retentionDays must be a number of days > 0, got ${retentionDays}`);
  }
  const db = openDatabase(path, options);
  try {
    return new SqliteStore(db, path, retentionDays * DAY_MS);
  } catch (cause) {
    db.close();
    throw new StoreError('SW_STORE_OPEN', `cannot prepare database ${path}: ${reasonOf(cause)}`, { cause });
  }
}

export class SqliteStore {
  readonly #db: Db;
  readonly #path: string;
  readonly agents: AgentRegistry;
  readonly enrollment: EnrollmentCodes;
  /** The optional registry of administrative units. */
  readonly areaUnits: AreaUnits;
  /** Each agent's latest health report. */
  readonly health: AgentHealthTable;
  readonly writes: ResultWrites;
  readonly results: ResultQueries;
  readonly rollups: Rollups;

  /** Use `openStore`. */
  constructor(db: Db, path: string, retentionMs: number) {
    this.#db = db;
    this.#path = path;
    const statements = prepareResultStatements(db);
    this.agents = new AgentRegistry(db, path);
    this.enrollment = new EnrollmentCodes(db, path);
    this.areaUnits = new AreaUnits(db, path);
    this.health = new AgentHealthTable(db, path);
    this.writes = new ResultWrites(db, path, statements);
    this.results = new ResultQueries(db, path, statements);
    this.rollups = new Rollups(db, path, retentionMs, statements);
  }

  /** The database file's path, as given to `openStore`. */
  get path(): string {
    return this.#path;
  }

  /** Runs `fn` in one transaction (IMMEDIATE): all of its writes or none. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }

  /** SQLite online backup of the whole database to `path` (a consistent copy while in use). */
  async backup(path: string): Promise<void> {
    try {
      await this.#db.backup(path);
    } catch (cause) {
      throw new StoreError('SW_STORE_BACKUP', `cannot back up ${this.#path} to ${path}: ${reasonOf(cause)}`, { cause });
    }
  }

  /** Bytes of the database file plus its WAL (0 for a missing WAL). */
  sizeBytes(): number {
    return storeRead(this.#path, 'measure the size', () => {
      const wal = statSync(`${this.#path}-wal`, { throwIfNoEntry: false });
      return statSync(this.#path).size + (wal?.size ?? 0);
    });
  }

  /** Closes the connection; later calls throw `SW_STORE_READ`/`SW_STORE_WRITE`. Closing twice is harmless. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
