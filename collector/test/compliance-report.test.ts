/**
 * The committee's report: ranges read in the collector's time zone, and a small fleet whose
 * every figure is worked by hand below (the sorted values are written out beside each median).
 */
import { DEFAULT_TARGETS, zonedDate, zonedMidnight } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { buildComplianceReport } from '../src/report/compliance-report.js';
import { reportCsv } from '../src/report/report-csv.js';
import { reportLabels } from '../src/report/report-labels.js';
import { parseReportRange, previousMonth } from '../src/report/report-range.js';
import type { AgentRecord, VerdictSample } from '../src/store/store-types.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import type { VerdictConfig } from '../src/verdict/verdict-config.js';

const VN = 'Asia/Ho_Chi_Minh';

describe('report ranges', () => {
  it('reads a month as its days in the collector zone: November in Hanoi starts at 17:00 UTC on 31 October', () => {
    const range = parseReportRange({ month: '2026-11' }, VN);
    expect(new Date(range.from).toISOString()).toBe('2026-10-31T17:00:00.000Z');
    expect(new Date(range.to).toISOString()).toBe('2026-11-30T17:00:00.000Z');
    expect(range.month).toBe('2026-11');
  });

  it('turns December into the next year, and follows a zone with summer time', () => {
    const december = parseReportRange({ month: '2026-12' }, VN);
    expect(new Date(december.to).toISOString()).toBe('2026-12-31T17:00:00.000Z');
    // Paris moves from +01:00 to +02:00 on the last Sunday of March: April starts at 22:00 UTC.
    const april = parseReportRange({ month: '2026-04' }, 'Europe/Paris');
    expect(new Date(april.from).toISOString()).toBe('2026-03-31T22:00:00.000Z');
    expect(new Date(zonedMidnight(2026, 3, 1, 'Europe/Paris')).toISOString()).toBe('2026-02-28T23:00:00.000Z');
  });

  it('reads from/to as days at midnight (to exclusive) or as instants with their offset', () => {
    const days = parseReportRange({ from: '2026-11-01', to: '2026-12-01' }, VN);
    expect(days).toEqual({ ...parseReportRange({ month: '2026-11' }, VN), name: '2026-11-01/2026-12-01', month: undefined });
    const instants = parseReportRange({ from: '2026-11-01T08:00:00+07:00', to: '2026-11-02T00:00:00Z' }, VN);
    expect(instants.from).toBe(Date.UTC(2026, 10, 1, 1));
    expect(instants.to).toBe(Date.UTC(2026, 10, 2));
  });

  it.each([
    [{ month: '2026-13' }, 'month', 'YYYY-MM'],
    [{ month: '2026-11', from: '2026-11-01' }, 'month', 'not both'],
    [{ from: '2026-11-01' }, 'to', 'both from and to'],
    [{ from: '2026-02-01', to: '2026-02-30' }, 'to', 'a real date'],
    [{ from: '2026-11-01T08:00:00', to: '2026-11-02' }, 'from', 'with its offset'],
    [{ from: '2026-11-02', to: '2026-11-01' }, 'to', 'after from'],
    [{ from: '2025-01-01', to: '2026-02-01' }, 'to', 'at most 366 days'],
  ])('refuses %j naming %s', (given, path, message) => {
    expect(() => parseReportRange(given, VN)).toThrow(expect.objectContaining({ code: 'SW_VALIDATION', path, message: expect.stringContaining(message) as unknown }));
  });

  it('defaults to the month before, in the zone: 00:30 on 1 December in Hanoi is still November in UTC, yet December there', () => {
    const now = Date.parse('2026-11-30T17:30:00Z');
    expect(zonedDate(now, VN)).toBe('2026-12-01');
    expect(previousMonth(now, VN)).toBe('2026-11');
    expect(previousMonth(Date.parse('2027-01-15T00:00:00Z'), VN)).toBe('2026-12');
  });
});

