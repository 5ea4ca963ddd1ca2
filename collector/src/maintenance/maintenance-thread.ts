/**
 * The maintenance thread: its own connection to the collector's database (SQLite or PostgreSQL), running the passes
 * the serving thread asks for, one at a time. Its transactions are short (see store/rollups.ts),
 * so the store writer thread's commits go on between them.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { CollectorStore } from '../store/collector-store.js';
import { openCollectorStore } from '../store/store-spec.js';
import { MaintenanceWork, maintenanceError } from './maintenance-work.js';
import type { FromMaintenance, MaintenanceInit, ToMaintenance } from './maintenance-protocol.js';

/** The lowest priority: the thread gets what CPU the others leave. */
const MAINTENANCE_NICE = 19;
const port = parentPort;
if (port === null) throw new Error('maintenance-thread.js runs as a worker thread');
// Linux keeps a nice value per thread, and setpriority(0) sets this thread's: maintenance is
// background work, and on a small box its passes took CPU from the thread that serves agents
// (event-loop delay p99 101 ms while ingesting during a start-up maintenance, 2 cores).
try {
  setPriority(0, MAINTENANCE_NICE);
} catch {
  // Not allowed here (some containers): the pass runs at the process's priority.
}
const init = workerData as MaintenanceInit;
const post = (message: FromMaintenance): void => port.postMessage(message);

let store: CollectorStore | undefined;
let work: MaintenanceWork | undefined;
// Passes run one at a time, in the order asked, after the store is open; a close waits for the pass in progress.
let queue: Promise<void> = openCollectorStore(init.store).then(
  (opened) => {
    store = opened;
    work = new MaintenanceWork(opened, init.verdicts);
    post({ type: 'ready' });
  },
  (err: unknown) => {
    post({ type: 'open-failed', error: maintenanceError(err) });
    port.close();
  },
);
port.on('message', (message: ToMaintenance) => {
  queue = queue.then(async () => {
    if (work === undefined) return;
    if (message.type === 'close') {
      await store?.close();
      work = undefined;
      port.close();
      return;
    }
    try {
      post({ type: 'done', seq: message.seq, report: await work.run(message.now, () => nextTurn(), message.fence) });
    } catch (err) {
      post({ type: 'failed', seq: message.seq, error: maintenanceError(err) });
    }
  });
});
