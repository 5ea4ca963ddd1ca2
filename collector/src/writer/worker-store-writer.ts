/**
 * A StoreWriter whose writes run on a worker thread with its own SQLite connections (WAL lets
 * the serving thread's connection keep reading; SQLite's busy timeout orders this thread, the
 * maintenance thread and other processes). The serving thread parses and validates the next
 * frames while a commit is in progress, which is what lets ingest use both cores, and never
 * waits for a lock.
 *
 * If the thread dies, the writes in flight reject (results are not acked, so the agents send
 * them again) and the next write starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '@speedwatch/shared';
import { StoreError } from '../store/sqlite-store.js';
import type { StoreOptions } from '../store/sqlite-store.js';
import { storeLocation } from '../store/store-spec.js';
import type { StoreWriter, WriteOp, WriteOps } from './store-writer.js';
import type { FrameBatch } from '../store/frame-batch.js';
import type { FromWriter, ThreadHeap, ToWriter, WireStoreError, WriterCall, WriterInit } from './store-writer-protocol.js';
import { builtModuleUrl } from '../worker-url.js';

const THREAD_URL = builtModuleUrl(import.meta.url, './store-writer-thread.js');

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: StoreError) => void;
}

function storeError(error: WireStoreError): StoreError {
  return new StoreError(error.code, error.message);
}

export class WorkerStoreWriter implements StoreWriter {
  readonly #init: WriterInit;
  /** Where the store is, for messages. */
  readonly #path: string;
  readonly #logger: Logger;
  #worker: Promise<Worker> | undefined;
  /** The thread once it has opened the database, until it exits. */
  #running: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;
  #heap: ThreadHeap | undefined;

  /** Starts the thread on the SQLite file `path` and resolves once it has opened it (rejects with its StoreError). */
  static open(path: string, options: StoreOptions, logger: Logger): Promise<WorkerStoreWriter> {
    return WorkerStoreWriter.start({ store: { kind: 'sqlite', path, options }, alertsPath: path }, logger);
  }

  /** Starts the thread on the store `init` names (SQLite or PostgreSQL) and resolves once it has opened it. */
  static async start(init: WriterInit, logger: Logger): Promise<WorkerStoreWriter> {
    const writer = new WorkerStoreWriter(init, logger);
    await writer.#start();
    return writer;
  }

  private constructor(init: WriterInit, logger: Logger) {
    this.#init = init;
    this.#path = storeLocation(init.store);
    this.#logger = logger;
  }

  readonly commitStaged = this.#caller('commitStaged');
  #nextHandle = 0;
  readonly touch = this.#caller('touch');
  readonly redeemEnrollment = this.#caller('redeemEnrollment');
  readonly issueEnrollment = this.#caller('issueEnrollment');
  readonly setPaused = this.#caller('setPaused');
  readonly saveHealth = this.#caller('saveHealth');
  readonly alertCommit = this.#caller('alertCommit');
  readonly alertsDelivered = this.#caller('alertsDelivered');
  readonly alertsFailed = this.#caller('alertsFailed');
  readonly forgetRoutes = this.#caller('forgetRoutes');

  /**
   * Posts the batch to the thread now (its copy is made here, a frame at a time). While no
   * thread is running (starting, or restarting after one died) the batch cannot be staged: its
   * commit will fail with SW_STORE_WRITE, and the agent sends it again.
   */
  stage(batch: FrameBatch): number {
    const handle = this.#nextHandle++;
    this.#running?.postMessage({ type: 'stage', handle, batch } satisfies ToWriter);
    return handle;
  }

  /** The thread's V8 heap as of its latest answer. */
  heap(): ThreadHeap | undefined {
    return this.#heap;
  }

  /** Writes sent and not answered yet. */
  get inFlight(): number {
    return this.#pending.size;
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

  #caller<K extends WriteOp>(op: K): (...args: Parameters<WriteOps[K]>) => Promise<ReturnType<WriteOps[K]>> {
    return (...args) => {
      if (this.#closed) return Promise.reject(new StoreError('SW_STORE_WRITE', `the store writer for ${this.#path} is closed`));
      const post = (worker: Worker): Promise<ReturnType<WriteOps[K]>> =>
        new Promise((resolve, reject) => {
          const seq = this.#seq++;
          this.#pending.set(seq, { resolve: resolve as (value: unknown) => void, reject });
          worker.postMessage({ type: 'call', seq, op, args } as WriterCall satisfies ToWriter);
        });
      // Posted before returning when the thread is up, so the caller may drop what it sent at once.
      return this.#running === undefined ? this.#start().then(post) : post(this.#running);
    };
  }

  #start(): Promise<Worker> {
    this.#worker ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(THREAD_URL, { workerData: this.#init });
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
          case 'done':
          case 'failed': {
            this.#heap = message.heap;
            const pending = this.#pending.get(message.seq);
            this.#pending.delete(message.seq);
            if (message.type === 'done') pending?.resolve(message.value);
            else pending?.reject(storeError(message.error));
          }
        }
      });
      worker.on('error', (err) => {
        this.#logger.error({ event: 'writer-thread-error', err }, 'the store writer thread failed');
      });
      worker.on('exit', (code) => {
        this.#worker = undefined;
        this.#running = undefined;
        const lost = [...this.#pending.values()];
        this.#pending.clear();
        const why = new StoreError('SW_STORE_WRITE', `the store writer thread for ${this.#path} stopped (exit code ${code}); nothing in flight was acked`);
        for (const p of lost) p.reject(why);
        if (!ready) reject(why);
        else if (!this.#closed) this.#logger.warn({ event: 'writer-thread-exit', code, lost: lost.length }, 'store writer thread stopped; the next write starts a new one');
      });
    });
    return this.#worker;
  }
}
