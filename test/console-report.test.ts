/**
 * The committee's report, end to end: a real collector over the seeded Lạng Sơn fleet, the
 * console's report page in Debian's Chromium (vi and en, a phone), its CSV and XLSX downloaded
 * from the page and read back (the XLSX with exceljs), the print view rendered to PDF as A4
 * pages, and `speedwatch-collector report` on the same database giving the same CSV as the API.
 * Every figure is held against /api/v1/report's for the same month and area.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, FORMATS, firstPage, launchBrowser, logIn, ready, startConsoleCollector, watch } from './support/browser.js';
import type { ConsoleCollector, FigureFormats, PageElement, PageGlobals } from './support/browser.js';
import { BIN } from './support/processes.js';

const READ_TOKEN = 'report-test-read-token-0123456789';
const AREA = 'Lạng Sơn/Cao Lộc';
const ZONE = 'Asia/Ho_Chi_Minh';
const skip = chromiumMissing('the report browser test') !== undefined;
const run = promisify(execFile);

interface Metric {
  tests: number;
  median: number;
  mean: number;
}
interface GroupRow {
  technology: string;
  siteKind?: string;
  sites: number;
  siteVerdicts: { meets: number; below: number; insufficientData: number; noData: number };
  tests: number;
  minTests: number;
  download: Metric | null;
  upload: Metric | null;
  shareAtTarget: number | null;
  verdict: string;
}
interface SiteRow {
  agentId: string;
  technology: string;
  name: string;
  area: string | null;
  tests: number;
  download: Metric | null;
  upload: Metric | null;
  shareAtTarget: number | null;
  verdict: string;
}
interface Report {
  range: { name: string; month: string | null; firstDay: string; lastDay: string; timeZone: string };
  area: string | null;
  complete: boolean;
  notes: { code: string }[];
  totals: GroupRow[];
  byKind: GroupRow[];
  sites: SiteRow[];
  areas: string[];
}

/** The month `now` falls in, and the one before, in the collector's zone. */
function months(now: number): { current: string; previous: string } {
  const [y, m] = new Intl.DateTimeFormat('en-CA', { timeZone: ZONE, year: 'numeric', month: '2-digit' }).format(now).split('-').map(Number) as [number, number];
  return { current: `${y}-${String(m).padStart(2, '0')}`, previous: m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}` };
}

/** The figures of the report page's tables; runs in the page. */
function readReport(): { period: string | undefined; area: string | undefined; tables: Record<string, Record<string, string | null>[]> } {
  const { document } = globalThis as unknown as PageGlobals;
  const text = (root: PageElement, field: string): string | null => root.querySelector(`[data-field="${field}"]`)?.textContent ?? null;
  const rows = (selector: string, fields: string[]): Record<string, string | null>[] =>
    [...document.querySelectorAll(`${selector} tbody tr`)].map((tr) => {
      const row: Record<string, string | null> = { technology: tr.getAttribute('data-technology'), kind: tr.getAttribute('data-kind'), agent: tr.getAttribute('data-agent'), verdict: tr.querySelector('[data-verdict]')?.getAttribute('data-verdict') ?? null };
      for (const field of fields) row[field] = text(tr, field);
      // The tests cell carries the minimum-sample rule's note after the count where it bites.
      const tests = tr.querySelector('[data-field="tests"]');
      const rule = tests?.querySelector('[data-field="rule"]')?.textContent ?? '';
      if (row['tests'] !== null && row['tests'] !== undefined) row['tests'] = row['tests'].slice(0, row['tests'].length - rule.length);
      return row;
    });
  const group = ['sites', 'meets', 'below', 'insufficientData', 'noData', 'tests', 'downloadMedian', 'downloadMean', 'uploadMedian', 'share'];
  return {
    period: document.querySelector('[data-field="period"]')?.textContent ?? undefined,
    area: document.querySelector('.report-head [data-field="area"]')?.textContent ?? undefined,
    tables: { totals: rows('table.report-totals', group), kinds: rows('table.report-kinds', group), sites: rows('table.report-sites', ['tests', 'downloadMedian', 'uploadMedian', 'share']) },
  };
}

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF) into rows of text. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field.replace(/\r$/, ''));
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** Each report row's figures in table order (totals, kinds, sites), as the CSV and XLSX carry them. */
function expectedRows(report: Report): (number | null)[][] {
  const group = (r: GroupRow): (number | null)[] => [r.sites, r.siteVerdicts.meets, r.siteVerdicts.below, r.tests, r.download?.median ?? null, r.download?.mean ?? null, r.upload?.median ?? null, r.shareAtTarget];
  const site = (r: SiteRow): (number | null)[] => [null, null, null, r.tests, r.download?.median ?? null, r.download?.mean ?? null, r.upload?.median ?? null, r.shareAtTarget];
  return [...report.totals.map(group), ...report.byKind.map(group), ...report.sites.map(site)];
}

/** The same figures out of a table in REPORT_COLUMNS order (report-table.ts): sites 8, meets 10, below 11, tests 14, download 17–18, upload 19, share 21. */
function tableFigures(rows: (string | number | null)[][]): (number | null)[][] {
  const num = (v: string | number | null | undefined): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
  return rows.map((r) => [num(r[8]), num(r[10]), num(r[11]), num(r[14]), num(r[17]), num(r[18]), num(r[19]), num(r[21])]);
}

/** The page sizes of a PDF, in points, from its /MediaBox entries (one per page in Chromium's output). */
function pdfPageSizes(pdf: Buffer): { width: number; height: number }[] {
  const text = pdf.toString('latin1');
  return [...text.matchAll(/\/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]/g)].map((m) => ({ width: Number(m[1]), height: Number(m[2]) }));
}

describe.skipIf(skip)('the compliance report', { timeout: 90_000 }, () => {
  let collector: ConsoleCollector;
  let shots: string;
  let context: BrowserContext;
  let page: Page;
  let month: { current: string; previous: string };
  const reportApi = (query: string): Promise<Report> => collector.api<Report>(`/api/v1/report?${query}`);
  const areaQuery = `month=${'MONTH'}&area=${encodeURIComponent(AREA)}`;
  const query = (): string => areaQuery.replace('MONTH', month.current);

  beforeAll(async () => {
    shots = mkdtempSync(join(tmpdir(), 'speedwatch-report-screenshots-'));
    console.log(`report screenshots and files: ${shots}`);
    collector = await startConsoleCollector({ readToken: READ_TOKEN });
    month = months(Date.now());
    context = await launchBrowser(collector.dir, { width: 1280, height: 900 });
    page = await firstPage(context);
    await logIn(page, collector.url, READ_TOKEN);
    await ready(page);
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await collector?.stop();
  });

  const { vi, en } = FORMATS;

  const expectPage = async (report: Report, fmt: FigureFormats): Promise<void> => {
    const shown = await page.evaluate(readReport);
    const opt = (v: number | null | undefined, f: Intl.NumberFormat): string => (v === null || v === undefined ? '–' : f.format(v));
    const group = (r: GroupRow): Record<string, string | null> => ({
      technology: r.technology,
      kind: r.siteKind ?? null,
      agent: null,
      verdict: r.verdict,
      sites: fmt.count.format(r.sites),
      meets: fmt.count.format(r.siteVerdicts.meets),
      below: fmt.count.format(r.siteVerdicts.below),
      insufficientData: fmt.count.format(r.siteVerdicts.insufficientData),
      noData: fmt.count.format(r.siteVerdicts.noData),
      tests: fmt.count.format(r.tests),
      downloadMedian: opt(r.download?.median, fmt.mbps),
      downloadMean: opt(r.download?.mean, fmt.mbps),
      uploadMedian: opt(r.upload?.median, fmt.mbps),
      share: opt(r.shareAtTarget, fmt.percent),
    });
    expect(shown.tables['totals']).toEqual(report.totals.map(group));
    expect(shown.tables['kinds']).toEqual(report.byKind.map(group));
    expect(shown.tables['sites']).toEqual(
      report.sites.map((s) => ({ technology: s.technology, kind: null, agent: s.agentId, verdict: s.verdict, tests: fmt.count.format(s.tests), downloadMedian: opt(s.download?.median, fmt.mbps), uploadMedian: opt(s.upload?.median, fmt.mbps), share: opt(s.shareAtTarget, fmt.percent) })),
    );
    expect(shown.period).toBe(`${report.range.firstDay} – ${report.range.lastDay}`);
  };

  it('shows the month and area asked for with the same figures as the API, in Vietnamese and in English', async () => {
    const problems = watch(page);
    await page.goto(`${collector.url}#/report?${query()}`);
    await ready(page);
    expect(await page.getAttribute('body', 'data-page')).toBe('report');
    const report = await reportApi(query());
    expect(report.area).toBe(AREA);
    expect(report.range.month).toBe(month.current);
    expect(report.sites.length).toBeGreaterThan(20);
    expect(report.totals.map((r) => r.technology)).toEqual(['fixed', 'mobile']);
    await expectPage(report, vi);
    expect(await page.textContent('.report-head [data-field="area"]')).toBe(AREA);
    await page.screenshot({ path: join(shots, 'report-vi.png'), fullPage: true });

    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await expectPage(report, en);
    await page.screenshot({ path: join(shots, 'report-en.png'), fullPage: true });
    await page.click('.switch button[data-value="vi"]');
    await page.waitForSelector('html[lang="vi"] body[data-state="ready"]');
    expect(problems).toEqual([]);
  });

  it('chooses a date range and an area from the form, and opens on the last month that is over by default', async () => {
    const problems = watch(page);
    await page.goto(`${collector.url}#/report`);
    await ready(page);
    const fallback = await reportApi('');
    expect(fallback.range.month).toBe(month.previous);
    expect(await page.textContent('[data-field="period"]')).toBe(`${fallback.range.firstDay} – ${fallback.range.lastDay}`);
    expect(await page.textContent('.report-head [data-field="area"]')).toBe('Toàn bộ các điểm đo');

    // Seven days ending yesterday, for one district.
    const day = (offset: number): string => new Intl.DateTimeFormat('en-CA', { timeZone: ZONE }).format(Date.now() + offset * 86_400_000);
    await page.check('input[name="period"][value="range"]');
    await page.fill('#report-from', day(-8));
    await page.fill('#report-to', day(-1));
    await page.selectOption('#report-area', 'Lạng Sơn/Văn Lãng');
    await page.click('.report-controls button[type="submit"]');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelector('.report-doc')?.getAttribute('data-area') === 'Lạng Sơn/Văn Lãng');
    await ready(page);
    const report = await reportApi(`from=${day(-8)}&to=${day(-1)}&area=${encodeURIComponent('Lạng Sơn/Văn Lãng')}`);
    expect(report.range.firstDay).toBe(day(-8));
    expect(report.range.lastDay).toBe(day(-2));
    expect(report.complete).toBe(true);
    await expectPage(report, vi);
    expect(problems).toEqual([]);
  });

  it('shows the overview over a calendar month with the API figures, and goes back to a rolling window', async () => {
    const problems = watch(page);
    await page.goto(collector.url);
    await ready(page);
    await page.fill('#overview-month', month.current);
    await page.click('.month-choice button[type="submit"]');
    await page.waitForSelector(`body[data-state="ready"] .overview[data-month="${month.current}"]`);
    const data = await collector.api<{ month: string; technologies: { technology: string; sites: number; meets: number; below: number; insufficientData: number; noData: number }[]; areas: { area: string; technology: string; tests: number; medianMbps: number | null }[] }>(`/api/v1/overview?month=${month.current}`);
    expect(data.month).toBe(month.current);
    const cards = await page.evaluate(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('.card')].map((c) => ({ technology: c.getAttribute('data-technology'), meets: c.querySelector('[data-field="meets"]')?.textContent, below: c.querySelector('[data-field="below"]')?.textContent })));
    expect(cards).toEqual(data.technologies.map((t) => ({ technology: t.technology, meets: vi.count.format(t.meets), below: vi.count.format(t.below) })));
    const cao = data.areas.find((a) => a.area === AREA && a.technology === 'fixed');
    expect(await page.textContent(`table.areas tr[data-area="${AREA}"][data-technology="fixed"] [data-field="tests"]`)).toBe(vi.count.format(cao?.tests ?? -1));
    // The month's figures are those of the report for the same month and area.
    const report = await reportApi(query());
    expect(cao?.medianMbps).toBe(report.totals.find((r) => r.technology === 'fixed')?.download?.median);
    // No rolling window is chosen while a month is shown.
    for (const window of ['24h', '7d', '30d']) expect(await page.getAttribute(`.switch button[data-value="${window}"]`, 'aria-pressed')).toBe('false');
    await page.screenshot({ path: join(shots, 'overview-month.png'), fullPage: false });
    await page.click('.switch button[data-value="7d"]');
    await page.waitForSelector('body[data-state="ready"] .overview[data-window="7d"][data-month=""]');
    expect(page.url()).not.toContain('month=');
    expect(problems).toEqual([]);
  });

  it('names a bad month instead of drawing an empty report', async () => {
    await page.goto(`${collector.url}#/report?month=2026-13`);
    await page.waitForSelector('[data-field="report-error"]');
    expect(await page.textContent('[data-field="report-error"]')).toContain('month: expected a month as YYYY-MM');
  });

  it('downloads the CSV and XLSX from the page with the figures the API gives', async () => {
    await page.goto(`${collector.url}#/report?${query()}`);
    await ready(page);
    const report = await reportApi(query());
    const fetchDownload = async (label: string): Promise<{ name: string; body: Buffer }> => {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`a.download:text("${label}")`)]);
      const path = join(shots, download.suggestedFilename());
      await download.saveAs(path);
      return { name: download.suggestedFilename(), body: readFileSync(path) };
    };
    const csv = await fetchDownload('CSV');
    expect(csv.name).toBe(`speedwatch-report-${month.current}-lang-son-cao-loc-vi.csv`);
    const text = csv.body.toString('utf8');
    expect(text.startsWith('\uFEFF')).toBe(true); // so that Excel reads the diacritics as UTF-8
    const [header, ...rows] = parseCsv(text.slice(1));
    expect(header?.[0]).toBe('Phần');
    expect(rows).toHaveLength(report.totals.length + report.byKind.length + report.sites.length);
    expect(tableFigures(rows)).toEqual(expectedRows(report));
    expect(rows.slice(-report.sites.length).map((r) => r[3])).toEqual(report.sites.map((s) => s.agentId));
    expect(rows.slice(-report.sites.length).map((r) => r[4])).toEqual(report.sites.map((s) => s.name));

    const xlsx = await fetchDownload('XLSX');
    expect(xlsx.name).toBe(`speedwatch-report-${month.current}-lang-son-cao-loc-vi.xlsx`);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsx.body as unknown as ArrayBuffer);
    const [sheet, method] = workbook.worksheets;
    if (sheet === undefined || method === undefined) throw new Error('the workbook lacks its two sheets');
    const values: (string | number | null)[][] = [];
    sheet.eachRow((row) => values.push((row.values as (string | number | null | undefined)[]).slice(1).map((v) => v ?? null)));
    const headerAt = values.findIndex((row) => row[0] === 'Phần');
    expect(values[1]).toEqual(['Địa bàn', AREA]);
    expect(tableFigures(values.slice(headerAt + 1))).toEqual(expectedRows(report));
    expect(sheet.getRow(headerAt + 2).getCell(18).numFmt).toBe('0.0');
    expect(String(method.getRow(2).getCell(1).value)).toContain('1 Mbps = 10^6 bit/giây');
  });

  it('prints as A4 pages', async () => {
    await page.goto(`${collector.url}#/report?${query()}`);
    await ready(page);
    await page.emulateMedia({ media: 'print' });
    await page.screenshot({ path: join(shots, 'report-print.png'), fullPage: true });
    expect(await page.isVisible('.report-controls')).toBe(false);
    expect(await page.isVisible('header')).toBe(false);
    const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: true });
    await page.emulateMedia({ media: 'screen' });
    writeFileSync(join(shots, 'report.pdf'), pdf);
    const pages = pdfPageSizes(pdf);
    console.log(`report PDF: ${pages.length} pages, ${pdf.length} bytes`);
    expect(pages.length).toBeGreaterThan(1);
    // A4 is 210 × 297 mm: 595.28 × 841.89 points.
    for (const size of pages) {
      expect(size.width).toBeCloseTo(595.28, 0);
      expect(size.height).toBeCloseTo(841.89, 0);
    }
  });

  it('fits a phone without sideways scrolling of the page', async () => {
    const phone = await launchBrowser(collector.dir, { width: 390, height: 844 }, true);
    try {
      const p = await firstPage(phone);
      await logIn(p, collector.url, READ_TOKEN);
      await ready(p);
      const problems = watch(p);
      await p.goto(`${collector.url}#/report?${query()}`);
      await ready(p);
      expect(await p.evaluate(() => { const g = globalThis as unknown as PageGlobals; return g.document.documentElement.scrollWidth <= g.innerWidth; })).toBe(true);
      await p.screenshot({ path: join(shots, 'report-phone.png'), fullPage: false });
      expect(problems).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('gives the same CSV from the command line as from the API', async () => {
    const res = await fetch(new URL(`/api/v1/report?${query()}&format=csv&lang=en`, collector.url), { headers: { authorization: `Bearer ${READ_TOKEN}` } });
    expect(res.status).toBe(200);
    const fromApi = await res.text();
    const { stdout, stderr } = await run(process.execPath, [BIN.collector, 'report', '--db', join(collector.dir, 'collector.db'), '--month', month.current, '--area', AREA, '--format', 'csv', '--lang', 'en']);
    expect(stdout).toBe(`\uFEFF${fromApi.replace(/^\uFEFF/, '')}`);
    expect(stderr).toMatch(new RegExp(`^report ${month.current} for ${AREA}: \\d+ sites, \\d+ tests, \\d+ ms`));
    expect(stderr).toContain('not over yet');
  });
});
