/**
 * Verdicts: does an agent, or a group of agents, meet its technology's targets over a window?
 * Pure: the caller passes the agents, the samples (covering at least the longest window; sample
 * objects, or columns as the verdict service keeps them) and `now`; nothing here reads a clock
 * or a database. The rules are in docs/verdicts.md.
 */
import { TECHNOLOGIES, ValidationError, areaLevels } from '@speedwatch/shared';
import type { Target, Technology } from '@speedwatch/shared';
import type { AgentRecord, VerdictSample } from '../store/store-types.js';
import { checkTargets, throughputScale } from './verdict-config.js';
import type { AreaLevel, CollectorTarget, LatencyTarget, VerdictConfig, VerdictWindow } from './verdict-config.js';
import { fillBuckets, summarise } from './window-buckets.js';
import type { SampleColumns } from './sample-columns.js';
import { sampleColumns, withoutBusy } from './sample-columns.js';
import { representativeSamples } from './representative-samples.js';
import type { MetricField, WindowBuckets } from './window-buckets.js';

/**
 * - `meets`: every target configured for the technology is met by the median of its tests.
 * - `below`: at least one target, judged on enough tests, is missed.
 * - `insufficient-data`: nothing is missed, but some target has fewer tests than the minimum.
 * - `no-data`: no test in the window carries any metric a target is set for.
 */
export type Verdict = 'meets' | 'below' | 'insufficient-data' | 'no-data';

export type GroupBy = 'technology' | 'siteKind' | 'isp' | 'area' | 'all';

export const GROUP_BY = ['technology', 'siteKind', 'isp', 'area', 'all'] as const satisfies readonly GroupBy[];

/** The group of agents with no `isp` (with `groupBy: 'isp'`) or no `area` (with `groupBy: 'area'`). */
export const NO_GROUP = '(none)';

/** Figures for one metric over the tests of a window that carry it (Mbps on the config's basis, or ms for latency). */
export interface Figures {
  /** Tests (`ok` or `partial`) that carry this metric. */
  tests: number;
  median: number;
  mean: number;
  /**
   * Fraction (0..1) of these tests at the target or better: `>= minMbps`, or `<= maxMs` for
   * latency. Absent when no target is set for this metric and technology.
   */
  shareAtTarget?: number;
}

/** One target judged on its own. */
export interface MetricCheck {
  target: CollectorTarget;
  /** Tests that carry the target's metric. */
  tests: number;
  /** The fewest tests this check needs. */
  minTests: number;
  /** The median compared with the target; absent with no tests. */
  median?: number;
  /** `meets` when the median is at or above `minMbps` (at or below `maxMs`); exactly at target meets. */
  verdict: Verdict;
}

/** What agent and group verdicts share. */
export interface WindowVerdict {
  /** The window's name, e.g. `24h`. */
  window: string;
  technology: Technology;
  /** `ok` and `partial` results in the window. */
  tests: number;
  /** `failed` results in the window: counted here, never in the figures. */
  failedTests: number;
  /** The fewest tests a check needs for this agent or group. */
  minTests: number;
  download?: Figures;
  upload?: Figures;
  latency?: Figures;
  /** The technology's download target: the headline one. */
  target: Target;
  /** One per target configured for the technology: download, then upload, then latency. */
  checks: MetricCheck[];
  /** Combined from `checks`: `below` if any is below, else `insufficient-data` if any lacks tests, else `meets`; `no-data` if none has a test. */
  verdict: Verdict;
}

export interface AgentVerdict extends WindowVerdict {
  agentId: string;
}

export interface GroupVerdict extends WindowVerdict {
  groupBy: GroupBy;
  /** The technology, site kind, ISP, area path (any level, e.g. "Lạng Sơn/Cao Lộc"), `all`, or `(none)`. */
  group: string;
  /** For area groups: the number of path segments (1 province … 4). */
  level?: AreaLevel;
  /** Unrevoked agents of this technology in the group. */
  agents: number;
  /** Of those, agents with at least one result (any status) in the window. */
  agentsReporting: number;
}

interface TechnologyTargets {
  download: Target;
  upload?: Target;
  latency?: LatencyTarget;
}

interface Row {
  technology: Technology;
  minTests: number;
}

/**
 * Per unrevoked agent and window (all of `config.windows`, or only the one named `window`),
 * judged on the agent's own tests with `minTests.agent`. Rows are ordered by window (config
 * order), then by agent (input order). A window counts samples with `now - ms <= ts < now`.
 * Throws ValidationError (`SW_VALIDATION`) for an unknown `window` name or unusable targets.
 */
export function agentVerdicts(
  agents: readonly AgentRecord[],
  source: readonly VerdictSample[] | SampleColumns,
  now: number,
  config: VerdictConfig,
  window?: string,
): AgentVerdict[] {
  return agentVerdictsOver(agents, source, rangesOf(selectWindows(config, window), now), config);
}

/**
 * A named span of time a verdict is judged over: `from <= ts < to`. A rolling window is
 * `{ from: now - ms, to: now }`; a report's is a calendar month or any dates.
 */
