/**
 * /api/v1/site, the console's site page in one answer, from a live collector on a real SQLite
 * file fed through the real WebSocket protocol: the site, its connection, targets, verdicts per
 * window, the window's series at the step for its length, the latest tests newest first, the
 * latest loaded latency and the box's health, rounded as `precision` says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMeasurementResult } from '@speedwatch/shared';
import { seriesStepMs } from '../src/api/site-page.js';
import type { SiteAnswer } from '../src/api/site-wire.js';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, startTestCollector } from './ingest-util.js';
import { udpSection } from './store-util.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let t: TestCollector;
let school: AgentClient;
let now = 0;

async function get(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.collector.url}${path}`);
  return { status: res.status, body: await res.json() };
}
const site = async (query: string): Promise<SiteAnswer> => {
  const { status, body } = await get(`api/v1/site?${query}`);
  expect(status).toBe(200);
  return body as SiteAnswer;
};

/**
 * school-1 (fixed, 102 Mbps target): 25 tests an hour apart, the newest 30 min ago, at
 * 110.04 Mbps (110.0 once rounded), latency 5.56 ms, jitter 1.26 ms, loss 0.012345, loaded
 * latency 38.04/45 ms; the 3rd newest failed on DNS, and 3 more ok tests 3 days ago at 90 Mbps.
 * UDP quality in the 2nd newest (round trip 23.46 ms) and, other figures, in every ok test older
 * than the 3rd; none in the newest. idle-1 never tested; gone-1 tested once and was revoked.
 */
