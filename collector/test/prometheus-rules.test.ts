/**
 * The shipped Prometheus rules: promtool accepts them, their promtool unit tests pass, every
 * alert has summary and description annotations, and the unit tests cover each alert both
 * firing and not firing.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

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
  annotations?: Record<string, string>;
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
