/**
 * The collector's own alerts as pure functions, on a fake clock: which conditions hold
 * (alert-rules.ts), pending and firing (alert-evaluation.ts), who must hear what
 * (notification-plan.ts), the fingerprint, the backoff and the refusal rate.
 */
import { describe, expect, it } from 'vitest';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { fingerprint } from '../src/alerts/alert-fingerprint.js';
import { evaluateAlerts } from '../src/alerts/alert-evaluation.js';
import type { AlertRecord } from '../src/alerts/alert-evaluation.js';
import { ALERT_NAMES, alertConditions, udpRules } from '../src/alerts/alert-rules.js';
import type { AgentActivity, AlertInputs, ConditionSet } from '../src/alerts/alert-rules.js';
import { planNotifications } from '../src/alerts/notification-plan.js';
import type { NotificationState } from '../src/alerts/notification-plan.js';
import { RejectionRate } from '../src/alerts/rejection-rate.js';
import { backoffDelayMs } from '../src/alerts/retry-backoff.js';
import { ZERO_TIME, webhookMessage } from '../src/alerts/webhook-payload.js';
import type { LatestUdp } from '../src/store/latest-udp.js';
import type { AgentHealthRecord, AgentRecord, HealthReport, VerdictSample } from '../src/store/store-types.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import { agentVerdicts } from '../src/verdict/verdicts.js';
import type { AgentVerdict } from '../src/verdict/verdicts.js';

const T0 = Date.UTC(2026, 10, 25, 8);
const MIN = 60_000;
const HOUR = 60 * MIN;
const OPTIONS = {
  forMs: COLLECTOR_DEFAULTS.alerts.forMs,
  scheduleIntervalMs: 15 * MIN,
  verdictWindow: '24h',
  fleetHealth: COLLECTOR_DEFAULTS.alerts.fleetHealth,
};

