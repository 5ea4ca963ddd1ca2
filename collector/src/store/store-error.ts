/**
 * Errors the store raises on purpose. Callers match on `code` (listed in docs/errors.md),
 * never on the message; the SQLite error, when there is one, is the `cause`.
 */
import { SpeedwatchError } from '@speedwatch/shared';
import type { ErrorCodeCarriedBy } from '@speedwatch/shared';

/** The registry's codes carried by StoreError: SW_STORE_OPEN, _VERSION, _ARGUMENT, _WRITE, _READ, _CURSOR, _BACKUP, SW_AGENT_EXISTS. */
export type StoreErrorCode = ErrorCodeCarriedBy<'StoreError'>;

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

/** As storeWrite, for a write that resolves later (PostgreSQL): any other failure becomes SW_STORE_WRITE. */
export async function storeWriting<T>(where: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_WRITE', `cannot ${what} in ${where}: ${reasonOf(cause)}`, { cause });
  }
}

/** As storeRead, for a read that resolves later: SW_STORE_READ. */
export async function storeReading<T>(where: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_READ', `cannot ${what} from ${where}: ${reasonOf(cause)}`, { cause });
  }
}
