/**
 * The console's site page in a real browser: Debian's Chromium driven by playwright-core against
 * a real collector process (with a read token) over the seeded fleet of 300 Lạng Sơn sites.
 * A site below its target reached by a click on the overview's slowest sites, a meeting one and
 * one gone silent opened by URL: every figure shown equals /api/v1/site's for the window, in
 * Vietnamese and English; both charts are drawn (their canvas holds the lines' colours) and
 * follow the page's width; no console error (a CSP violation is one) or failed request; a phone
 * shows it without sideways scrolling; an unknown id gets a message, not a blank page. Every
 * other site measured UDP quality (all its tests but the last): its block shows the API's
 * figures in both languages, and a site without any shows no block.
 * Screenshots go to a folder printed in the output, with each page's render time.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteAnswer } from '@speedwatch/collector';
import { chromiumMissing, firstPage, launchBrowser, logIn, ready, startConsoleCollector, watch } from './support/browser.js';
import type { ConsoleCollector, PageGlobals } from './support/browser.js';
import type { SiteBehaviour } from './support/console-fleet.js';

const READ_TOKEN = 'console-site-test-read-token-0123456789';
const TIME_ZONE = 'Asia/Ho_Chi_Minh';

const skip = chromiumMissing("the console's site page browser test") !== undefined;

/** The page's DOM as the page functions below use it (the test's TypeScript has no DOM types). */
interface Element {
  textContent: string | null;
  clientWidth: number;
  dataset: Record<string, string | undefined>;
  getAttribute: (name: string) => string | null;
  querySelector: (selector: string) => Element | null;
  querySelectorAll: (selector: string) => Iterable<Element>;
}
interface Canvas extends Element {
  width: number;
  height: number;
  getContext: (kind: '2d') => { getImageData: (x: number, y: number, w: number, h: number) => { data: ArrayLike<number> } } | null;
}
interface Globals {
  document: { querySelector: (s: string) => Element | null; querySelectorAll: (s: string) => Iterable<Element>; body: { dataset: Record<string, string | undefined> } };
}

/** What the page shows, read through `data-field`; runs in the page. */
function readSite() {
  const { document } = globalThis as unknown as Globals;
  const root = document.querySelector('.site');
  const text = (el: Element | null | undefined, field: string): string | null => el?.querySelector(`[data-field="${field}"]`)?.textContent ?? null;
  const datetime = (el: Element | null | undefined, field: string): string | null => el?.querySelector(`[data-field="${field}"]`)?.getAttribute('datetime') ?? null;
  const health = root?.querySelector('.health');
  const udp = root?.querySelector('section.udp');
  return {
    agent: root?.getAttribute('data-agent') ?? null,
    head: {
      name: text(root, 'name'),
      area: text(root, 'area'),
      kind: text(root, 'kind'),
      technology: text(root, 'technology'),
      isp: text(root, 'isp'),
      targetDownload: text(root, 'target-download'),
      connected: root?.querySelector('[data-connected]')?.getAttribute('data-connected') ?? null,
    },
    verdicts: [...(root?.querySelectorAll('table.site-verdicts tbody tr') ?? [])].map((r) => ({
      window: r.getAttribute('data-window'),
      current: r.getAttribute('aria-current') === 'true',
      tests: text(r, 'tests'),
      failed: text(r, 'failed'),
      median: text(r, 'median'),
      mean: text(r, 'mean'),
      share: text(r, 'share'),
      upload: text(r, 'upload'),
      latency: text(r, 'latency'),
      verdict: r.querySelector('[data-verdict]')?.getAttribute('data-verdict') ?? null,
      rule: text(r, 'rule'),
    })),
    noTests: root?.querySelector('[data-field="no-tests"]') !== null && root?.querySelector('[data-field="no-tests"]') !== undefined,
    meanJitter: text(root, 'meanJitter'),
    meanLoss: text(root, 'meanLoss'),
    loadedDownload: text(root, 'loadedDownload'),
    loadedUpload: text(root, 'loadedUpload'),
    loadedAt: datetime(root, 'loadedAt'),
    udp:
      udp === null || udp === undefined
        ? null
        : {
            title: udp.querySelector('h2')?.textContent ?? null,
            rttMedian: text(udp, 'udpRttMedian'),
            rttP95: text(udp, 'udpRttP95'),
            jitterUp: text(udp, 'udpJitterUp'),
            jitterDown: text(udp, 'udpJitterDown'),
            lossUp: text(udp, 'udpLossUp'),
            lossDown: text(udp, 'udpLossDown'),
            loss: text(udp, 'udpLoss'),
            at: udp.querySelector('[data-field="udpAt"] time')?.getAttribute('datetime') ?? null,
            atText: text(udp, 'udpAt'),
          },
    health:
      health === null || health === undefined
        ? null
        : {
            reportedAt: health.querySelector('[data-field="reportedAt"] time')?.getAttribute('datetime') ?? null,
            reportedAtText: text(health, 'reportedAt'),
            version: text(health, 'version'),
            uptime: text(health, 'uptime'),
            diskFree: text(health, 'diskFree'),
            cpuTemperature: text(health, 'cpuTemperature'),
            backlog: text(health, 'backlog'),
            failedInARow: text(health, 'failedInARow'),
            clockSkew: text(health, 'clockSkew'),
          },
    recent: [...(root?.querySelectorAll('table.recent tbody tr') ?? [])].map((r) => ({
      id: r.getAttribute('data-test'),
      startedAt: datetime(r, 'time'),
      time: text(r, 'time'),
      status: r.getAttribute('data-status'),
      error: text(r, 'error'),
      download: text(r, 'download'),
      upload: text(r, 'upload'),
      latency: text(r, 'latency'),
      loss: text(r, 'loss'),
      endpoint: r.querySelector('[data-field="endpoint"]')?.getAttribute('title') ?? null,
    })),
  };
}

