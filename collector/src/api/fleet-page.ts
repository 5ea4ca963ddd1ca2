/**
 * /api/v1/fleet: the console's fleet page in one answer, built on the serving thread from what
 * it holds in memory (agents, connections, latest results, health reports; no database read):
 * which boxes are silent, disconnected, unhealthy or paused, counts of each, boxes by agent
 * version, and the boxes a filter asks for, worst first, at most `limit` of them, so the page
 * stays one small request with 10 000 boxes. Health problems are judged with the bars of the
 * alert rules (alert-rules.ts), so the page and the alerts agree. Pure: the caller passes what
 * it holds.
 */
import type { FleetHealthThresholds } from '../config/collector-config.js';
import { diskIsLow, testsAreFailing } from '../alerts/alert-rules.js';
import type { AgentHealthRecord, AgentRecord } from '../store/store-types.js';
import { FLEET_PROBLEMS, HEALTH_PROBLEMS } from './fleet-wire.js';
import type { FleetAnswer, FleetBox, FleetCounts, FleetFilter, FleetProblem, FleetRules } from './fleet-wire.js';

/** Silent after this many test intervals without a result… */
export const SILENT_INTERVALS = 2;
/** …and never sooner than an hour: a box testing every 5 minutes is not silent after 10. */
export const SILENT_MIN_MS = 3_600_000;
/**
 * A box's clock off by more than a minute is unhealthy. No alert rule judges skew; NTP keeps a
 * box within milliseconds, so a minute means no time sync, and results dated `maxFutureSkew`
 * (10 min) ahead are refused outright.
 */
export const CLOCK_SKEW_MS = 60_000;
/** Boxes listed when the request does not say. */
export const DEFAULT_FLEET_LIMIT = 500;

