/**
 * A real Prometheus (Debian's package) on loopback, with the shipped rules, scraping a live
 * collector: results below target fed through the real WebSocket protocol make the
 * SpeedwatchSiteBelowTarget alert appear in Prometheus' own /api/v1/alerts (pending: its `for`
 * is an hour), and good results make it go away; the fleet-health alerts from a health report,
 * and the UDP quality alerts from a result with a `udp` section. Skipped with a printed reason where the
 * prometheus binary is missing, except under CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentConnection, prometheusUnavailable, startCollector, startPrometheus, testResult, until } from './support/prometheus.js';
import type { LiveCollector, PrometheusServer } from './support/prometheus.js';

const why = prometheusUnavailable('Prometheus alert test');

interface PromAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
}

describe.skipIf(why !== undefined)('alerts in a real Prometheus scraping a live collector', () => {
  let dir = '';
  let collector: LiveCollector | undefined;
  let prometheus: PrometheusServer | undefined;

  async function alerts(): Promise<PromAlert[]> {
    return (await prometheus!.api<{ alerts: PromAlert[] }>('/api/v1/alerts')).data.alerts;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sw-prom-'));
    collector = await startCollector(dir, [{ id: 'clinic-1', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc' }]);
    prometheus = await startPrometheus(dir, collector.target);
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await collector?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('shows SpeedwatchSiteBelowTarget for a mobile site at 30 Mbps, naming it, and drops it after good results', async () => {
    const agent = await AgentConnection.open(collector!.url, collector!.tokens.get('clinic-1')!);
    try {
      expect(await agent.results([testResult({ downloadMbps: 30 })])).toHaveLength(1);
      const alert = await until('the alert in Prometheus', async () => (await alerts()).find((a) => a.labels['alertname'] === 'SpeedwatchSiteBelowTarget'), 30_000);
      expect(['pending', 'firing']).toContain(alert.state);
      expect(alert.labels).toMatchObject({ agent_id: 'clinic-1', technology: 'mobile', area: 'Lạng Sơn/Cao Lộc', isp: 'Viettel' });
      expect(alert.annotations['description']).toMatch(/latest test measured 30\.0 Mbps/);

      // Two tests at 60 Mbps: the 24 h median of 30, 60, 60 is 60, above the 42 Mbps target.
      expect(await agent.results([testResult({ downloadMbps: 60 }), testResult({ downloadMbps: 60 })])).toHaveLength(2);
      await until('the alert to go', async () => ((await alerts()).some((a) => a.labels['alertname'] === 'SpeedwatchSiteBelowTarget') ? undefined : true), 30_000);
    } finally {
      await agent.close();
    }
  }, 90_000);

  it('shows SpeedwatchAgentDiskLow and SpeedwatchAgentTestsFailing for an agent whose health report is short of disk and failing, with its site labels', async () => {
    const agent = await AgentConnection.open(collector!.url, collector!.tokens.get('clinic-1')!);
    try {
      const now = Date.now();
      agent.send(
        JSON.stringify({
          type: 'health',
          clock: new Date(now).toISOString(),
          agent: { version: 'test' },
          backlog: 0,
          dropped: 0,
          lastTest: { status: 'failed', finishedAt: new Date(now - 60_000).toISOString(), errorCode: 'SW_DNS' },
          failedTestsInARow: 3,
          diskFreeBytes: 50_000_000,
        }),
      );
      const fleet = await until(
        'both fleet-health alerts in Prometheus',
        async () => {
          const found = (await alerts()).filter((a) => a.labels['alertname'] === 'SpeedwatchAgentDiskLow' || a.labels['alertname'] === 'SpeedwatchAgentTestsFailing');
          return found.length === 2 ? found : undefined;
        },
        30_000,
      );
      for (const alert of fleet) {
        expect(alert.labels).toMatchObject({ agent_id: 'clinic-1', site_kind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' });
      }
      expect(fleet.find((a) => a.labels['alertname'] === 'SpeedwatchAgentDiskLow')?.annotations['summary']).toBe('clinic-1 is short of disk: 50MB free');
    } finally {
      await agent.close();
    }
  }, 60_000);

  it('shows the three UDP quality alerts for a result losing 2 % up, with 45 ms of jitter down and a 350 ms round trip, per direction and with its site labels', async () => {
    const agent = await AgentConnection.open(collector!.url, collector!.tokens.get('clinic-1')!);
    try {
      // 250 packets sent, 5 lost up (5 / 250 = 0.02) and none of the 245 the reflector counted lost down.
      const udp = {
        port: 8601, packetBytes: 172, intervalMs: 20, sent: 250, received: 245, lossRatio: 0.02, forwardLossRatio: 0.02, returnLossRatio: 0,
        duplicates: 0, reordered: 0, rttMinMs: 280, rttMedianMs: 310, rttP95Ms: 350, rttMaxMs: 400, forwardJitterMs: 4, returnJitterMs: 45,
      };
      expect(await agent.results([{ ...testResult({ downloadMbps: 60 }), udp }])).toHaveLength(1);
      const names = ['SpeedwatchSiteUdpLossHigh', 'SpeedwatchSiteUdpJitterHigh', 'SpeedwatchSiteUdpRoundTripHigh'];
      const found = await until(
        'the three UDP alerts in Prometheus',
        async () => {
          const udpAlerts = (await alerts()).filter((a) => names.includes(a.labels['alertname'] ?? ''));
          return udpAlerts.length === 3 ? udpAlerts : undefined;
        },
        30_000,
      );
      const site = { agent_id: 'clinic-1', site_kind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' };
      const byName = (name: string): PromAlert => found.find((a) => a.labels['alertname'] === name)!;
      // Pending, not firing: each rule's `for` is 30 minutes.
      for (const alert of found) expect(alert.state).toBe('pending');
      expect(byName('SpeedwatchSiteUdpLossHigh').labels).toMatchObject({ ...site, direction: 'up' });
      expect(byName('SpeedwatchSiteUdpLossHigh').annotations['summary']).toBe('clinic-1 loses 2% of its UDP packets going up');
      expect(byName('SpeedwatchSiteUdpJitterHigh').labels).toMatchObject({ ...site, direction: 'down' });
      expect(byName('SpeedwatchSiteUdpJitterHigh').annotations['summary']).toBe('clinic-1 has 45ms of UDP jitter going down');
      expect(byName('SpeedwatchSiteUdpRoundTripHigh').labels).toMatchObject(site);
      expect(byName('SpeedwatchSiteUdpRoundTripHigh').annotations['summary']).toBe('clinic-1 has a UDP round trip of 350ms (95th percentile)');
    } finally {
      await agent.close();
    }
  }, 60_000);
});
