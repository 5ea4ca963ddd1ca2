/**
 * Routes: which alerts go where (a table of labels against matches), quiet hours and digests in
 * the collector's time zone on a fake clock, messages a person can act on in Vietnamese and
 * English, and delivery through the channels end to end: a real collector on a temp SQLite file
 * posting to stand-ins of Telegram, Zalo and ntfy on loopback (channel-servers.ts), their error
 * answers and the retries that follow, the outbox per route surviving a restart, and an outbox
 * written per webhook before migration 9 still meaningful after it.
 */
import { createLogger } from '@speedwatch/shared';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fingerprint } from '../src/alerts/alert-fingerprint.js';
import { alertMessage, digestMessage, localTime } from '../src/alerts/alert-text.js';
import { digestSlot, quietUntil, routeKey, routeMatches, webhookKey } from '../src/alerts/alert-routes.js';
import type { RouteConfig, RouteMatch } from '../src/alerts/alert-routes.js';
import type { ChannelConfig } from '../src/alerts/channels/channel-config.js';
import type { AlertDeliveriesAnswer, AlertsAnswer } from '../src/api/alerts-wire.js';
import { Secret } from '../src/config/secret.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import type { Running } from './alerts-util.js';
import { FakeClock, HOUR, MIN, api, local, startAlerting, tempDb } from './alerts-util.js';
import { fakeNtfy, fakeTelegram, fakeZalo } from './channel-servers.js';
import { freePort } from './util.js';

const TZ = 'Asia/Ho_Chi_Minh';
const BOT_TOKEN = '4242:AAE-routes-test-bot-token_abcdef';
const ZALO_TOKEN = 'zalo-routes-test-access-token-0123';
const NTFY_TOKEN = 'tk_routestestntfytoken012345';

