/**
 * The compliance report a committee files: for a range (a calendar month or any dates) and an
 * area, per technology and per site kind the sites and tests, median and mean download and
 * upload, the share of tests at target and the verdict, then every site's own row; with the
 * method, the units and the minimum-sample rule stated. Pure: the caller passes the agents and
 * the range's samples. The verdicts are those of verdicts.ts over the range, so a report and
 * `/api/v1/compliance` over the same span say the same thing. Figures are rounded here, once, so
 * the JSON, the CSV, the XLSX and the printed page carry the same numbers.
 */
import { areaKey, areaLevels, canonicalArea, TECHNOLOGIES, ValidationError } from '@speedwatch/shared';
import type { AgentRecord, VerdictSample } from '../store/store-types.js';
import { REPORT_PRECISION } from './report-wire.js';
import type { ComplianceReport, MetricFigures, ReportGroupRow, ReportNote, ReportSiteRow, SiteVerdictCounts } from './report-wire.js';
import type { SampleColumns } from '../verdict/sample-columns.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { agentVerdictsOver, groupVerdictsOver } from '../verdict/verdicts.js';
import type { AgentVerdict, Figures, GroupVerdict, Verdict } from '../verdict/verdicts.js';

export type { ComplianceReport } from './report-wire.js';
import type { ReportRange } from './report-range.js';
import { zonedDate } from '@speedwatch/shared';

export interface ReportInputs {
  agents: readonly AgentRecord[];
  /** At least the range's samples (more is harmless: the range is cut here). */
  samples: readonly VerdictSample[] | SampleColumns;
  range: ReportRange;
  /** An area path at any level; undefined for the whole fleet. */
  area?: string | undefined;
  config: VerdictConfig;
  timeZone: string;
  now: number;
  /** When the retention deleted raw results before (rollup state), if it ever did. */
  deletedBefore?: number | undefined;
}

const round = (value: number, decimals: number): number => {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
};

function metric(figures: Figures | undefined): MetricFigures | null {
  if (figures === undefined) return null;
  return { tests: figures.tests, median: round(figures.median, REPORT_PRECISION.mbps), mean: round(figures.mean, REPORT_PRECISION.mbps) };
}

function share(verdict: GroupVerdict | AgentVerdict): number | null {
  const value = verdict.download?.shareAtTarget;
  return value === undefined ? null : round(value, REPORT_PRECISION.share);
}

const emptyCounts = (): SiteVerdictCounts => ({ meets: 0, below: 0, insufficientData: 0, noData: 0 });

function count(counts: SiteVerdictCounts, verdict: Verdict): void {
  if (verdict === 'meets') counts.meets++;
  else if (verdict === 'below') counts.below++;
  else if (verdict === 'insufficient-data') counts.insufficientData++;
  else counts.noData++;
}

/** Whether `agent` lies in `area` (the area itself or below it), compared as areas are. */
function inArea(agent: AgentRecord, key: string | undefined): boolean {
  if (key === undefined) return true;
  if (agent.area === undefined) return false;
  const mine = areaKey(agent.area);
  return mine === key || mine.startsWith(`${key}/`);
}

