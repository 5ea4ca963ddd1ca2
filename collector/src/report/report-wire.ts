/**
 * The compliance report's shape, as the API answers it and the console reads it (types and
 * constants only: the console bundles this file). Built by compliance-report.ts.
 */

export type Technology = 'fixed' | 'mobile';
export type Verdict = 'meets' | 'below' | 'insufficient-data' | 'no-data';

/** Decimals of the report's figures. */
export const REPORT_PRECISION = Object.freeze({ mbps: 1, share: 3 });

/** Median and mean of one metric over the tests carrying it, Mbps. */
export interface MetricFigures {
  tests: number;
  median: number;
  mean: number;
}

/** How many sites of a row got each verdict on their own tests. */
export interface SiteVerdictCounts {
  meets: number;
  below: number;
  insufficientData: number;
  noData: number;
}

/** One row of the totals or of the per-kind table. */
export interface ReportGroupRow {
  technology: Technology;
  /** The site kind; absent in the totals. */
  siteKind?: string;
  targetMbps: number;
  /** Unrevoked sites of the technology (and kind) in the area. */
  sites: number;
  /** Of those, sites with a result in the range. */
  sitesReporting: number;
  siteVerdicts: SiteVerdictCounts;
  /** `ok` and `partial` results. */
  tests: number;
  failedTests: number;
  /** The fewest tests the row's verdict needs. */
  minTests: number;
  download: MetricFigures | null;
  upload: MetricFigures | null;
  /** Share of download tests at the target or better, 0..1. */
  shareAtTarget: number | null;
  verdict: Verdict;
}

export interface ReportSiteRow {
  agentId: string;
  name: string;
  siteKind: string;
  technology: Technology;
  isp: string | null;
  area: string | null;
  targetMbps: number;
  tests: number;
  failedTests: number;
  minTests: number;
  download: MetricFigures | null;
  upload: MetricFigures | null;
  shareAtTarget: number | null;
  verdict: Verdict;
}

export interface ComplianceReport {
  generatedAt: string;
  range: {
    name: string;
    month: string | null;
    /** The first instant in the range, ISO 8601. */
    from: string;
    /** The first instant after it (exclusive). */
    to: string;
    timeZone: string;
    /** The first and last days covered, in the time zone (inclusive). */
    firstDay: string;
    lastDay: string;
  };
  /** The area reported on (any level), or null for every site. */
  area: string | null;
  /**
   * False when results of the range may be missing: it starts before the retention deleted raw
   * results, or it is not over yet. `notes` says which.
   */
  complete: boolean;
  notes: ReportNote[];
  precision: typeof REPORT_PRECISION;
  method: ReportMethod;
  totals: ReportGroupRow[];
  byKind: ReportGroupRow[];
  sites: ReportSiteRow[];
  /** Every area (each level) of the fleet's unrevoked sites, sorted: the areas a report can be asked for. */
  areas: string[];
}

export type ReportNote = { code: 'retention'; deletedBefore: string } | { code: 'not-over'; at: string } | { code: 'no-sites' };

/** What the figures mean, stated in the report itself. */
export interface ReportMethod {
  /** The throughput figure the report's Mbps are (docs/verdicts.md, "Basis"): payload, or payload × 1.06 as LibreSpeed shows it. */
  basis: 'payload' | 'librespeed';
  units: 'Mbps = 10^6 bit/s of payload (HTTP body bytes), ms' | 'Mbps = 10^6 bit/s of payload (HTTP body bytes) × 1.06, as LibreSpeed shows it, ms';
  statistic: 'median';
  /** What the figures are taken over: every test, or representative samples (docs/verdicts.md). */
  samples: { mode: 'tests' } | { mode: 'representative'; bucketMinutes: number; contractMargin: number };
  /** Tests a site's verdict needs. */
  minTestsSite: number;
  /** Tests an area's (or a kind's) verdict needs at each level: province, district, commune, 4. */
  minTestsArea: number[];
  minTestsGroup: number;
  targets: { technology: Technology; metric: string; minMbps?: number; maxMs?: number }[];
}

