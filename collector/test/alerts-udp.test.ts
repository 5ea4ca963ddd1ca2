/**
 * The UDP quality alerts in the collector's own engine, end to end in one process: a real
 * collector on a temp SQLite file with a fake clock, results with a `udp` section stored as
 * ingest stores them (latest_udp), read back by maintenance into the figures the alerts judge,
 * and delivered through routes to stand-ins of Telegram (vi) and ntfy (en). The bars, the 6 h
 * freshness and `for: 30m` are those of deploy/prometheus/speedwatch.rules.yml.
 */
import { parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult, UdpResult } from '@speedwatch/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { RouteConfig } from '../src/alerts/alert-routes.js';
import type { ChannelConfig } from '../src/alerts/channels/channel-config.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { Secret } from '../src/config/secret.js';
import { LatestResults } from '../src/server/latest-results.js';
import { resultFigures } from '../src/store/result-row.js';
import type { Running } from './alerts-util.js';
import { FakeClock, HOUR, MIN, NEVER, forMs, local, startAlertingCollector, tempDb } from './alerts-util.js';
import { fakeNtfy, fakeTelegram } from './channel-servers.js';
import { makeResult } from './ingest-util.js';
import { storeResults, udpSection } from './store-util.js';

const BOT_TOKEN = '4242:AAE-udp-alerts-test-bot-token_abc';
const NTFY_TOKEN = 'tk_udpalertstestntfytoken0123';
const UDP_NAMES = ['SpeedwatchSiteUdpLossHigh', 'SpeedwatchSiteUdpJitterHigh', 'SpeedwatchSiteUdpRoundTripHigh'];

/**
 * A result started `startedMs` with a UDP section under every bar, these figures over it; none:
 * no `udp` section. udpSection(23.5) loses 1.2 % going up (3 of 250), over the loss bar: here 1
 * of 250 (0.4 %), and 2 of 247 (0.8 %) going down; jitter 1.25 ms up, 2.5 ms down; 30 ms p95.
 */
function resultAt(startedMs: number, udp?: Partial<UdpResult>): MeasurementResult {
  const times = { startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(startedMs + 25_000).toISOString() };
  return udp === undefined ? makeResult(times) : parseMeasurementResult({ ...makeResult(times), udp: { ...udpSection(23.5), received: 247, lossRatio: 3 / 250, forwardLossRatio: 1 / 250, ...udp } });
}

/**
 * Over the bars: 5 % lost going up (0.8 % going down, under 1 %),
 * 45 ms of jitter going down (1.25 ms up), a 95th percentile round trip of 350 ms.
 */
const BAD: Partial<UdpResult> = { forwardLossRatio: 0.05, returnJitterMs: 45, rttMedianMs: 300, rttP95Ms: 350, rttMaxMs: 400 };
/** Exactly at each bar, which Prometheus' `>` does not take: 1 % lost, 30 ms of jitter, 300 ms. */
const AT_BARS: Partial<UdpResult> = { forwardLossRatio: 0.01, returnLossRatio: 0.01, forwardJitterMs: 30, returnJitterMs: 30, rttMedianMs: 250, rttP95Ms: 300, rttMaxMs: 320 };

async function routedCollector(clock: FakeClock): Promise<{ running: Running; telegram: Awaited<ReturnType<typeof fakeTelegram>>; ntfy: Awaited<ReturnType<typeof fakeNtfy>> }> {
  const telegram = await fakeTelegram(BOT_TOKEN, ['-100200300']);
  const ntfy = await fakeNtfy(NTFY_TOKEN, ['lso-udp']);
  onTestFinished(async () => {
    await telegram.close();
    await ntfy.close();
  });
  const channels: ChannelConfig[] = [
    { type: 'telegram', name: 'it-telegram', baseUrl: telegram.baseUrl, token: new Secret(BOT_TOKEN, 'env TG'), chatId: '-100200300' },
    { type: 'ntfy', name: 'phones', baseUrl: ntfy.baseUrl, topic: 'lso-udp', token: new Secret(NTFY_TOKEN, 'env NTFY') },
  ];
  const routes: RouteConfig[] = [
    { name: 'udp-vi', channel: 'it-telegram', match: { alertname: UDP_NAMES }, lang: 'vi' },
    { name: 'udp-en', channel: 'phones', match: { alertname: ['SpeedwatchSiteUdpLossHigh'] }, lang: 'en' },
  ];
  // Only the UDP rules, with their default for of 30 minutes.
  const running = await startAlertingCollector(tempDb(), clock, {
    externalUrl: 'http://console.example/',
    channels,
    routes,
    forMs: forMs({ siteBelowTarget: NEVER, siteUdpLossHigh: 30 * MIN, siteUdpJitterHigh: 30 * MIN, siteUdpRoundTripHigh: 30 * MIN }),
    delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, timeoutMs: 2_000 },
  });
  return { running, telegram, ntfy };
}

