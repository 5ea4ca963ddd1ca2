/**
 * Verdicts crossing from the maintenance thread to the serving thread as text: the differ sends
 * every agent at first, then only agents whose verdicts changed, and names those gone; the
 * service on the other side serves exactly the verdicts computed, for agents and for groups,
 * and mirrors each agent's verdict per window into metrics.
 */
import { describe, expect, it } from 'vitest';
import { CollectorMetrics } from '../src/metrics/collector-metrics.js';
import { VerdictDiffer } from '../src/server/verdict-snapshot.js';
import type { VerdictSet } from '../src/server/verdict-snapshot.js';
import { VerdictService } from '../src/server/verdict-service.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../src/verdict/verdicts.js';

const WINDOWS = DEFAULT_VERDICT_CONFIG.windows.map((w) => w.name);

/** A verdict with the fields the differ and service look at; the rest is carried as is. */
function agentVerdict(agentId: string, window: string, verdict: AgentVerdict['verdict'], median = 100): AgentVerdict {
  return { agentId, window, verdict, technology: 'fixed', tests: 12, failedTests: 0, minTests: 10, download: { tests: 12, median, mean: median } } as unknown as AgentVerdict;
}

function groupVerdict(groupBy: GroupBy, group: string, window: string, verdict: GroupVerdict['verdict']): GroupVerdict {
  return { groupBy, group, window, verdict, technology: 'fixed', tests: 40, failedTests: 1, minTests: 30, agents: 2, agentsReporting: 2, checks: [] } as unknown as GroupVerdict;
}

function set(computedAt: number, agents: AgentVerdict[], groups: GroupVerdict[]): VerdictSet {
  const by = new Map<GroupBy, GroupVerdict[]>();
  for (const g of groups) by.set(g.groupBy, [...(by.get(g.groupBy) ?? []), g]);
  return { computedAt, agents, groups: [...by] };
}

function metricsWith(...ids: string[]): CollectorMetrics {
  const metrics = new CollectorMetrics({ databaseSizeBytes: () => 0 });
  for (const id of ids) metrics.setAgent({ id, name: id, siteKind: 'school', technology: 'fixed', createdAt: 0 }, undefined, false);
  return metrics;
}

async function verdictLines(metrics: CollectorMetrics): Promise<string[]> {
  return Buffer.concat(await metrics.render())
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('speedwatch_agent_verdict{'));
}

