/**
 * The result writer thread: its own connection to the collector's database, committing the
 * frame batches the ingest thread sends, one transaction per message, in order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { frameRows } from './frame-batch.js';
import { openStore, StoreError } from '../store/sqlite-store.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { FromWriter, ToWriter, WireStoreError, WriterInit } from './result-writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('result-writer-worker.js runs as a worker thread');
const init = workerData as WriterInit;
const post = (message: FromWriter): void => port.postMessage(message);
const wire = (err: unknown): WireStoreError =>
  err instanceof StoreError ? { code: err.code, message: err.message } : { code: 'SW_STORE_WRITE', message: err instanceof Error ? err.message : String(err) };

let store: SqliteStore | undefined;
try {
  store = openStore(init.path, init.options);
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'open-failed', error: wire(err) });
  port.close();
}

port.on('message', (message: ToWriter) => {
  if (store === undefined) return;
  if (message.type === 'close') {
    store.close();
    store = undefined;
    port.close();
    return;
  }
  try {
    // Rows are made before the transaction, so the write lock is held for the inserts only.
    const groups = message.batches.map(frameRows);
    post({ type: 'written', seq: message.seq, outcomes: store.insertRowGroups(groups) });
  } catch (err) {
    post({ type: 'failed', seq: message.seq, error: wire(err) });
  }
});
