/**
 * The alert conditions, as the shipped Prometheus rules state them
 * (deploy/prometheus/speedwatch.rules.yml), for teams without Prometheus and Alertmanager:
 * which alerts' conditions hold now, with their labels, annotations and `for` durations. Every
 * rule there on the sites and agents is here, the UDP quality ones (SpeedwatchSiteUdp…)
 * included; SpeedwatchCollectorDown is not (a collector cannot alert on its own absence).
 * Pure: the caller passes the agents, what the store and ingest know of them, and `now`;
 * pending and firing are decided by alert-evaluation.ts. The rules are in docs/alerts.md.
 */
import { median } from '@speedwatch/shared';
import type { Technology } from '@speedwatch/shared';
import type { AlertForDurations, FleetHealthThresholds } from '../config/collector-config.js';
import type { LatestUdp } from '../store/latest-udp.js';
import type { AgentHealthRecord, AgentRecord } from '../store/store-types.js';
import type { CollectorTarget } from '../verdict/verdict-config.js';
import type { AgentVerdict, MetricCheck } from '../verdict/verdicts.js';
import { fingerprint } from './alert-fingerprint.js';
import type { Labels } from './alert-fingerprint.js';

/** Alert names, the same as the Prometheus rules', so routing written for one works for the other. */
export const ALERT_NAMES = Object.freeze({
  siteBelowTarget: 'SpeedwatchSiteBelowTarget',
  groupBelowTarget: 'SpeedwatchGroupBelowTarget',
  agentSilent: 'SpeedwatchAgentSilent',
  agentDisconnected: 'SpeedwatchAgentDisconnected',
  collectorRejecting: 'SpeedwatchCollectorRejecting',
  agentDiskLow: 'SpeedwatchAgentDiskLow',
  agentTestsFailing: 'SpeedwatchAgentTestsFailing',
  siteUdpLossHigh: 'SpeedwatchSiteUdpLossHigh',
  siteUdpJitterHigh: 'SpeedwatchSiteUdpJitterHigh',
  siteUdpRoundTripHigh: 'SpeedwatchSiteUdpRoundTripHigh',
} as const satisfies Record<keyof AlertForDurations, string>);

/** An agent is silent after this many schedule intervals without a result. */
export const SILENT_INTERVALS = 3;
/** Refused input (other than bad tokens) above this many messages or results a second, per reason. */
export const REJECTING_PER_SECOND = 0.1;
/** The span the refusal rate is taken over, ms (Prometheus' `rate(…[5m])`). */
export const REJECTING_RATE_WINDOW_MS = 5 * 60_000;
/**
 * The UDP quality rules judge only a figure whose result started less than this long ago, ms
 * (`time() - speedwatch_agent_udp_last_result_timestamp_seconds < 6 * 3600`): the figures hold
 * until the next result with UDP quality, and old ones (a probe turned off, an outbox backlog
 * flushed after an outage) must not alert.
 */
export const UDP_FRESH_MS = 6 * 3_600_000;
/** SpeedwatchSiteUdpLossHigh: over this share of the probe's packets lost in a direction (1 %). */
export const UDP_LOSS_ABOVE_RATIO = 0.01;
/** SpeedwatchSiteUdpJitterHigh: RFC 3550 jitter in a direction over this, seconds (30 ms). */
export const UDP_JITTER_ABOVE_SECONDS = 0.03;
/** SpeedwatchSiteUdpRoundTripHigh: the round trip's 95th percentile over this, seconds (300 ms). */
export const UDP_RTT_P95_ABOVE_SECONDS = 0.3;

export interface AlertRuleOptions {
  forMs: Readonly<AlertForDurations>;
  /** The agents' test interval, ms. */
  scheduleIntervalMs: number;
  /** The verdict window whose `below` is SpeedwatchSiteBelowTarget, e.g. `24h`. */
  verdictWindow: string;
  /** SpeedwatchAgentDiskLow's and SpeedwatchAgentTestsFailing's bars. */
  fleetHealth: Readonly<FleetHealthThresholds>;
  /** A site with a contract is also below target under this share of it (`alerts.belowShareOfContract`). */
  belowShareOfContract?: number;
}