/** Builds the report. Throws ValidationError (`area`) for an area no unrevoked site lies in. */
export function buildComplianceReport(inputs: ReportInputs): ComplianceReport {
  const { range, config, timeZone, now } = inputs;
  const area = inputs.area === undefined || inputs.area.trim() === '' ? undefined : canonicalArea(inputs.area);
  const key = area === undefined ? undefined : areaKey(area);
  const agents = inputs.agents.filter((agent) => agent.revokedAt === undefined && inArea(agent, key));
  if (area !== undefined && agents.length === 0) throw new ValidationError('area', `an area with sites (any level, e.g. "Lạng Sơn/Cao Lộc"), got ${JSON.stringify(area)}`);
  const ranges = [{ name: range.name, from: range.from, to: range.to }];

  const siteVerdicts = agentVerdictsOver(agents, inputs.samples, ranges, config);
  const byId = new Map(agents.map((agent) => [agent.id, agent]));
  const sites: ReportSiteRow[] = siteVerdicts.map((v) => {
    const agent = byId.get(v.agentId) as AgentRecord;
    return {
      agentId: v.agentId,
      name: agent.name,
      siteKind: agent.siteKind,
      technology: v.technology,
      isp: agent.isp ?? null,
      area: agent.area ?? null,
      targetMbps: v.target.minMbps,
      tests: v.tests,
      failedTests: v.failedTests,
      minTests: v.minTests,
      download: metric(v.download),
      upload: metric(v.upload),
      shareAtTarget: share(v),
      verdict: v.verdict,
    };
  });

  const countsOf = (match: (site: ReportSiteRow) => boolean): SiteVerdictCounts => {
    const counts = emptyCounts();
    for (const site of sites) if (match(site)) count(counts, site.verdict);
    return counts;
  };
  const row = (v: GroupVerdict, siteKind?: string): ReportGroupRow => ({
    technology: v.technology,
    ...(siteKind === undefined ? {} : { siteKind }),
    targetMbps: v.target.minMbps,
    sites: v.agents,
    sitesReporting: v.agentsReporting,
    siteVerdicts: countsOf((s) => s.technology === v.technology && (siteKind === undefined || s.siteKind === siteKind)),
    tests: v.tests,
    failedTests: v.failedTests,
    minTests: v.minTests,
    download: metric(v.download),
    upload: metric(v.upload),
    shareAtTarget: share(v),
    verdict: v.verdict,
  });

  // The totals are the area's own rows (judged with its level's minimum), or the whole fleet's.
  const totals =
    key === undefined
      ? groupVerdictsOver(agents, inputs.samples, ranges, config, 'all').map((v) => row(v))
      : groupVerdictsOver(agents, inputs.samples, ranges, config, 'area')
          .filter((v) => areaKey(v.group) === key)
          .map((v) => row(v));
  const byKind = groupVerdictsOver(agents, inputs.samples, ranges, config, 'siteKind')
    .map((v) => row(v, v.group))
    .sort((a, b) => TECHNOLOGIES.indexOf(a.technology) - TECHNOLOGIES.indexOf(b.technology) || (a.siteKind ?? '').localeCompare(b.siteKind ?? ''));

  const notes: ReportNote[] = [];
  if (inputs.deletedBefore !== undefined && range.from < inputs.deletedBefore) notes.push({ code: 'retention', deletedBefore: new Date(inputs.deletedBefore).toISOString() });
  if (range.to > now) notes.push({ code: 'not-over', at: new Date(now).toISOString() });
  if (agents.length === 0) notes.push({ code: 'no-sites' });

  return {
    generatedAt: new Date(now).toISOString(),
    range: {
      name: range.name,
      month: range.month ?? null,
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
      timeZone,
      firstDay: zonedDate(range.from, timeZone),
      lastDay: zonedDate(range.to - 1, timeZone),
    },
    area: area ?? null,
    complete: !notes.some((note) => note.code === 'retention' || note.code === 'not-over'),
    notes,
    precision: REPORT_PRECISION,
    method: {
      basis: config.basis ?? 'payload',
      units: config.basis === 'librespeed' ? 'Mbps = 10^6 bit/s of payload (HTTP body bytes) × 1.06, as LibreSpeed shows it, ms' : 'Mbps = 10^6 bit/s of payload (HTTP body bytes), ms',
      statistic: 'median',
      samples:
        config.samples === undefined || config.samples.mode === 'tests'
          ? { mode: 'tests' }
          : { mode: 'representative', bucketMinutes: config.samples.bucketMs / 60_000, contractMargin: config.samples.contractMargin },
      minTestsSite: config.minTests.agent,
      minTestsArea: [1, 2, 3, 4].map((level) => config.minTests.area?.[level as 1 | 2 | 3 | 4] ?? config.minTests.group),
      minTestsGroup: config.minTests.group,
      targets: config.targets.map((t) => ({ technology: t.technology, metric: t.metric, ...('minMbps' in t ? { minMbps: t.minMbps } : { maxMs: t.maxMs }) })),
    },
    totals,
    byKind,
    sites,
    areas: [...new Set(inputs.agents.flatMap((agent) => (agent.revokedAt === undefined && agent.area !== undefined ? areaLevels(agent.area) : [])))].sort((a, b) => a.localeCompare(b, 'vi')),
  };
}