export interface VerdictRange {
  name: string;
  from: number;
  to: number;
}

/** As agentVerdicts, over explicit ranges (in the order given) instead of the configured windows. */
export function agentVerdictsOver(
  agents: readonly AgentRecord[],
  source: readonly VerdictSample[] | SampleColumns,
  ranges: readonly VerdictRange[],
  config: VerdictConfig,
): AgentVerdict[] {
  const targets = targetsByTechnology(config.targets);
  const active = agents.filter((agent) => agent.revokedAt === undefined);
  const samples = samplesFor(columnsOf(source), config, agents);
  const rows: Row[] = active.map((agent) => ({ technology: agent.technology, minTests: config.minTests.agent }));
  const rowsOfAgent = rowsOfSampleAgents(samples, active, (index) => [index]);
  const out: AgentVerdict[] = [];
  for (const { name, from, to } of ranges) {
    const buckets = fillBuckets({ samples, rowsOfAgent, rowCount: rows.length, from, to, throughputScale: throughputScale(config) });
    active.forEach((agent, index) => {
      out.push({ agentId: agent.id, ...judge(buckets, index, rows[index] as Row, name, targets) });
    });
  }
  return out;
}

/**
 * Per group and technology, and per window: figures over the individual tests of the group's
 * unrevoked agents of that technology (not over per-agent medians), judged with
 * `minTests.area[level]` for area groups when set, else `minTests.group`. A group mixing
 * technologies gives one row per technology, each judged on its own target.
 * With `groupBy: 'area'` an agent counts in every level of its area path; agents with no
 * area (or, for `isp`, no ISP) form the group `(none)`. Every (group, technology) with an
 * agent gets a row, `no-data` if none of its agents reported. Rows are ordered by window
 * (config order), then group (code-unit order, so a province precedes its districts), then
 * technology (`fixed`, `mobile`).
 */
export function groupVerdicts(
  agents: readonly AgentRecord[],
  source: readonly VerdictSample[] | SampleColumns,
  now: number,
  config: VerdictConfig,
  groupBy: GroupBy,
  window?: string,
): GroupVerdict[] {
  return groupVerdictsOver(agents, source, rangesOf(selectWindows(config, window), now), config, groupBy);
}

/** As groupVerdicts, over explicit ranges (in the order given) instead of the configured windows. */
export function groupVerdictsOver(
  agents: readonly AgentRecord[],
  source: readonly VerdictSample[] | SampleColumns,
  ranges: readonly VerdictRange[],
  config: VerdictConfig,
  groupBy: GroupBy,
): GroupVerdict[] {
  const targets = targetsByTechnology(config.targets);
  const active = agents.filter((agent) => agent.revokedAt === undefined);
  const samples = samplesFor(columnsOf(source), config, agents);

  interface GroupRow extends Row {
    key: string;
    group: string;
    level?: AreaLevel;
    agents: number;
  }
  const byKey = new Map<string, GroupRow>();
  const keysOfAgent = active.map((agent) =>
    groupsOf(agent, groupBy).map(({ group, level }) => {
      const key = `${group}\u0000${TECHNOLOGIES.indexOf(agent.technology)}`;
      let row = byKey.get(key);
      if (row === undefined) {
        const areaMin = level === undefined ? undefined : config.minTests.area?.[level];
        row = { key, group, technology: agent.technology, minTests: areaMin ?? config.minTests.group, agents: 0 };
        if (level !== undefined) row.level = level;
        byKey.set(key, row);
      }
      row.agents++;
      return key;
    }),
  );
  const rows = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const indexOfKey = new Map(rows.map((row, index) => [row.key, index]));
  const rowsOfAgent = rowsOfSampleAgents(samples, active, (index) => (keysOfAgent[index] as string[]).map((key) => indexOfKey.get(key) as number));

  const out: GroupVerdict[] = [];
  for (const { name, from, to } of ranges) {
    const buckets = fillBuckets({ samples, rowsOfAgent, rowCount: rows.length, from, to, throughputScale: throughputScale(config) });
    rows.forEach((row, index) => {
      const verdict: GroupVerdict = {
        groupBy,
        group: row.group,
        agents: row.agents,
        agentsReporting: buckets.agentsReporting[index] as number,
        ...judge(buckets, index, row, name, targets),
      };
      if (row.level !== undefined) verdict.level = row.level;
      out.push(verdict);
    });
  }
  return out;
}

function groupsOf(agent: AgentRecord, groupBy: GroupBy): { group: string; level?: AreaLevel }[] {
  switch (groupBy) {
    case 'technology':
      return [{ group: agent.technology }];
    case 'siteKind':
      return [{ group: agent.siteKind }];
    case 'isp':
      return [{ group: agent.isp ?? NO_GROUP }];
    case 'area':
      if (agent.area === undefined) return [{ group: NO_GROUP }];
      // Site metadata allows 1 to 4 levels; a longer path is judged with `minTests.group` below level 4.
      return areaLevels(agent.area).map((group, i) => (i < 4 ? { group, level: (i + 1) as AreaLevel } : { group }));
    case 'all':
      return [{ group: 'all' }];
  }
}