/** What the store knows of an agent's results. */
export interface AgentActivity {
  /** `startedAt` of its latest result (any status), ms; absent before its first result. */
  lastResultAt?: number;
  /** Download of its latest result that has one, Mbps. */
  latestDownloadMbps?: number;
  /** Its newest result with a `udp` section (latest_udp): the UDP quality rules' figures and their start. */
  udp?: LatestUdp;
}

export interface AlertInputs {
  /** Every agent; revoked ones are left out here. */
  agents: readonly AgentRecord[];
  /** Per agent id; an agent missing here has no result. */
  activity: ReadonlyMap<string, AgentActivity>;
  /** Agents with a WebSocket connection now. */
  connected: ReadonlySet<string>;
  /** Each agent's latest health report (absent: it has sent none). */
  health: ReadonlyMap<string, AgentHealthRecord>;
  /**
   * The agent's verdicts as last computed, or undefined when they have not been computed since
   * the agent was added (or since the collector started): its SiteBelowTarget state is then held.
   */
  verdicts: (agentId: string) => readonly AgentVerdict[] | undefined;
  /** The verdict targets: each technology's download target is the group alert's bar. */
  targets: readonly CollectorTarget[];
  /**
   * Refused input per second by reason over the last five minutes; undefined until five
   * minutes of history exist, which holds SpeedwatchCollectorRejecting as it is.
   */
  rejectedPerSecond: ReadonlyMap<string, number> | undefined;
}

/** One target a site missed, as a message for people states it. */
export interface MissedTarget {
  metric: 'download' | 'upload' | 'latency';
  /** The window's median: Mbps, or ms for latency. */
  median: number;
  tests: number;
  /** The target: a floor in Mbps, or a ceiling in ms for latency. */
  target: number;
}

/**
 * What messages for people are written from (alert-text.ts), beside the labels: the figures the
 * annotations state in English, kept as data so that each route's language can state them.
 */
export interface AlertFacts {
  /** The site's name (`agent_id` is its id). */
  siteName?: string;
  /** The verdict window judged, e.g. `24h`. */
  window?: string;
  /** The targets missed over the window. */
  missed?: readonly MissedTarget[];
  /** The latest test's download, Mbps. */
  latestMbps?: number;
  /** A group alert's sites and target, Mbps. */
  sites?: number;
  targetMbps?: number;
  /** The site's latest result's start (silent), ms. */
  lastResultAt?: number;
  /** The condition's figure (AlertCondition.value), when finite. */
  value?: number;
  /** The start of the result whose UDP quality figures the condition is about, ms. */
  udpAt?: number;
}

/** An alert whose condition holds now. */
export interface AlertCondition {
  fingerprint: string;
  labels: Labels;
  annotations: Readonly<Record<string, string>>;
  facts: AlertFacts;
  /**
   * The figure the condition is about, in the unit of the Prometheus rule's `$value`: Mbps, ms,
   * seconds silent, refusals a second, bytes free, failed tests in a row, a UDP loss ratio (0..1),
   * UDP jitter or round trip in seconds, or 0.
   */
  value: number;
  /** How long the condition must hold before the alert fires, ms. */
  forMs: number;
  /** Set on SpeedwatchSiteBelowTarget: the site and the targets it missed, which a confirmation test is judged against. */
  confirm?: { agentId: string; missed: readonly MissedTarget[] };
}

export interface ConditionSet {
  active: AlertCondition[];
  /** Alerts kept as they are, neither advanced nor resolved: what judges them is not known yet. */
  heldFingerprints: ReadonlySet<string>;
  /** Alert names whose every alert is kept as it is. */
  heldAlertnames: ReadonlySet<string>;
}

/**
 * A site judged on enough tests whose median download is under `share` of its contracted speed,
 * as a missed target of `share × contract`; undefined when that does not hold or does not apply.
 */
