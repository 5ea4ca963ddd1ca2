/** Messages between the serving thread and the store writer thread. */
import type { FrameBatch } from '../store/frame-batch.js';
import type { StoreErrorCode } from '../store/sqlite-store.js';
import type { StoreSpec } from '../store/store-spec.js';
import type { WriteOp, WriteOps } from './store-writer.js';

export interface WriterInit {
  /** The store the thread writes to, on connections of its own. */
  store: StoreSpec;
  /**
   * The SQLite file holding the alerts' state (the store's own file, for SQLite). None with a
   * PostgreSQL store: the alerts' state is in the database, written by the lease holder's
   * serving thread (alerts/shared-alert-store.ts), and this thread refuses alert writes.
   */
  alertsPath?: string;
}

/** A call of one write operation, answered by `done` or `failed` with the same seq. */
export type WriterCall = { [K in WriteOp]: { type: 'call'; seq: number; op: K; args: Parameters<WriteOps[K]> } }[WriteOp];

/** A batch to keep for a later commitStaged; not answered. */
export interface WriterStage {
  type: 'stage';
  handle: number;
  batch: FrameBatch;
}

export type ToWriter = WriterCall | WriterStage | { type: 'close' };

/** A StoreError as it crosses the thread boundary. */
export interface WireStoreError {
  code: StoreErrorCode;
  message: string;
}

export type FromWriter =
  | { type: 'ready' }
  | { type: 'open-failed'; error: WireStoreError }
  | { type: 'done'; seq: number; value: unknown; heap: ThreadHeap }
  | { type: 'failed'; seq: number; error: WireStoreError; heap: ThreadHeap };

/** A thread's V8 heap, bytes: what it uses and what it holds (used plus garbage and free space). */
export interface ThreadHeap {
  used: number;
  total: number;
}
