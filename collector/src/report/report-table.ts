/**
 * The report as one table, the same for the CSV and the XLSX: a `section` column (totals, by
 * site kind, sites), then every figure, numbers as numbers (rounded by the report), words in the
 * report's language. Empty cells are null.
 */
import type { ComplianceReport, MetricFigures, ReportGroupRow, ReportSiteRow } from './report-wire.js';
import type { ReportLabels } from './report-labels.js';

export type Cell = string | number | null;

export const REPORT_COLUMNS = [
  'section',
  'technology',
  'siteKind',
  'agentId',
  'name',
  'siteArea',
  'isp',
  'targetMbps',
  'sites',
  'sitesReporting',
  'meets',
  'below',
  'insufficientData',
  'noData',
  'tests',
  'failedTests',
  'minTests',
  'downloadMedian',
  'downloadMean',
  'uploadMedian',
  'uploadMean',
  'shareAtTarget',
  'verdict',
] as const satisfies readonly (keyof ReportLabels['columns'])[];

export type ReportColumn = (typeof REPORT_COLUMNS)[number];

const median = (m: MetricFigures | null): Cell => m?.median ?? null;
const mean = (m: MetricFigures | null): Cell => m?.mean ?? null;

/** The table's heading row and its rows, in REPORT_COLUMNS order. */
export function reportTable(report: ComplianceReport, labels: ReportLabels): { header: string[]; rows: Cell[][] } {
  const word = (dictionary: Record<string, string>, value: string): string => dictionary[value] ?? value;
  /** The columns a group's row and a site's row fill alike. */
  const figures = (r: ReportGroupRow | ReportSiteRow) =>
    ({
      technology: word(labels.technology, r.technology),
      targetMbps: r.targetMbps,
      tests: r.tests,
      failedTests: r.failedTests,
      minTests: r.minTests,
      downloadMedian: median(r.download),
      downloadMean: mean(r.download),
      uploadMedian: median(r.upload),
      uploadMean: mean(r.upload),
      shareAtTarget: r.shareAtTarget,
      verdict: word(labels.verdict, r.verdict),
    }) satisfies Partial<Record<ReportColumn, Cell>>;
  const group = (section: string, r: ReportGroupRow): Record<ReportColumn, Cell> => ({
    ...figures(r),
    section,
    siteKind: r.siteKind === undefined ? null : word(labels.siteKind, r.siteKind),
    agentId: null,
    name: null,
    siteArea: report.area,
    isp: null,
    sites: r.sites,
    sitesReporting: r.sitesReporting,
    meets: r.siteVerdicts.meets,
    below: r.siteVerdicts.below,
    insufficientData: r.siteVerdicts.insufficientData,
    noData: r.siteVerdicts.noData,
  });
  const site = (r: ReportSiteRow): Record<ReportColumn, Cell> => ({
    ...figures(r),
    section: labels.sites,
    siteKind: word(labels.siteKind, r.siteKind),
    agentId: r.agentId,
    name: r.name,
    siteArea: r.area,
    isp: r.isp,
    sites: null,
    sitesReporting: null,
    meets: null,
    below: null,
    insufficientData: null,
    noData: null,
  });
  const records = [...report.totals.map((r) => group(labels.totals, r)), ...report.byKind.map((r) => group(labels.byKind, r)), ...report.sites.map(site)];
  return { header: REPORT_COLUMNS.map((c) => labels.columns[c]), rows: records.map((record) => REPORT_COLUMNS.map((c) => record[c])) };
}
