/**
 * One connection to the collector's SQLite file, set up the same way wherever it is opened
 * (the serving thread, the result writer thread, the maintenance thread, the CLI): WAL, the
 * chosen durability, foreign keys, and the schema migrated to this build's version.
 */
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import { StoreError, reasonOf } from './store-error.js';

export type Db = Database.Database;

export interface DatabaseOptions {
  /**
   * SQLite `synchronous`. `FULL` (default) makes a commit durable across power loss before it
   * returns, which is what an ack promises; `NORMAL` may lose the last commits.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * How long a write waits for another connection's lock before failing, ms. Default 5 000.
   * Connections on a thread that serves others use 0: their writes fail at once instead of
   * stopping the event loop (they have none in this design; see docs/operations.md).
   */
  busyTimeoutMs?: number;
  /** Fail instead of creating a missing file. */
  mustExist?: boolean;
}

export const DATABASE_DEFAULTS = Object.freeze({ synchronous: 'FULL' as const, busyTimeoutMs: 5_000 });

/** Opens (creating unless `mustExist`) and migrates the database at `path`. */
export function openDatabase(path: string, options: DatabaseOptions = {}): Db {
  const synchronous = options.synchronous ?? DATABASE_DEFAULTS.synchronous;
  if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
    throw new StoreError('SW_STORE_ARGUMENT', `synchronous must be "NORMAL" or "FULL", got ${JSON.stringify(synchronous)}`);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? DATABASE_DEFAULTS.busyTimeoutMs;
  if (!(Number.isSafeInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
    throw new StoreError('SW_STORE_ARGUMENT', `busyTimeoutMs must be an integer number of ms >= 0, got ${busyTimeoutMs}`);
  }
  let db: Db;
  try {
    db = new Database(path, { timeout: busyTimeoutMs, fileMustExist: options.mustExist === true });
  } catch (cause) {
    throw new StoreError('SW_STORE_OPEN', `cannot open database ${path}: ${reasonOf(cause)}`, { cause });
  }
  try {
    // Only the first connection to a new file changes the journal mode; it is persistent.
    if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.pragma('foreign_keys = ON');
    migrate(db, path);
    return db;
  } catch (cause) {
    db.close();
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_OPEN', `cannot open database ${path}: ${reasonOf(cause)}`, { cause });
  }
}

/**
 * Applies the migrations the file has not run yet, all in one transaction. The version is read
 * first without a lock: a file already up to date is opened without waiting for a writer
 * (a long commit, a backup tool, another process's `BEGIN IMMEDIATE`).
 */
function migrate(db: Db, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  checkVersion(current, path);
  if (current === MIGRATIONS.length) return;
  db.transaction(() => {
    // Read again inside the (immediate) transaction: another process may have just migrated.
    const version = db.pragma('user_version', { simple: true }) as number;
    checkVersion(version, path);
    for (let v = version; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v] as string);
    if (version < MIGRATIONS.length) db.pragma(`user_version = ${MIGRATIONS.length}`);
  }).immediate();
}

function checkVersion(version: number, path: string): void {
  if (version > MIGRATIONS.length) {
    throw new StoreError(
      'SW_STORE_VERSION',
      `database ${path} has schema version ${version}, newer than the ${MIGRATIONS.length} this speedwatch knows: upgrade speedwatch or open a backup made by this version`,
    );
  }
}
