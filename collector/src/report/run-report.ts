/**
 * Reports and range compliance read from a store: the agents, the range's results (one read,
 * held as columns: about 40 bytes a test), the retention horizon. Run where a long read does
 * not stall anything that serves: the command line, or the collector's report thread.
 */
import type { AgentStore, ResultStore } from '../store/collector-store.js';
import { SampleWindow } from '../verdict/sample-window.js';
import type { SampleColumns } from '../verdict/sample-columns.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { groupVerdictsOver } from '../verdict/verdicts.js';
import type { GroupBy, GroupVerdict } from '../verdict/verdicts.js';
import { buildComplianceReport } from './compliance-report.js';
import type { ComplianceReport } from './compliance-report.js';
import type { ReportRange } from './report-range.js';

/** What a report reads of the store. */
export interface ReportStore {
  agents: Pick<AgentStore, 'list'>;
  results: Pick<ResultStore, 'scanVerdictRowsBetween' | 'deletedBefore'>;
}

/** The results of `range` as verdict columns. */
export async function rangeSamples(store: ReportStore, range: ReportRange): Promise<SampleColumns> {
  const window = new SampleWindow({ scanVerdictRows: async (from, _after, visit) => (await store.results.scanVerdictRowsBetween(from, range.to, visit), '') }, range.to - range.from);
  await window.update(range.to);
  return window.columns();
}

export interface ReportRequest {
  range: ReportRange;
  area?: string | undefined;
  config: VerdictConfig;
  timeZone: string;
  now: number;
}

export async function runReport(store: ReportStore, request: ReportRequest): Promise<ComplianceReport> {
  return buildComplianceReport({
    agents: await store.agents.list(),
    samples: await rangeSamples(store, request.range),
    range: request.range,
    area: request.area,
    config: request.config,
    timeZone: request.timeZone,
    now: request.now,
    deletedBefore: await store.results.deletedBefore(),
  });
}

/** `/api/v1/compliance` over a month or dates instead of a rolling window. */
export async function runRangeCompliance(store: ReportStore, range: ReportRange, groupBy: GroupBy, config: VerdictConfig): Promise<GroupVerdict[]> {
  return groupVerdictsOver(await store.agents.list(), await rangeSamples(store, range), [{ name: range.name, from: range.from, to: range.to }], config, groupBy);
}
