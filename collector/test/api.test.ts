/**
 * The JSON API and /metrics of a live collector on a real SQLite file, fed through the real
 * WebSocket protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, startTestCollector } from './ingest-util.js';
import { promtoolCheckMetrics } from './promtool.js';
import { requestJson } from './util.js';
import type { JsonAnswer } from './util.js';

let t: TestCollector;
let client: AgentClient;
const HOUR = 3_600_000;

function get(path: string, token?: string): Promise<JsonAnswer> {
  return requestJson(`${t.collector.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
}

beforeAll(async () => {
  t = await startTestCollector();
  client = await connectAgent(t.wsUrl, t.addAgent('school-1', { technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT', lat: 21.8537, lon: 106.7615 }));
  await client.hello();
  const clinic = await connectAgent(t.wsUrl, t.addAgent('clinic-1', { technology: 'mobile', siteKind: 'clinic', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'Viettel' }));
  await clinic.hello();
  // 12 results an hour apart for each: the school at 110 Mbps, the clinic at 30 Mbps.
  const now = Date.now();
  const loadedLatency = { download: { count: 30, medianMs: 38, p90Ms: 61, lossRatio: 0 }, upload: { count: 30, medianMs: 45, p90Ms: 70, lossRatio: 0 } };
  const at = (i: number, mbps: number) => {
    const startedAt = new Date(now - (i + 1) * HOUR).toISOString();
    return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(), loadedLatency }, mbps);
  };
  client.send({ type: 'results', results: Array.from({ length: 12 }, (_, i) => at(i, 110)) });
  await client.next('ack');
  clinic.send({ type: 'results', results: Array.from({ length: 12 }, (_, i) => at(i, 30)) });
  await clinic.next('ack');
  clinic.ws.close();
  await t.collector.maintain();
});
afterAll(async () => {
  client?.ws.terminate();
  await t?.close();
});

describe('HTTP API', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await get('healthz')).body).toEqual({ status: 'ok' });
    expect((await get('readyz')).body).toMatchObject({ status: 'ready' });
  });

  it('lists agents with site, connection state, latest result and verdicts', async () => {
    const { status, body } = await get('api/v1/agents');
    expect(status).toBe(200);
    const school = body.agents.find((a: any) => a.id === 'school-1');
    expect(school).toMatchObject({ site: { kind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT' }, connected: true, version: 'test' });
    expect(school.latest.downloadMbps).toBe(110);
    expect(school.verdicts.find((v: any) => v.window === '24h')).toMatchObject({ verdict: 'meets', tests: 12 });
    const clinic = body.agents.find((a: any) => a.id === 'clinic-1');
    expect(clinic.verdicts.find((v: any) => v.window === '24h')).toMatchObject({ verdict: 'below', tests: 12 });
  });

  it('pages through results with a cursor, each result once', async () => {
    const first = await get('api/v1/results?agent=school-1&limit=5');
    expect(first.body.results).toHaveLength(5);
    const ids = first.body.results.map((r: any) => r.id);
    let cursor = first.body.nextCursor;
    while (cursor !== null) {
      const page = await get(`api/v1/results?agent=school-1&limit=5&cursor=${cursor}`);
      ids.push(...page.body.results.map((r: any) => r.id));
      cursor = page.body.nextCursor;
    }
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
  });

  it('serves hourly series points', async () => {
    const { body } = await get('api/v1/series?agent=clinic-1&metric=download_mbps&step=1h');
    expect(body.points.length).toBeGreaterThanOrEqual(11);
    expect(body.points.every((p: any) => p.median === 30 && p.count === 1)).toBe(true);
  });

  it('reports compliance by technology and by area level, with targets per technology', async () => {
    const byTech = await get('api/v1/compliance?window=24h&groupBy=technology');
    const rows = byTech.body.groups.map((g: any) => [g.group, g.target.minMbps, g.tests, g.verdict]);
    // 12 tests per group is below the default group minimum of 30.
    expect(rows).toEqual([
      ['fixed', 102, 12, 'insufficient-data'],
      ['mobile', 42, 12, 'insufficient-data'],
    ]);
    const byArea = await get('api/v1/compliance?window=24h&groupBy=area');
    expect(byArea.body.groups.map((g: any) => `${g.group}|${g.technology}`)).toContain('Lạng Sơn/Cao Lộc|mobile');
  });

  it('exports CSV with a header and one line per result, naming the site', async () => {
    const { status, text } = await get('api/v1/results.csv?agent=clinic-1');
    expect(status).toBe(200);
    // fetch's text() drops the leading byte-order mark (api-precision.test.ts checks the bytes).
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('id,agent_id,site_name,site_kind,technology,isp,area,area_code,started_at,status,download_mbps,upload_mbps,latency_ms,jitter_ms,loss_ratio');
    expect(lines).toHaveLength(13);
    expect(lines[1]).toMatch(/^[0-9a-f-]{36},clinic-1,Site clinic-1,clinic,mobile,Viettel,Lạng Sơn\/Cao Lộc\/Hợp Thành,,\d{4}-.*,ok,30,40,5,1,0$/);
  });

  it.each([
    ['api/v1/results?limit=0', 'limit', /from 1 to 10000/],
    ['api/v1/results?agent=nobody', 'agent', /no agent "nobody"/],
    ['api/v1/results?from=yesterday', 'from', /ISO 8601/],
    ['api/v1/results?cursor=garbage!!', 'cursor', /cursor/],
    ['api/v1/results?colour=blue', 'colour', /unknown parameter/],
    ['api/v1/series?agent=school-1', 'metric', /required/],
    ['api/v1/series?agent=school-1&metric=speed', 'metric', /one of download_mbps/],
    ['api/v1/series?metric=download_mbps', 'agent', /required/],
    ['api/v1/series?agent=school-1&metric=download_mbps&step=1s', 'step', /duration/],
    ['api/v1/compliance?window=1y', 'window', /one of 24h, 7d, 30d/],
    ['api/v1/compliance?groupBy=colour', 'groupBy', /one of technology/],
  ])('answers %s with 400 naming %s', async (path, parameter, message) => {
    const { status, body } = await get(path);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SW_BAD_PARAMETER', parameter });
    expect(body.error.message).toMatch(message);
  });

  it('answers an unknown route with 404 and a write with 405', async () => {
    expect((await get('api/v2/everything')).status).toBe(404);
    expect((await fetch(`${t.collector.url}api/v1/agents`, { method: 'POST' })).status).toBe(405);
  });
});

describe('/metrics', () => {
  it('exposes per-agent gauges in base units (110 Mbps = 13 750 000 B/s), labelled with the site, and the targets', async () => {
    const { text } = await get('metrics');
    expect(text).toMatch(/speedwatch_agent_download_bytes_per_second\{agent_id="school-1",site_kind="school",technology="fixed",isp="VNPT",area="Lạng Sơn\/Cao Lộc\/Hợp Thành"\} 13750000/);
    expect(text).toMatch(/speedwatch_agent_latency_seconds\{agent_id="clinic-1",.*\} 0\.005/);
    expect(text).toMatch(/speedwatch_target_bytes_per_second\{technology="fixed",direction="download"\} 12750000/);
    expect(text).toMatch(/speedwatch_agent_verdict\{agent_id="clinic-1",window="24h",verdict="below"\} 1/);
    expect(text).toMatch(/speedwatch_agent_connected\{agent_id="clinic-1",.*\} 0/);
    expect(text).toMatch(/speedwatch_download_bytes_per_second_bucket\{le="5250000",technology="mobile"\} 12/);
    expect(text).toMatch(/speedwatch_download_bytes_per_second_bucket\{le="12750000",technology="fixed"\} 0/);
    expect(text).toMatch(/speedwatch_results_total\{technology="fixed",status="ok"\} 12/);
  });

  it('labels speedwatch_agent_info with the version from the hello (no restart needed) and the site coordinates', async () => {
    const { text } = await get('metrics');
    expect(text).toContain('speedwatch_agent_info{agent_id="school-1",version="test",lat="21.8537",lon="106.7615"} 1\n');
    expect(text).toContain('speedwatch_agent_info{agent_id="clinic-1",version="test"} 1\n');
  });

  it('exposes latency under load per direction in seconds', async () => {
    const { text } = await get('metrics');
    expect(text).toMatch(/^speedwatch_agent_download_loaded_latency_seconds\{agent_id="school-1",.*\} 0\.038$/m);
    expect(text).toMatch(/^speedwatch_agent_upload_loaded_latency_seconds\{agent_id="school-1",.*\} 0\.045$/m);
  });

  it('passes promtool check metrics with nothing printed', async (ctx) => {
    const out = await promtoolCheckMetrics((await get('metrics')).text);
    if (out === undefined) return ctx.skip();
    expect(out).toBe('exit=0\n');
  });

  it('exposes every metric the shipped Prometheus rules use', async () => {
    const rules = (await import('node:fs')).readFileSync(new URL('../deploy/prometheus/speedwatch.rules.yml', import.meta.url), 'utf8');
    const used = new Set([...rules.matchAll(/(?<![:\w])(speedwatch_[a-z_]+)\b/g)].map((m) => m[1] as string));
    const { text } = await get('metrics');
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('drops every series of a revoked agent', async () => {
    t.store.agents.revoke('clinic-1', Date.now());
    await t.collector.refreshAgents();
    await t.collector.maintain();
    const { text } = await get('metrics');
    expect(text).not.toMatch(/agent_id="clinic-1"/);
    expect(text).toMatch(/agent_id="school-1"/);
  });
});
