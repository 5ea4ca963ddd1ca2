/**
 * A MaintenanceRunner on a worker thread with its own connection to the store. If the thread dies,
 * the pass in flight rejects and the next pass starts a new thread (which reloads its verdict
 * window from the database).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '@speedwatch/shared';
import type { LeaseFence } from '../cluster/lease.js';
import { isErrorCode, SpeedwatchError } from '@speedwatch/shared';
import { storeLocation } from '../store/store-spec.js';
import type { StoreSpec } from '../store/store-spec.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { builtModuleUrl } from '../worker-url.js';
import type { MaintenanceRunner } from './maintenance-runner.js';
import type { MaintenanceError, MaintenanceReport } from './maintenance-work.js';
import type { FromMaintenance, MaintenanceInit, ToMaintenance } from './maintenance-protocol.js';

const THREAD_URL = builtModuleUrl(import.meta.url, './maintenance-thread.js');

/** An error raised on the maintenance thread, as the serving thread sees it: its code, message and stack. */
export function errorFromThread(error: MaintenanceError): SpeedwatchError {
  const err = new SpeedwatchError(isErrorCode(error.code) ? error.code : 'SW_STORE_READ', error.message);
  err.name = error.name;
  if (error.stack !== undefined) err.stack = error.stack;
  return err;
}

interface Pending {
  resolve: (report: MaintenanceReport) => void;
  reject: (err: Error) => void;
}

export class WorkerMaintenance implements MaintenanceRunner {
  readonly #init: MaintenanceInit;
  readonly #logger: Logger;
  #worker: Promise<Worker> | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #closed = false;

  /** Starts the thread and resolves once it has opened the database. */
  static async open(store: StoreSpec, verdicts: VerdictConfig, logger: Logger): Promise<WorkerMaintenance> {
    const runner = new WorkerMaintenance({ store, verdicts }, logger);
    await runner.#start();
    return runner;
  }

  private constructor(init: MaintenanceInit, logger: Logger) {
    this.#init = init;
    this.#logger = logger;
  }

  async run(now: number, fence?: LeaseFence): Promise<MaintenanceReport> {
    if (this.#closed) throw new SpeedwatchError('SW_STORE_READ', `the maintenance thread for ${storeLocation(this.#init.store)} is closed`);
    const worker = await this.#start();
    return new Promise<MaintenanceReport>((resolve, reject) => {
      const seq = this.#seq++;
      this.#pending.set(seq, { resolve, reject });
      worker.postMessage({ type: 'run', seq, now, ...(fence === undefined ? {} : { fence }) } satisfies ToMaintenance);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = await this.#worker?.catch(() => undefined);
    if (worker === undefined) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ToMaintenance);
    });
  }

  #start(): Promise<Worker> {
    this.#worker ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(THREAD_URL, { workerData: this.#init });
      let ready = false;
      worker.on('message', (message: FromMaintenance) => {
        switch (message.type) {
          case 'ready':
            ready = true;
            resolve(worker);
            return;
          case 'open-failed':
            reject(errorFromThread(message.error));
            return;
          case 'done':
          case 'failed': {
            const pending = this.#pending.get(message.seq);
            this.#pending.delete(message.seq);
            if (message.type === 'done') pending?.resolve(message.report);
            else pending?.reject(errorFromThread(message.error));
          }
        }
      });
      worker.on('error', (err) => this.#logger.error({ event: 'maintenance-thread-error', err }, 'the maintenance thread failed'));
      worker.on('exit', (code) => {
        this.#worker = undefined;
        const lost = [...this.#pending.values()];
        this.#pending.clear();
        const why = new SpeedwatchError('SW_STORE_READ', `the maintenance thread for ${storeLocation(this.#init.store)} stopped (exit code ${code})`);
        for (const p of lost) p.reject(why);
        if (!ready) reject(why);
        else if (!this.#closed) this.#logger.warn({ event: 'maintenance-thread-exit', code }, 'maintenance thread stopped; the next pass starts a new one');
      });
    });
    return this.#worker;
  }
}
