/**
 * Reports and range compliance read from a store: the agents, the range's results (one read,
 * held as columns: about 40 bytes a test), the retention horizon. Run where a long read does
 * not stall anything that serves: the command line, or the collector's report thread.
 */
import type { AgentStore, ResultStore } from '../store/collector-store.js';
import { SampleWindow } from '../verdict/sample-window.js';
import type { SampleColumns } from '../verdict/sample-columns.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { buildOverview } from '../api/overview.js';
import type { OverviewAnswer } from '../api/overview-wire.js';
import { roundVerdict } from '../api/rounding.js';
import { agentVerdictsOver, groupVerdictsOver } from '../verdict/verdicts.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../verdict/verdicts.js';
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

/** The console's overview over a calendar month (`/api/v1/overview?month=…`), as the rolling windows' is built. */
export async function runRangeOverview(store: ReportStore, range: ReportRange, windows: readonly string[], config: VerdictConfig, timeZone: string, now: number): Promise<OverviewAnswer> {
  const agents = await store.agents.list();
  const samples = await rangeSamples(store, range);
  const ranges = [{ name: range.name, from: range.from, to: range.to }];
  const verdicts = new Map<string, AgentVerdict[]>();
  for (const verdict of agentVerdictsOver(agents, samples, ranges, config)) verdicts.set(verdict.agentId, [verdict]);
  return buildOverview({
    window: range.name,
    month: range.month,
    windows,
    computedAt: now,
    timeZone,
    agents,
    agentVerdicts: (id) => verdicts.get(id),
    // Rounded as the rolling windows' area groups are, so the page and /compliance agree.
    areaGroups: groupVerdictsOver(agents, samples, ranges, config, 'area').map(roundVerdict),
    targets: config.targets,
    agentMinTests: config.minTests.agent,
  });
}

/** `/api/v1/compliance` over a month or dates instead of a rolling window. */
export async function runRangeCompliance(store: ReportStore, range: ReportRange, groupBy: GroupBy, config: VerdictConfig): Promise<GroupVerdict[]> {
  return groupVerdictsOver(await store.agents.list(), await rangeSamples(store, range), [{ name: range.name, from: range.from, to: range.to }], config, groupBy);
}
