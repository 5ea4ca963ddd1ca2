/**
 * The shipped Prometheus rules: promtool accepts them, their promtool unit tests pass, the
 * collector's own engine (alert-rules.ts) evaluates the same alerts with the same bars, every
 * alert has summary and description annotations, and the unit tests cover each alert both
 * firing and not firing.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERT_NAMES, UDP_FRESH_MS, UDP_JITTER_ABOVE_SECONDS, UDP_LOSS_ABOVE_RATIO, UDP_RTT_P95_ABOVE_SECONDS } from '../src/alerts/alert-rules.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';

const run = promisify(execFile);
const DIR = new URL('../deploy/prometheus/', import.meta.url).pathname;

async function havePromtool(): Promise<boolean> {
  try {
    await run('promtool', ['--version']);
    return true;
  } catch {
    if (process.env['CI'] === 'true') throw new Error('promtool is missing under CI (apt-get install prometheus)');
    console.warn('Prometheus rule checks SKIPPED: promtool is not installed (apt-get install -y prometheus)');
    return false;
  }
}

interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Prometheus duration of one unit (`30m`, `6h`), ms. */
function durationMs(text: string): number {
  const match = /^(\d+)(s|m|h)$/.exec(text);
  if (match === null) throw new Error(`not a one-unit duration: ${text}`);
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

describe('collector/deploy/prometheus', () => {
  const rules = (parse(readFileSync(`${DIR}speedwatch.rules.yml`, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
  const alerts = rules.filter((r) => r.alert !== undefined);

  it('gives every alert a summary and a description', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'SpeedwatchSiteBelowTarget',
      'SpeedwatchGroupBelowTarget',
      'SpeedwatchAgentSilent',
      'SpeedwatchAgentDisconnected',
      'SpeedwatchAgentDiskLow',
      'SpeedwatchAgentTestsFailing',
      'SpeedwatchSiteUdpLossHigh',
      'SpeedwatchSiteUdpJitterHigh',
      'SpeedwatchSiteUdpRoundTripHigh',
      'SpeedwatchCollectorDown',
      'SpeedwatchCollectorRejecting',
    ]);
    for (const alert of alerts) {
      expect(alert.annotations?.['summary'], alert.alert).toMatch(/\S/);
      expect(alert.annotations?.['description'], alert.alert).toMatch(/\S/);
    }
  });

  describe("the collector's own alert engine", () => {
    const rule = (name: string): Rule => {
      const found = alerts.find((a) => a.alert === name);
      if (found === undefined) throw new Error(`no rule ${name}`);
      return found;
    };

    it('evaluates every alert on sites and agents under the same name, with the same default for and severity', () => {
      // SpeedwatchCollectorDown is Prometheus' alone: a collector cannot alert on its own absence.
      expect(alerts.map((a) => a.alert).filter((name) => name !== 'SpeedwatchCollectorDown').sort()).toEqual(Object.values(ALERT_NAMES).sort());
      for (const [key, name] of Object.entries(ALERT_NAMES) as [keyof typeof ALERT_NAMES, string][]) {
        expect(durationMs(rule(name).for ?? ''), `${name} for`).toBe(COLLECTOR_DEFAULTS.alerts.forMs[key]);
        expect(rule(name).labels?.['severity'], `${name} severity`).toMatch(/^(warning|info)$/);
      }
    });

    it.each([
      ['SpeedwatchSiteUdpLossHigh', 'speedwatch_agent_udp_loss_ratio', UDP_LOSS_ABOVE_RATIO],
      ['SpeedwatchSiteUdpJitterHigh', 'speedwatch_agent_udp_jitter_seconds', UDP_JITTER_ABOVE_SECONDS],
      ['SpeedwatchSiteUdpRoundTripHigh', 'speedwatch_agent_udp_rtt_p95_seconds', UDP_RTT_P95_ABOVE_SECONDS],
    ])('judges %s on the bar and the freshness of the rule (%s > %d)', (name, gauge, bar) => {
      const expr = rule(name).expr ?? '';
      const match = new RegExp(`${gauge} > ([\\d.e-]+)`).exec(expr);
      expect(Number(match?.[1])).toBe(bar);
      const fresh = /time\(\) - speedwatch_agent_udp_last_result_timestamp_seconds < 6 \* 3600/.exec(expr);
      expect(fresh, `${name} freshness`).not.toBeNull();
      expect(UDP_FRESH_MS).toBe(6 * 3600 * 1000);
      expect(rule(name).labels).toEqual({ severity: 'warning' });
    });
  });

  it('unit-tests every alert both not firing and firing', () => {
    const tests = (parse(readFileSync(`${DIR}speedwatch.test.yml`, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap((t) => t.alert_rule_test);
    for (const alert of alerts) {
      const cases = tests.filter((t) => t.alertname === alert.alert);
      expect(cases.some((c) => c.exp_alerts.length === 0), `${alert.alert} not firing`).toBe(true);
      expect(cases.some((c) => c.exp_alerts.length > 0), `${alert.alert} firing`).toBe(true);
    }
  });

  it('passes promtool check rules and promtool test rules', async (ctx) => {
    if (!(await havePromtool())) return ctx.skip();
    const check = await run('promtool', ['check', 'rules', 'speedwatch.rules.yml'], { cwd: DIR });
    expect(check.stdout).toMatch(/SUCCESS: 15 rules found/);
    const test = await run('promtool', ['test', 'rules', 'speedwatch.test.yml'], { cwd: DIR });
    expect(test.stdout).toMatch(/SUCCESS/);
  });
});
