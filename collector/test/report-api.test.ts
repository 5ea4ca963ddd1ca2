/**
 * Reports and range compliance from a live collector: built on report threads over the real
 * SQLite file the agents' results were stored in, bad parameters named, and a report thread
 * bounded in the jobs waiting and in time.
 */
import { createLogger } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportJobs } from '../src/report/report-jobs.js';
import { parseReportRange } from '../src/report/report-range.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, startTestCollector } from './ingest-util.js';
import { requestJson } from './util.js';
import type { JsonAnswer } from './util.js';

const HOUR = 3_600_000;
let t: TestCollector;
let school: AgentClient;
let clinic: AgentClient;
// A span holding every result below: instants with their offset, whatever the date today.
const from = new Date(Date.now() - 2 * 24 * HOUR).toISOString();
const to = new Date(Date.now() + HOUR).toISOString();
const span = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;

function get(path: string): Promise<JsonAnswer> {
  return requestJson(`${t.collector.url}${path}`);
}

beforeAll(async () => {
  t = await startTestCollector();
  school = await connectAgent(t.wsUrl, t.addAgent('school-1', { technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' }));
  await school.hello();
  clinic = await connectAgent(t.wsUrl, t.addAgent('clinic-1', { technology: 'mobile', siteKind: 'clinic', area: 'Lạng Sơn/Lộc Bình/Na Dương' }));
  await clinic.hello();
  const now = Date.now();
  const at = (i: number, mbps: number) => makeResult({ startedAt: new Date(now - (i + 1) * HOUR).toISOString(), finishedAt: new Date(now - (i + 1) * HOUR + 20_000).toISOString() }, mbps);
  // The school 100, 101 … 111 Mbps (median 105.5), the clinic 12 tests at 30 Mbps.
  school.send({ type: 'results', results: Array.from({ length: 12 }, (_, i) => at(i, 100 + i)) });
  await school.next('ack');
  clinic.send({ type: 'results', results: Array.from({ length: 12 }, (_, i) => at(i, 30)) });
  await clinic.next('ack');
});
afterAll(async () => {
  school?.ws.terminate();
  clinic?.ws.terminate();
  await t?.close();
});

describe('GET /api/v1/report', () => {
  it('reports an area over a span from the stored results', async () => {
    const { status, body, headers } = await get(`api/v1/report?${span}&area=${encodeURIComponent('Lạng Sơn/Cao Lộc')}`);
    expect(status).toBe(200);
    expect(headers.get('server-timing')).toMatch(/^report;dur=\d+$/);
    expect(body.area).toBe('Lạng Sơn/Cao Lộc');
    expect(body.sites).toEqual([expect.objectContaining({ agentId: 'school-1', tests: 12, download: { tests: 12, median: 105.5, mean: 105.5 }, verdict: 'meets' })]);
    expect(body.totals).toEqual([expect.objectContaining({ technology: 'fixed', sites: 1, tests: 12, minTests: 300, verdict: 'insufficient-data' })]);
    expect(body.areas).toEqual(['Lạng Sơn', 'Lạng Sơn/Cao Lộc', 'Lạng Sơn/Cao Lộc/Hợp Thành', 'Lạng Sơn/Lộc Bình', 'Lạng Sơn/Lộc Bình/Na Dương']);
  });

  it('gives the CSV and XLSX as attachments named by month, area and language', async () => {
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit' }).format(Date.now());
    const csv = await get(`api/v1/report?month=${month}&area=${encodeURIComponent('Lạng Sơn/Lộc Bình')}&format=csv&lang=en`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="speedwatch-report-${month}-lang-son-loc-binh-en.csv"`);
    expect(csv.text.split('\r\n')[0]).toMatch(/^Section,Technology,Site kind,/);
    // The byte order mark Excel needs (fetch's text() drops it).
    const raw = Buffer.from(await (await fetch(`${t.collector.url}api/v1/report?month=${month}&format=csv`)).arrayBuffer());
    expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const xlsx = await fetch(`${t.collector.url}api/v1/report?month=${month}&format=xlsx`);
    expect(xlsx.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(Buffer.from(await xlsx.arrayBuffer()).subarray(0, 2).toString()).toBe('PK'); // a zip, as XLSX is
  });

  it.each([
    ['month=2026-13', 'month'],
    [`${span}&area=Nowhere`, 'area'],
    [`${span}&format=pdf`, 'format'],
    [`${span}&window=24h`, 'window'],
    [`from=${encodeURIComponent(from)}`, 'to'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const { status, body } = await get(`api/v1/report?${query}`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SW_BAD_PARAMETER', parameter });
  });
});

describe('GET /api/v1/compliance over a span', () => {
  it('judges the span as the report does', async () => {
    const { status, body } = await get(`api/v1/compliance?${span}&groupBy=area`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ groupBy: 'area', from, to });
    const district = body.groups.find((g: any) => g.group === 'Lạng Sơn/Cao Lộc');
    expect(district).toMatchObject({ technology: 'fixed', tests: 12, download: { median: 105.5 } });
    const report = (await get(`api/v1/report?${span}&area=${encodeURIComponent('Lạng Sơn/Cao Lộc')}`)).body;
    expect(report.totals[0].download.median).toBe(district.download.median);
    // The rolling windows are still served from memory, as before.
    expect((await get('api/v1/compliance?window=24h')).status).toBe(200);
  });
});

describe('GET /api/v1/overview for a calendar month', () => {
  it('builds the overview over the month on a report thread, as the rolling windows are built', async () => {
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Ho_Chi_Minh', year: 'numeric', month: '2-digit' }).format(Date.now());
    const { status, body } = await get(`api/v1/overview?month=${month}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ window: month, month, windows: ['24h', '7d', '30d'], timeZone: 'Asia/Ho_Chi_Minh' });
    const district = body.areas.find((a: any) => a.area === 'Lạng Sơn/Cao Lộc');
    const report = (await get(`api/v1/report?month=${month}&area=${encodeURIComponent('Lạng Sơn/Cao Lộc')}`)).body;
    expect(district.medianMbps).toBe(report.totals[0].download.median);
    expect(district.tests).toBe(report.totals[0].tests);
    // Unless the month began within the last 12 hours, every result above is in it.
    if (report.totals[0].tests === 12) {
      expect(district).toMatchObject({ tests: 12, medianMbps: 105.5, verdict: 'insufficient-data' });
      expect(body.technologies.find((t: any) => t.technology === 'fixed')).toMatchObject({ sites: 1, meets: 1 });
      expect(body.technologies.find((t: any) => t.technology === 'mobile')).toMatchObject({ sites: 1, below: 1 });
    }
    expect((await get('api/v1/overview?window=24h')).body.month).toBeNull();
  });

  it.each([
    ['month=2026-13', 'month'],
    ['month=2026-11&window=24h', 'window'],
  ])('answers 400 naming the parameter for %s', async (query, parameter) => {
    const { status, body } = await get(`api/v1/overview?${query}`);
    expect(status).toBe(400);
    expect(body.error).toMatchObject({ code: 'SW_BAD_PARAMETER', parameter });
  });
});

describe('ReportJobs', () => {
  const jobs = (options: { maxWaiting?: number; timeoutMs?: number }) =>
    new ReportJobs({ store: { kind: 'sqlite', path: t.dbPath, options: { mustExist: true } }, verdicts: DEFAULT_VERDICT_CONFIG, timeZone: 'Asia/Ho_Chi_Minh', logger: createLogger({ level: 'silent' }), ...options });
  const job = { kind: 'report' as const, range: parseReportRange({ from, to }, 'Asia/Ho_Chi_Minh'), format: 'json' as const, lang: 'vi' as const };

  it('runs one job at a time, lets a few wait and refuses more with SW_REPORT_BUSY', async () => {
    const runner = jobs({ maxWaiting: 2 });
    try {
      const asked = Array.from({ length: 4 }, () => runner.run(job, Date.now()).then(() => 'done', (err: { code?: string }) => err.code));
      // One runs, two wait, the fourth finds the queue full.
      expect(await Promise.all(asked)).toEqual(['done', 'done', 'done', 'SW_REPORT_BUSY']);
    } finally {
      await runner.close();
    }
  });

  it('stops a job past its time limit with SW_REPORT_FAILED', async () => {
    const runner = jobs({ timeoutMs: 1 });
    try {
      await expect(runner.run(job, Date.now())).rejects.toMatchObject({ code: 'SW_REPORT_FAILED', message: expect.stringContaining('longer than') as unknown });
    } finally {
      await runner.close();
    }
  });
});
