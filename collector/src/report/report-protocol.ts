/** Messages between the serving thread and a report thread (one thread per job). */
import type { StoreSpec } from '../store/store-spec.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import type { GroupBy } from '../verdict/verdicts.js';
import type { ReportLang } from './report-labels.js';
import type { ReportRange } from './report-range.js';

export type ReportFormat = 'json' | 'csv' | 'xlsx';

export type ReportJob =
  | { kind: 'report'; range: ReportRange; area?: string; format: ReportFormat; lang: ReportLang }
  | { kind: 'compliance'; range: ReportRange; groupBy: GroupBy }
  | { kind: 'overview'; range: ReportRange; windows: readonly string[] };

export interface ReportThreadInit {
  /** The store the thread opens its own connection to (an existing one). */
  store: StoreSpec;
  verdicts: VerdictConfig;
  timeZone: string;
  now: number;
  job: ReportJob;
}

export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  /** ValidationError's path (the parameter at fault). */
  path?: string;
}

export type FromReportThread = { type: 'done'; body: string | Uint8Array; rows: number } | { type: 'failed'; error: ThreadError };