/** The UDP alerts of the latest evaluation: [alertname, agent, direction, state], sorted. */
function udpAlerts(running: Running): [string, string, string, string][] {
  return running.collector.alerts
    .report()
    .alerts.filter((a) => UDP_NAMES.includes(a.alertname))
    .map((a): [string, string, string, string] => [a.alertname, a.labels['agent_id'] ?? '', a.labels['direction'] ?? '-', a.state])
    .sort((a, b) => (a.join() < b.join() ? -1 : 1));
}

describe('UDP quality alerts in a live collector', () => {
  it('fire after 30 minutes on figures over the bars, per direction, reach the routes in vi and en, and resolve when the figure turns 6 h old', async () => {
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const { running, telegram, ntfy } = await routedCollector(clock);
    const t0 = clock.now();
    running.addAgent('caoloc-thcs', { name: 'Trường THCS Hợp Thành', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT' });
    running.addAgent('good-site', { area: 'Lạng Sơn/Cao Lộc' });
    running.addAgent('at-bars', { area: 'Lạng Sơn/Cao Lộc' });
    running.addAgent('old-udp', { area: 'Lạng Sơn/Cao Lộc' });
    storeResults(running.store, 'caoloc-thcs', [resultAt(t0 - MIN, BAD)], t0);
    storeResults(running.store, 'good-site', [resultAt(t0 - MIN, {})], t0);
    storeResults(running.store, 'at-bars', [resultAt(t0 - MIN, AT_BARS)], t0);
    // Bad figures 7 h old, and a recent result without UDP quality: the old figures are still the newest, and too old to judge.
    storeResults(running.store, 'old-udp', [resultAt(t0 - 7 * HOUR, BAD), resultAt(t0 - MIN)], t0);

    await running.evaluate();
    const pending = [
      ['SpeedwatchSiteUdpJitterHigh', 'caoloc-thcs', 'down', 'pending'],
      ['SpeedwatchSiteUdpLossHigh', 'caoloc-thcs', 'up', 'pending'],
      ['SpeedwatchSiteUdpRoundTripHigh', 'caoloc-thcs', '-', 'pending'],
    ];
    expect(udpAlerts(running)).toEqual(pending);

    clock.ms += 29 * MIN;
    await running.evaluate();
    expect(udpAlerts(running)).toEqual(pending);
    expect([telegram.accepted.length, ntfy.accepted.length]).toEqual([0, 0]);

    clock.ms += MIN;
    await running.evaluate();
    expect(udpAlerts(running)).toEqual(pending.map(([name, agent, direction]) => [name, agent, direction, 'firing']));
    const firing = running.collector.alerts.report('firing').alerts;
    const loss = firing.find((a) => a.alertname === 'SpeedwatchSiteUdpLossHigh');
    expect(loss?.labels).toEqual({
      alertname: 'SpeedwatchSiteUdpLossHigh',
      agent_id: 'caoloc-thcs',
      site_kind: 'school',
      technology: 'fixed',
      isp: 'VNPT',
      area: 'Lạng Sơn/Cao Lộc/Hợp Thành',
      direction: 'up',
      severity: 'warning',
    });
    expect(loss?.value).toBe(0.05);
    expect(loss?.annotations['summary']).toBe('Trường THCS Hợp Thành (caoloc-thcs) loses 5 % of its UDP packets going up');
    expect(firing.find((a) => a.alertname === 'SpeedwatchSiteUdpJitterHigh')?.value).toBe(0.045);
    expect(firing.find((a) => a.alertname === 'SpeedwatchSiteUdpRoundTripHigh')?.value).toBe(0.35);

    // Each route hears what it matches, once, in its language.
    expect(telegram.accepted.map((m) => m.text.split('\n')[0]).sort()).toEqual([
      'Điểm đo có jitter UDP cao: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      'Điểm đo có độ trễ khứ hồi UDP cao: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      'Điểm đo mất gói tin UDP: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
    ]);
    const viLoss = telegram.accepted.find((m) => m.text.startsWith('Điểm đo mất gói tin UDP'));
    expect(viLoss?.text.split('\n')).toEqual([
      'Điểm đo mất gói tin UDP: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      '',
      'Gói tin UDP bị mất 5,0 % ở chiều đi (tới máy chủ đo), quá 1 %: gọi video và học trực tuyến bị đứt quãng.',
      'Đo lúc: 14:59 25/11/2026 (giờ Asia/Ho_Chi_Minh).',
      'Điểm đo: Trường THCS Hợp Thành (caoloc-thcs)',
      'Địa bàn: Lạng Sơn/Cao Lộc/Hợp Thành · trường học · nhà mạng VNPT',
      'Từ lúc: 15:30 25/11/2026 (giờ Asia/Ho_Chi_Minh)',
      'Trang điểm đo: http://console.example/#/site/caoloc-thcs',
    ]);
    expect(telegram.accepted.find((m) => m.text.startsWith('Điểm đo có jitter'))?.text).toContain('Độ dao động trễ (jitter) UDP ở chiều về (từ máy chủ đo) là 45,0 ms, quá 30 ms');
    expect(telegram.accepted.find((m) => m.text.startsWith('Điểm đo có độ trễ'))?.text).toContain('Độ trễ khứ hồi UDP (phân vị 95) là 350,0 ms, quá 300 ms');
    expect(ntfy.accepted).toHaveLength(1);
    expect(ntfy.accepted[0]).toMatchObject({ title: 'Site losing UDP packets: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)', tags: 'warning', click: 'http://console.example/#/site/caoloc-thcs' });
    expect(ntfy.accepted[0]?.body).toContain('The UDP probe lost 5.0 % of its packets going up (to the endpoint), over 1 %');

    // A millisecond before the figure is 6 h old it still holds; at 6 h it is stale and every alert resolves, once.
    clock.ms = t0 - MIN + 6 * HOUR - 1;
    await running.evaluate();
    expect(udpAlerts(running).map((a) => a[3])).toEqual(['firing', 'firing', 'firing']);
    clock.ms += 1;
    await running.evaluate();
    await running.evaluate();
    expect(udpAlerts(running)).toEqual([]);
    expect(telegram.accepted.filter((m) => m.text.startsWith('Đã hết: '))).toHaveLength(3);
    expect(ntfy.accepted.map((m) => m.title)).toEqual([
      'Site losing UDP packets: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      'Resolved: Site losing UDP packets: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
    ]);
  }, 30_000);

  it('judges a newer result with UDP quality over the older one, and follows the configured for', async () => {
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const t0 = clock.now();
    const running = await startAlertingCollector(tempDb(), clock, { forMs: forMs({ siteBelowTarget: NEVER, siteUdpJitterHigh: 0 }) });
    running.addAgent('a', {});
    storeResults(running.store, 'a', [resultAt(t0 - 20 * MIN, { forwardJitterMs: 31 })], t0);
    await running.evaluate();
    expect(udpAlerts(running)).toEqual([['SpeedwatchSiteUdpJitterHigh', 'a', 'up', 'firing']]);
    storeResults(running.store, 'a', [resultAt(t0 - 5 * MIN, {})], t0);
    clock.ms += MIN;
    await running.evaluate();
    expect(udpAlerts(running)).toEqual([]);
  }, 30_000);
});

describe('LatestResults', () => {
  const figures = (startedMs: number, udp?: Partial<UdpResult>) => resultFigures(resultAt(startedMs, udp));

  it("keeps each agent's newest UDP figures through results without them, from ingest and from the store's seed", () => {
    const latest = new LatestResults();
    const withUdp = figures(10 * MIN, { forwardJitterMs: 40 });
    latest.record('a', withUdp);
    latest.record('a', figures(20 * MIN)); // newer, no UDP quality
    latest.record('a', figures(5 * MIN, { forwardJitterMs: 99 })); // older, replayed: ignored
    expect(latest.activity(['a']).get('a')).toMatchObject({ lastResultAt: 20 * MIN, udp: { id: withUdp.id, ts: 10 * MIN, figures: { forwardJitterMs: 40 } } });

    const seeded = figures(30 * MIN, { forwardJitterMs: 50 });
    latest.seed({ agentId: 'a', figures: seeded, udp: { id: seeded.id, ts: seeded.ts, figures: seeded.udp! } });
    expect(latest.activity(['a']).get('a')?.udp?.figures.forwardJitterMs).toBe(50);
    latest.record('b', figures(MIN));
    expect(latest.activity(['b']).get('b')?.udp).toBeUndefined();
  });
});