function belowContract(agent: AgentRecord, verdict: AgentVerdict, share: number | undefined): { missed: MissedTarget; share: number; contractMbps: number } | undefined {
  const download = verdict.download;
  if (share === undefined || agent.contractMbps === undefined || download === undefined || download.tests < verdict.minTests) return undefined;
  const floor = share * agent.contractMbps;
  if (download.median >= floor) return undefined;
  return { missed: { metric: 'download', median: download.median, tests: download.tests, target: floor }, share, contractMbps: agent.contractMbps };
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10} %`;
}

/** The conditions that hold at `now`. */
export function alertConditions(input: AlertInputs, options: AlertRuleOptions, now: number): ConditionSet {
  const active: AlertCondition[] = [];
  const heldFingerprints = new Set<string>();
  const heldAlertnames = new Set<string>();
  const agents = input.agents.filter((agent) => agent.revokedAt === undefined);
  const add = (key: keyof AlertForDurations, labels: Record<string, string>, annotations: Record<string, string>, value: number, facts: AlertFacts = {}): AlertCondition => {
    const all: Labels = { alertname: ALERT_NAMES[key], ...labels };
    const condition: AlertCondition = { fingerprint: fingerprint(all), labels: all, annotations, facts: Number.isFinite(value) ? { ...facts, value } : facts, value, forMs: options.forMs[key] };
    active.push(condition);
    return condition;
  };

  for (const agent of agents) {
    const labels = siteLabels(agent);
    const activity = input.activity.get(agent.id);
    const site = describeSite(agent);
    const siteFacts: AlertFacts = { siteName: agent.name };

    const verdicts = input.verdicts(agent.id);
    const verdict = verdicts?.find((v) => v.window === options.verdictWindow);
    if (verdict === undefined) {
      heldFingerprints.add(fingerprint({ alertname: ALERT_NAMES.siteBelowTarget, ...labels, severity: 'warning' }));
    } else if (verdict.verdict === 'below') {
      const below = verdict.checks.filter((check) => check.verdict === 'below');
      const latest = activity?.latestDownloadMbps;
      const condition = add(
        'siteBelowTarget',
        { ...labels, severity: 'warning' },
        {
          summary: `${agent.name} (${agent.id}) is below its ${agent.technology} broadband target`,
          description:
            `Site ${site}: over the last ${verdict.window}, ${below.map((check) => describeCheck(check, agent.technology)).join('; ')}.` +
            (latest === undefined ? '' : ` Its latest test measured ${mbps(latest)} Mbps.`),
        },
        below[0]?.median ?? 0,
        { ...siteFacts, window: verdict.window, missed: below.map(missedTarget), ...(latest === undefined ? {} : { latestMbps: latest }) },
      );
      condition.confirm = { agentId: agent.id, missed: below.map(missedTarget) };
    } else {
      const contract = belowContract(agent, verdict, options.belowShareOfContract);
      if (contract !== undefined) {
        const condition = add(
          'siteBelowTarget',
          { ...labels, severity: 'warning' },
          {
            summary: `${agent.name} (${agent.id}) is below ${percent(contract.share)} of its contracted ${mbps(contract.contractMbps)} Mbps`,
            description: `Site ${site}: over the last ${verdict.window}, the median download was ${mbps(contract.missed.median)} Mbps over ${contract.missed.tests} tests, under ${mbps(contract.missed.target)} Mbps (${percent(contract.share)} of the ${mbps(contract.contractMbps)} Mbps the site pays for).`,
          },
          contract.missed.median,
          { ...siteFacts, window: verdict.window, missed: [contract.missed] },
        );
        condition.confirm = { agentId: agent.id, missed: [contract.missed] };
      }
    }

    const last = activity?.lastResultAt;
    const silentAfterMs = SILENT_INTERVALS * options.scheduleIntervalMs;
    if (last !== undefined && now - last > silentAfterMs) {
      add(
        'agentSilent',
        { ...labels, severity: 'warning' },
        {
          summary: `${agent.name} (${agent.id}) has sent no result since ${new Date(last).toISOString()}`,
          description:
            `Site ${site} has sent no test result since ${new Date(last).toISOString()}, more than ${SILENT_INTERVALS} schedule intervals of ` +
            `${duration(options.scheduleIntervalMs)}. Check its power, network and \`journalctl -u speedwatch-agent\`.`,
        },
        (now - last) / 1000,
        { ...siteFacts, lastResultAt: last },
      );
    }

    const health = input.health.get(agent.id);
    if (health !== undefined) {
      const { report } = health;
      const reportedAt = new Date(health.receivedAt).toISOString();
      const bar = options.fleetHealth;
      const free = report.diskFreeBytes;
      if (free !== undefined && diskIsLow(health, bar)) {
        add(
          'agentDiskLow',
          { ...labels, severity: 'warning' },
          {
            summary: `${agent.name} (${agent.id}) is short of disk: ${bytes(free)} free`,
            description:
              `Site ${site} had ${bytes(free)} free in the file system of the agent's data directory at its latest health report (${reportedAt}), ` +
              `under ${bytes(bar.diskFreeBelowBytes)}: its outbox and logs need room. Free some space on the box or give it a larger card.`,
          },
          free,
          siteFacts,
        );
      }
      const failed = report.failedTestsInARow ?? 0;
      const lastOk = report.lastOkTestAt === undefined ? undefined : Date.parse(report.lastOkTestAt);
      if (testsAreFailing(health, bar)) {
        const last = report.lastTest;
        const lastWords = last === undefined ? '' : ` Its latest test (${last.finishedAt}) was ${last.status}${last.errorCode === undefined ? '' : ` with ${last.errorCode}`}.`;
        add(
          'agentTestsFailing',
          { ...labels, severity: 'warning' },
          {
            summary: `${agent.name} (${agent.id}) is failing its speed tests`,
            description:
              `Site ${site}, at its latest health report (${reportedAt}): ${plural(failed, 'failed test')} in a row` +
              `${lastOk === undefined ? '' : `, the latest ok test at ${new Date(lastOk).toISOString()}`}; ` +
              `the bars are ${bar.failedTestsInARow} failed tests in a row or no ok test for ${duration(bar.okTestWithinMs)}.${lastWords} ` +
              'See `speedwatch-collector agents list` and `journalctl -u speedwatch-agent` on the box.',
          },
          failed,
          siteFacts,
        );
      }
    }

    const udp = activity?.udp;
    if (udp !== undefined && now - udp.ts < UDP_FRESH_MS) {
      for (const rule of udpRules(udp)) {
        const forText = duration(options.forMs[rule.key]);
        add(
          rule.key,
          { ...labels, ...(rule.direction === undefined ? {} : { direction: rule.direction }), severity: 'warning' },
          rule.annotations(agent, site, new Date(udp.ts).toISOString(), forText),
          rule.value,
          { ...siteFacts, udpAt: udp.ts },
        );
      }
    }

    if (!input.connected.has(agent.id)) {
      add(
        'agentDisconnected',
        { ...labels, severity: 'info' },
        {
          summary: `${agent.name} (${agent.id}) is not connected to the collector`,
          description: `Site ${site} has had no WebSocket connection to the collector for ${duration(options.forMs.agentDisconnected)} or more; its results wait in its outbox.`,
        },
        0,
        siteFacts,
      );
    }
  }

  for (const group of belowTargetGroups(agents, input.activity, input.targets)) {
    add(
      'groupBelowTarget',
      { technology: group.technology, ...(group.area === '' ? {} : { area: group.area }), severity: 'warning' },
      {
        summary: `${group.technology} broadband ${group.area === '' ? 'at sites with no area' : `in ${group.area}`} is below target`,
        description:
          `The median latest download of the ${plural(group.sites, `${group.technology} site`)} ${group.area === '' ? 'with no area' : `in ${group.area}`} is ` +
          `${mbps(group.medianMbps)} Mbps, under the plan's target of ${mbps(group.targetMbps)} Mbps.`,
      },
      group.medianMbps,
      { sites: group.sites, targetMbps: group.targetMbps },
    );
  }

  if (input.rejectedPerSecond === undefined) {
    heldAlertnames.add(ALERT_NAMES.collectorRejecting);
  } else {
    for (const [reason, perSecond] of [...input.rejectedPerSecond].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (reason === 'unauthorized' || !(perSecond > REJECTING_PER_SECOND)) continue;
      add(
        'collectorRejecting',
        { reason, severity: 'warning' },
        {
          summary: `The collector is rejecting input: ${reason}`,
          description: `The collector rejects ${perSecond.toFixed(2)} messages or results a second for reason ${reason} over the last 5 minutes (see docs/protocol.md and its log).`,
        },
        perSecond,
      );
    }
  }
  return { active, heldFingerprints, heldAlertnames };
}

