/** Messages between the ingest thread and the result writer thread. */
import type { FrameBatch } from './frame-batch.js';
import type { StoreOptions } from '../store/sqlite-store.js';
import type { InsertOutcome } from '../store/store-types.js';

export interface WriterInit {
  path: string;
  options: StoreOptions;
}

export type ToWriter = { type: 'write'; seq: number; batches: readonly FrameBatch[] } | { type: 'close' };

/** A StoreError as it crosses the thread boundary. */
export interface WireStoreError {
  code: string;
  message: string;
}

export type FromWriter =
  | { type: 'ready' }
  | { type: 'open-failed'; error: WireStoreError }
  | { type: 'written'; seq: number; outcomes: InsertOutcome[] }
  | { type: 'failed'; seq: number; error: WireStoreError };
