/**
 * The data API rounds its figures on the wire to the precision it states (api/rounding.ts,
 * docs/collector.md#precision), while the collector keeps full precision for verdicts and
 * alerts; and the CSV export names each result's site, escaped so a spreadsheet reads it back.
 * A live collector on a real SQLite file; results are stored through the production write path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PRECISION, roundTo } from '../src/api/rounding.js';
import { parseCsv } from '../src/sites/csv.js';
import type { TestCollector } from './ingest-util.js';
import { makeResult, startTestCollector } from './ingest-util.js';
import { storeResults } from './store-util.js';

const HOUR = 3_600_000;
/** What float arithmetic makes of 30.0035; the bug report's figure. */
const UGLY = 30.003500000000003;
const SITE_NAME = 'Trường "Hoa Sen", Hợp Thành';
const AREA = 'Lạng Sơn/Cao Lộc/Hợp Thành';
let t: TestCollector;

async function get(path: string): Promise<{ text: string; body: any; bytes: Buffer; contentType: string | null }> {
  const res = await fetch(`${t.collector.url}${path}`);
  expect(res.status, path).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const text = bytes.toString('utf8');
  return { text, bytes, contentType: res.headers.get('content-type'), body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : undefined };
}

/** Numbers written with more decimals than the API states anywhere (4, for shares). */
function overPrecise(text: string): string[] {
  return text.match(/\d+\.\d{5,}/g) ?? [];
}

beforeAll(async () => {
  t = await startTestCollector();
  t.addAgent('odd-1', { name: SITE_NAME, technology: 'mobile', siteKind: 'clinic', area: AREA, areaCode: '06196', isp: 'Viettel' });
  const now = Date.now();
  // Three tests an hour apart: two at UGLY Mbps, one at 50 (so 1/3 of them meet mobile's 42).
  const at = (hoursAgo: number, mbps: number) => {
    const startedAt = new Date(now - hoursAgo * HOUR).toISOString();
    return makeResult({
      startedAt,
      finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(),
      technology: 'mobile',
      latency: { count: 3, minMs: 4.00001, medianMs: 5.12345, meanMs: 5.12345, p90Ms: 6.0004, maxMs: 6.0004, jitterMs: 1.23456, lossRatio: 0.012345, samplesMs: [4.00001, 5.12345, 6.0004] },
      download: { mbps, librespeedMbps: mbps * 1.06, bytes: 30_003_500, durationMs: 8000.1234, streams: 4, warmupMs: 2000, totalBytes: 40_000_000, sampleIntervalMs: 200, samplesMbps: [mbps, 29.99999999] },
      udp: {
        port: 8601, packetBytes: 172, intervalMs: 20, sent: 250, received: 243, lossRatio: 0.028, forwardLossRatio: 0.0160643, returnLossRatio: 0.0122449,
        duplicates: 1, reordered: 2, rttMinMs: 40.00012, rttMedianMs: 41.23456, rttP95Ms: 44.98765, rttMaxMs: 51.00001, forwardJitterMs: 0.87654321, returnJitterMs: 0.6543219,
      },
    });
  };
  storeResults(t.store, 'odd-1', [at(3, 50.0000004), at(2, UGLY), at(1, UGLY)], now);
  await t.collector.maintain();
});
afterAll(async () => {
  await t?.close();
});

describe('rounding', () => {
  it.each([
    [UGLY, 3, 30.004],
    [30.0034999, 3, 30.003],
    [-0.0005, 3, -0.001],
    [-0.0001, 3, 0],
    [110, 3, 110],
    [1 / 3, 4, 0.3333],
  ])('rounds %d to %d decimals as %d', (value, decimals, expected) => {
    expect(Object.is(roundTo(value, decimals), expected)).toBe(true);
  });
});