type UdpRuleKey = 'siteUdpLossHigh' | 'siteUdpJitterHigh' | 'siteUdpRoundTripHigh';

interface UdpBreach {
  key: UdpRuleKey;
  /** `up` (to the endpoint's reflector) or `down` (back), as the gauges' label; absent for the round trip. */
  direction?: 'up' | 'down';
  /** A loss ratio (0..1) or seconds, as the gauge states it. */
  value: number;
  annotations(agent: AgentRecord, site: string, measuredAt: string, forText: string): Record<string, string>;
}

/**
 * The UDP quality rules' breaches in one agent's newest figures, whatever their age: the gauges'
 * values (milliseconds divided by 1000, as /metrics does, so that a figure exactly at a bar is
 * judged as Prometheus judges it) over the bars, loss and jitter per direction.
 */
export function udpRules(udp: LatestUdp): UdpBreach[] {
  const f = udp.figures;
  const out: UdpBreach[] = [];
  const directions = [
    ['up', f.forwardLossRatio, f.forwardJitterMs / 1000],
    ['down', f.returnLossRatio, f.returnJitterMs / 1000],
  ] as const;
  for (const [direction, loss] of directions) {
    if (!(loss > UDP_LOSS_ABOVE_RATIO)) continue;
    out.push({
      key: 'siteUdpLossHigh',
      direction,
      value: loss,
      annotations: (agent, site, at, forText) => ({
        summary: `${agent.name} (${agent.id}) loses ${percent(loss)} of its UDP packets going ${direction}`,
        description:
          `Site ${site}: the UDP probe lost ${percent(loss)} of its packets going ${direction} (up: to the endpoint, down: back) in its newest result with UDP quality (${at}), ` +
          `over ${percent(UDP_LOSS_ABOVE_RATIO)} for ${forText}; video calls and online lessons break up past ${percent(UDP_LOSS_ABOVE_RATIO)}.`,
      }),
    });
  }
  for (const [direction, , jitter] of directions) {
    if (!(jitter > UDP_JITTER_ABOVE_SECONDS)) continue;
    out.push({
      key: 'siteUdpJitterHigh',
      direction,
      value: jitter,
      annotations: (agent, site, at, forText) => ({
        summary: `${agent.name} (${agent.id}) has ${ms(jitter)} of UDP jitter going ${direction}`,
        description:
          `Site ${site}: the UDP probe's jitter going ${direction} (up: to the endpoint, down: back) was ${ms(jitter)} in its newest result with UDP quality (${at}), ` +
          `over ${ms(UDP_JITTER_ABOVE_SECONDS)} for ${forText}; calls stutter or lag.`,
      }),
    });
  }
  const p95 = f.rttP95Ms / 1000;
  if (p95 > UDP_RTT_P95_ABOVE_SECONDS) {
    out.push({
      key: 'siteUdpRoundTripHigh',
      value: p95,
      annotations: (agent, site, at, forText) => ({
        summary: `${agent.name} (${agent.id}) has a UDP round trip of ${ms(p95)} (95th percentile)`,
        description:
          `Site ${site}: the 95th percentile of the UDP probe's round trips was ${ms(p95)} in its newest result with UDP quality (${at}), ` +
          `over ${ms(UDP_RTT_P95_ABOVE_SECONDS)} (ITU-T G.114: 150 ms each way) for ${forText}; people in calls talk over each other.`,
      }),
    });
  }
  return out;
}