beforeAll(async () => {
  t = await startTestCollector();
  now = Date.now();
  school = await connectAgent(t.wsUrl, t.addAgent('school-1', { technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT', lat: 21.8537, lon: 106.7615 }));
  await school.hello();
  t.addAgent('idle-1', { technology: 'mobile', siteKind: 'clinic', isp: 'Viettel' });
  const gone = await connectAgent(t.wsUrl, t.addAgent('gone-1'));
  await gone.hello();

  const latency = { count: 10, minMs: 4, medianMs: 5.56, meanMs: 5.6, p90Ms: 7, maxMs: 8, jitterMs: 1.26, lossRatio: 0.012345, samplesMs: [5] };
  const loadedLatency = { download: { count: 30, medianMs: 38.04, p90Ms: 61, lossRatio: 0 }, upload: { count: 30, medianMs: 45, p90Ms: 70, lossRatio: 0 } };
  const endpoint = { name: 'vnpt-ls', url: 'https://speedtest-ls.example.vn/backend/', reason: 'only' as const };
  const at = (startedMs: number) => ({ startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(startedMs + 25_000).toISOString() });
  const results = Array.from({ length: 25 }, (_, i) => {
    const startedMs = now - 30 * MINUTE - i * HOUR;
    if (i === 2) {
      const { latency: _latency, download: _download, upload: _upload, ...failed } = makeResult({ ...at(startedMs), endpoint });
      return parseMeasurementResult({ ...failed, status: 'failed', error: { phase: 'select', code: 'SW_DNS', message: 'getaddrinfo ENOTFOUND' } });
    }
    const udp = i === 1 ? { ...udpSection(23.46), rttP95Ms: 31.04, forwardJitterMs: 1.26, returnJitterMs: 2.04, lossRatio: 0.012345, forwardLossRatio: 0.00812 } : udpSection(60);
    return makeResult({ ...at(startedMs), endpoint, latency, loadedLatency, ...(i === 0 ? {} : { udp }) }, 110.04);
  });
  for (let i = 0; i < 3; i += 1) results.push(makeResult({ ...at(now - 3 * DAY - i * HOUR), endpoint, latency }, 90));
  school.send({ type: 'results', results });
  await school.next('ack');
  school.send({
    type: 'health',
    clock: new Date(Date.now() + 2_000).toISOString(),
    agent: { version: '0.3.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
    uptimeSeconds: 7200,
    systemUptimeSeconds: 86_400,
    backlog: 3,
    dropped: 0,
    failedTestsInARow: 0,
    diskFreeBytes: 12_500_000_000,
    cpuTemperatureCelsius: 48.5,
  });
  gone.send({ type: 'results', results: [makeResult({ ...at(now - HOUR) })] });
  await gone.next('ack');
  gone.ws.close();
  t.store.agents.revoke('gone-1', Date.now());
  await t.collector.refreshAgents();
  await t.collector.maintain();
  // The health message is handled after the results: wait until the page shows it.
  const deadline = Date.now() + 5000;
  while ((await site('agent=school-1')).health === null) {
    if (Date.now() > deadline) throw new Error('the health report never showed');
    await new Promise((r) => setTimeout(r, 20));
  }
});
afterAll(async () => {
  school?.ws.terminate();
  await t?.close();
});

describe('GET /api/v1/site', () => {
  it('answers the site, its connection, its targets and the precision, for the first window by default', async () => {
    const body = await site('agent=school-1');
    expect(body).toMatchObject({
      window: '24h',
      windows: ['24h', '7d', '30d'],
      timeZone: 'Asia/Ho_Chi_Minh',
      precision: { mbps: 1, ms: 1, ratio: 4, share: 3 },
      site: { id: 'school-1', name: 'Site school-1', kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', lat: 21.8537, lon: 106.7615 },
      connection: { connected: true, pausedAt: null, revokedAt: null, version: 'test' },
      targets: [{ metric: 'download', minMbps: 102 }],
    });
    expect(Date.parse(body.connection.lastSeenAt ?? '')).toBeGreaterThan(now - MINUTE);
    expect(Date.parse(body.computedAt ?? '')).toBeGreaterThanOrEqual(now - MINUTE);
  });

  it('gives a verdict per window: 24 ok tests meet in 24 h; the 3 slower ones join them in 7 d', async () => {
    const body = await site('agent=school-1');
    expect(body.verdicts.map((v) => v.window)).toEqual(['24h', '7d', '30d']);
    const [day, week] = body.verdicts;
    // 25 tests in the last 24.5 h: the oldest falls out of the 24 h window, and one of those left failed.
    expect(day).toMatchObject({ tests: 23, failedTests: 1, minTests: 10, verdict: 'meets', download: { tests: 23, median: 110, mean: 110, shareAtTarget: 1 }, upload: { tests: 23, median: 40 }, latency: { tests: 23, median: 5.6 } });
    expect(week).toMatchObject({ tests: 27, failedTests: 1, verdict: 'meets', download: { tests: 27, median: 110, shareAtTarget: 0.889 } });
  });

  it('rounds the series to the stated precision, in 15-minute buckets over 24 h', async () => {
    const body = await site('agent=school-1&window=24h');
    expect(body.series.stepMs).toBe(15 * MINUTE);
    expect(Date.parse(body.series.to) - Date.parse(body.series.from)).toBe(DAY);
    const download = body.series.points.download_mbps;
    expect(download).toHaveLength(23);
    expect(download.every((p) => p.median === 110 && p.count === 1 && (Date.parse(p.ts) % (15 * MINUTE)) === 0)).toBe(true);
    expect(download.map((p) => p.ts)).toEqual([...download.map((p) => p.ts)].sort());
    expect(body.series.points.latency_ms.every((p) => p.median === 5.6)).toBe(true); // 5.56 → 5.6 (1 decimal)
    expect(body.series.points.jitter_ms.every((p) => p.mean === 1.3)).toBe(true);
    expect(body.series.points.loss_ratio.every((p) => p.max === 0.0123)).toBe(true); // 4 decimals
    expect(body.series.meanJitterMs).toBe(1.3);
    expect(body.series.meanLossRatio).toBe(0.0123);
  });

  it.each([
    ['7d', HOUR, 27],
    ['30d', 3 * HOUR, 27],
  ])('reads %s from hourly roll-ups in buckets of %d ms', async (window, stepMs, tests) => {
    const body = await site(`agent=school-1&window=${window}`);
    expect(body.window).toBe(window);
    expect(body.series.stepMs).toBe(stepMs);
    const download = body.series.points.download_mbps;
    expect(download.reduce((n, p) => n + p.count, 0)).toBe(tests);
    expect(Math.min(...download.map((p) => p.min))).toBe(90);
    expect(download.every((p) => Date.parse(p.ts) % stepMs === 0)).toBe(true);
  });

  it('lists the latest 20 tests newest first, with endpoint, status, error code, figures and loaded latency', async () => {
    const { recent, loadedLatency } = await site('agent=school-1');
    expect(recent).toHaveLength(20);
    const starts = recent.map((r) => Date.parse(r.startedAt));
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    expect(starts[0]).toBe(now - 30 * MINUTE);
    expect(recent[0]).toMatchObject({
      status: 'ok',
      error: null,
      endpoint: { name: 'vnpt-ls', url: 'https://speedtest-ls.example.vn/backend/' },
      downloadMbps: 110,
      uploadMbps: 40,
      latencyMs: 5.6,
      jitterMs: 1.3,
      lossRatio: 0.0123,
      loadedLatency: { downloadMs: 38, uploadMs: 45 },
    });
    expect(recent[2]).toMatchObject({ status: 'failed', error: { code: 'SW_DNS', phase: 'select' }, downloadMbps: null, latencyMs: null, loadedLatency: null });
    expect(loadedLatency).toEqual({ startedAt: recent[0]?.startedAt, downloadMs: 38, uploadMs: 45 });
  });

  it('gives the UDP quality of the newest test that measured it, rounded as `precision` says, and null for a site with none', async () => {
    const { udp, recent } = await site('agent=school-1');
    // The newest test had no UDP probe: the one before it is shown. 23.46 → 23.5 ms, 2 / 247 → 0.0081.
    expect(udp).toEqual({
      startedAt: recent[1]?.startedAt,
      rttMedianMs: 23.5,
      rttP95Ms: 31,
      forwardJitterMs: 1.3,
      returnJitterMs: 2,
      lossRatio: 0.0123,
      forwardLossRatio: 0.0081,
      returnLossRatio: 0.0081,
    });
    expect((await site('agent=idle-1')).udp).toBeNull();
    expect((await site('agent=gone-1')).udp).toBeNull();
  });

  it("shows the box's health: version, uptime, disk, temperature, backlog, clock skew", async () => {
    const { health } = await site('agent=school-1');
    expect(health).toMatchObject({ agent: { version: '0.3.0', arch: 'arm64' }, uptimeSeconds: 7200, diskFreeBytes: 12_500_000_000, cpuTemperatureCelsius: 48.5, backlog: 3, failedTestsInARow: 0 });
    expect(health?.clockSkewSeconds).toBeGreaterThan(1);
    expect(health?.clockSkewSeconds).toBeLessThan(3);
  });

  it('answers a site that never tested with empty series and lists, and no verdict figures', async () => {
    const body = await site('agent=idle-1&window=30d');
    expect(body.site).toMatchObject({ kind: 'clinic', technology: 'mobile', isp: 'Viettel', lat: null, lon: null });
    expect(body.connection).toMatchObject({ connected: false, lastSeenAt: null });
    expect(body.targets).toEqual([{ metric: 'download', minMbps: 42 }]);
    expect(body.verdicts.every((v) => v.verdict === 'no-data' && v.download === null)).toBe(true);
    expect(Object.values(body.series.points).every((points) => points.length === 0)).toBe(true);
    expect(body.series).toMatchObject({ meanJitterMs: null, meanLossRatio: null });
    expect(body).toMatchObject({ recent: [], loadedLatency: null, health: null });
  });

  it('answers a revoked site with its revocation and tests, and no verdict', async () => {
    const body = await site('agent=gone-1');
    expect(body.connection.revokedAt).not.toBeNull();
    expect(body.verdicts).toEqual([]);
    expect(body.recent).toHaveLength(1);
  });

  it.each([
    ['api/v1/site', 'agent', /required/],
    ['api/v1/site?agent=nobody', 'agent', /no agent "nobody"/],
    ['api/v1/site?agent=school-1&window=1y', 'window', /one of 24h, 7d, 30d/],
    ['api/v1/site?agent=school-1&agent=idle-1', 'agent', /more than once/],
    ['api/v1/site?agent=school-1&step=1h', 'step', /unknown parameter/],
  ])('answers %s with 400 naming %s', async (path, parameter, message) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SW_BAD_PARAMETER', parameter });
    expect(body.error.message).toMatch(message);
  });
});

describe('seriesStepMs', () => {
  it.each([
    [DAY, 15 * MINUTE],
    [3 * DAY, 15 * MINUTE],
    [7 * DAY, HOUR],
    [30 * DAY, 3 * HOUR],
    [60 * DAY, 6 * HOUR],
    [365 * DAY, 2 * DAY],
  ])('gives a window of %d ms buckets of %d ms (at most 300)', (windowMs, stepMs) => {
    expect(seriesStepMs(windowMs)).toBe(stepMs);
  });
});