type Shown = ReturnType<typeof readSite>;

/** Each chart's lines and points, and how many of its canvas pixels are painted, and in each line's colour; runs in the page. */
function readCharts() {
  const { document } = globalThis as unknown as Globals;
  const colours: Record<string, [number, number, number]> = { download: [11, 92, 173], upload: [26, 127, 55], target: [198, 40, 40], latency: [111, 66, 193], jitter: [154, 103, 0] };
  return [...document.querySelectorAll('.chart')].map((box) => {
    const canvas = box.querySelector('canvas') as Canvas | null;
    const pixels = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
    let painted = 0;
    const coloured: Record<string, number> = Object.fromEntries(Object.keys(colours).map((k) => [k, 0]));
    for (let i = 0; i + 3 < pixels.length; i += 4) {
      const [r, g, b, a] = [pixels[i] as number, pixels[i + 1] as number, pixels[i + 2] as number, pixels[i + 3] as number];
      if (a === 0) continue;
      painted += 1;
      for (const [name, [cr, cg, cb]] of Object.entries(colours)) {
        if (a > 200 && Math.abs(r - cr) + Math.abs(g - cg) + Math.abs(b - cb) < 30) coloured[name] = (coloured[name] ?? 0) + 1;
      }
    }
    return { kind: box.dataset['chart'], series: Number(box.dataset['series']), points: Number(box.dataset['points']), drawn: Number(box.dataset['drawn'] ?? 0), boxWidth: box.clientWidth, canvasWidth: canvas?.clientWidth ?? 0, painted, coloured };
  });
}