function selectWindows(config: VerdictConfig, name: string | undefined): readonly VerdictWindow[] {
  if (name === undefined) return config.windows;
  const found = config.windows.filter((window) => window.name === name);
  if (found.length === 0) {
    throw new ValidationError('window', `one of ${config.windows.map((w) => JSON.stringify(w.name)).join(', ')}, got ${JSON.stringify(name)}`);
  }
  return found;
}

function rangesOf(windows: readonly VerdictWindow[], now: number): VerdictRange[] {
  return windows.map(({ name, ms }) => ({ name, from: now - ms, to: now }));
}

function targetsByTechnology(targets: readonly CollectorTarget[]): Map<Technology, TechnologyTargets> {
  checkTargets(targets, 'targets');
  const out = new Map<Technology, TechnologyTargets>();
  for (const technology of TECHNOLOGIES) {
    const mine = targets.filter((target) => target.technology === technology);
    const entry: TechnologyTargets = { download: mine.find((t): t is Target => t.metric === 'download') as Target };
    const upload = mine.find((t): t is Target => t.metric === 'upload');
    const latency = mine.find((t): t is LatencyTarget => t.metric === 'latency');
    if (upload !== undefined) entry.upload = upload;
    if (latency !== undefined) entry.latency = latency;
    out.set(technology, entry);
  }
  return out;
}

/**
 * The samples the config's rule judges: every test, or representative samples
 * (representative-samples.ts); without the tests that ran on a busy line unless the config keeps them.
 */
function samplesFor(all: SampleColumns, config: VerdictConfig, agents: readonly AgentRecord[]): SampleColumns {
  const columns = config.excludeCrossTraffic === false ? all : withoutBusy(all);
  const rule = config.samples;
  if (rule === undefined || rule.mode === 'tests') return columns;
  const contracts = new Map(agents.map((agent) => [agent.id, agent.contractMbps]));
  return representativeSamples(columns, rule, (id) => contracts.get(id), throughputScale(config));
}

function columnsOf(source: readonly VerdictSample[] | SampleColumns): SampleColumns {
  return Array.isArray(source) ? sampleColumns(source as readonly VerdictSample[]) : (source as SampleColumns);
}

/** Per agent of `samples.agentIds`, the rows of the `active` agent with that id (by its index); none for an agent not there (unknown or revoked). */
function rowsOfSampleAgents(samples: SampleColumns, active: readonly AgentRecord[], rowsOf: (activeIndex: number) => number[]): number[][] {
  const indexOf = new Map(active.map((agent, index) => [agent.id, index]));
  return samples.agentIds.map((id) => {
    const index = indexOf.get(id);
    return index === undefined ? [] : rowsOf(index);
  });
}

function judge(buckets: WindowBuckets, row: number, meta: Row, window: string, targets: Map<Technology, TechnologyTargets>): WindowVerdict {
  const mine = targets.get(meta.technology) as TechnologyTargets;
  const checks: MetricCheck[] = [];
  const result: WindowVerdict = {
    window,
    technology: meta.technology,
    tests: buckets.tests[row] as number,
    failedTests: buckets.failedTests[row] as number,
    minTests: meta.minTests,
    target: mine.download,
    checks,
    verdict: 'no-data',
  };
  const metrics: [keyof TechnologyTargets, MetricField][] = [
    ['download', 'downloadMbps'],
    ['upload', 'uploadMbps'],
    ['latency', 'latencyMs'],
  ];
  for (const [metric, field] of metrics) {
    const target = mine[metric];
    const offsets = buckets.offsets[field];
    const values = buckets.values[field].subarray(offsets[row], offsets[row + 1]);
    const threshold =
      target === undefined ? undefined : 'maxMs' in target ? { bound: 'max' as const, value: target.maxMs } : { bound: 'min' as const, value: target.minMbps };
    let figures: Figures | undefined;
    if (values.length > 0) {
      const summary = summarise(values, threshold);
      figures = { tests: summary.tests, median: summary.median, mean: summary.mean };
      if (summary.atTarget !== undefined) figures.shareAtTarget = summary.atTarget / summary.tests;
      result[metric] = figures;
    }
    if (target === undefined || threshold === undefined) continue;
    const check: MetricCheck = { target, tests: values.length, minTests: meta.minTests, verdict: 'no-data' };
    if (figures !== undefined) {
      check.median = figures.median;
      const met = threshold.bound === 'min' ? figures.median >= threshold.value : figures.median <= threshold.value;
      check.verdict = figures.tests < meta.minTests ? 'insufficient-data' : met ? 'meets' : 'below';
    }
    checks.push(check);
  }
  result.verdict = combine(checks);
  return result;
}

function combine(checks: readonly MetricCheck[]): Verdict {
  if (checks.every((check) => check.verdict === 'no-data')) return 'no-data';
  if (checks.some((check) => check.verdict === 'below')) return 'below';
  if (checks.some((check) => check.verdict !== 'meets')) return 'insufficient-data';
  return 'meets';
}
