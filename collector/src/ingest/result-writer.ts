/**
 * Where ingest sends validated rows to be committed. The collector process writes on a worker
 * thread (worker-result-writer.ts), so that parsing and validating the next frames goes on
 * while SQLite commits; in-process uses (tests, embedding) can write on the calling thread.
 */
import type { FrameBatch } from './frame-batch.js';
import { frameRows } from './frame-batch.js';
import type { InsertOutcome, Store } from '../store/store-types.js';

export interface ResultWriter {
  /**
   * Commits every batch in one transaction and resolves with an outcome per batch, in order,
   * once the commit is durable. Rejects with a StoreError when nothing was stored.
   */
  write(batches: readonly FrameBatch[]): Promise<InsertOutcome[]>;
  /** Waits for writes in progress and releases the writer. */
  close(): Promise<void>;
}

/** Writes on the calling thread: the event loop waits for each commit. */
export function inlineResultWriter(store: Pick<Store, 'insertRowGroups'>): ResultWriter {
  return {
    write: async (batches) => store.insertRowGroups(batches.map(frameRows)),
    close: async () => {},
  };
}
