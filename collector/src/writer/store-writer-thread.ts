/**
 * The store writer thread: its own connections to the collector's database (results and
 * agents; alerts), running the serving thread's writes one at a time, in the order sent. A
 * write waiting for another connection's lock waits here, never on the serving thread.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { openAlertStore } from '../alerts/alert-store.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { openStore, StoreError } from '../store/sqlite-store.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { writeOps } from './store-writer.js';
import type { WriteOps } from './store-writer.js';
import type { FromWriter, ThreadHeap, ToWriter, WireStoreError, WriterInit } from './store-writer-protocol.js';

const port = parentPort;
if (port === null) throw new Error('store-writer-thread.js runs as a worker thread');
const init = workerData as WriterInit;
const post = (message: FromWriter): void => port.postMessage(message);
/** Sent with every answer, for the collector's thread heap gauge. */
const heap = (): ThreadHeap => {
  const stats = getHeapStatistics();
  return { used: stats.used_heap_size, total: stats.total_heap_size };
};
const wire = (err: unknown): WireStoreError =>
  err instanceof StoreError ? { code: err.code, message: err.message } : { code: 'SW_STORE_WRITE', message: err instanceof Error ? err.message : String(err) };

let store: SqliteStore | undefined;
let alerts: AlertStore | undefined;
let ops: WriteOps | undefined;
try {
  store = openStore(init.path, init.options);
  alerts = openAlertStore(init.path);
  ops = writeOps(store, alerts);
  post({ type: 'ready' });
} catch (err) {
  alerts?.close();
  store?.close();
  post({ type: 'open-failed', error: wire(err) });
  port.close();
}

port.on('message', (message: ToWriter) => {
  if (ops === undefined) return;
  if (message.type === 'close') {
    alerts?.close();
    store?.close();
    ops = undefined;
    port.close();
    return;
  }
  if (message.type === 'stage') {
    ops.stage(message.handle, message.batch);
    return;
  }
  try {
    const run = ops[message.op] as (...args: unknown[]) => unknown;
    post({ type: 'done', seq: message.seq, value: run(...(message.args as unknown[])), heap: heap() });
  } catch (err) {
    post({ type: 'failed', seq: message.seq, error: wire(err), heap: heap() });
  }
});
