/**
 * Errors the store raises on purpose. Callers match on `code` (listed in docs/errors.md),
 * never on the message; the SQLite error, when there is one, is the `cause`.
 */
import { SpeedwatchError } from '@speedwatch/shared';

export type StoreErrorCode =
  /** The database file could not be opened or prepared (path, permissions, not a database, migration failed). */
  | 'SW_STORE_OPEN'
  /** The file was written by a newer speedwatch: its schema version is above the ones this build knows. */
  | 'SW_STORE_VERSION'
  /** An option or argument is out of range; the message names it. */
  | 'SW_STORE_ARGUMENT'
  /** A write failed (disk full, read-only, closed, constraint); nothing of the call was stored. */
  | 'SW_STORE_WRITE'
  /** A read failed (I/O error, corruption, closed). */
  | 'SW_STORE_READ'
  /** A pagination cursor was not one this store issued. */
  | 'SW_STORE_CURSOR'
  /** The online backup to the given path failed. */
  | 'SW_STORE_BACKUP'
  /** `addAgent` with an id that is already registered. */
  | 'SW_AGENT_EXISTS';

export class StoreError extends SpeedwatchError {
  declare readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StoreError';
  }
}

/** `reason` for a message: the cause's own words when it is an Error. */
export function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Runs a database write; any failure other than a StoreError becomes SW_STORE_WRITE naming
 * what was being done and the file.
 */
export function storeWrite<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_WRITE', `cannot ${what} in ${path}: ${reasonOf(cause)}`, { cause });
  }
}

/** As storeWrite, for reads: SW_STORE_READ. */
export function storeRead<T>(path: string, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_READ', `cannot ${what} from ${path}: ${reasonOf(cause)}`, { cause });
  }
}