describe('buildComplianceReport', () => {
  const range = parseReportRange({ month: '2026-11' }, VN);
  const inside = (day: number, hour = 3): number => Date.UTC(2026, 10, day, hour);
  const config: VerdictConfig = { ...DEFAULT_VERDICT_CONFIG, targets: DEFAULT_TARGETS.map((t) => ({ ...t })), minTests: { agent: 3, group: 2, area: { 1: 8, 2: 4, 3: 2 } } };
  const agent = (id: string, fields: Partial<AgentRecord>): AgentRecord => ({ id, name: `Site ${id}`, siteKind: 'school', technology: 'fixed', createdAt: 0, ...fields });
  const agents: AgentRecord[] = [
    agent('a1', { area: 'P/D1/C1', isp: 'VNPT' }),
    agent('a2', { area: 'P/D1/C2', siteKind: 'office' }),
    agent('a3', { area: 'P/D2/C3', technology: 'mobile' }),
    agent('a4', { area: 'P/D2/C4', revokedAt: 1 }),
    agent('a5', { area: 'Q/X', siteKind: 'clinic' }),
  ];
  const s = (agentId: string, ts: number, downloadMbps: number | undefined, uploadMbps?: number, status: VerdictSample['status'] = 'ok'): VerdictSample => ({
    agentId,
    ts,
    status,
    ...(downloadMbps === undefined ? {} : { downloadMbps }),
    ...(uploadMbps === undefined ? {} : { uploadMbps }),
  });
  const samples: VerdictSample[] = [
    s('a1', inside(1), 100, 40),
    s('a1', inside(10), 110, 50),
    s('a1', inside(30, 16), 120, 60), // 23:00 on 30 November in Hanoi: still November
    s('a1', range.from - 1, 1, 1), // 23:59:59.999 on 31 October in Hanoi: not in November
    s('a1', range.to, 1, 1), // midnight starting 1 December: not in November
    s('a1', inside(5), 500, 500, 'failed'), // counted as failed, never in a figure
    s('a2', inside(2), 90, 30),
    s('a2', inside(3), 104),
    s('a3', inside(4), 40),
    s('a3', inside(5), 44),
    s('a3', inside(6), 50),
    s('a3', inside(7), 30),
    s('a4', inside(8), 1000), // revoked: left out
    s('a5', inside(9), 200),
  ];
  const now = Date.UTC(2026, 11, 5);
  const report = (area?: string, deletedBefore?: number) => buildComplianceReport({ agents, samples, range, area, config, timeZone: VN, now, deletedBefore });

  it('works out the totals of an area over its sites tests, with the area level minimum', () => {
    const r = report('p'); // areas compare without case
    expect(r.area).toBe('p');
    expect(r.totals).toEqual([
      {
        technology: 'fixed',
        targetMbps: 102,
        sites: 2,
        sitesReporting: 2,
        // a1 meets on its own 3 tests (median 110); a2 has 2 tests, fewer than the site minimum 3.
        siteVerdicts: { meets: 1, below: 0, insufficientData: 1, noData: 0 },
        tests: 5,
        failedTests: 1,
        minTests: 8, // the province's minimum
        // 90 100 104 110 120: median 104, mean 524/5 = 104.8; at ≥ 102: 104 110 120, 3/5.
        download: { tests: 5, median: 104, mean: 104.8 },
        // 30 40 50 60 (a2's second test has no upload): median 45, mean 45.
        upload: { tests: 4, median: 45, mean: 45 },
        shareAtTarget: 0.6,
        verdict: 'insufficient-data', // 5 tests < 8
      },
      {
        technology: 'mobile',
        targetMbps: 42,
        sites: 1,
        sitesReporting: 1,
        siteVerdicts: { meets: 1, below: 0, insufficientData: 0, noData: 0 }, // 4 tests, median exactly 42: meets
        tests: 4,
        failedTests: 0,
        minTests: 8,
        // 30 40 44 50: median 42, mean 41; at ≥ 42: 44 50, 2/4.
        download: { tests: 4, median: 42, mean: 41 },
        upload: null,
        shareAtTarget: 0.5,
        verdict: 'insufficient-data',
      },
    ]);
  });

  it('judges each site kind with the group minimum and lists every site with its own verdict', () => {
    const r = report('P');
    expect(r.byKind.map((k) => [k.technology, k.siteKind, k.tests, k.download?.median, k.verdict])).toEqual([
      ['fixed', 'office', 2, 97, 'below'], // 90 104: median 97 < 102 on 2 ≥ 2 tests
      ['fixed', 'school', 3, 110, 'meets'],
      ['mobile', 'school', 4, 42, 'meets'],
    ]);
    expect(r.sites.map((site) => [site.agentId, site.name, site.area, site.isp, site.tests, site.failedTests, site.download?.median, site.verdict])).toEqual([
      ['a1', 'Site a1', 'P/D1/C1', 'VNPT', 3, 1, 110, 'meets'],
      ['a2', 'Site a2', 'P/D1/C2', null, 2, 0, 97, 'insufficient-data'],
      ['a3', 'Site a3', 'P/D2/C3', null, 4, 0, 42, 'meets'],
    ]);
    expect(r.areas).toEqual(['P', 'P/D1', 'P/D1/C1', 'P/D1/C2', 'P/D2', 'P/D2/C3', 'Q', 'Q/X']);
  });

  it('covers the whole fleet without an area, judged with the group minimum', () => {
    const r = report();
    expect(r.area).toBeNull();
    const fixed = r.totals.find((t) => t.technology === 'fixed');
    // 90 100 104 110 120 200: median (104 + 110) / 2 = 107, on 6 ≥ 2 tests.
    expect(fixed).toMatchObject({ sites: 3, tests: 6, minTests: 2, download: { median: 107, mean: 120.7 }, verdict: 'meets' });
  });

  it('says when it is incomplete: the retention deleted part of the month, or the month is not over', () => {
    expect(report('P').complete).toBe(true);
    const early = buildComplianceReport({ agents, samples, range, config, timeZone: VN, now: inside(20) });
    expect(early.complete).toBe(false);
    expect(early.notes).toEqual([{ code: 'not-over', at: new Date(inside(20)).toISOString() }]);
    const trimmed = report('P', inside(2));
    expect(trimmed.notes).toEqual([{ code: 'retention', deletedBefore: new Date(inside(2)).toISOString() }]);
    expect(reportLabels('en').note(trimmed.notes[0] as never)).toContain('deleted by the retention');
  });

  it('states its basis and units, and on the LibreSpeed-style basis its figures are payload × 1.06', () => {
    expect(report('P').method).toMatchObject({ basis: 'payload', units: 'Mbps = 10^6 bit/s of payload (HTTP body bytes), ms' });
    const r = buildComplianceReport({ agents, samples, range, area: 'P', config: { ...config, basis: 'librespeed' }, timeZone: VN, now });
    expect(r.method).toMatchObject({ basis: 'librespeed', units: 'Mbps = 10^6 bit/s of payload (HTTP body bytes) × 1.06, as LibreSpeed shows it, ms' });
    // a2: 90 and 104 of payload, median 97; × 1.06: 102.82, which the report gives to 0.1.
    expect(r.sites.find((site) => site.agentId === 'a2')?.download?.median).toBe(102.8);
    expect(reportLabels('en').methodLines(r.method)[0]).toBe('Units: 1 Mbps = 10^6 bit/s; rates are payload (HTTP body bytes) × 1.06, as LibreSpeed shows them (its allowance for protocol headers).');
    expect(reportLabels('vi').methodLines(report('P').method)[0]).toContain('không tính phần đầu giao thức');
  });

  it('refuses an area no site lies in, naming it', () => {
    expect(() => report('Nowhere')).toThrow(expect.objectContaining({ code: 'SW_VALIDATION', path: 'area' }));
  });

  it('writes a CSV that Excel reads as UTF-8 and that keeps a formula-like name as text', () => {
    const named = agents.map((a) => (a.id === 'a1' ? { ...a, name: '=HYPERLINK("x"), Trường "A"' } : a));
    const csv = reportCsv(buildComplianceReport({ agents: named, samples, range, area: 'P/D1', config, timeZone: VN, now }), reportLabels('vi'));
    expect(csv.startsWith('\uFEFFPhần,Công nghệ,')).toBe(true);
    expect(csv).toContain(`Điểm đo,Cố định,Trường học,a1,"'=HYPERLINK(""x""), Trường ""A""",P/D1/C1,VNPT,102,,,,,,,3,1,3,110,110,50,50,0.667,Đạt\r\n`);
  });
});
