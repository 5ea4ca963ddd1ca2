/**
 * Reports and range compliance for the running collector, each on a thread of its own
 * (report-thread.ts) so that reading a month of results never waits on the serving thread's
 * event loop. One job runs at a time and a few wait; more are refused (the API answers 429),
 * and a job past its time limit is ended, so a heavy report cannot pile up threads or memory.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '@speedwatch/shared';
import { SpeedwatchError, ValidationError } from '@speedwatch/shared';
import type { StoreSpec } from '../store/store-spec.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { builtModuleUrl } from '../worker-url.js';
import type { FromReportThread, ReportJob, ReportThreadInit } from './report-protocol.js';

const THREAD_URL = builtModuleUrl(import.meta.url, './report-thread.js');

export interface ReportJobsOptions {
  /** The store each report thread opens (SQLite: with mustExist). */
  store: StoreSpec;
  verdicts: VerdictConfig;
  timeZone: string;
  logger: Logger;
  /** Jobs waiting behind the one running before more are refused. Default 4. */
  maxWaiting?: number;
  /** A job running longer is ended, ms. Default 120 000. */
  timeoutMs?: number;
}

export interface JobOutput {
  body: string | Buffer;
  rows: number;
  ms: number;
}

/** Too many reports asked at once: the caller should retry later. */
export class ReportBusyError extends SpeedwatchError {
  declare readonly code: 'SW_REPORT_BUSY';
  constructor(waiting: number) {
    super('SW_REPORT_BUSY', `${waiting} reports are already waiting; try again in a minute`);
    this.name = 'ReportBusyError';
  }
}

/** The report failed on its thread (ended past its time limit, or the database failed). */
export class ReportFailedError extends SpeedwatchError {
  declare readonly code: 'SW_REPORT_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super('SW_REPORT_FAILED', message, options);
    this.name = 'ReportFailedError';
  }
}

export class ReportJobs {
  readonly #options: ReportJobsOptions;
  #queue: Promise<unknown> = Promise.resolve();
  #accepted = 0;
  readonly #running = new Set<Worker>();
  #closed = false;

  constructor(options: ReportJobsOptions) {
    this.#options = options;
  }

  /** Runs `job` after those before it; rejects with ValidationError (a bad area), ReportBusyError or ReportFailedError. */
  run(job: ReportJob, now: number): Promise<JobOutput> {
    if (this.#closed) return Promise.reject(new ReportFailedError('the collector is stopping'));
    const maxWaiting = this.#options.maxWaiting ?? 4;
    // Accepted and not finished: the one running and those waiting behind it.
    if (this.#accepted > maxWaiting) return Promise.reject(new ReportBusyError(this.#accepted - 1));
    this.#accepted++;
    const result = this.#queue.then(() => this.#runThread(job, now)).finally(() => this.#accepted--);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#running].map((worker) => worker.terminate()));
  }

  #runThread(job: ReportJob, now: number): Promise<JobOutput> {
    if (this.#closed) return Promise.reject(new ReportFailedError('the collector is stopping'));
    const { store, verdicts, timeZone, logger } = this.#options;
    const timeoutMs = this.#options.timeoutMs ?? 120_000;
    const started = performance.now();
    return new Promise<JobOutput>((resolve, reject) => {
      const init: ReportThreadInit = { store, verdicts, timeZone, now, job };
      const worker = new Worker(THREAD_URL, { workerData: init });
      this.#running.add(worker);
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        settle(() => reject(new ReportFailedError(`the report took longer than ${timeoutMs / 1000} s and was stopped; ask for a shorter range or a smaller area`)));
        void worker.terminate();
      }, timeoutMs);
      worker.on('message', (message: FromReportThread) => {
        if (message.type === 'done') {
          const body = typeof message.body === 'string' ? message.body : Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
          settle(() => resolve({ body, rows: message.rows, ms: Math.round(performance.now() - started) }));
          return;
        }
        const { error } = message;
        settle(() =>
          reject(
            error.code === 'SW_VALIDATION'
              ? new ValidationError(error.path ?? '', '', { message: error.message.replace(/^[^:]*: /, '') })
              : new ReportFailedError(`the report failed: ${error.message}${error.code === undefined ? '' : ` [${error.code}]`}`),
          ),
        );
      });
      worker.on('error', (err) => {
        logger.error({ event: 'report-thread-error', err }, 'a report thread failed');
        settle(() => reject(new ReportFailedError(`the report thread failed: ${err.message}`, { cause: err })));
      });
      worker.on('exit', (code) => {
        this.#running.delete(worker);
        settle(() => reject(new ReportFailedError(`the report thread stopped (exit code ${code})`)));
      });
    });
  }
}
