/**
 * The store writer thread: its own connections to the collector's database (results and
 * agents; alerts), running the serving thread's writes. On SQLite one at a time, in the order
 * sent: a write waiting for another connection's lock waits here, never on the serving thread.
 * On PostgreSQL over a pool of its own: the rows of a group commit are made and sent from here,
 * so that the serving thread only validates frames.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { alertWritesOn, openAlertStore } from '../alerts/alert-store.js';
import type { AlertStore } from '../alerts/alert-store.js';
import type { CollectorStore } from '../store/collector-store.js';
import { openStore, StoreError } from '../store/sqlite-store.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { openCollectorStore } from '../store/store-spec.js';
import { alertWritesElsewhere, asyncWriteOps, writeOps } from './store-writer.js';
import type { AsyncWriteOps } from './store-writer.js';
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

let sqlite: SqliteStore | undefined;
let other: CollectorStore | undefined;
let alerts: AlertStore | undefined;
let ops: AsyncWriteOps | undefined;
const closeAll = async (): Promise<void> => {
  alerts?.close();
  sqlite?.close();
  await other?.close();
};
// SQLite: the synchronous store, one write at a time, in the order sent. PostgreSQL: its pool,
// each write answered when it commits (group commits may overlap, as on the serving thread).
void (async (): Promise<void> => {
  try {
    if (init.store.kind === 'sqlite') {
      sqlite = openStore(init.store.path, init.store.options);
      alerts = openAlertStore(init.alertsPath ?? init.store.path);
      ops = writeOps(sqlite, alerts);
    } else {
      other = await openCollectorStore(init.store);
      if (init.alertsPath !== undefined) alerts = openAlertStore(init.alertsPath);
      ops = asyncWriteOps(other, alerts === undefined ? alertWritesElsewhere(other.location) : alertWritesOn(alerts));
    }
    post({ type: 'ready' });
  } catch (err) {
    await closeAll().catch(() => undefined);
    post({ type: 'open-failed', error: wire(err) });
    port.close();
  }
})();

/** Writes answered but not settled yet, awaited by a close. */
const inFlight = new Set<Promise<void>>();

port.on('message', (message: ToWriter) => {
  if (ops === undefined) return;
  if (message.type === 'close') {
    ops = undefined;
    void Promise.allSettled([...inFlight]).then(async () => {
      await closeAll().catch(() => undefined);
      port.close();
    });
    return;
  }
  if (message.type === 'stage') {
    ops.stage(message.handle, message.batch);
    return;
  }
  const { seq } = message;
  const run = ops[message.op] as (...args: unknown[]) => unknown;
  let answer: unknown;
  try {
    answer = run(...(message.args as unknown[]));
  } catch (err) {
    post({ type: 'failed', seq, error: wire(err), heap: heap() });
    return;
  }
  if (!(answer instanceof Promise)) {
    post({ type: 'done', seq, value: answer, heap: heap() });
    return;
  }
  const settled: Promise<void> = answer.then(
    (value: unknown) => post({ type: 'done', seq, value, heap: heap() }),
    (err: unknown) => post({ type: 'failed', seq, error: wire(err), heap: heap() }),
  );
  inFlight.add(settled);
  void settled.finally(() => inFlight.delete(settled));
});