function agent(id: string, fields: Partial<AgentRecord> = {}): AgentRecord {
  return { id, name: `Trường ${id}`, siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', createdAt: 0, ...fields };
}

/** Real verdicts (agentVerdicts, 3 tests needed) from download tests an hour apart before `now`. */
function verdictsOf(agents: readonly AgentRecord[], downloads: Record<string, number[]>, now: number): Map<string, AgentVerdict[]> {
  const samples: VerdictSample[] = Object.entries(downloads).flatMap(([agentId, values]) =>
    values.map((downloadMbps, i) => ({ agentId, ts: now - (i + 1) * HOUR, status: 'ok' as const, downloadMbps })),
  );
  const config = { ...DEFAULT_VERDICT_CONFIG, minTests: { agent: 3, group: 3 } };
  const out = new Map<string, AgentVerdict[]>();
  for (const row of agentVerdicts(agents, samples, now, config)) out.set(row.agentId, [...(out.get(row.agentId) ?? []), row]);
  return out;
}

/** Inputs where nothing is wrong: every agent connected, reporting, judged `meets`, no refusals. */
function inputs(agents: readonly AgentRecord[], now: number, overrides: Partial<AlertInputs> = {}): AlertInputs {
  const verdicts = verdictsOf(agents, Object.fromEntries(agents.map((a) => [a.id, a.technology === 'fixed' ? [110, 120, 130] : [50, 60, 70]])), now);
  return {
    agents,
    activity: new Map(agents.map((a) => [a.id, { lastResultAt: now - 5 * MIN, latestDownloadMbps: a.technology === 'fixed' ? 120 : 60 }])),
    connected: new Set(agents.map((a) => a.id)),
    health: new Map(),
    verdicts: (id) => verdicts.get(id),
    targets: DEFAULT_VERDICT_CONFIG.targets,
    rejectedPerSecond: new Map(),
    ...overrides,
  };
}

function names(set: ConditionSet): string[] {
  return set.active.map((c) => c.labels['alertname'] ?? '');
}

describe('alert fingerprints', () => {
  it.each([
    [{}, 'cbf29ce484222325'],
    // The vector of prometheus/common's TestLabelsToSignature (5799056148416392346 in hex).
    [{ name: 'garland, briggs', fear: 'love is not enough' }, '507a62d79ee76c9a'],
  ])('hashes %j as Alertmanager does: %s', (labels, expected) => {
    expect(fingerprint(labels)).toBe(expected);
  });

  it('agrees with a plain BigInt FNV-1a 64 on labels with non-ASCII values', () => {
    const reference = (labels: Record<string, string>): string => {
      let hash = 14695981039346656037n;
      const add = (byte: number): void => {
        hash = ((hash ^ BigInt(byte)) * 1099511628211n) & ((1n << 64n) - 1n);
      };
      for (const name of Object.keys(labels).sort()) {
        for (const byte of Buffer.from(`${name}\u0000${labels[name]}\u0000`, 'utf8')) add(byte === 0 ? 0xff : byte);
      }
      return hash.toString(16).padStart(16, '0');
    };
    const labels = { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'lso-caoloc-thcs-hopthanh', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT' };
    expect(fingerprint(labels)).toBe(reference(labels));
  });

  it('does not depend on the order labels were written in', () => {
    expect(fingerprint({ a: '1', b: '2' })).toBe(fingerprint({ b: '2', a: '1' }));
    expect(fingerprint({ a: '1', b: '2' })).not.toBe(fingerprint({ a: '2', b: '1' }));
  });
});

describe('alertConditions', () => {
  describe('SpeedwatchSiteBelowTarget', () => {
    it("holds when the agent's 24 h verdict is below, naming the site and its figures in Mbps", () => {
      const school = agent('hopthanh');
      const verdicts = verdictsOf([school], { hopthanh: [60, 95, 40] }, T0); // median 60 < 102
      const set = alertConditions(inputs([school], T0, { verdicts: (id) => verdicts.get(id) }), OPTIONS, T0);
      expect(names(set)).toEqual([ALERT_NAMES.siteBelowTarget]);
      const [alert] = set.active;
      expect(alert?.labels).toEqual({
        alertname: 'SpeedwatchSiteBelowTarget',
        agent_id: 'hopthanh',
        site_kind: 'school',
        technology: 'fixed',
        isp: 'VNPT',
        area: 'Lạng Sơn/Cao Lộc/Hợp Thành',
        severity: 'warning',
      });
      expect(alert?.annotations['summary']).toBe('Trường hopthanh (hopthanh) is below its fixed broadband target');
      expect(alert?.annotations['description']).toBe(
        'Site Trường hopthanh (hopthanh; school, ISP VNPT, area Lạng Sơn/Cao Lộc/Hợp Thành): over the last 24h, the median download was ' +
          '60.0 Mbps over 3 tests, under the fixed target of 102.0 Mbps. Its latest test measured 120.0 Mbps.',
      );
      expect(alert?.value).toBe(60);
      expect(alert?.forMs).toBe(HOUR);
    });

    it.each([
      ['meets', [100, 102, 140]],
      ['has too few tests for a verdict', [10, 20]],
      ['has no test', []],
    ])('does not hold when the site %s', (_case, downloads) => {
      const school = agent('a');
      const verdicts = verdictsOf([school], { a: downloads }, T0);
      expect(names(alertConditions(inputs([school], T0, { verdicts: (id) => verdicts.get(id) }), OPTIONS, T0))).toEqual([]);
    });

    it('holds under a share of the contracted speed when alerts.belowShareOfContract is set, though the plan target is met', () => {
      const school = agent('paid', { contractMbps: 300 });
      const verdicts = verdictsOf([school], { paid: [150, 200, 260] }, T0); // median 200 ≥ 102, < 0.8 × 300 = 240
      const options = { ...OPTIONS, belowShareOfContract: 0.8 };
      const set = alertConditions(inputs([school], T0, { verdicts: (id) => verdicts.get(id) }), options, T0);
      expect(names(set)).toEqual([ALERT_NAMES.siteBelowTarget]);
      const [alert] = set.active;
      expect(alert?.annotations['summary']).toBe('Trường paid (paid) is below 80 % of its contracted 300.0 Mbps');
      expect(alert?.value).toBe(200);
      expect(alert?.facts.missed).toEqual([{ metric: 'download', median: 200, tests: 3, target: 240 }]);
      expect(alert?.confirm).toEqual({ agentId: 'paid', missed: [{ metric: 'download', median: 200, tests: 3, target: 240 }] });
      // Not without the setting, not for a site without a contract, not at or above the share, not on too few tests.
      expect(names(alertConditions(inputs([school], T0, { verdicts: (id) => verdicts.get(id) }), OPTIONS, T0))).toEqual([]);
      const plain = agent('plain');
      const plainVerdicts = verdictsOf([plain], { plain: [150, 200, 260] }, T0);
      expect(names(alertConditions(inputs([plain], T0, { verdicts: (id) => plainVerdicts.get(id) }), options, T0))).toEqual([]);
      const fine = verdictsOf([school], { paid: [240, 250, 260] }, T0);
      expect(names(alertConditions(inputs([school], T0, { verdicts: (id) => fine.get(id) }), options, T0))).toEqual([]);
      const few = verdictsOf([school], { paid: [150, 160] }, T0);
      expect(names(alertConditions(inputs([school], T0, { verdicts: (id) => few.get(id) }), options, T0))).toEqual([]);
    });

    it('is held, neither holding nor not, while the verdicts are not computed yet', () => {
      const school = agent('a');
      const set = alertConditions(inputs([school], T0, { verdicts: () => undefined }), OPTIONS, T0);
      expect(set.active).toEqual([]);
      const labels = { alertname: ALERT_NAMES.siteBelowTarget, agent_id: 'a', site_kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', severity: 'warning' };
      expect([...set.heldFingerprints]).toEqual([fingerprint(labels)]);
    });
  });

  describe('SpeedwatchAgentSilent', () => {
    // Three 15-minute intervals: 45 minutes without a result is still fine, a moment more is not.
    it.each([
      [45 * MIN, false],
      [45 * MIN + 1, true],
      [3 * HOUR, true],
    ])('after %d ms without a result: %s', (silentMs, holds) => {
      const school = agent('a');
      const activity = new Map<string, AgentActivity>([['a', { lastResultAt: T0 - silentMs, latestDownloadMbps: 120 }]]);
      const set = alertConditions(inputs([school], T0, { activity }), OPTIONS, T0);
      expect(names(set)).toEqual(holds ? [ALERT_NAMES.agentSilent] : []);
      if (holds) {
        expect(set.active[0]?.annotations['summary']).toBe(`Trường a (a) has sent no result since ${new Date(T0 - silentMs).toISOString()}`);
        expect(set.active[0]?.annotations['description']).toContain('more than 3 schedule intervals of 15 min');
        expect(set.active[0]?.value).toBe(silentMs / 1000);
      }
    });

    it('follows the configured schedule interval', () => {
      const activity = new Map<string, AgentActivity>([['a', { lastResultAt: T0 - 2 * HOUR }]]);
      expect(names(alertConditions(inputs([agent('a')], T0, { activity }), { ...OPTIONS, scheduleIntervalMs: HOUR }, T0))).toEqual([]);
    });

    it('does not hold for an agent that has never sent a result (as the Prometheus rule, which has no series for it)', () => {
      expect(names(alertConditions(inputs([agent('a')], T0, { activity: new Map() }), OPTIONS, T0))).toEqual([]);
    });
  });

  describe('SpeedwatchAgentDisconnected', () => {
    it('holds, with severity info and a 15-minute for, for an agent with no connection', () => {
      const set = alertConditions(inputs([agent('a'), agent('b')], T0, { connected: new Set(['b']) }), OPTIONS, T0);
      expect(names(set)).toEqual([ALERT_NAMES.agentDisconnected]);
      expect(set.active[0]?.labels).toMatchObject({ agent_id: 'a', severity: 'info' });
      expect(set.active[0]?.forMs).toBe(15 * MIN);
    });
  });

  describe('fleet health', () => {
    /** Agent `a`'s latest health report, received at T0, with these figures. */
    const reported = (figures: Partial<HealthReport>): Map<string, AgentHealthRecord> =>
      new Map([['a', { agentId: 'a', receivedAt: T0, skewMs: 0, report: { clock: new Date(T0).toISOString(), agent: { version: '0.1.0' }, backlog: 0, dropped: 0, ...figures } }]]);
    const conditions = (figures: Partial<HealthReport>, options = OPTIONS) =>
      alertConditions(inputs([agent('a'), agent('b')], T0, { health: reported(figures) }), options, T0);

    describe('SpeedwatchAgentDiskLow', () => {
      // The default bar is 100 MB (10^8 bytes): exactly at it is enough.
      it.each([
        [100_000_000, false],
        [99_999_999, true],
        [0, true],
      ])('with %d bytes free: %s', (free, holds) => {
        const set = conditions({ diskFreeBytes: free });
        expect(names(set)).toEqual(holds ? [ALERT_NAMES.agentDiskLow] : []);
        if (holds) {
          expect(set.active[0]?.labels).toMatchObject({ agent_id: 'a', site_kind: 'school', severity: 'warning' });
          expect(set.active[0]?.value).toBe(free);
          expect(set.active[0]?.forMs).toBe(15 * MIN);
        }
      });

      it('names the site, the free space and the bar in the annotations', () => {
        const set = conditions({ diskFreeBytes: 52_400_000 });
        expect(set.active[0]?.annotations['summary']).toBe('Trường a (a) is short of disk: 52 MB free');
        expect(set.active[0]?.annotations['description']).toContain(`had 52 MB free in the file system of the agent's data directory at its latest health report (${new Date(T0).toISOString()}), under 100 MB`);
      });

      it('follows the configured bar, and does not hold for a report without a disk figure or an agent without a report', () => {
        const options = { ...OPTIONS, fleetHealth: { ...OPTIONS.fleetHealth, diskFreeBelowBytes: 2_000_000_000 } };
        expect(names(conditions({ diskFreeBytes: 1_500_000_000 }, options))).toEqual([ALERT_NAMES.agentDiskLow]);
        expect(names(conditions({}, options))).toEqual([]);
      });
    });

    describe('SpeedwatchAgentTestsFailing', () => {
      const failedTest = { status: 'failed' as const, finishedAt: new Date(T0 - MIN).toISOString(), errorCode: 'SW_DNS' };
      it.each<[string, Partial<HealthReport>, boolean]>([
        ['2 failed tests in a row', { lastTest: failedTest, failedTestsInARow: 2, lastOkTestAt: new Date(T0 - HOUR).toISOString() }, false],
        ['3 failed tests in a row', { lastTest: failedTest, failedTestsInARow: 3, lastOkTestAt: new Date(T0 - HOUR).toISOString() }, true],
        ['3 failed tests in a row and no ok test since the daemon started', { lastTest: failedTest, failedTestsInARow: 3 }, true],
        ['partial tests only, the last ok one 6 h before the report', { lastTest: { ...failedTest, status: 'partial' }, failedTestsInARow: 0, lastOkTestAt: new Date(T0 - 6 * HOUR).toISOString() }, false],
        ['partial tests only, the last ok one 6 h and a second before the report', { lastTest: { ...failedTest, status: 'partial' }, failedTestsInARow: 0, lastOkTestAt: new Date(T0 - 6 * HOUR - 1000).toISOString() }, true],
        ['no test yet since the daemon started', {}, false],
      ])('%s: %s', (_name, figures, holds) => {
        const set = conditions(figures);
        expect(names(set)).toEqual(holds ? [ALERT_NAMES.agentTestsFailing] : []);
        if (holds) {
          expect(set.active[0]?.labels).toMatchObject({ agent_id: 'a', severity: 'warning' });
          expect(set.active[0]?.value).toBe(figures.failedTestsInARow);
          expect(set.active[0]?.forMs).toBe(5 * MIN);
        }
      });

      it('says how many failed, the latest ok test and the latest error code', () => {
        const set = conditions({ lastTest: failedTest, failedTestsInARow: 4, lastOkTestAt: new Date(T0 - HOUR).toISOString() });
        expect(set.active[0]?.annotations['summary']).toBe('Trường a (a) is failing its speed tests');
        expect(set.active[0]?.annotations['description']).toContain(`4 failed tests in a row, the latest ok test at ${new Date(T0 - HOUR).toISOString()}; the bars are 3 failed tests in a row or no ok test for 6 h.`);
        expect(set.active[0]?.annotations['description']).toContain(`Its latest test (${failedTest.finishedAt}) was failed with SW_DNS.`);
      });

      it('follows the configured bars', () => {
        const options = { ...OPTIONS, fleetHealth: { ...OPTIONS.fleetHealth, failedTestsInARow: 1, okTestWithinMs: 30 * MIN } };
        expect(names(conditions({ lastTest: failedTest, failedTestsInARow: 1 }, options))).toEqual([ALERT_NAMES.agentTestsFailing]);
        expect(names(conditions({ lastTest: { ...failedTest, status: 'ok' }, failedTestsInARow: 0, lastOkTestAt: new Date(T0 - 31 * MIN).toISOString() }, options))).toEqual([ALERT_NAMES.agentTestsFailing]);
      });
    });
  });

  describe('SpeedwatchGroupBelowTarget', () => {
    it("holds when the median of an area's latest downloads is under its technology's target, per technology", () => {
      const agents = [agent('s1'), agent('s2'), agent('s3'), agent('c1', { technology: 'mobile', siteKind: 'clinic' })];
      // Fixed: 90, 100, 150 → median 100 < 102. Mobile: 45 alone ≥ 42.
      const activity = new Map<string, AgentActivity>([
        ['s1', { lastResultAt: T0, latestDownloadMbps: 90 }],
        ['s2', { lastResultAt: T0, latestDownloadMbps: 100 }],
        ['s3', { lastResultAt: T0, latestDownloadMbps: 150 }],
        ['c1', { lastResultAt: T0, latestDownloadMbps: 45 }],
      ]);
      const set = alertConditions(inputs(agents, T0, { activity }), OPTIONS, T0);
      expect(names(set)).toEqual([ALERT_NAMES.groupBelowTarget]);
      expect(set.active[0]?.labels).toEqual({ alertname: 'SpeedwatchGroupBelowTarget', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', severity: 'warning' });
      expect(set.active[0]?.annotations['description']).toBe(
        'The median latest download of the 3 fixed sites in Lạng Sơn/Cao Lộc/Hợp Thành is 100.0 Mbps, under the plan\'s target of 102.0 Mbps.',
      );
      expect(set.active[0]?.forMs).toBe(6 * HOUR);
    });

    it('takes the mean of the two middle downloads for an even count, exactly at target meeting it', () => {
      const agents = [agent('s1'), agent('s2')];
      const activity = (a: number, b: number): Map<string, AgentActivity> =>
        new Map([['s1', { lastResultAt: T0, latestDownloadMbps: a }], ['s2', { lastResultAt: T0, latestDownloadMbps: b }]]);
      expect(names(alertConditions(inputs(agents, T0, { activity: activity(100, 104) }), OPTIONS, T0))).toEqual([]);
      expect(names(alertConditions(inputs(agents, T0, { activity: activity(100, 103.9) }), OPTIONS, T0))).toEqual([ALERT_NAMES.groupBelowTarget]);
    });
  });

  describe('SpeedwatchCollectorRejecting', () => {
    it('holds per reason above 0.1 a second, bad tokens aside', () => {
      const rejectedPerSecond = new Map([['rate_limited', 0.2], ['validation', 0.1], ['unauthorized', 5]]);
      const set = alertConditions(inputs([], T0, { rejectedPerSecond }), OPTIONS, T0);
      expect(set.active.map((c) => c.labels)).toEqual([{ alertname: 'SpeedwatchCollectorRejecting', reason: 'rate_limited', severity: 'warning' }]);
      expect(set.active[0]?.annotations['description']).toContain('0.20 messages or results a second for reason rate_limited');
    });

    it('is held while the rate is not known (the first five minutes)', () => {
      const set = alertConditions(inputs([], T0, { rejectedPerSecond: undefined }), OPTIONS, T0);
      expect([...set.heldAlertnames]).toEqual([ALERT_NAMES.collectorRejecting]);
    });
  });

  it('leaves revoked agents out of every rule', () => {
    const revoked = agent('gone', { revokedAt: T0 - HOUR });
    const health = new Map<string, AgentHealthRecord>([
      ['gone', { agentId: 'gone', receivedAt: T0, skewMs: 0, report: { clock: new Date(T0).toISOString(), agent: { version: '0.1.0' }, backlog: 0, dropped: 0, diskFreeBytes: 0, failedTestsInARow: 9 } }],
    ]);
    const set = alertConditions(inputs([revoked], T0, { connected: new Set(), health, activity: new Map([['gone', { lastResultAt: T0 - 5 * HOUR, latestDownloadMbps: 5 }]]) }), OPTIONS, T0);
    expect(set.active).toEqual([]);
  });
});

describe('evaluateAlerts on a fake clock', () => {
  /** The conditions for one disconnected agent `a` (a 15-minute for) at `now`. */
  const disconnected = (now: number): ConditionSet => alertConditions(inputs([agent('a')], now, { connected: new Set() }), OPTIONS, now);
  const connected = (now: number): ConditionSet => alertConditions(inputs([agent('a')], now), OPTIONS, now);

  it('is pending from the first evaluation that sees the condition and fires once its for has passed', () => {
    let clock = T0;
    let state = evaluateAlerts([], disconnected(clock), clock);
    expect(state.alerts).toMatchObject([{ state: 'pending', activeAt: T0 }]);
    expect(state.alerts[0]?.firedAt).toBeUndefined();
    expect(state.changed).toHaveLength(1);

    clock += 14 * MIN;
    state = evaluateAlerts(state.alerts, disconnected(clock), clock);
    expect(state.alerts).toMatchObject([{ state: 'pending', activeAt: T0 }]);
    expect(state.changed).toEqual([]); // nothing to write: same state, same annotations

    clock += MIN; // 15 minutes after it was first seen
    state = evaluateAlerts(state.alerts, disconnected(clock), clock);
    expect(state.alerts).toMatchObject([{ state: 'firing', activeAt: T0, firedAt: T0 + 15 * MIN }]);
    expect(state.fired).toHaveLength(1);

    clock += MIN;
    state = evaluateAlerts(state.alerts, disconnected(clock), clock);
    expect(state.alerts).toMatchObject([{ state: 'firing', firedAt: T0 + 15 * MIN }]);
    expect(state.fired).toEqual([]);
    expect(state.changed).toEqual([]);
  });

  it('fires at the first evaluation with a for of 0', () => {
    const state = evaluateAlerts([], alertConditions(inputs([agent('a')], T0, { connected: new Set() }), { ...OPTIONS, forMs: { ...OPTIONS.forMs, agentDisconnected: 0 } }, T0), T0);
    expect(state.alerts).toMatchObject([{ state: 'firing', firedAt: T0 }]);
    expect(state.fired).toHaveLength(1);
  });

  it('drops a pending alert without a resolution, and resolves a firing one', () => {
    const pending = evaluateAlerts([], disconnected(T0), T0);
    const dropped = evaluateAlerts(pending.alerts, connected(T0 + MIN), T0 + MIN);
    expect(dropped.alerts).toEqual([]);
    expect(dropped.removed).toHaveLength(1);
    expect(dropped.resolved).toEqual([]);

    const firing = evaluateAlerts(pending.alerts, disconnected(T0 + 20 * MIN), T0 + 20 * MIN);
    const resolved = evaluateAlerts(firing.alerts, connected(T0 + 21 * MIN), T0 + 21 * MIN);
    expect(resolved.alerts).toEqual([]);
    expect(resolved.resolved).toMatchObject([{ fingerprint: firing.alerts[0]?.fingerprint, firedAt: T0 + 20 * MIN }]);
  });

  it('starts a new pending period when a condition comes back after it cleared', () => {
    const first = evaluateAlerts([], disconnected(T0), T0);
    const cleared = evaluateAlerts(first.alerts, connected(T0 + 10 * MIN), T0 + 10 * MIN);
    const again = evaluateAlerts(cleared.alerts, disconnected(T0 + 20 * MIN), T0 + 20 * MIN);
    expect(again.alerts).toMatchObject([{ state: 'pending', activeAt: T0 + 20 * MIN }]);
  });

  it('keeps a held alert as it was, firing included', () => {
    const school = agent('a');
    const below = verdictsOf([school], { a: [10, 20, 30] }, T0);
    const fired = evaluateAlerts([], alertConditions(inputs([school], T0, { verdicts: (id) => below.get(id) }), { ...OPTIONS, forMs: { ...OPTIONS.forMs, siteBelowTarget: 0 } }, T0), T0);
    expect(fired.alerts).toMatchObject([{ state: 'firing' }]);
    // After a restart, before the first verdicts: the alert is neither resolved nor re-fired.
    const held = evaluateAlerts(fired.alerts, alertConditions(inputs([school], T0 + MIN, { verdicts: () => undefined }), OPTIONS, T0 + MIN), T0 + MIN);
    expect(held.alerts).toEqual(fired.alerts);
    expect(held.removed).toEqual([]);
    expect(held.changed).toEqual([]);
  });

  it('writes an alert again when its annotations change, without firing it again', () => {
    const school = agent('a');
    const opts = { ...OPTIONS, forMs: { ...OPTIONS.forMs, siteBelowTarget: 0 } };
    const at = (downloads: number[], now: number): ConditionSet => {
      const v = verdictsOf([school], { a: downloads }, now);
      return alertConditions(inputs([school], now, { verdicts: (id) => v.get(id) }), opts, now);
    };
    const first = evaluateAlerts([], at([10, 20, 30], T0), T0);
    const second = evaluateAlerts(first.alerts, at([10, 25, 30], T0 + MIN), T0 + MIN);
    expect(second.changed).toHaveLength(1);
    expect(second.fired).toEqual([]);
    expect(second.alerts[0]?.annotations['description']).toContain('25.0 Mbps');
  });
});

describe('planNotifications', () => {
  /** The plan for routes that take every alert (as the entries of `alerts.webhooks` do). */
  const plan = (keys: string[], ...rest: [AlertRecord[], AlertRecord[], NotificationState[], number]) => planNotifications(keys.map((key) => ({ key })), ...rest, 'Asia/Ho_Chi_Minh');
  const firingAlert: AlertRecord = {
    fingerprint: 'f1',
    labels: { alertname: 'SpeedwatchAgentDisconnected', agent_id: 'a' },
    annotations: { summary: 's' },
    state: 'firing',
    value: 0,
    activeAt: T0,
    firedAt: T0 + 15 * MIN,
  };

  it('queues a firing alert once per route, and nothing for a state a route already has', () => {
    const first = plan(['w1', 'w2'], [firingAlert], [], [], T0 + 15 * MIN);
    expect(first.map((u) => [u.route, u.status, u.seq])).toEqual([['w1', 'firing', 1], ['w2', 'firing', 1]]);
    expect(first[0]?.alert).toEqual({ labels: firingAlert.labels, annotations: firingAlert.annotations, startsAt: new Date(T0 + 15 * MIN).toISOString(), endsAt: ZERO_TIME, fingerprint: 'f1' });
    const states = first.map((u) => ({ ...u }));
    expect(plan(['w1', 'w2'], [firingAlert], [], states, T0 + 16 * MIN)).toEqual([]);
  });

  it('queues the firing alerts for a route added later, and nothing more for the others', () => {
    const states = plan(['w1'], [firingAlert], [], [], T0);
    expect(plan(['w1', 'w2'], [firingAlert], [], states, T0 + MIN).map((u) => u.route)).toEqual(['w2']);
  });

  it('queues a resolution, with its end time, for routes that were told it fired', () => {
    const states = plan(['w1'], [firingAlert], [], [], T0);
    const resolvedAt = T0 + HOUR;
    const [resolution, ...rest] = plan(['w1'], [], [{ ...firingAlert, annotations: { summary: 'latest' } }], states, resolvedAt);
    expect(rest).toEqual([]);
    expect(resolution).toMatchObject({ route: 'w1', status: 'resolved', seq: 2 });
    expect(resolution?.alert).toMatchObject({ annotations: { summary: 'latest' }, startsAt: new Date(T0 + 15 * MIN).toISOString(), endsAt: new Date(resolvedAt).toISOString() });
  });

  it('resolves an alert a route heard fire even when it vanished while the collector was stopped', () => {
    const states = plan(['w1'], [firingAlert], [], [], T0);
    const [resolution] = plan(['w1'], [], [], states, T0 + HOUR);
    expect(resolution).toMatchObject({ status: 'resolved', alert: { fingerprint: 'f1', endsAt: new Date(T0 + HOUR).toISOString() } });
  });

  it('queues a new firing when the alert fired again with a later start', () => {
    const states = plan(['w1'], [firingAlert], [], [], T0);
    const again = plan(['w1'], [{ ...firingAlert, firedAt: T0 + 2 * HOUR }], [], states, T0 + 2 * HOUR);
    expect(again).toMatchObject([{ status: 'firing', seq: 2, startsAt: T0 + 2 * HOUR }]);
  });
});

describe('webhookMessage', () => {
  it('keeps the figures stored for messages to people out of what a webhook receives', () => {
    const alert = { labels: { alertname: 'X' }, annotations: {}, startsAt: '2026-11-25T08:00:00.000Z', endsAt: ZERO_TIME, fingerprint: 'f1', facts: { siteName: 'Trạm Y tế', value: 30 } };
    const message = webhookMessage('X', [{ status: 'firing', alert }], 'http://collector:8600/');
    expect(JSON.stringify(message)).not.toMatch(/facts|siteName|Trạm/);
  });

  it("is Alertmanager's version 4 message, grouped by alertname, firing if any alert fires", () => {
    const a = { labels: { alertname: 'X', agent_id: 'a', severity: 'info' }, annotations: { summary: 'a down' }, startsAt: '2026-11-25T08:00:00.000Z', endsAt: ZERO_TIME, fingerprint: 'f1' };
    const b = { ...a, labels: { alertname: 'X', agent_id: 'b', severity: 'info' }, endsAt: '2026-11-25T09:00:00.000Z', fingerprint: 'f2' };
    const message = webhookMessage('X', [{ status: 'firing', alert: a }, { status: 'resolved', alert: b }], 'http://collector:8600/');
    expect(message).toEqual({
      version: '4',
      groupKey: '{}:{alertname="X"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'speedwatch-collector',
      groupLabels: { alertname: 'X' },
      commonLabels: { alertname: 'X', severity: 'info' },
      commonAnnotations: { summary: 'a down' },
      externalURL: 'http://collector:8600/',
      alerts: [
        { status: 'firing', ...a, generatorURL: 'http://collector:8600/api/v1/alerts' },
        { status: 'resolved', ...b, generatorURL: 'http://collector:8600/api/v1/alerts' },
      ],
    });
  });
});

describe('backoffDelayMs', () => {
  const options = { backoffMs: 1000, maxBackoffMs: 30_000 };
  // Equal jitter: half the exponential delay fixed, half scaled by random() in [0, 1), rounded to whole ms.
  it.each([
    [1, 0, 500],
    [1, 0.5, 750],
    [2, 0, 1000],
    [3, 0.5, 3000],
    [5, 0, 8000],
    [6, 0.5, 22_500], // 1000 × 2^5 = 32 000, capped at 30 000
    [60, 0, 15_000], // no overflow far past the cap
    [1, 0.123, 562], // whole milliseconds: 561.5 rounded
  ])('after failure %d with random %d waits %d ms', (failures, random, expected) => {
    expect(backoffDelayMs(failures, options, () => random)).toBe(expected);
  });
});

describe('RejectionRate', () => {
  it('is unknown until a reading is a window old, then the increase per second over it', () => {
    const rate = new RejectionRate(5 * MIN);
    rate.record(T0, new Map([['rate_limited', 10]]));
    expect(rate.perSecond(T0)).toBeUndefined();
    rate.record(T0 + 3 * MIN, new Map([['rate_limited', 40]]));
    expect(rate.perSecond(T0 + 3 * MIN)).toBeUndefined();
    rate.record(T0 + 5 * MIN, new Map([['rate_limited', 70], ['validation', 3]]));
    // (70 − 10) / 300 s = 0.2; validation from nothing: 3 / 300 s.
    expect(rate.perSecond(T0 + 5 * MIN)).toEqual(new Map([['rate_limited', 0.2], ['validation', 0.01]]));
    rate.record(T0 + 8 * MIN, new Map([['rate_limited', 70], ['validation', 3]]));
    // The base moves to the reading 5 minutes back (T0 + 3 min): (70 − 40) / 300 s.
    expect(rate.perSecond(T0 + 8 * MIN)?.get('rate_limited')).toBeCloseTo(0.1, 10);
  });
});

describe('udpRules', () => {
  const under: LatestUdp['figures'] = { rttMedianMs: 40, rttP95Ms: 300, forwardJitterMs: 30, returnJitterMs: 30, lossRatio: 0.02, forwardLossRatio: 0.01, returnLossRatio: 0.01 };
  const of = (figures: Partial<LatestUdp['figures']>): { key: string; direction?: string; value: number }[] =>
    udpRules({ id: 'r1', ts: 0, figures: { ...under, ...figures } }).map(({ key, direction, value }) => ({ key, value, ...(direction === undefined ? {} : { direction }) }));

  it('finds nothing at the bars: Prometheus fires above them (1% loss, 30 ms jitter, 300 ms p95)', () => {
    expect(of({})).toEqual([]);
  });

  it('names each breach with its direction and the value in the gauge\'s unit', () => {
    expect(of({ forwardLossRatio: 0.012 })).toEqual([{ key: 'siteUdpLossHigh', direction: 'up', value: 0.012 }]);
    expect(of({ returnLossRatio: 0.05, returnJitterMs: 45 })).toEqual([
      { key: 'siteUdpLossHigh', direction: 'down', value: 0.05 },
      { key: 'siteUdpJitterHigh', direction: 'down', value: 0.045 },
    ]);
    expect(of({ forwardJitterMs: 30.5, rttP95Ms: 301 })).toEqual([
      { key: 'siteUdpJitterHigh', direction: 'up', value: 0.0305 },
      { key: 'siteUdpRoundTripHigh', value: 0.301 },
    ]);
  });

  it('leaves the total loss alone: it holds end losses that no direction can be told (the rules are per direction)', () => {
    expect(of({ lossRatio: 0.5 })).toEqual([]);
  });
});