/** Seconds as milliseconds for people: `45.5 ms`, `300 ms`. */
function ms(seconds: number): string {
  const value = seconds * 1000;
  return `${Number.isInteger(Math.round(value * 10) / 10) ? Math.round(value) : value.toFixed(1)} ms`;
}

/** SpeedwatchAgentDiskLow's condition: the report gives the free space and it is under the bar. */
export function diskIsLow(health: AgentHealthRecord, bar: Readonly<FleetHealthThresholds>): boolean {
  const free = health.report.diskFreeBytes;
  return free !== undefined && free < bar.diskFreeBelowBytes;
}

/**
 * SpeedwatchAgentTestsFailing's condition: as many failed tests in a row as the bar, or the
 * latest ok test older than the bar when the report arrived (not now: an agent that stops
 * reporting keeps its state, and the disconnected and silent rules cover it).
 */
export function testsAreFailing(health: AgentHealthRecord, bar: Readonly<FleetHealthThresholds>): boolean {
  const { report } = health;
  const lastOk = report.lastOkTestAt === undefined ? undefined : Date.parse(report.lastOkTestAt);
  const noOkForMs = lastOk === undefined ? undefined : health.receivedAt - lastOk;
  return (report.failedTestsInARow ?? 0) >= bar.failedTestsInARow || (noOkForMs !== undefined && noOkForMs > bar.okTestWithinMs);
}

