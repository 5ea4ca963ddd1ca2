/**
 * /api/v1/overview: the console's overview page in one answer, built on the serving thread from
 * the verdicts the maintenance thread last computed (no database read): sites per technology by
 * verdict, the area tree, the slowest sites and every site with its place and verdict for the
 * map. Pure: the caller passes what it holds.
 */
import type { AgentRecord } from '../store/store-types.js';
import type { CollectorTarget } from '../verdict/verdict-config.js';
import type { AgentVerdict, GroupVerdict } from '../verdict/verdicts.js';
import { OVERVIEW_PRECISION, OVERVIEW_SLOWEST } from './overview-wire.js';
import { roundTo } from './rounding.js';
import type { AreaRow, MapSite, OverviewAnswer, OverviewVerdict, SlowSite, TechnologySummary } from './overview-wire.js';

export interface OverviewInputs {
  window: string;
  /** The calendar month `window` names, when it is one. */
  month?: string | undefined;
  windows: readonly string[];
  computedAt: number | undefined;
  timeZone: string;
  /** Every agent, revoked ones included (left out here). */
  agents: readonly AgentRecord[];
  /** An agent's verdicts, window by window; undefined before its first computation. */
  agentVerdicts: (agentId: string) => readonly AgentVerdict[] | undefined;
  /** The window's area groups (`groupBy: 'area'`), in the order the verdicts give them. */
  areaGroups: readonly GroupVerdict[];
  targets: readonly CollectorTarget[];
  /** `verdicts.minTests.agent`. */
  agentMinTests: number;
}

const mbps = (value: number | undefined): number | null => (value === undefined ? null : roundTo(value, OVERVIEW_PRECISION.mbps));
const share = (value: number | undefined): number | null => (value === undefined ? null : roundTo(value, OVERVIEW_PRECISION.share));
/** Both coordinates or neither: a site with one of them cannot be placed. */
const coordinates = (agent: AgentRecord): { lat: number | null; lon: number | null } =>
  agent.lat === undefined || agent.lon === undefined ? { lat: null, lon: null } : { lat: roundTo(agent.lat, OVERVIEW_PRECISION.degrees), lon: roundTo(agent.lon, OVERVIEW_PRECISION.degrees) };

export function buildOverview(inputs: OverviewInputs): OverviewAnswer {
  const downloadTargets = new Map<string, number>();
  for (const t of inputs.targets) if (t.metric === 'download') downloadTargets.set(t.technology, t.minMbps);
  const technologies = new Map<string, TechnologySummary>();
  for (const [technology, targetMbps] of downloadTargets) {
    technologies.set(technology, { technology, targetMbps, sites: 0, meets: 0, below: 0, insufficientData: 0, noData: 0, minTests: inputs.agentMinTests });
  }
  const slow: (SlowSite & { ratio: number })[] = [];
  const sites: MapSite[] = [];
  for (const agent of inputs.agents) {
    if (agent.revokedAt !== undefined) continue;
    const summary = technologies.get(agent.technology);
    if (summary === undefined) continue;
    summary.sites += 1;
    const verdict = inputs.agentVerdicts(agent.id)?.find((v) => v.window === inputs.window);
    const shown: OverviewVerdict = verdict?.verdict ?? 'no-data';
    switch (shown) {
      case 'meets':
        summary.meets += 1;
        break;
      case 'below':
        summary.below += 1;
        break;
      case 'insufficient-data':
        summary.insufficientData += 1;
        break;
      default:
        summary.noData += 1;
    }
    sites.push({ id: agent.id, name: agent.name, technology: agent.technology, ...coordinates(agent), verdict: shown });
    const download = verdict?.download;
    if (verdict !== undefined && download !== undefined && download.tests > 0) {
      slow.push({
        agentId: agent.id,
        name: agent.name,
        area: agent.area ?? null,
        technology: agent.technology,
        tests: download.tests,
        minTests: verdict.minTests,
        medianMbps: roundTo(download.median, OVERVIEW_PRECISION.mbps),
        targetMbps: summary.targetMbps,
        verdict: verdict.verdict,
        ratio: download.median / summary.targetMbps,
      });
    }
  }
  slow.sort((a, b) => a.ratio - b.ratio || a.agentId.localeCompare(b.agentId));
  const slowest = slow.slice(0, OVERVIEW_SLOWEST).map(({ ratio: _ratio, ...site }) => site);

  const areas: AreaRow[] = inputs.areaGroups.map((g) => {
    const check = g.checks.find((c) => c.target.metric === 'download');
    return {
      area: g.group,
      level: g.level ?? 0,
      technology: g.technology,
      agents: g.agents,
      agentsReporting: g.agentsReporting,
      tests: g.download?.tests ?? 0,
      minTests: check?.minTests ?? g.minTests,
      medianMbps: mbps(g.download?.median),
      meanMbps: mbps(g.download?.mean),
      shareAtTarget: share(g.download?.shareAtTarget),
      verdict: check?.verdict ?? g.verdict,
    };
  });

  return {
    computedAt: inputs.computedAt === undefined ? null : new Date(inputs.computedAt).toISOString(),
    window: inputs.window,
    month: inputs.month ?? null,
    windows: [...inputs.windows],
    timeZone: inputs.timeZone,
    precision: { ...OVERVIEW_PRECISION },
    technologies: [...technologies.values()],
    areas,
    slowest,
    sites,
  };
}