describe('routeMatches', () => {
  const school = { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'a', site_kind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', severity: 'warning' };
  const group = { alertname: 'SpeedwatchGroupBelowTarget', technology: 'mobile', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' };
  const rejecting = { alertname: 'SpeedwatchCollectorRejecting', reason: 'invalid', severity: 'warning' };
  const cases: [string, RouteMatch, Record<string, string>, boolean][] = [
    ['an empty match takes everything', {}, rejecting, true],
    ['an area prefix takes the area itself', { areaPrefix: ['Lạng Sơn/Cao Lộc/Hợp Thành'] }, school, true],
    ['an area prefix takes the areas under it', { areaPrefix: ['Lạng Sơn'] }, school, true],
    ['an area prefix is cut at level boundaries only', { areaPrefix: ['Lạng Sơn/Cao'] }, school, false],
    ['an area prefix ignores case and spacing', { areaPrefix: ['lạng sơn / cao lộc'] }, school, true],
    ['any of several prefixes', { areaPrefix: ['Cao Bằng', 'Lạng Sơn/Cao Lộc'] }, group, true],
    ['an alert with no area is not in any', { areaPrefix: ['Lạng Sơn'] }, rejecting, false],
    ['a site kind', { siteKind: ['school'] }, school, true],
    ['another site kind', { siteKind: ['clinic', 'office'] }, school, false],
    ['a group alert has no site kind', { siteKind: ['school'] }, group, false],
    ['a technology', { technology: ['mobile'] }, group, true],
    ['a severity', { severity: ['critical'] }, school, false],
    ['an alert name', { alertname: ['SpeedwatchSiteBelowTarget', 'SpeedwatchAgentSilent'] }, school, true],
    ['every key given must match', { areaPrefix: ['Lạng Sơn'], siteKind: ['school'], technology: ['mobile'] }, school, false],
    ['the district education office: Cao Lộc schools', { areaPrefix: ['Lạng Sơn/Cao Lộc'], siteKind: ['school'] }, school, true],
  ];
  it.each(cases)('%s', (_name, match, labels, expected) => {
    expect(routeMatches(match, labels)).toBe(expected);
  });
});

describe('quiet hours and digest times, in the collector time zone', () => {
  const quiet = { from: '22:00', to: '06:30' };
  const cases: [string, { from: string; to: string }, string, string | undefined][] = [
    ['before a quiet period spanning midnight', quiet, '2026-11-25T21:59', undefined],
    ['at its start', quiet, '2026-11-25T22:00', '2026-11-26T06:30'],
    ['after midnight', quiet, '2026-11-26T03:00', '2026-11-26T06:30'],
    ['at its end', quiet, '2026-11-26T06:30', undefined],
    ['inside a daytime quiet period', { from: '12:00', to: '13:30' }, '2026-11-25T12:45', '2026-11-25T13:30'],
    ['outside it', { from: '12:00', to: '13:30' }, '2026-11-25T14:00', undefined],
  ];
  it.each(cases)('quietUntil %s', (_name, hours, now, until) => {
    expect(quietUntil(hours, local(now), TZ)).toBe(until === undefined ? undefined : local(until));
  });

  it('places the digest at the latest `at` passed: today once it has come, else yesterday', () => {
    expect(digestSlot('07:30', local('2026-11-26T07:29'), TZ)).toEqual({ at: local('2026-11-25T07:30'), today: false });
    expect(digestSlot('07:30', local('2026-11-26T07:30'), TZ)).toEqual({ at: local('2026-11-26T07:30'), today: true });
    expect(digestSlot('07:30', local('2026-11-26T23:59'), TZ)).toEqual({ at: local('2026-11-26T07:30'), today: true });
    // 07:30 in Hồ Chí Minh is 00:30 UTC: the zone, not the server's, decides.
    expect(new Date(digestSlot('07:30', Date.UTC(2026, 10, 26, 1, 0), TZ).at).toISOString()).toBe('2026-11-26T00:30:00.000Z');
  });
});

describe('messages', () => {
  const firing = {
    labels: { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'lso-thcs-1', site_kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' },
    annotations: { summary: 'Trường THCS Hợp Thành (lso-thcs-1) is below its fixed broadband target' },
    startsAt: new Date(local('2026-11-25T15:00')).toISOString(),
    endsAt: '0001-01-01T00:00:00Z',
    fingerprint: 'f1',
    facts: { siteName: 'Trường THCS Hợp Thành', window: '24h', missed: [{ metric: 'download' as const, median: 60, tests: 3, target: 102 }], latestMbps: 58.25, value: 60 },
  };
  const ctx = { timeZone: TZ, externalUrl: 'https://speedwatch.example.org/' };

  it('says in Vietnamese which site, where, what was measured against which target over which window, since when, and links its page', () => {
    const m = alertMessage('firing', firing, { ...ctx, lang: 'vi' });
    expect(m.subject).toBe('Điểm đo dưới chỉ tiêu: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc)');
    expect(m.text.split('\n')).toEqual([
      'Trường THCS Hợp Thành (lso-thcs-1) không đạt chỉ tiêu băng rộng cố định.',
      'Địa bàn: Lạng Sơn/Cao Lộc · trường học · nhà mạng VNPT',
      'Đo được: trong 24 giờ qua, trung vị tốc độ tải xuống là 60,0 Mbps qua 3 lần đo, dưới chỉ tiêu 102,0 Mbps.',
      'Lần đo gần nhất: 58,3 Mbps.',
      'Từ lúc: 15:00 25/11/2026 (giờ Asia/Ho_Chi_Minh)',
      'Trang điểm đo: https://speedwatch.example.org/#/site/lso-thcs-1',
    ]);
    expect(m).toMatchObject({ link: 'https://speedwatch.example.org/#/site/lso-thcs-1', kind: 'firing', severity: 'warning' });
  });

  it('says the same in English, and when it ended once resolved', () => {
    expect(alertMessage('firing', firing, { ...ctx, lang: 'en' }).text).toContain('Measured: over the last 24 hours, the median download was 60.0 Mbps over 3 tests, under the target of 102.0 Mbps.');
    const resolved = alertMessage('resolved', { ...firing, endsAt: new Date(local('2026-11-26T09:05')).toISOString() }, { ...ctx, lang: 'en' });
    expect(resolved.subject).toBe('Resolved: Site below target: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc)');
    expect(resolved.text.split('\n')).toEqual([
      'Trường THCS Hợp Thành (lso-thcs-1) is back on target.',
      'Area: Lạng Sơn/Cao Lộc · school · ISP VNPT',
      'Measured: over the last 24 hours, the median download was 60.0 Mbps over 3 tests, under the target of 102.0 Mbps.',
      'Since: 2026-11-25 15:00 (Asia/Ho_Chi_Minh)',
      'Ended: 2026-11-26 09:05 (Asia/Ho_Chi_Minh)',
      'Site page: https://speedwatch.example.org/#/site/lso-thcs-1',
    ]);
  });

  it('falls back on the English annotations for an alert stored before facts were kept', () => {
    const { facts: _facts, ...old } = firing;
    const m = alertMessage('firing', { ...old, annotations: { ...old.annotations, description: 'Site X: over the last 24h, the median download was 60.0 Mbps.' } }, { ...ctx, lang: 'vi' });
    expect(m.text).toContain('Site X: over the last 24h, the median download was 60.0 Mbps.');
    expect(m.text).toContain('Trang điểm đo: https://speedwatch.example.org/#/site/lso-thcs-1');
  });

  it('lists a digest one site a line, with nothing else in the list', () => {
    const digest = {
      at: new Date(local('2026-11-26T07:30')).toISOString(),
      digest: [{ agentId: 'a', name: 'Trạm Y tế A', area: 'Lạng Sơn/Chi Lăng', window: '24h', missed: [{ metric: 'download' as const, median: 30, tests: 5, target: 42 }], since: new Date(local('2026-11-25T10:00')).toISOString() }],
    };
    const m = digestMessage(digest, { ...ctx, lang: 'vi' });
    expect(m.subject).toBe('Bản tin hằng ngày: 1 điểm đo dưới chỉ tiêu');
    expect(m.text.split('\n')).toEqual([
      'Lúc 07:30 26/11/2026 (giờ Asia/Ho_Chi_Minh), 1 điểm đo dưới chỉ tiêu:',
      '• Trạm Y tế A (a) – Lạng Sơn/Chi Lăng; 24 giờ: trung vị tốc độ tải xuống là 30,0 Mbps qua 5 lần đo, dưới chỉ tiêu 42,0 Mbps; từ 10:00 25/11/2026 (giờ Asia/Ho_Chi_Minh); https://speedwatch.example.org/#/site/a',
      '',
      'Trang cảnh báo: https://speedwatch.example.org/#/alerts',
    ]);
    expect(digestMessage({ ...digest, digest: [] }, { ...ctx, lang: 'en' }).subject).toBe('Daily digest: no site below target');
  });

  it('states times in the zone whatever zone the server runs in', () => {
    expect(localTime(Date.UTC(2026, 10, 25, 17, 30), { lang: 'en', timeZone: TZ })).toBe('2026-11-26 00:30 (Asia/Ho_Chi_Minh)');
  });
});

/** The sites of the routing tests: two below target in Lạng Sơn, one meeting it, one below in Cao Bằng. */
function addSites(running: Running): void {
  running.addAgent('caoloc-thcs', { name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' });
  running.addAgent('chilang-tyt', { name: 'Trạm Y tế Chi Lăng', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Chi Lăng' });
  running.addAgent('caoloc-ubnd', { name: 'UBND xã Hợp Thành', siteKind: 'office', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' });
  running.addAgent('caobang-thpt', { name: 'Trường THPT Cao Bằng', siteKind: 'school', technology: 'fixed', isp: 'FPT', area: 'Cao Bằng/Hòa An' });
  running.storeResults('caoloc-thcs', [50, 60, 70]);
  running.storeResults('chilang-tyt', [20, 30, 40], 'mobile');
  running.storeResults('caoloc-ubnd', [150, 160, 170]);
  running.storeResults('caobang-thpt', [40, 45, 50]);
}

async function servers() {
  const telegram = await fakeTelegram(BOT_TOKEN, ['-100200300']);
  const zalo = await fakeZalo(ZALO_TOKEN, ['7001']);
  const ntfy = await fakeNtfy(NTFY_TOKEN, ['lso-boxes']);
  onTestFinished(async () => {
    await telegram.close();
    await zalo.close();
    await ntfy.close();
  });
  const channels: ChannelConfig[] = [
    { type: 'telegram', name: 'it-telegram', baseUrl: telegram.baseUrl, token: new Secret(BOT_TOKEN, 'env TG'), chatId: '-100200300' },
    { type: 'zalo', name: 'so-gd-zalo', baseUrl: zalo.baseUrl, accessToken: new Secret(ZALO_TOKEN, 'env ZALO'), userId: '7001' },
    { type: 'ntfy', name: 'phones', baseUrl: ntfy.baseUrl, topic: 'lso-boxes', token: new Secret(NTFY_TOKEN, 'env NTFY') },
  ];
  return { telegram, zalo, ntfy, channels };
}

/** The site ids named in messages' site-page links. */
function sitesIn(texts: readonly string[]): string[] {
  return texts.flatMap((t) => [...t.matchAll(/#\/site\/([\w-]+)/g)].map((m) => m[1] as string)).sort();
}

describe('routing alerts to channels', () => {
  it('sends each alert once to every route that takes it, in the route language, and each resolution once', async () => {
    const { telegram, zalo, ntfy, channels } = await servers();
    const routes: RouteConfig[] = [
      { name: 'caoloc-schools', channel: 'it-telegram', match: { areaPrefix: ['Lạng Sơn/Cao Lộc'], siteKind: ['school'] }, lang: 'vi' },
      { name: 'province', channel: 'so-gd-zalo', match: { areaPrefix: ['Lạng Sơn'] }, lang: 'vi' },
      { name: 'mobile-en', channel: 'phones', match: { technology: ['mobile'] }, lang: 'en' },
    ];
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const running = await startAlerting(tempDb(), clock, { channels, routes });
    addSites(running);
    await running.evaluate();

    expect(sitesIn(telegram.accepted.map((m) => m.text))).toEqual(['caoloc-thcs']);
    expect(sitesIn(zalo.accepted.map((m) => m.text))).toEqual(['caoloc-thcs', 'chilang-tyt']);
    expect(sitesIn(ntfy.accepted.map((m) => m.body))).toEqual(['chilang-tyt']);
    expect(telegram.accepted[0]?.text.split('\n')).toEqual([
      'Điểm đo dưới chỉ tiêu: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      '',
      'Trường THCS Hợp Thành (caoloc-thcs) không đạt chỉ tiêu băng rộng cố định.',
      'Địa bàn: Lạng Sơn/Cao Lộc/Hợp Thành · trường học · nhà mạng VNPT',
      'Đo được: trong 24 giờ qua, trung vị tốc độ tải xuống là 60,0 Mbps qua 3 lần đo, dưới chỉ tiêu 102,0 Mbps.',
      'Lần đo gần nhất: 50,0 Mbps.',
      'Từ lúc: 15:00 25/11/2026 (giờ Asia/Ho_Chi_Minh)',
      'Trang điểm đo: http://console.example/#/site/caoloc-thcs',
    ]);
    expect(ntfy.accepted[0]).toMatchObject({ title: 'Site below target: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)', priority: '4', tags: 'warning', click: 'http://console.example/#/site/chilang-tyt' });
    expect(ntfy.accepted[0]?.body).toContain('the median download was 30.0 Mbps over 3 tests, under the target of 42.0 Mbps');

    // Unchanged: nothing more, evaluation after evaluation.
    for (let i = 0; i < 3; i++) {
      clock.ms += MIN;
      await running.evaluate();
    }
    expect([telegram.accepted.length, zalo.accepted.length, ntfy.accepted.length]).toEqual([1, 2, 1]);

    // The clinic gets good results: its routes hear the resolution, once.
    running.storeResults('chilang-tyt', [60, 61, 62, 63, 64], 'mobile');
    clock.ms += MIN;
    await running.evaluate();
    await running.evaluate();
    expect(zalo.accepted.map((m) => m.text.split('\n')[0]).sort()).toEqual([
      'Điểm đo dưới chỉ tiêu: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)',
      'Điểm đo dưới chỉ tiêu: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)',
      'Đã hết: Điểm đo dưới chỉ tiêu: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)',
    ]);
    expect(zalo.accepted[2]?.text).toMatch(/^Đã hết: .*\n\nTrạm Y tế Chi Lăng \(chilang-tyt\) đã đạt lại chỉ tiêu\./);
    expect(ntfy.accepted.map((m) => [m.title, m.tags])).toEqual([
      ['Site below target: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)', 'warning'],
      ['Resolved: Site below target: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)', 'white_check_mark'],
    ]);
    expect(telegram.accepted).toHaveLength(1);

    // The API names routes and channels by their configured names, and holds no token.
    const text = JSON.stringify([await api<AlertsAnswer>(running.collector, '/api/v1/alerts'), await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries')]);
    const deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.routes.map((r) => [r.name, r.channel, r.channelType, r.lang])).toEqual([
      ['caoloc-schools', 'it-telegram', 'telegram', 'vi'],
      ['province', 'so-gd-zalo', 'zalo', 'vi'],
      ['mobile-en', 'phones', 'ntfy', 'en'],
    ]);
    expect(deliveries.routes.map((r) => r.id)).toEqual(routes.map(routeKey));
    expect(deliveries.deliveries.every((d) => d.state === 'delivered')).toBe(true);
    for (const secret of [BOT_TOKEN, ZALO_TOKEN, NTFY_TOKEN, telegram.baseUrl, zalo.baseUrl]) expect(text).not.toContain(secret);
  });

  it("retries Telegram's 429 after its retry_after, and waits for a later round after a refused token", async () => {
    const { telegram, channels } = await servers();
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const running = await startAlerting(tempDb(), clock, { channels, routes: [{ name: 'all', channel: 'it-telegram', match: { areaPrefix: ['Lạng Sơn/Cao Lộc'], siteKind: ['school'] }, lang: 'en' }] });
    addSites(running);
    telegram.failNext({ kind: 'rate-limit', retryAfterSeconds: 30 });
    await running.evaluate();
    // backoff 1 s at random 0.5 is 750 ms; Telegram asked for 30 s, which wins.
    expect(clock.sleeps).toEqual([30_000]);
    expect(telegram.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(telegram.accepted).toHaveLength(1);
    let deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.deliveries).toMatchObject([{ state: 'delivered', attempts: 2, lastError: null }]);

    // A refused token: no retry within the round (one request), kept with its error, tried again later.
    running.storeResults('caoloc-thcs', [150, 151, 152, 153, 154]);
    telegram.failNext({ kind: 'bad-token' }, { kind: 'bad-token' });
    clock.ms += MIN;
    await running.evaluate();
    expect(telegram.requests.map((r) => r.status)).toEqual([429, 200, 401]);
    deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.deliveries).toMatchObject([{ notified: 'resolved', state: 'failed', attempts: 1, lastError: expect.stringMatching(/^SW_CHANNEL_AUTH: telegram channel "it-telegram": sendMessage: HTTP 401: Unauthorized/) }]);
    expect(deliveries.deliveries[0]?.lastError).not.toContain('AAE-');
    clock.ms += 10 * MIN;
    await running.evaluate(); // still refused
    clock.ms += 10 * MIN;
    await running.evaluate(); // the token is good again
    expect(telegram.requests.map((r) => r.status)).toEqual([429, 200, 401, 401, 200]);
    expect(telegram.accepted.map((m) => m.text.split('\n')[0])).toEqual(['Site below target: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)', 'Resolved: Site below target: Trường THCS Hợp Thành (Lạng Sơn/Cao Lộc/Hợp Thành)']);
  });

  it("retries Zalo's rate limit and ntfy's 429 with backoff, and not Zalo's invalid access token", async () => {
    const { zalo, ntfy, channels } = await servers();
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const running = await startAlerting(tempDb(), clock, {
      channels,
      routes: [
        { name: 'zalo', channel: 'so-gd-zalo', match: { siteKind: ['clinic'] }, lang: 'vi' },
        { name: 'ntfy', channel: 'phones', match: { siteKind: ['clinic'] }, lang: 'vi' },
      ],
    });
    addSites(running);
    zalo.failNext({ kind: 'rate-limit' }, { kind: 'rate-limit' });
    ntfy.failNext({ kind: 'rate-limit' });
    await running.evaluate();
    expect(zalo.requests.map((r) => JSON.parse(r.body) as unknown)).toHaveLength(3);
    expect(zalo.accepted).toHaveLength(1);
    expect(ntfy.requests.map((r) => r.status)).toEqual([429, 200]);
    // Backoff 1 s then 2 s, at random 0.5: 750 and 1500 ms (the two channels' rounds interleave).
    expect([...clock.sleeps].sort((a, b) => a - b)).toEqual([750, 750, 1500]);

    zalo.failNext({ kind: 'bad-token' });
    running.storeResults('chilang-tyt', [60, 61, 62, 63, 64], 'mobile');
    clock.ms += MIN;
    await running.evaluate();
    expect(zalo.requests).toHaveLength(4); // one attempt, no retry in the round
    const deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.deliveries.find((d) => d.route === routeKey({ name: 'zalo', channel: 'so-gd-zalo' }))).toMatchObject({
      state: 'failed',
      lastError: 'SW_CHANNEL_AUTH: zalo channel "so-gd-zalo": message/cs: error -216: Access token is invalid (the access token is invalid or expired: refresh it)',
    });
    clock.ms += 10 * MIN;
    await running.evaluate();
    expect(zalo.accepted.map((m) => m.text.split('\n')[0])).toEqual(['Điểm đo dưới chỉ tiêu: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)', 'Đã hết: Điểm đo dưới chỉ tiêu: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)']);
  });

  it('holds messages during quiet hours and sends them, once, when the quiet period ends', async () => {
    const { telegram, ntfy, channels } = await servers();
    const clock = new FakeClock(local('2026-11-25T23:00'));
    const running = await startAlerting(tempDb(), clock, {
      channels,
      routes: [
        { name: 'night-quiet', channel: 'it-telegram', match: { areaPrefix: ['Lạng Sơn/Cao Lộc'] }, lang: 'vi', quietHours: { from: '22:00', to: '06:30' } },
        { name: 'always', channel: 'phones', match: { areaPrefix: ['Lạng Sơn/Cao Lộc'] }, lang: 'vi' },
      ],
    });
    addSites(running);
    await running.evaluate();
    expect(telegram.requests).toEqual([]);
    expect(ntfy.accepted).toHaveLength(1); // a route without quiet hours is not held
    const deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    const quietKey = routeKey({ name: 'night-quiet', channel: 'it-telegram' });
    expect(deliveries.routes.find((r) => r.id === quietKey)).toMatchObject({ quietHours: { from: '22:00', to: '06:30' }, heldUntil: new Date(local('2026-11-26T06:30')).toISOString() });
    expect(deliveries.deliveries.filter((d) => d.route === quietKey)).toMatchObject([{ state: 'held', attempts: 0, nextAttemptAt: new Date(local('2026-11-26T06:30')).toISOString() }]);

    for (const at of ['2026-11-26T02:00', '2026-11-26T06:29']) {
      clock.ms = local(at);
      await running.evaluate();
    }
    expect(telegram.requests).toEqual([]);
    clock.ms = local('2026-11-26T06:31');
    await running.evaluate();
    await running.evaluate();
    expect(sitesIn(telegram.accepted.map((m) => m.text))).toEqual(['caoloc-thcs']);
    // It says when the site fell below target, not when the message left.
    expect(telegram.accepted[0]?.text).toContain('Từ lúc: 23:00 25/11/2026 (giờ Asia/Ho_Chi_Minh)');
  });

  it('sends a digest route, once a day at its hour, every site below target it takes and nothing else', async () => {
    const { telegram, zalo, channels } = await servers();
    const clock = new FakeClock(local('2026-11-26T07:00'));
    const running = await startAlerting(tempDb(), clock, {
      channels,
      routes: [
        { name: 'lso-digest', channel: 'it-telegram', match: { areaPrefix: ['Lạng Sơn'] }, lang: 'en', digest: { at: '07:30' } },
        { name: 'each', channel: 'so-gd-zalo', match: { areaPrefix: ['Lạng Sơn'] }, lang: 'vi' },
      ],
    });
    addSites(running);
    await running.evaluate();
    expect(telegram.requests).toEqual([]); // a new digest route waits for today's 07:30
    expect(zalo.accepted).toHaveLength(2); // the other route sends each alert

    clock.ms = local('2026-11-26T07:31');
    await running.evaluate();
    expect(telegram.accepted).toHaveLength(1);
    const [digest] = telegram.accepted;
    const lines = (digest?.text ?? '').split('\n');
    expect(lines[0]).toBe('Daily digest: 2 sites below target');
    expect(lines[2]).toBe('At 2026-11-26 07:30 (Asia/Ho_Chi_Minh), 2 sites are below target:');
    // Every site below target in Lạng Sơn, and nothing else: not the office meeting its target, not Cao Bằng's school.
    const listed = lines.filter((l) => l.startsWith('• '));
    expect(sitesIn(listed)).toEqual(['caoloc-thcs', 'chilang-tyt']);
    expect(listed).toHaveLength(2);
    expect(digest?.text).not.toMatch(/caoloc-ubnd|caobang-thpt|UBND|Cao Bằng/);
    expect(listed.find((l) => l.includes('chilang-tyt'))).toBe(
      '• Trạm Y tế Chi Lăng (chilang-tyt) – Lạng Sơn/Chi Lăng; 24 hours: the median download was 30.0 Mbps over 3 tests, under the target of 42.0 Mbps; since 2026-11-26 07:00 (Asia/Ho_Chi_Minh); http://console.example/#/site/chilang-tyt',
    );

    // Later the same day: nothing more, whatever changes.
    running.storeResults('caobang-thpt', [1, 2, 3]);
    for (const at of ['2026-11-26T12:00', '2026-11-26T23:59', '2026-11-27T07:29']) {
      clock.ms = local(at);
      await running.evaluate();
    }
    expect(telegram.accepted).toHaveLength(1);

    // The next day's digest: the clinic is still below (its tests of the day), the school has no test in 24 h.
    clock.ms = local('2026-11-27T07:30');
    running.storeResults('chilang-tyt', [20, 30, 40], 'mobile');
    await running.evaluate();
    expect(telegram.accepted).toHaveLength(2);
    expect(sitesIn((telegram.accepted[1]?.text ?? '').split('\n').filter((l) => l.startsWith('• ')))).toEqual(['chilang-tyt']);
    const deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.deliveries.filter((d) => d.alertname === 'digest')).toMatchObject([{ fingerprint: 'digest', state: 'delivered', deliveredAt: new Date(local('2026-11-27T07:30')).toISOString() }]);
  });

  it('keeps what a route has not delivered across a restart, and catches up on a digest missed while stopped', async () => {
    const port = await freePort();
    const dbPath = tempDb();
    const clock = new FakeClock(local('2026-11-26T07:40'));
    const channels = (base: string): ChannelConfig[] => [{ type: 'telegram', name: 'it-telegram', baseUrl: base, token: new Secret(BOT_TOKEN, 'env TG'), chatId: '-100200300' }];
    const routes: RouteConfig[] = [
      { name: 'each', channel: 'it-telegram', match: { siteKind: ['clinic'] }, lang: 'en' },
      { name: 'digest', channel: 'it-telegram', match: { siteKind: ['clinic'] }, lang: 'en', digest: { at: '07:30' } },
    ];
    const alerts = { channels: channels(`http://127.0.0.1:${port}`), routes, delivery: { timeoutMs: 1_000, attempts: 2, backoffMs: 1000, maxBackoffMs: 60_000, concurrency: 4 } };
    const first = await startAlerting(dbPath, clock, alerts);
    addSites(first);
    await first.evaluate(); // nothing listens: both fail their round
    const before = await api<AlertDeliveriesAnswer>(first.collector, '/api/v1/alerts/deliveries');
    expect(before.deliveries.map((d) => [d.alertname, d.state, d.attempts])).toEqual(
      expect.arrayContaining([
        ['SpeedwatchSiteBelowTarget', 'failed', 2],
        ['digest', 'failed', 2],
      ]),
    );
    expect(before.deliveries[0]?.lastError).toMatch(/^SW_CHANNEL_NETWORK: telegram channel "it-telegram": sendMessage: ECONNREFUSED/);
    await first.close();

    // Stopped over a day: 07:30 on the 27th passes while it is down.
    const telegram = await fakeTelegram(BOT_TOKEN, ['-100200300']);
    onTestFinished(() => telegram.close());
    clock.ms = local('2026-11-27T09:00');
    const second = await startAlerting(dbPath, clock, { ...alerts, channels: channels(telegram.baseUrl) });
    second.storeResults('chilang-tyt', [20, 30, 40], 'mobile'); // still below, on the day's tests
    await second.evaluate();
    expect(telegram.accepted.map((m) => m.text.split('\n')[0]).sort()).toEqual(['Daily digest: 1 site below target', 'Site below target: Trạm Y tế Chi Lăng (Lạng Sơn/Chi Lăng)']);
    // The digest sent is the 27th's (the 26th's, never delivered, was replaced by it).
    expect(telegram.accepted.find((m) => m.text.startsWith('Daily'))?.text).toContain('At 2026-11-27 07:30');
    await second.evaluate();
    expect(telegram.accepted).toHaveLength(2);
  });

  it('keeps the outbox a webhook had before migration 9: what it heard is not sent again, and a new route hears what fires', async () => {
    const dbPath = tempDb();
    const clock = new FakeClock(local('2026-11-25T15:00'));
    const hook = `http://127.0.0.1:${await freePort()}/hook/secret-path`;
    // A database as the collector left it before routes (migrations 1–7): the school's alert
    // firing for an hour, and the webhook's record that it heard it, keyed by the hash of its URL.
    const labels = { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'caoloc-thcs', site_kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', severity: 'warning' };
    const fp = fingerprint(labels);
    const firedAt = clock.now() - HOUR;
    const db = new Database(dbPath);
    for (const migration of MIGRATIONS.slice(0, 7)) db.exec(migration);
    db.pragma('user_version = 7');
    db.prepare("INSERT INTO alerts (fingerprint, alertname, labels, annotations, state, value, active_at, fired_at, updated_at) VALUES (?, ?, ?, '{}', 'firing', 60, ?, ?, ?)").run(fp, labels.alertname, JSON.stringify(labels), firedAt, firedAt, firedAt);
    db.prepare(
      `INSERT INTO alert_notifications (webhook, fingerprint, alertname, status, starts_at, alert, seq, delivered_at, attempts, next_attempt_at)
       VALUES (?, ?, ?, 'firing', ?, ?, 1, ?, 1, ?)`,
    ).run(webhookKey(hook), fp, labels.alertname, firedAt, JSON.stringify({ labels, annotations: {}, startsAt: new Date(firedAt).toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint: fp }), firedAt, firedAt);
    db.close();

    const { ntfy, channels } = await servers();
    const lines: string[] = [];
    const running = await startAlerting(dbPath, clock, { webhooks: [hook], channels, routes: [{ name: 'phones', channel: 'phones', lang: 'en', match: {} }] }, { logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
    running.addAgent('caoloc-thcs', { name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' });
    running.storeResults('caoloc-thcs', [50, 60, 70]);
    await running.evaluate();
    // The webhook (nothing listens on it) is not tried: it heard this alert fire. The new route hears it.
    expect(lines.filter((l) => l.includes('"channelType":"webhook"'))).toEqual([]);
    expect(sitesIn(ntfy.accepted.map((m) => m.body))).toEqual(['caoloc-thcs']);
    expect(ntfy.accepted[0]?.body).toContain('Since: 2026-11-25 14:00 (Asia/Ho_Chi_Minh)');
    const deliveries = await api<AlertDeliveriesAnswer>(running.collector, '/api/v1/alerts/deliveries');
    expect(deliveries.deliveries.filter((d) => d.route === webhookKey(hook))).toMatchObject([{ fingerprint: fp, state: 'delivered', deliveredAt: new Date(firedAt).toISOString() }]);
    expect(JSON.stringify(deliveries)).not.toContain('secret-path');
  });
});
