/**
 * The answer of /api/v1/overview, as the console reads it: the overview page's figures in one
 * request, aggregated on the server from the verdicts (docs/console.md). Imports nothing, so the
 * console's bundle can share it. Mbps are rounded to `precision.mbps` decimals and shares
 * (0..1) to `precision.share` decimals.
 */

export type OverviewVerdict = 'meets' | 'below' | 'insufficient-data' | 'no-data';

/** Decimals the figures are rounded to; coordinates (degrees) to 4, about 11 m. */
export const OVERVIEW_PRECISION = Object.freeze({ mbps: 1, share: 3, degrees: 4 });

/** How many of the slowest sites the overview lists. */
export const OVERVIEW_SLOWEST = 10;

/** Sites of one technology by their own verdict over the window. */
export interface TechnologySummary {
  technology: string;
  /** The technology's download target, Mbps. */
  targetMbps: number;
  /** Unrevoked sites of this technology. */
  sites: number;
  meets: number;
  below: number;
  /** Sites with some download tests, fewer than `minTests`. */
  insufficientData: number;
  /** Silent sites: no test carrying a download figure in the window. */
  noData: number;
  /** Tests a site needs for a verdict (`verdicts.minTests.agent`). */
  minTests: number;
}

/** One (area, technology) row of the area tree, over the individual tests of the area's sites. */
export interface AreaRow {
  /** The area path, `Lạng Sơn/Cao Lộc/Hợp Thành`, or `(none)` for sites with no area. */
  area: string;
  /** Path segments: 1 province, 2 district, 3 commune, 4 below; 0 for `(none)`. */
  level: number;
  technology: string;
  agents: number;
  agentsReporting: number;
  /** Tests carrying a download figure. */
  tests: number;
  /** Tests the download verdict needs (`minTests.area[level]`, else `minTests.group`). */
  minTests: number;
  medianMbps: number | null;
  meanMbps: number | null;
  /** Fraction (0..1) of the tests at the download target or better. */
  shareAtTarget: number | null;
  verdict: OverviewVerdict;
}

/** A site among the slowest: lowest median download as a fraction of its target. */
export interface SlowSite {
  agentId: string;
  name: string;
  area: string | null;
  technology: string;
  tests: number;
  minTests: number;
  medianMbps: number;
  targetMbps: number;
  verdict: OverviewVerdict;
}

/** A site on the overview's map: where it is and its own verdict over the window. */
export interface MapSite {
  /** The agent's id. */
  id: string;
  name: string;
  technology: string;
  /** Degrees (WGS 84), rounded to `precision.degrees`; both null when the site has no coordinates. */
  lat: number | null;
  lon: number | null;
  verdict: OverviewVerdict;
}

export interface OverviewAnswer {
  /** When the verdicts were computed (ISO 8601); null before the first computation. */
  computedAt: string | null;
  /** The rolling window's name, or the calendar month's `YYYY-MM` when `month` is set. */
  window: string;
  /**
   * The calendar month judged (`2026-11`, its days in `timeZone`), or null for a rolling window.
   * A month's figures are computed from the database when asked (a report thread), not kept.
   */
  month: string | null;
  /** The windows the collector judges, in config order. */
  windows: string[];
  /** The time zone the console shows times in (IANA name). */
  timeZone: string;
  precision: { mbps: number; share: number; degrees: number };
  technologies: TechnologySummary[];
  areas: AreaRow[];
  slowest: SlowSite[];
  /**
   * Every site counted in `technologies`, in the collector's agent order, with the same verdict
   * that counted it: the map's dots (those with coordinates) and how many cannot be drawn.
   */
  sites: MapSite[];
}
