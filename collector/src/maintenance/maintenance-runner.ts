/**
 * Where maintenance passes run. The collector process runs them on a thread of its own with
 * its own connection (worker-maintenance.ts): a first pass over a large database takes minutes
 * and a verdict refresh seconds, none of which may stop the event loop that serves agents.
 * In-process uses (tests, embedding) can run them on the calling thread, yielding between steps.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { LeaseFence } from '../cluster/lease.js';
import type { CollectorStore } from '../store/collector-store.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { MaintenanceWork } from './maintenance-work.js';
import type { MaintenanceReport } from './maintenance-work.js';

export interface MaintenanceRunner {
  /**
   * Runs a pass as of `now` after any in progress; rejects when its verdicts could not be
   * computed. `fence`: this collector holds the lease (with several collectors: a leading pass).
   */
  run(now: number, fence?: LeaseFence): Promise<MaintenanceReport>;
  /** Waits for the pass in progress and releases the runner. */
  close(): Promise<void>;
}

/** Passes on the calling thread, over `store`'s connections. */
export function inlineMaintenance(store: CollectorStore, config: VerdictConfig): MaintenanceRunner {
  const work = new MaintenanceWork(store, config);
  let running: Promise<unknown> = Promise.resolve();
  return {
    run(now, fence) {
      const pass = running.then(() => work.run(now, () => nextTurn(), fence));
      running = pass.catch(() => undefined);
      return pass;
    },
    async close() {
      await running;
    },
  };
}