describe('the data API on the wire', () => {
  it('states its precision in every answer', async () => {
    for (const path of ['api/v1/agents', 'api/v1/results', 'api/v1/series?agent=odd-1&metric=download_mbps', 'api/v1/compliance']) {
      expect((await get(path)).body.precision, path).toEqual({ mbps: 3, ms: 3, share: 4, seconds: 3, celsius: 1 });
    }
    expect(API_PRECISION).toEqual({ mbps: 3, ms: 3, share: 4, seconds: 3, celsius: 1 });
  });

  it('rounds an agent\'s latest result and its verdict figures in /api/v1/agents, keeping full precision inside', async () => {
    const { text, body } = await get('api/v1/agents');
    expect(overPrecise(text)).toEqual([]);
    const odd = body.agents.find((a: any) => a.id === 'odd-1');
    expect(odd.latest).toMatchObject({ downloadMbps: 30.004, uploadMbps: 40, latencyMs: 5.123 });
    const day = odd.verdicts.find((v: any) => v.window === '24h');
    expect(day.download).toEqual({ tests: 3, median: 30.004, mean: 36.669, shareAtTarget: 0.3333 });
    expect(day.latency).toEqual({ tests: 3, median: 5.123, mean: 5.123 });
    expect(day.checks[0]).toMatchObject({ median: 30.004, target: { minMbps: 42 } });
    // The alerts read the verdicts as computed.
    const inside = t.collector.verdicts.forAgent('odd-1')?.find((v) => v.window === '24h');
    expect(inside?.download?.median).toBe(UGLY);
  });

  it('rounds group figures in /api/v1/compliance', async () => {
    const { text, body } = await get('api/v1/compliance?window=24h&groupBy=technology');
    expect(overPrecise(text)).toEqual([]);
    expect(body.basis).toBe('payload');
    const mobile = body.groups.find((g: any) => g.group === 'mobile');
    expect(mobile.download).toEqual({ tests: 3, median: 30.004, mean: 36.669, shareAtTarget: 0.3333 });
    expect(mobile.checks[0].median).toBe(30.004);
  });

  it('rounds every figure of a stored result in /api/v1/results, leaving counts and bytes, and the stored document, as sent', async () => {
    const { text, body } = await get('api/v1/results?agent=odd-1');
    expect(overPrecise(text)).toEqual([]);
    expect(body.results.map((r: any) => r.download.mbps)).toEqual([50, 30.004, 30.004]);
    expect(body.results.map((r: any) => r.download.librespeedMbps)).toEqual([53, 31.804, 31.804]);
    const [first] = body.results;
    expect(first.latency).toMatchObject({ minMs: 4, medianMs: 5.123, p90Ms: 6, jitterMs: 1.235, lossRatio: 0.0123, samplesMs: [4, 5.123, 6], count: 3 });
    expect(first.download).toMatchObject({ bytes: 30_003_500, totalBytes: 40_000_000, streams: 4, durationMs: 8000.123, samplesMbps: [50, 30] });
    expect(first.udp).toEqual({
      port: 8601, packetBytes: 172, intervalMs: 20, sent: 250, received: 243, lossRatio: 0.028, forwardLossRatio: 0.0161, returnLossRatio: 0.0122,
      duplicates: 1, reordered: 2, rttMinMs: 40, rttMedianMs: 41.235, rttP95Ms: 44.988, rttMaxMs: 51, forwardJitterMs: 0.877, returnJitterMs: 0.654,
    });
    expect(t.store.results.page({ agentId: 'odd-1', limit: 10 }).results[0]?.result.udp?.rttMedianMs).toBe(41.23456);
    expect(t.store.results.page({ agentId: 'odd-1', limit: 10 }).results[1]?.result.download?.mbps).toBe(UGLY);
  });

  it('rounds series points in /api/v1/series for the metric\'s unit', async () => {
    const download = await get('api/v1/series?agent=odd-1&metric=download_mbps');
    expect(download.body.points.map((p: any) => p.median)).toEqual([50, 30.004, 30.004]);
    const loss = await get('api/v1/series?agent=odd-1&metric=loss_ratio');
    expect(loss.body.points.map((p: any) => p.median)).toEqual([0.0123, 0.0123, 0.0123]);
    const jitter = await get('api/v1/series?agent=odd-1&metric=jitter_ms');
    expect(jitter.body.points.map((p: any) => p.max)).toEqual([1.235, 1.235, 1.235]);
  });
});

describe('/api/v1/results.csv', () => {
  it('carries each result\'s site (name, kind, technology, ISP, area, area code) in UTF-8 with a byte-order mark, escaped so it parses back', async () => {
    const { bytes, text, contentType } = await get('api/v1/results.csv?agent=odd-1');
    expect(contentType).toBe('text/csv; charset=utf-8');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    // The name's quote and comma are escaped, not written bare.
    expect(text).toContain('"Trường ""Hoa Sen"", Hợp Thành"');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual(['id', 'agent_id', 'site_name', 'site_kind', 'technology', 'isp', 'area', 'area_code', 'started_at', 'status', 'download_mbps', 'upload_mbps', 'latency_ms', 'jitter_ms', 'loss_ratio']);
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row).toHaveLength(15);
      expect(row.slice(1, 8)).toEqual(['odd-1', SITE_NAME, 'clinic', 'mobile', 'Viettel', AREA, '06196']);
      expect(row.slice(9)).toEqual(['ok', row[10] === '50' ? '50' : '30.004', '40', '5.123', '1.235', '0.0123']);
    }
    expect(rows.map((r) => r[10])).toEqual(['50', '30.004', '30.004']);
  });
});