describe('VerdictDiffer and VerdictService', () => {
  it('sends every agent at first, then only the changed ones and those gone, and serves what was computed', async () => {
    const differ = new VerdictDiffer(WINDOWS);
    const service = new VerdictService(DEFAULT_VERDICT_CONFIG);
    const metrics = metricsWith('a', 'b', 'c');
    const a = WINDOWS.map((w) => agentVerdict('a', w, 'meets'));
    const b = WINDOWS.map((w) => agentVerdict('b', w, 'below', 40));
    const c = WINDOWS.map((w) => agentVerdict('c', w, 'insufficient-data'));
    const groups = [groupVerdict('all', 'all', '24h', 'meets'), groupVerdict('all', 'all', '7d', 'below'), groupVerdict('isp', 'VNPT', '24h', 'meets')];

    const first = differ.snapshot(set(1_000, [...a, ...b, ...c], groups));
    expect(first.full).toBe(true);
    expect(first.agents.map((x) => x.agentId)).toEqual(['a', 'b', 'c']);
    service.apply(first, metrics);
    expect(service.forAgent('b')).toEqual(b);
    expect(service.forAgent('nobody')).toBeUndefined();
    expect(await verdictLines(metrics)).toContain('speedwatch_agent_verdict{agent_id="b",window="24h",verdict="below"} 1');

    // b's 24h median moves, c is revoked, a is unchanged.
    const b2 = [agentVerdict('b', '24h', 'meets', 110), ...b.slice(1)];
    const second = differ.snapshot(set(2_000, [...a, ...b2], groups));
    expect(second.full).toBe(false);
    expect(second.agents.map((x) => x.agentId)).toEqual(['b']);
    expect(second.removed).toEqual(['c']);
    service.apply(second, metrics);
    expect(service.forAgent('a')).toEqual(a);
    expect(service.forAgent('b')).toEqual(b2);
    expect(service.forAgent('c')).toBeUndefined();
    const lines = await verdictLines(metrics);
    expect(lines).toContain('speedwatch_agent_verdict{agent_id="b",window="24h",verdict="meets"} 1');
    expect(lines.filter((l) => l.includes('agent_id="c"'))).toEqual([]);
    expect(service.computedAt).toBe(2_000);

    // Nothing changed: nothing sent for agents.
    expect(differ.snapshot(set(3_000, [...a, ...b2], groups)).agents).toEqual([]);
  });

  it('answers compliance for one window or all, in window order, as the JSON of the groups computed', () => {
    const differ = new VerdictDiffer(WINDOWS);
    const service = new VerdictService(DEFAULT_VERDICT_CONFIG);
    const groups = [groupVerdict('all', 'all', '24h', 'meets'), groupVerdict('all', 'all', '7d', 'below'), groupVerdict('isp', 'VNPT', '24h', 'meets'), groupVerdict('isp', 'Viettel', '24h', 'below')];
    expect(service.compliance(undefined, undefined)).toEqual({ computedAt: null, basis: 'payload', groupBy: 'all', window: null, groupsJson: '[]' });
    expect(new VerdictService({ ...DEFAULT_VERDICT_CONFIG, basis: 'librespeed' }).compliance(undefined, undefined).basis).toBe('librespeed');
    service.apply(differ.snapshot(set(Date.UTC(2026, 10, 30), [], groups)), metricsWith());
    const all = service.compliance(undefined, 'all');
    expect(all.computedAt).toBe('2026-11-30T00:00:00.000Z');
    expect(JSON.parse(all.groupsJson)).toEqual([groups[0], groups[1]]);
    expect(JSON.parse(service.compliance('7d', undefined).groupsJson)).toEqual([groups[1]]);
    expect(JSON.parse(service.compliance('24h', 'isp').groupsJson)).toEqual([groups[2], groups[3]]);
    expect(JSON.parse(service.compliance('30d', 'isp').groupsJson)).toEqual([]);
  });

  it('sends group figures rounded for the API, and agents\' figures as computed (the alerts read them)', () => {
    const ugly = 30.003500000000003;
    const group: GroupVerdict = {
      ...groupVerdict('all', 'all', '24h', 'below'),
      download: { tests: 40, median: ugly, mean: 31.00049, shareAtTarget: 1 / 3 },
      latency: { tests: 40, median: 12.34567, mean: 12.9 },
      checks: [{ target: { technology: 'fixed', metric: 'download', minMbps: 102 }, tests: 40, minTests: 30, median: ugly, verdict: 'below' }],
    };
    const snapshot = new VerdictDiffer(WINDOWS).snapshot(set(1, [agentVerdict('a', '24h', 'below', ugly)], [group]));
    expect((JSON.parse(snapshot.agents[0]?.json ?? '[]') as AgentVerdict[])[0]?.download?.median).toBe(ugly);
    const [sent] = JSON.parse(snapshot.groups.find((g) => g.groupBy === 'all' && g.window === '24h')?.json ?? '[]') as GroupVerdict[];
    expect(sent?.download).toEqual({ tests: 40, median: 30.004, mean: 31, shareAtTarget: 0.3333 });
    expect(sent?.latency).toEqual({ tests: 40, median: 12.346, mean: 12.9 });
    expect(sent?.checks[0]?.median).toBe(30.004);
  });

  it('replaces everything on a full snapshot from a restarted maintenance thread', () => {
    const service = new VerdictService(DEFAULT_VERDICT_CONFIG);
    const metrics = metricsWith('a', 'b');
    service.apply(new VerdictDiffer(WINDOWS).snapshot(set(1, [agentVerdict('a', '24h', 'meets'), agentVerdict('b', '24h', 'meets')], [])), metrics);
    // A new thread knows nothing of what it sent before: its first snapshot is full.
    service.apply(new VerdictDiffer(WINDOWS).snapshot(set(2, [agentVerdict('a', '24h', 'below')], [])), metrics);
    expect(service.forAgent('a')?.map((v) => v.verdict)).toEqual(['below']);
    expect(service.forAgent('b')).toBeUndefined();
  });
});
