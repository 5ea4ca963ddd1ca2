/** Messages between the serving thread and the maintenance thread. */
import type { LeaseFence } from '../cluster/lease.js';
import type { StoreSpec } from '../store/store-spec.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import type { MaintenanceError, MaintenanceReport } from './maintenance-work.js';

export interface MaintenanceInit {
  /** The store the thread opens its own connection to. */
  store: StoreSpec;
  verdicts: VerdictConfig;
}

/** `fence`: this collector holds the lease, the pass leads (maintenance-work.ts). */
export type ToMaintenance = { type: 'run'; seq: number; now: number; fence?: LeaseFence } | { type: 'close' };

export type FromMaintenance =
  | { type: 'ready' }
  | { type: 'open-failed'; error: MaintenanceError }
  | { type: 'done'; seq: number; report: MaintenanceReport }
  | { type: 'failed'; seq: number; error: MaintenanceError };