interface BelowTargetGroup {
  technology: Technology;
  /** The agents' full area path, `''` for agents without one. */
  area: string;
  sites: number;
  medianMbps: number;
  targetMbps: number;
}

/**
 * Per (technology, area) of unrevoked agents with a latest download: the median of those
 * downloads, when under the technology's download target. As the Prometheus rule, this is the
 * agents' full area (not every level of it) and their latest tests, not the window's tests.
 */
export function belowTargetGroups(
  agents: readonly AgentRecord[],
  activity: ReadonlyMap<string, AgentActivity>,
  targets: readonly CollectorTarget[],
): BelowTargetGroup[] {
  const groups = new Map<string, { technology: Technology; area: string; values: number[] }>();
  for (const agent of agents) {
    const value = activity.get(agent.id)?.latestDownloadMbps;
    if (agent.revokedAt !== undefined || value === undefined) continue;
    const area = agent.area ?? '';
    const key = `${agent.technology}\u0000${area}`;
    const group = groups.get(key) ?? { technology: agent.technology, area, values: [] };
    group.values.push(value);
    groups.set(key, group);
  }
  const out: BelowTargetGroup[] = [];
  for (const key of [...groups.keys()].sort()) {
    const { technology, area, values } = groups.get(key) as { technology: Technology; area: string; values: number[] };
    const target = targets.find((t) => t.technology === technology && t.metric === 'download');
    if (target === undefined || !('minMbps' in target)) continue;
    const medianMbps = median(values); // the same interpolation as Prometheus' quantile(0.5, …)
    if (medianMbps < target.minMbps) out.push({ technology, area, sites: values.length, medianMbps, targetMbps: target.minMbps });
  }
  return out;
}

/** The labels a site's alerts carry, as the per-agent metrics do (empty ones left out, as Prometheus does). */
function siteLabels(agent: AgentRecord): Record<string, string> {
  return {
    agent_id: agent.id,
    site_kind: agent.siteKind,
    technology: agent.technology,
    ...(agent.isp === undefined || agent.isp === '' ? {} : { isp: agent.isp }),
    ...(agent.area === undefined || agent.area === '' ? {} : { area: agent.area }),
  };
}

function describeSite(agent: AgentRecord): string {
  const details = [agent.siteKind, ...(agent.isp === undefined ? [] : [`ISP ${agent.isp}`]), ...(agent.area === undefined ? [] : [`area ${agent.area}`])];
  return `${agent.name} (${agent.id}; ${details.join(', ')})`;
}

function missedTarget(check: MetricCheck): MissedTarget {
  const { target } = check;
  return { metric: target.metric, median: check.median ?? Number.NaN, tests: check.tests, target: 'maxMs' in target ? target.maxMs : target.minMbps };
}

function describeCheck(check: MetricCheck, technology: Technology): string {
  const median = check.median ?? Number.NaN;
  const { target } = check;
  return 'maxMs' in target
    ? `the median latency was ${median.toFixed(1)} ms over ${plural(check.tests, 'test')}, above the ${technology} target of ${target.maxMs} ms`
    : `the median ${target.metric} was ${mbps(median)} Mbps over ${plural(check.tests, 'test')}, under the ${technology} target of ${mbps(target.minMbps)} Mbps`;
}

/** `1 test`, `3 tests`. */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Mbps with one decimal, as the Prometheus rules print them (`printf "%.1f"`). */
function mbps(value: number): string {
  return value.toFixed(1);
}

/** Bytes for people, in powers of 1000 as the config's sizes: `950 kB`, `52.4 MB`, `1.2 GB`. */
function bytes(value: number): string {
  if (value < 1000) return `${value} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let scaled = value / 1000;
  let unit = 0;
  while (scaled >= 1000 && unit < units.length - 1) {
    scaled /= 1000;
    unit++;
  }
  return `${scaled < 10 ? scaled.toFixed(1) : Math.round(scaled)} ${units[unit] as string}`;
}

/** `15 min`, `1 h`, `1 h 30 min`, `45 s`. */
function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  const minutes = Math.round(ms / 60_000);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${minutes} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}
