/** Messages between the serving thread and the maintenance thread. */
import type { StoreOptions } from '../store/sqlite-store.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import type { MaintenanceError, MaintenanceReport } from './maintenance-work.js';

export interface MaintenanceInit {
  path: string;
  options: StoreOptions;
  verdicts: VerdictConfig;
}

export type ToMaintenance = { type: 'run'; seq: number; now: number } | { type: 'close' };

export type FromMaintenance =
  | { type: 'ready' }
  | { type: 'open-failed'; error: MaintenanceError }
  | { type: 'done'; seq: number; report: MaintenanceReport }
  | { type: 'failed'; seq: number; error: MaintenanceError };