export interface FleetInputs {
  now: number;
  timeZone: string;
  /** Every agent, revoked ones included. */
  agents: readonly AgentRecord[];
  connected: ReadonlySet<string>;
  /** Start of the agent's latest result, ms; undefined before its first. */
  lastResultAt: (agentId: string) => number | undefined;
  health: (agentId: string) => AgentHealthRecord | undefined;
  /** The agent's test interval from the fleet settings, ms; undefined when they give none. */
  intervalMs: (agent: AgentRecord) => number | undefined;
  /** `alerts.scheduleInterval`: the interval of boxes the settings give none. */
  defaultIntervalMs: number;
  fleetHealth: Readonly<FleetHealthThresholds>;
  filter: FleetFilter;
  limit: number;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** A box's problems, worst first. */
export function problemsOf(box: { agent: AgentRecord; connected: boolean; lastResultAt: number | undefined; silentAfterMs: number; health: AgentHealthRecord | undefined }, bars: Readonly<FleetHealthThresholds>, now: number): FleetProblem[] {
  const { agent, health } = box;
  const found = new Set<FleetProblem>();
  if (agent.pausedAt !== undefined) found.add('paused');
  else if (now - (box.lastResultAt ?? agent.createdAt) > box.silentAfterMs) found.add('silent');
  if (!box.connected) found.add('disconnected');
  if (health !== undefined) {
    if (testsAreFailing(health, bars)) found.add('tests-failing');
    if (diskIsLow(health, bars)) found.add('disk-low');
    if (Math.abs(health.skewMs) > CLOCK_SKEW_MS) found.add('clock-skew');
  }
  return FLEET_PROBLEMS.filter((p) => found.has(p));
}

/** What is worked out for every box; the answer's full entry is built only for the boxes listed. */
interface Judged {
  agent: AgentRecord;
  connected: boolean;
  lastResultAt: number | undefined;
  health: AgentHealthRecord | undefined;
  intervalMs: number;
  silentAfterMs: number;
  version: string | null;
  problems: FleetProblem[];
  score: number;
}

function matches(filter: FleetFilter, box: Judged): boolean {
  const revoked = box.agent.revokedAt !== undefined;
  if (filter === 'revoked') return revoked;
  if (revoked) return false;
  switch (filter) {
    case 'all':
      return true;
    case 'problems':
      return box.problems.length > 0;
    case 'ok':
      return box.problems.length === 0;
    case 'unhealthy':
      return box.problems.some((p) => HEALTH_PROBLEMS.includes(p));
    default:
      return box.problems.includes(filter);
  }
}

/** Worst first: by the worst problem, then the next…; then the longest without a result; then by id. */
function severity(problems: readonly FleetProblem[]): number {
  let score = 0;
  for (const problem of problems) score += 2 ** (FLEET_PROBLEMS.length - FLEET_PROBLEMS.indexOf(problem));
  return score;
}

function boxOf(j: Judged): FleetBox {
  const { agent, health } = j;
  return {
    id: agent.id,
    name: agent.name,
    siteKind: agent.siteKind,
    technology: agent.technology,
    area: agent.area ?? null,
    isp: agent.isp ?? null,
    version: j.version,
    connected: j.connected,
    lastSeenAt: iso(agent.lastSeenAt),
    lastResultAt: iso(j.lastResultAt),
    intervalMs: j.intervalMs,
    silentAfterMs: j.silentAfterMs,
    pausedAt: iso(agent.pausedAt),
    revokedAt: iso(agent.revokedAt),
    health:
      health === undefined
        ? null
        : {
            reportedAt: new Date(health.receivedAt).toISOString(),
            diskFreeBytes: health.report.diskFreeBytes ?? null,
            failedTestsInARow: health.report.failedTestsInARow ?? null,
            lastOkTestAt: health.report.lastOkTestAt ?? null,
            clockSkewSeconds: health.skewMs / 1000,
            dataUsage: health.report.dataUsage === undefined ? null : { month: health.report.dataUsage.month, usedBytes: health.report.dataUsage.usedBytes, budgetBytes: health.report.dataUsage.budgetBytes ?? null },
          },
    problems: j.problems,
  };
}

export function buildFleet(inputs: FleetInputs): FleetAnswer {
  const { now, fleetHealth } = inputs;
  const rules: FleetRules = {
    silentIntervals: SILENT_INTERVALS,
    silentMinMs: SILENT_MIN_MS,
    defaultIntervalMs: inputs.defaultIntervalMs,
    diskFreeBelowBytes: fleetHealth.diskFreeBelowBytes,
    failedTestsInARow: fleetHealth.failedTestsInARow,
    okTestWithinMs: fleetHealth.okTestWithinMs,
    clockSkewMs: CLOCK_SKEW_MS,
  };
  const counts: FleetCounts = { boxes: 0, ok: 0, connected: 0, silent: 0, disconnected: 0, unhealthy: 0, testsFailing: 0, diskLow: 0, clockSkew: 0, paused: 0, revoked: 0 };
  const versions = new Map<string | null, number>();
  const listed: Judged[] = [];
  for (const agent of inputs.agents) {
    const connected = inputs.connected.has(agent.id);
    const lastResultAt = inputs.lastResultAt(agent.id);
    const health = inputs.health(agent.id);
    const intervalMs = inputs.intervalMs(agent) ?? inputs.defaultIntervalMs;
    const silentAfterMs = Math.max(SILENT_INTERVALS * intervalMs, SILENT_MIN_MS);
    const revoked = agent.revokedAt !== undefined;
    const problems = revoked ? [] : problemsOf({ agent, connected, lastResultAt, silentAfterMs, health }, fleetHealth, now);
    const version = agent.version ?? health?.report.agent.version ?? null;
    if (revoked) {
      counts.revoked += 1;
    } else {
      counts.boxes += 1;
      if (connected) counts.connected += 1;
      if (problems.length === 0) counts.ok += 1;
      if (problems.includes('silent')) counts.silent += 1;
      if (problems.includes('disconnected')) counts.disconnected += 1;
      if (problems.some((p) => HEALTH_PROBLEMS.includes(p))) counts.unhealthy += 1;
      if (problems.includes('tests-failing')) counts.testsFailing += 1;
      if (problems.includes('disk-low')) counts.diskLow += 1;
      if (problems.includes('clock-skew')) counts.clockSkew += 1;
      if (problems.includes('paused')) counts.paused += 1;
      versions.set(version, (versions.get(version) ?? 0) + 1);
    }
    const judged: Judged = { agent, connected, lastResultAt, health, intervalMs, silentAfterMs, version, problems, score: severity(problems) };
    if (matches(inputs.filter, judged)) listed.push(judged);
  }
  const since = (j: Judged): number => j.lastResultAt ?? Number.NEGATIVE_INFINITY;
  listed.sort((a, b) => b.score - a.score || since(a) - since(b) || (a.agent.id < b.agent.id ? -1 : a.agent.id > b.agent.id ? 1 : 0));
  return {
    generatedAt: new Date(now).toISOString(),
    timeZone: inputs.timeZone,
    rules,
    counts,
    versions: [...versions]
      .map(([version, boxes]) => ({ version, boxes }))
      .sort((a, b) => b.boxes - a.boxes || (a.version === null ? 1 : b.version === null ? -1 : a.version.localeCompare(b.version))),
    filter: inputs.filter,
    matched: listed.length,
    limit: inputs.limit,
    boxes: listed.slice(0, inputs.limit).map(boxOf),
  };
}