/** The figures formatted as the console formats them in `locale`. */
function formats(locale: string) {
  const nf = (options: Intl.NumberFormatOptions) => new Intl.NumberFormat(locale, options);
  const one = nf({ minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const unit = (name: string) => nf({ style: 'unit', unit: name, unitDisplay: 'short', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const time = new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, dateStyle: 'short', timeStyle: 'medium' });
  return {
    mbps: (v: number | null | undefined) => (v === null || v === undefined ? '–' : one.format(v)),
    count: (v: number) => nf({ maximumFractionDigits: 0 }).format(v),
    percent: (v: number | null | undefined) => (v === null || v === undefined ? '–' : nf({ style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v)),
    loss: (v: number | null | undefined) => (v === null || v === undefined ? '–' : nf({ style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v)),
    duration: (s: number | null) => (s === null ? '–' : s < 48 * 3600 ? unit('hour').format(s / 3600) : unit('day').format(s / 86_400)),
    gigabytes: (b: number | null) => (b === null ? '–' : unit('gigabyte').format(b / 1e9)),
    celsius: (v: number | null) => (v === null ? '–' : unit('celsius').format(v)),
    seconds: (v: number) => unit('second').format(v),
    time: (iso: string) => time.format(new Date(iso)),
  };
}

const LABELS = {
  vi: { kinds: { school: 'Trường học', office: 'Cơ quan', clinic: 'Trạm y tế', other: 'Khác' }, technology: { fixed: 'Cố định', mobile: 'Di động' }, needs: (n: string, m: string) => `${n}/${m} lần đo`, udp: 'Chất lượng UDP' },
  en: { kinds: { school: 'School', office: 'Office', clinic: 'Clinic', other: 'Other' }, technology: { fixed: 'Fixed', mobile: 'Mobile' }, needs: (n: string, m: string) => `${n}/${m} tests`, udp: 'UDP quality' },
} as const;

/** The figures the page must show for `data`, in `lang`. */
function expected(data: SiteAnswer, lang: 'vi' | 'en'): Shown {
  const f = formats(lang === 'vi' ? 'vi-VN' : 'en-GB');
  const labels = LABELS[lang];
  const download = data.targets.find((t) => t.metric === 'download');
  const h = data.health;
  return {
    agent: data.site.id,
    head: {
      name: data.site.name,
      area: data.site.area,
      kind: labels.kinds[data.site.kind as keyof typeof labels.kinds],
      technology: labels.technology[data.site.technology as keyof typeof labels.technology],
      isp: data.site.isp,
      targetDownload: download?.metric === 'download' ? f.mbps(download.minMbps) : null,
      connected: String(data.connection.connected),
    },
    verdicts: data.verdicts.map((v) => ({
      window: v.window,
      current: v.window === data.window,
      tests: f.count(v.download?.tests ?? 0),
      failed: f.count(v.failedTests),
      median: f.mbps(v.download?.median),
      mean: f.mbps(v.download?.mean),
      share: f.percent(v.download?.shareAtTarget),
      upload: f.mbps(v.upload?.median),
      latency: f.mbps(v.latency?.median),
      verdict: v.verdict,
      rule: v.verdict === 'insufficient-data' ? labels.needs(f.count(v.download?.tests ?? 0), f.count(v.minTests)) : null,
    })),
    noTests: data.series.points.download_mbps.length + data.series.points.upload_mbps.length === 0,
    meanJitter: data.series.meanJitterMs === null ? '–' : `${f.mbps(data.series.meanJitterMs)} ms`,
    meanLoss: f.loss(data.series.meanLossRatio),
    loadedDownload: data.loadedLatency === null ? null : f.mbps(data.loadedLatency.downloadMs),
    loadedUpload: data.loadedLatency === null ? null : f.mbps(data.loadedLatency.uploadMs),
    loadedAt: data.loadedLatency?.startedAt ?? null,
    udp:
      data.udp === null
        ? null
        : {
            title: labels.udp,
            rttMedian: `${f.mbps(data.udp.rttMedianMs)} ms`,
            rttP95: `${f.mbps(data.udp.rttP95Ms)} ms`,
            jitterUp: `${f.mbps(data.udp.forwardJitterMs)} ms`,
            jitterDown: `${f.mbps(data.udp.returnJitterMs)} ms`,
            lossUp: f.loss(data.udp.forwardLossRatio),
            lossDown: f.loss(data.udp.returnLossRatio),
            loss: f.loss(data.udp.lossRatio),
            at: data.udp.startedAt,
            atText: f.time(data.udp.startedAt),
          },
    health:
      h === null
        ? null
        : {
            reportedAt: h.reportedAt,
            reportedAtText: f.time(h.reportedAt),
            version: h.agent.version,
            uptime: f.duration(h.uptimeSeconds),
            diskFree: f.gigabytes(h.diskFreeBytes),
            cpuTemperature: f.celsius(h.cpuTemperatureCelsius),
            backlog: f.count(h.backlog),
            failedInARow: h.failedTestsInARow === null ? '–' : f.count(h.failedTestsInARow),
            clockSkew: f.seconds(h.clockSkewSeconds),
          },
    recent: data.recent.map((r) => ({
      id: r.id,
      startedAt: r.startedAt,
      time: f.time(r.startedAt),
      status: r.status,
      error: r.error?.code ?? null,
      download: f.mbps(r.downloadMbps),
      upload: f.mbps(r.uploadMbps),
      latency: f.mbps(r.latencyMs),
      loss: f.loss(r.lossRatio),
      endpoint: r.endpoint?.url ?? null,
    })),
  };
}

describe.skipIf(skip)("the console's site page in Chromium", { timeout: 90_000 }, () => {
  let shots: string;
  let collector: ConsoleCollector;
  let url: string;
  let desktop: BrowserContext;
  let phone: BrowserContext;
  const renderTimes: string[] = [];

  const site = (id: string, window: string): Promise<SiteAnswer> => collector.api<SiteAnswer>(`/api/v1/site?agent=${encodeURIComponent(id)}&window=${window}`);
  const siteOf = (behaviour: SiteBehaviour): string => {
    const found = collector.sites.find((s) => s.behaviour === behaviour);
    if (found === undefined) throw new Error(`the seeded fleet has no ${behaviour} site`);
    return found.agent.id;
  };

  /** Waits until the site page of `id` is drawn with `window` chosen, and its charts drawn. */
  const siteReady = async (page: Page, id: string, window?: string): Promise<void> => {
    await ready(page, window);
    await page.waitForSelector(`body[data-page="site"][data-state="ready"] .site[data-agent="${id}"]`, { timeout: 15_000 });
    for (const box of await page.locator('.chart').all()) await box.locator('canvas').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => [...(globalThis as unknown as Globals).document.querySelectorAll('.chart')].every((c) => Number(c.dataset['drawn'] ?? 0) > 0), undefined, { timeout: 15_000 });
  };
  /** Opens the site page by its URL in a fresh document and records its render time. */
  const openByUrl = async (page: Page, id: string, label: string): Promise<void> => {
    await page.goto('about:blank');
    await page.goto(`${url}#/site/${encodeURIComponent(id)}`);
    await siteReady(page, id);
    renderTimes.push(`${label}: ${await page.getAttribute('body', 'data-render-ms')} ms`);
  };
  const chooseWindow = async (page: Page, id: string, window: string): Promise<void> => {
    await page.click(`.switch button[data-value="${window}"]`);
    await siteReady(page, id, window);
  };
  /** The page's figures equal the API's for its window, and its charts are drawn when it has data. */
  const expectPage = async (page: Page, id: string, window: string, lang: 'vi' | 'en'): Promise<SiteAnswer> => {
    const data = await site(id, window);
    expect(await page.getAttribute('html', 'lang')).toBe(lang);
    expect(await page.evaluate(readSite)).toEqual(expected(data, lang));
    const charts = await page.evaluate(readCharts);
    const hasThroughput = data.series.points.download_mbps.length > 0;
    const hasLatency = data.series.points.latency_ms.length > 0;
    expect(charts.map((c) => c.kind)).toEqual([...(hasThroughput ? ['throughput'] : []), ...(hasLatency ? ['latency'] : [])]);
    for (const chart of charts) {
      expect(chart.drawn).toBeGreaterThan(0);
      expect(chart.painted).toBeGreaterThan(1000);
      expect(chart.canvasWidth).toBeLessThanOrEqual(chart.boxWidth);
      expect(chart.canvasWidth).toBeGreaterThan(chart.boxWidth - 40);
      if (chart.kind === 'throughput') {
        // Download, upload and the target's dashed line.
        expect(chart.series).toBe(3);
        expect(chart.coloured['download']).toBeGreaterThan(50);
        expect(chart.coloured['upload']).toBeGreaterThan(50);
        expect(chart.coloured['target']).toBeGreaterThan(50);
      } else {
        expect(chart.series).toBe(2);
        expect(chart.coloured['latency']).toBeGreaterThan(50);
        expect(chart.coloured['jitter']).toBeGreaterThan(20);
      }
    }
    return data;
  };

  beforeAll(async () => {
    shots = mkdtempSync(join(tmpdir(), 'speedwatch-site-screenshots-'));
    console.log(`site page screenshots: ${shots}`);
    collector = await startConsoleCollector({ readToken: READ_TOKEN, seed: { udp: true } });
    url = collector.url;
    desktop = await launchBrowser(collector.dir, { width: 1280, height: 900 });
    await logIn(await firstPage(desktop), url, READ_TOKEN);
    phone = await launchBrowser(collector.dir, { width: 390, height: 844 }, true);
    await logIn(await firstPage(phone), url, READ_TOKEN);
    console.log(`console script: ${collector.built.jsBytes} B, ${collector.built.jsGzipBytes} B gzipped (uPlot included); style sheet ${collector.built.cssGzipBytes} B gzipped`);
  }, 180_000);

  afterAll(async () => {
    console.log(`site page render times (from the script's start or the hash change to the page drawn, charts excluded):\n  ${renderTimes.join('\n  ')}`);
    await desktop?.close();
    await phone?.close();
    await collector?.stop();
  });

  it('opens a site below its target from the slowest sites, with the figures of the API for each window, in Vietnamese', async () => {
    const page = await firstPage(desktop);
    const problems = watch(page);
    await page.goto(url);
    await ready(page);
    await page.click('.switch button[data-value="24h"]');
    await ready(page, '24h');
    const slowest = (await collector.api<{ slowest: { agentId: string; verdict: string }[] }>('/api/v1/overview?window=24h')).slowest;
    const below = slowest.find((s) => s.verdict === 'below')?.agentId ?? '';
    expect(collector.sites.find((s) => s.agent.id === below)?.behaviour).toBe('below');
    await page.click(`table.slowest tr[data-agent="${below}"] a`);
    await siteReady(page, below, '24h');
    renderTimes.push(`below site ${below}, from the overview: ${await page.getAttribute('body', 'data-render-ms')} ms`);
    expect(page.url()).toBe(`${url}#/site/${below}`);
    for (const window of ['24h', '7d', '30d']) {
      if (window !== '24h') await chooseWindow(page, below, window);
      const data = await expectPage(page, below, window, 'vi');
      expect(data.verdicts.find((v) => v.window === window)?.verdict).toBe('below');
      expect(data.recent).toHaveLength(20);
      expect(data.health).not.toBeNull();
      await page.screenshot({ path: join(shots, `site-below-vi-${window}.png`), fullPage: true });
    }
    // Every 37th seeded test failed: over 30 days the site has failed tests, counted apart.
    expect((await site(below, '30d')).verdicts.find((v) => v.window === '30d')?.failedTests).toBeGreaterThan(0);
    // And straight from its URL, in a fresh document.
    await openByUrl(page, below, `below site ${below}, by URL`);
    await expectPage(page, below, '30d', 'vi');
    expect(problems).toEqual([]);
  });

  it('shows a meeting site by URL, in Vietnamese and English, and follows the width of the page', async () => {
    const page = await firstPage(desktop);
    const problems = watch(page);
    const meets = siteOf('meets');
    await openByUrl(page, meets, `meeting site ${meets}, by URL`);
    await chooseWindow(page, meets, '7d');
    const data = await expectPage(page, meets, '7d', 'vi');
    expect(data.verdicts.find((v) => v.window === '7d')?.verdict).toBe('meets');
    await page.screenshot({ path: join(shots, 'site-meets-vi-7d.png'), fullPage: true });
    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await siteReady(page, meets, '7d');
    await expectPage(page, meets, '7d', 'en');
    await page.screenshot({ path: join(shots, 'site-meets-en-7d.png'), fullPage: true });
    // Narrower: the charts are drawn again to the new width.
    const wide = (await page.evaluate(readCharts))[0]?.canvasWidth ?? 0;
    await page.setViewportSize({ width: 700, height: 900 });
    await page.waitForFunction((before) => {
      const canvas = (globalThis as unknown as Globals).document.querySelector('.chart canvas');
      return canvas !== null && canvas.clientWidth < before;
    }, wide);
    const narrow = await page.evaluate(readCharts);
    expect(narrow.every((c) => c.canvasWidth <= c.boxWidth && c.canvasWidth > c.boxWidth - 40 && c.painted > 1000)).toBe(true);
    console.log(`throughput chart ${wide} px wide at 1280 px, ${narrow[0]?.canvasWidth} px at 700 px`);
    await page.screenshot({ path: join(shots, 'site-meets-en-7d-700px.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.click('.switch button[data-value="vi"]');
    await page.waitForSelector('html[lang="vi"] body[data-state="ready"]');
    expect(problems).toEqual([]);
  });

  it('shows a site gone silent: no chart over 24 h but its last tests and health, its history over 30 days', async () => {
    const page = await firstPage(desktop);
    const problems = watch(page);
    const silent = siteOf('went-silent');
    await openByUrl(page, silent, `silent site ${silent}, by URL`);
    await chooseWindow(page, silent, '24h');
    const day = await expectPage(page, silent, '24h', 'vi');
    expect(day.verdicts.find((v) => v.window === '24h')?.verdict).toBe('no-data');
    expect(await page.locator('[data-field="no-tests"]').isVisible()).toBe(true);
    expect(day.recent.length).toBeGreaterThan(0);
    expect(Date.parse(day.recent[0]?.startedAt ?? '')).toBeLessThan(Date.now() - 2 * 86_400_000);
    await page.screenshot({ path: join(shots, 'site-silent-vi-24h.png'), fullPage: true });
    await chooseWindow(page, silent, '30d');
    const month = await expectPage(page, silent, '30d', 'vi');
    expect(month.series.points.download_mbps.length).toBeGreaterThan(0);
    await page.screenshot({ path: join(shots, 'site-silent-vi-30d.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('shows the UDP quality of a site that measured it, in Vietnamese and English, and no such block for a site that did not', async () => {
    const page = await firstPage(desktop);
    const problems = watch(page);
    const measured = collector.sites.find((s) => s.udp && s.behaviour === 'meets')?.agent.id ?? '';
    const unmeasured = collector.sites.find((s) => !s.udp && s.behaviour === 'meets')?.agent.id ?? '';
    await openByUrl(page, measured, `meeting site ${measured} with UDP quality, by URL`);
    await chooseWindow(page, measured, '24h');
    const vi = await expectPage(page, measured, '24h', 'vi');
    const udp = vi.udp;
    if (udp === null) throw new Error(`/api/v1/site gave no udp for ${measured}, seeded with UDP quality`);
    // The latest test had no answer from the reflector: the figures are from an earlier ok one, its time shown.
    const latest = vi.recent[0];
    expect(Date.parse(udp.startedAt)).toBeLessThan(Date.parse(latest?.startedAt ?? ''));
    expect(vi.recent.find((r) => r.startedAt === udp.startedAt)?.status).toBe('ok');
    expect(udp.lossRatio).toBeGreaterThanOrEqual(Math.max(udp.forwardLossRatio, udp.returnLossRatio));
    expect(await page.locator('section.udp').isVisible()).toBe(true);
    await page.locator('section.udp').screenshot({ path: join(shots, 'site-udp-vi.png') });
    await page.screenshot({ path: join(shots, 'site-udp-vi-24h.png'), fullPage: true });
    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await siteReady(page, measured, '24h');
    expect((await expectPage(page, measured, '24h', 'en')).udp).toEqual(udp);
    await page.locator('section.udp').screenshot({ path: join(shots, 'site-udp-en.png') });
    // A site whose tests never carried UDP quality: no block, in either language.
    await openByUrl(page, unmeasured, `meeting site ${unmeasured} without UDP quality, by URL`);
    expect((await expectPage(page, unmeasured, '24h', 'en')).udp).toBeNull();
    expect(await page.locator('section.udp').count()).toBe(0);
    await page.click('.switch button[data-value="vi"]');
    await page.waitForSelector('html[lang="vi"] body[data-state="ready"]');
    await siteReady(page, unmeasured, '24h');
    await expectPage(page, unmeasured, '24h', 'vi');
    expect(await page.locator('section.udp').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('says so for an unknown site id, with the way back to the overview', async () => {
    const page = await firstPage(desktop);
    const problems = watch(page);
    await page.goto('about:blank');
    await page.goto(`${url}#/site/no-such-site`);
    await ready(page);
    expect(await page.locator('[data-field="not-found"]').textContent()).toBe('Không có điểm đo “no-such-site”.');
    expect(await page.locator('.site a[href="#/"]').isVisible()).toBe(true);
    await page.screenshot({ path: join(shots, 'site-unknown-vi.png'), fullPage: true });
    // The API's 400 for the unknown id, which Chromium also logs; nothing else.
    expect(problems.filter((p) => !p.includes('400'))).toEqual([]);
    expect(problems.some((p) => p.startsWith('HTTP 400:') && p.includes('/api/v1/site?agent=no-such-site'))).toBe(true);
  });

  it('fits a phone: no sideways scrolling of the page, charts as wide as the screen', async () => {
    const page = await firstPage(phone);
    const problems = watch(page);
    for (const [behaviour, window] of [['below', '30d'], ['meets', '24h'], ['went-silent', '7d']] as const) {
      const id = behaviour === 'below' ? ((await collector.api<{ slowest: { agentId: string }[] }>('/api/v1/overview?window=24h')).slowest[0]?.agentId ?? '') : siteOf(behaviour);
      await openByUrl(page, id, `${behaviour} site ${id} on a phone, by URL`);
      if ((await page.getAttribute('.switch button[aria-pressed="true"][data-value]', 'data-value')) !== window) await chooseWindow(page, id, window);
      await expectPage(page, id, window, 'vi');
      expect(await page.evaluate(() => { const g = globalThis as unknown as PageGlobals; return g.document.documentElement.scrollWidth <= g.innerWidth; })).toBe(true);
      for (const chart of await page.evaluate(readCharts)) expect(chart.canvasWidth).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(shots, `site-phone-${behaviour}-vi-${window}.png`), fullPage: true });
      await page.screenshot({ path: join(shots, `site-phone-${behaviour}-vi-${window}-top.png`) });
    }
    expect(problems).toEqual([]);
  });
});
