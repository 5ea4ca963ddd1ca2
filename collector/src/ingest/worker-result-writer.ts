/**
 * A ResultWriter whose commits run on a worker thread with its own SQLite connection (WAL lets
 * the main thread's connection keep reading and doing its occasional writes; SQLite's busy
 * timeout orders the two writers). The ingest thread parses and validates the next frames
 * while a commit is in progress, which is what lets ingest use both cores.
 *
 * If the thread dies, the writes in flight reject (their batches are not acked, so the agents
 * send them again) and the next write starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '@speedwatch/shared';
import type { FrameBatch } from './frame-batch.js';
import { StoreError } from '../store/sqlite-store.js';
import type { StoreErrorCode, StoreOptions } from '../store/sqlite-store.js';
import type { InsertOutcome } from '../store/store-types.js';
import type { ResultWriter } from './result-writer.js';
import type { FromWriter, ToWriter, WireStoreError } from './result-writer-protocol.js';

const WORKER_URL = new URL('./result-writer-worker.js', import.meta.url);

interface Pending {
  resolve: (outcomes: InsertOutcome[]) => void;
  reject: (err: StoreError) => void;
}

function storeError(error: WireStoreError): StoreError {
  return new StoreError(/^SW_STORE_[A-Z]+$/.test(error.code) ? (error.code as StoreErrorCode) : 'SW_STORE_WRITE', error.message);
}

export class WorkerResultWriter implements ResultWriter {
  readonly #path: string;
  readonly #options: StoreOptions;
  readonly #logger: Logger;
  #worker: Promise<Worker> | undefined;
  /** The thread once it has opened the database, until it exits. */
  #running: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;

  /** Starts the thread and resolves once it has opened the database (rejects with its StoreError). */
  static async open(path: string, options: StoreOptions, logger: Logger): Promise<WorkerResultWriter> {
    const writer = new WorkerResultWriter(path, options, logger);
    await writer.#start();
    return writer;
  }

  private constructor(path: string, options: StoreOptions, logger: Logger) {
    this.#path = path;
    this.#options = options;
    this.#logger = logger;
  }

  write(batches: readonly FrameBatch[]): Promise<InsertOutcome[]> {
    if (this.#closed) return Promise.reject(new StoreError('SW_STORE_WRITE', `the result writer for ${this.#path} is closed`));
    const post = (worker: Worker): Promise<InsertOutcome[]> =>
      new Promise<InsertOutcome[]>((resolve, reject) => {
        const seq = this.#seq++;
        this.#pending.set(seq, { resolve, reject });
        worker.postMessage({ type: 'write', seq, batches } satisfies ToWriter);
      });
    // Posted before returning when the thread is up, so the caller may drop the frames at once.
    return this.#running === undefined ? this.#start().then(post) : post(this.#running);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const starting = this.#worker;
    if (starting === undefined) return;
    const worker = await starting.catch(() => undefined);
    if (worker === undefined) return;
    // Messages are handled in order: writes already posted finish before the close.
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ToWriter);
    });
  }

  #start(): Promise<Worker> {
    this.#worker ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(WORKER_URL, { workerData: { path: this.#path, options: this.#options } });
      let ready = false;
      worker.on('message', (message: FromWriter) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            this.#running = worker;
            resolve(worker);
            return;
          case 'open-failed':
            reject(storeError(message.error));
            return;
          case 'written':
          case 'failed': {
            const pending = this.#pending.get(message.seq);
            this.#pending.delete(message.seq);
            if (message.type === 'written') pending?.resolve(message.outcomes);
            else pending?.reject(storeError(message.error));
          }
        }
      });
      worker.on('error', (err) => {
        this.#logger.error({ event: 'writer-thread-error', err }, 'the result writer thread failed');
      });
      worker.on('exit', (code) => {
        this.#worker = undefined;
        this.#running = undefined;
        const lost = [...this.#pending.values()];
        this.#pending.clear();
        const why = new StoreError('SW_STORE_WRITE', `the result writer thread for ${this.#path} stopped (exit code ${code}); nothing in flight was acked`);
        for (const p of lost) p.reject(why);
        if (!ready) reject(why);
        else if (!this.#closed) this.#logger.warn({ event: 'writer-thread-exit', code, lost: lost.length }, 'result writer thread stopped; the next write starts a new one');
      });
    });
    return this.#worker;
  }
}
