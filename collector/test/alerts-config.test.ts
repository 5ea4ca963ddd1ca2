/** The `alerts` section of the collector's configuration: defaults, human units, and errors naming the key. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@speedwatch/shared';
import type { Problem } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { checkVerdictWindow } from '../src/alerts/alert-service.js';
import { COLLECTOR_DEFAULTS, ConfigError, loadCollectorConfig } from '../src/config/collector-config.js';

function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sw-alerts-config-')), 'collector.yaml');
  writeFileSync(path, text);
  return path;
}

function problems(text: string): readonly Problem[] {
  try {
    loadCollectorConfig({ file: file(text) });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('SW_CONFIG');
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('alerts configuration', () => {
  it("defaults to no webhooks, an evaluation a minute, and the Prometheus rules' for durations", () => {
    const { alerts } = loadCollectorConfig({});
    expect(alerts).toEqual({
      webhooks: [],
      channels: [],
      routes: [],
      evaluateIntervalMs: 60_000,
      scheduleIntervalMs: 900_000,
      verdictWindow: '24h',
      confirmBelowTarget: false,
      forMs: { siteBelowTarget: 3_600_000, groupBelowTarget: 21_600_000, agentSilent: 300_000, agentDisconnected: 900_000, collectorRejecting: 600_000, agentDiskLow: 900_000, agentTestsFailing: 300_000, siteUdpLossHigh: 1_800_000, siteUdpJitterHigh: 1_800_000, siteUdpRoundTripHigh: 1_800_000 },
      // 100 MB free, 3 failed tests in a row, an ok test within 6 h: as the Prometheus rules.
      fleetHealth: { diskFreeBelowBytes: 100_000_000, failedTestsInARow: 3, okTestWithinMs: 21_600_000 },
      delivery: { timeoutMs: 10_000, attempts: 4, backoffMs: 1000, maxBackoffMs: 300_000, concurrency: 4 },
    });
    expect(alerts).toEqual(COLLECTOR_DEFAULTS.alerts);
    expect(Object.isFrozen(alerts.forMs) && Object.isFrozen(alerts.fleetHealth) && Object.isFrozen(alerts.delivery) && Object.isFrozen(alerts.webhooks)).toBe(true);
  });

  it('reads webhooks, human durations and delivery settings; what is left out keeps its default', () => {
    const { alerts } = loadCollectorConfig({
      file: file(
        [
          'alerts:',
          '  webhooks: [https://hooks.example.org/services/T0/B0/secret, http://10.0.0.5:9000/alerts]',
          '  evaluateInterval: 30s',
          '  scheduleInterval: 1h',
          '  verdictWindow: 7d',
          '  externalUrl: https://speedwatch.example.org',
          '  for: { siteBelowTarget: 2h, agentDisconnected: 0, agentDiskLow: 1h, siteUdpJitterHigh: 1h }',
          '  fleetHealth: { diskFreeBelow: 1GiB, failedTestsInARow: 5 }',
          '  delivery: { timeout: 5s, attempts: 6, backoff: 500ms, concurrency: 2 }',
        ].join('\n'),
      ),
    });
    expect(alerts.webhooks).toEqual(['https://hooks.example.org/services/T0/B0/secret', 'http://10.0.0.5:9000/alerts']);
    expect(alerts.evaluateIntervalMs).toBe(30_000);
    expect(alerts.scheduleIntervalMs).toBe(3_600_000);
    expect(alerts.verdictWindow).toBe('7d');
    expect(alerts.externalUrl).toBe('https://speedwatch.example.org/'); // a trailing slash, so paths append
    expect(alerts.forMs).toEqual({ ...COLLECTOR_DEFAULTS.alerts.forMs, siteBelowTarget: 7_200_000, agentDisconnected: 0, agentDiskLow: 3_600_000, siteUdpJitterHigh: 3_600_000 });
    expect(alerts.fleetHealth).toEqual({ diskFreeBelowBytes: 1024 ** 3, failedTestsInARow: 5, okTestWithinMs: 21_600_000 });
    expect(alerts.delivery).toEqual({ timeoutMs: 5000, attempts: 6, backoffMs: 500, maxBackoffMs: 300_000, concurrency: 2 });
  });

  it.each([
    ['a webhook that is not an http(s) URL', 'alerts: { webhooks: [ftp://example.org/x] }', ['alerts.webhooks[0]']],
    ['a webhook listed twice', 'alerts: { webhooks: [http://a.example/h, http://b.example/h, http://a.example/h] }', ['alerts.webhooks[2]']],
    ['an evaluation interval under a second', 'alerts: { evaluateInterval: 10ms }', ['alerts.evaluateInterval']],
    ['an unknown rule', 'alerts: { for: { siteBelow: 1h } }', ['alerts.for.siteBelow']],
    ['a negative for', 'alerts: { for: { agentSilent: -5 } }', ['alerts.for.agentSilent']],
    ['no attempt at all', 'alerts: { delivery: { attempts: 0 } }', ['alerts.delivery.attempts']],
    ['a concurrency of 0', 'alerts: { delivery: { concurrency: 0 } }', ['alerts.delivery.concurrency']],
    ['a longest backoff under the first', 'alerts: { delivery: { backoff: 10s, maxBackoff: 1s } }', ['alerts.delivery.maxBackoff']],
    ['an unknown key', 'alerts: { webhook: http://a.example/h }', ['alerts.webhook']],
    ['a window the verdicts do not compute', 'alerts: { verdictWindow: 12h }', ['alerts.verdictWindow']],
    ['a disk bar that is not a size', 'alerts: { fleetHealth: { diskFreeBelow: lots } }', ['alerts.fleetHealth.diskFreeBelow']],
    ['no failed test needed to alert', 'alerts: { fleetHealth: { failedTestsInARow: 0 } }', ['alerts.fleetHealth.failedTestsInARow']],
    ['an ok test needed every second', 'alerts: { fleetHealth: { okTestWithin: 1s } }', ['alerts.fleetHealth.okTestWithin']],
    [
      'several mistakes at once',
      'alerts: { webhooks: [ftp://x], for: { agentSilent: -5, siteBelow: 1h }, delivery: { attempts: 0, backoff: 10s, maxBackoff: 1s }, verdictWindow: 30d }',
      ['alerts.webhooks[0]', 'alerts.for.siteBelow', 'alerts.for.agentSilent', 'alerts.delivery.attempts', 'alerts.delivery.maxBackoff'],
    ],
  ])('refuses %s, naming the key', (_case, text, paths) => {
    const found = problems(text);
    expect(found.map((p) => p.path)).toEqual(paths);
    for (const problem of found) expect(problem.message.startsWith(`${problem.path}: `)).toBe(true);
  });

  it('does not echo a bad webhook URL whole (it may carry a secret)', () => {
    const [problem] = problems('alerts: { webhooks: ["hooks.example.org/services/T0/B0/very-secret-token"] }');
    expect(problem?.path).toBe('alerts.webhooks[0]');
    expect(problem?.message).not.toContain('very-secret-token');
  });

  describe('checkVerdictWindow', () => {
    it("accepts a window the verdicts compute and refuses another, naming alerts.verdictWindow", () => {
      expect(() => checkVerdictWindow(COLLECTOR_DEFAULTS.alerts, ['24h', '7d'])).not.toThrow();
      let thrown: unknown;
      try {
        checkVerdictWindow(COLLECTOR_DEFAULTS.alerts, ['7d', '30d']);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ValidationError);
      expect(thrown).toMatchObject({ code: 'SW_VALIDATION', path: 'alerts.verdictWindow' });
    });
  });
});
