/**
 * The console in a real browser: Debian's Chromium driven by playwright-core against a real
 * collector process (with a read token) over a seeded fleet of 300 Lạng Sơn sites with 30 days
 * of results. Each page loads with no console error and no failed request, the figures shown
 * equal the API's for the same window, in Vietnamese and English, on a phone too; login is
 * required and a wrong token refused. Screenshots go to a folder printed in the output.
 * Without /usr/bin/chromium the suite is skipped with the reason, except under CI, where it fails.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from './console/build-console.js';
import { chromiumMissing, FORMATS, firstPage, launchBrowser, logIn as logInAt, ready, startConsoleCollector, watch } from './support/browser.js';
import type { ConsoleCollector, FigureFormats, PageElement, PageGlobals } from './support/browser.js';

const READ_TOKEN = 'console-test-read-token-0123456789';

const skip = chromiumMissing("the console's browser test") !== undefined;

interface Overview {
  computedAt: string | null;
  window: string;
  windows: string[];
  timeZone: string;
  technologies: { technology: string; targetMbps: number; sites: number; meets: number; below: number; insufficientData: number; noData: number; minTests: number }[];
  areas: { area: string; level: number; technology: string; tests: number; minTests: number; medianMbps: number | null; meanMbps: number | null; shareAtTarget: number | null; verdict: string }[];
  slowest: { agentId: string; technology: string; tests: number; medianMbps: number; verdict: string }[];
  sites: { id: string; name: string; technology: string; lat: number | null; lon: number | null; verdict: string }[];
}

/** Sites seeded without coordinates: the map leaves them out and says how many. */
const UNPLACED = 3;
const VERDICTS = ['meets', 'below', 'insufficient-data', 'no-data'] as const;

interface ShownMap {
  width: number;
  height: number;
  /** Per verdict path: its class, the ids it lists and the dots its `d` draws. */
  paths: { verdict: string | null; cls: string | null; ids: string[]; dots: [number, number][]; stroke: string }[];
  /** The colour of each verdict's count on the technology cards and its legend swatch. */
  cardColours: Record<string, string>;
  swatchColours: Record<string, string>;
  legend: Record<string, string | undefined>;
  countries: { name: string | null; length: number }[];
  unplaced: { hidden: boolean; text: string | null };
  /** The drawing's box on the page, CSS pixels. */
  box: { left: number; top: number; width: number; height: number };
}

/** Reads the map off the page; runs in the page. */
function readMap(): ShownMap {
  const { document, getComputedStyle } = globalThis as unknown as PageGlobals & { getComputedStyle: (e: PageElement) => { stroke: string; color: string; backgroundColor: string } };
  const svg = document.querySelector('svg.map') as (PageElement & { viewBox: { baseVal: { width: number; height: number } }; getBoundingClientRect: () => { left: number; top: number; width: number; height: number } }) | null;
  if (svg === null) throw new Error('no svg.map on the page');
  const paths = [...document.querySelectorAll('svg.map path.dots')].map((p) => ({
    verdict: p.getAttribute('data-verdict'),
    cls: p.getAttribute('class'),
    ids: (p.getAttribute('data-sites') ?? '').split(' ').filter((id) => id !== ''),
    dots: [...(p.getAttribute('d') ?? '').matchAll(/M([\d.-]+) ([\d.-]+)h0/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]),
    stroke: getComputedStyle(p).stroke,
  }));
  const colour = (selector: string, css: 'color' | 'backgroundColor'): Record<string, string> =>
    Object.fromEntries([...document.querySelectorAll(selector)].map((e) => [(e.getAttribute('class') ?? '').replace(/.*\bv-/, '').split(' ')[0] ?? '', getComputedStyle(e)[css]]));
  const note = document.querySelector('[data-field="unplaced"]') as (PageElement & { hidden: boolean }) | null;
  const r = svg.getBoundingClientRect();
  return {
    width: svg.viewBox.baseVal.width,
    height: svg.viewBox.baseVal.height,
    paths,
    cardColours: Object.fromEntries([...document.querySelectorAll('.card:first-of-type .count')].map((c) => [(c.getAttribute('class') ?? '').replace('count v-', ''), getComputedStyle(c.querySelector('.value') as PageElement).color])),
    swatchColours: colour('.legend .swatch', 'backgroundColor'),
    legend: Object.fromEntries([...document.querySelectorAll('.legend li')].map((li) => [li.getAttribute('data-verdict') ?? '', li.querySelector('.value')?.textContent ?? undefined])),
    countries: [...document.querySelectorAll('svg.map path.country')].map((c) => ({ name: c.getAttribute('data-country'), length: (c.getAttribute('d') ?? '').length })),
    unplaced: { hidden: note?.hidden ?? true, text: note?.textContent ?? null },
    box: { left: r.left, top: r.top, width: r.width, height: r.height },
  };
}

/** Reads the overview's figures off the page; runs in the page. */
function readFigures(): ShownFigures {
  const { document } = globalThis as unknown as PageGlobals;
  const text = (root: PageElement, field: string): string | undefined => root.querySelector(`[data-field="${field}"]`)?.textContent ?? undefined;
  return {
    cards: [...document.querySelectorAll('.card')].map((c) => ({ technology: c.getAttribute('data-technology'), sites: text(c, 'sites'), meets: text(c, 'meets'), below: text(c, 'below'), insufficientData: text(c, 'insufficientData'), noData: text(c, 'noData') })),
    areas: [...document.querySelectorAll('table.areas tbody tr')].map((r) => ({ area: r.getAttribute('data-area'), technology: r.getAttribute('data-technology'), tests: text(r, 'tests'), median: text(r, 'median'), mean: text(r, 'mean'), share: text(r, 'share'), verdict: r.querySelector('[data-verdict]')?.getAttribute('data-verdict'), rule: r.querySelector('[data-field="rule"]') !== null })),
    slowest: [...document.querySelectorAll('table.slowest tbody tr')].map((r) => ({ agent: r.getAttribute('data-agent'), tests: text(r, 'tests'), median: text(r, 'median') })),
  };
}

interface ShownFigures {
  cards: unknown[];
  areas: unknown[];
  slowest: unknown[];
}

describe.skipIf(skip)('the console in Chromium', { timeout: 60_000 }, () => {
  let shots: string;
  let collector: ConsoleCollector;
  let url: string;
  const contexts: BrowserContext[] = [];

  const api = (path: string): Promise<Overview> => collector.api<Overview>(path);
  const browser = async (viewport: { width: number; height: number }, isMobile = false): Promise<BrowserContext> => {
    const context = await launchBrowser(collector.dir, viewport, isMobile);
    contexts.push(context);
    return context;
  };
  const logIn = (page: Page, token: string): Promise<void> => logInAt(page, url, token);

  beforeAll(async () => {
    shots = mkdtempSync(join(tmpdir(), 'speedwatch-console-screenshots-'));
    console.log(`console screenshots: ${shots}`);
    collector = await startConsoleCollector({ readToken: READ_TOKEN, seed: { unplaced: UNPLACED } });
    url = collector.url;
  }, 180_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await collector?.stop();
  });

  it('serves the page and its assets with a CSP without inline script, nosniff and frame-ancestors none', async () => {
    const login = await fetch(new URL('/console/login', url));
    const csp = login.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(login.headers.get('x-content-type-options')).toBe('nosniff');
    const js = await fetch(new URL(`/console/assets/${collector.built.js}`, url), { headers: { 'accept-encoding': 'gzip' } });
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toContain('immutable');
    const css = await fetch(new URL(`/console/assets/${collector.built.css}`, url));
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    // The map's outlines: JSON the script fetches from its own origin (connect-src 'self').
    expect(csp).toContain("connect-src 'self'");
    const outlines = await fetch(new URL(`/console/assets/${collector.built.boundaries}`, url), { headers: { 'accept-encoding': 'gzip' } });
    expect(outlines.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(outlines.headers.get('cache-control')).toContain('immutable');
    const countries = ((await outlines.json()) as { features: { properties: { name: string } }[] }).features.map((c) => c.properties.name);
    expect(countries.sort()).toEqual(['Cambodia', 'China', 'Laos', 'Thailand', 'Vietnam']);
    console.log(`map outlines: ${collector.built.boundariesBytes} B, ${collector.built.boundariesGzipBytes} B gzipped`);
    // No session: the page sends to the login, the API refuses.
    expect((await fetch(new URL('/', url), { redirect: 'manual' })).headers.get('location')).toBe('/console/login');
    expect((await fetch(new URL('/api/v1/overview', url))).status).toBe(401);
    console.log(`console script: ${collector.built.jsBytes} B, ${collector.built.jsGzipBytes} B gzipped; style sheet ${collector.built.cssGzipBytes} B gzipped`);
    expect(collector.built.jsGzipBytes).toBeLessThan(300 * 1024);
  });

  it('refuses a wrong read token and lets the right one in with an HttpOnly, SameSite=Strict cookie', async () => {
    const context = await browser({ width: 1280, height: 900 });
    const page = await firstPage(context);
    await logIn(page, 'not-the-read-token-at-all-000000');
    expect(await page.locator('.login-error').textContent()).toContain('Wrong token');
    expect(await context.cookies()).toEqual([]);
    await page.screenshot({ path: join(shots, 'login-refused.png') });

    const problems = watch(page);
    await logIn(page, READ_TOKEN);
    await ready(page);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'sw_session', httpOnly: true, sameSite: 'Strict' });
    expect(page.url()).toBe(url); // no token in any URL
    expect(problems).toEqual([]);
  });

  const { vi, en } = FORMATS;

  /** Reads the overview's figures off the page and compares each with the API's, formatted for the language. */
  const expectFigures = async (page: Page, data: Overview, fmt: FigureFormats): Promise<void> => {
    const shown = await page.evaluate(readFigures);
    expect(shown.cards).toEqual(data.technologies.map((s) => ({ technology: s.technology, sites: fmt.count.format(s.sites), meets: fmt.count.format(s.meets), below: fmt.count.format(s.below), insufficientData: fmt.count.format(s.insufficientData), noData: fmt.count.format(s.noData) })));
    const opt = (v: number | null, f: Intl.NumberFormat): string => (v === null ? '–' : f.format(v));
    expect(shown.areas).toEqual(
      data.areas.map((a) => ({ area: a.area, technology: a.technology, tests: fmt.count.format(a.tests), median: opt(a.medianMbps, fmt.mbps), mean: opt(a.meanMbps, fmt.mbps), share: opt(a.shareAtTarget, fmt.percent), verdict: a.verdict, rule: a.verdict === 'insufficient-data' })),
    );
    expect(shown.slowest).toEqual(data.slowest.map((s) => ({ agent: s.agentId, tests: fmt.count.format(s.tests), median: fmt.mbps.format(s.medianMbps) })));
  };

  /**
   * Checks the map against the API: one path per verdict with that verdict's class, listing
   * exactly the API's sites with coordinates and that verdict (for the technology shown), one
   * dot each, inside the drawing, in the same colour as the cards' counts and the legend.
   */
  const expectMap = async (page: Page, data: Overview, fmt: FigureFormats, technology = 'all'): Promise<ShownMap> => {
    const shown = await page.evaluate(readMap);
    const mine = data.sites.filter((site) => technology === 'all' || site.technology === technology);
    const placed = mine.filter((site) => site.lat !== null && site.lon !== null);
    expect(shown.paths.map((p) => p.verdict).sort()).toEqual([...VERDICTS].sort());
    for (const path of shown.paths) {
      const verdict = path.verdict ?? '';
      expect(path.cls).toBe(`dots v-${verdict}`);
      expect(path.ids).toEqual(placed.filter((site) => site.verdict === verdict).map((site) => site.id));
      expect(path.dots).toHaveLength(path.ids.length);
      expect(shown.legend[verdict]).toBe(fmt.count.format(path.ids.length));
      expect(path.stroke).toBe(shown.cardColours[verdict]);
      expect(path.stroke).toBe(shown.swatchColours[verdict]);
      for (const [x, y] of path.dots) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(shown.width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(shown.height);
      }
    }
    expect(shown.paths.reduce((n, p) => n + p.dots.length, 0)).toBe(placed.length);
    const missing = mine.length - placed.length;
    expect(shown.unplaced.hidden).toBe(missing === 0);
    if (missing > 0) expect(shown.unplaced.text).toContain(fmt.count.format(missing));
    return shown;
  };

  it('shows, in Vietnamese, the same figures as the API for each window, and the seeded fleet in them', async () => {
    const context = contexts[0] as BrowserContext;
    const page = context.pages()[0] as Page;
    const problems = watch(page);
    await page.goto(url);
    await ready(page);
    console.log(`overview rendered ${await page.getAttribute('body', 'data-render-ms')} ms after the script started (desktop, 300 sites)`);
    expect(await page.getAttribute('html', 'lang')).toBe('vi');
    for (const window of ['24h', '7d', '30d']) {
      await page.click(`.switch button[data-value="${window}"]`);
      await ready(page, window);
      const data = await api(`/api/v1/overview?window=${window}`);
      expect(data.computedAt).not.toBeNull();
      await expectFigures(page, data, vi);
      await expectMap(page, data, vi);
      await page.screenshot({ path: join(shots, `overview-vi-${window}.png`), fullPage: true });
      // The seeded fleet shows every kind of site: some meet, some below, some too rare, some silent.
      const fixed = data.technologies.find((t) => t.technology === 'fixed');
      expect(fixed?.sites).toBeGreaterThan(150);
      expect(fixed?.meets).toBeGreaterThan(0);
      expect(fixed?.below).toBeGreaterThan(0);
      expect(fixed?.noData).toBeGreaterThan(0);
      if (window === '24h') {
        expect(fixed?.insufficientData).toBeGreaterThan(0);
        // 300 tests a commune: no commune has them in a day, so the rule bites and is shown.
        expect(data.areas.filter((a) => a.level === 3).every((a) => a.verdict === 'insufficient-data' || a.verdict === 'no-data')).toBe(true);
        expect(await page.locator('[data-field="rule"]').count()).toBeGreaterThan(0);
      }
    }
    // Communes start folded under their district; its button unfolds them.
    const district = (await page.getAttribute('tr.level-2 .fold >> xpath=ancestor::tr', 'data-area')) ?? '';
    expect(await page.locator(`tr.level-3[data-area^="${district}/"]`).first().isVisible()).toBe(false);
    await page.click('tr.level-2 .fold');
    expect(await page.locator(`tr.level-3[data-area^="${district}/"]`).first().isVisible()).toBe(true);
    await page.screenshot({ path: join(shots, 'overview-vi-30d-district-open.png') });
    // A Vietnamese decimal comma, as the plan writes 102,5 Mbps.
    expect(await page.locator('.card .target').first().textContent()).toMatch(/≥ \d+,0 Mbps/);
    expect(problems).toEqual([]);
  });

  it('draws the fleet on a map zoomed to it, over the borders, and opens a site from its dot', async () => {
    const context = contexts[0] as BrowserContext;
    const page = context.pages()[0] as Page;
    const problems = watch(page);
    await page.goto(url);
    await ready(page);
    const window = (await page.getAttribute('header .switch button[aria-pressed="true"]', 'data-value')) ?? '';
    const data = await api(`/api/v1/overview?window=${window}`);
    const placed = data.sites.filter((site) => site.lat !== null);
    expect(placed.length).toBe(data.sites.length - UNPLACED);
    // The seeded fleet lies in Lạng Sơn, on the Chinese border.
    for (const site of placed) {
      expect(site.lat).toBeGreaterThanOrEqual(21.3);
      expect(site.lat).toBeLessThanOrEqual(22.5);
      expect(site.lon).toBeGreaterThanOrEqual(106.1);
      expect(site.lon).toBeLessThanOrEqual(107.4);
    }
    await page.locator('svg.map').scrollIntoViewIfNeeded();
    const shown = await expectMap(page, data, vi);
    // Zoomed to the fleet: its dots span the drawing less the margin, one way or the other.
    const xs = shown.paths.flatMap((p) => p.dots.map(([x]) => x));
    const ys = shown.paths.flatMap((p) => p.dots.map(([, y]) => y));
    const spanX = (Math.max(...xs) - Math.min(...xs)) / shown.width;
    const spanY = (Math.max(...ys) - Math.min(...ys)) / shown.height;
    expect(Math.max(spanX, spanY)).toBeGreaterThan(0.85);
    // Vietnam's outline and China's beside it are drawn in the view.
    const lengths = Object.fromEntries(shown.countries.map((c) => [c.name, c.length]));
    expect(lengths['Vietnam']).toBeGreaterThan(200);
    expect(lengths['China']).toBeGreaterThan(200);
    await page.locator('.map-section').screenshot({ path: join(shots, 'overview-map-desktop.png') });

    // Pointing at a dot names its site; clicking it opens the site's page.
    const below = shown.paths.find((p) => p.verdict === 'below');
    const [x, y] = below?.dots[0] ?? [0, 0];
    const site = data.sites.find((s) => s.id === below?.ids[0]);
    const scale = shown.box.width / shown.width;
    await page.mouse.move(shown.box.left + x * scale, shown.box.top + y * scale);
    await page.waitForSelector('.map-tip:not([hidden])');
    expect(await page.locator('.map-tip').textContent()).toContain(site?.name);
    expect(await page.locator('.map-tip .verdict').getAttribute('class')).toBe('verdict v-below');
    await page.locator('.map-section').screenshot({ path: join(shots, 'overview-map-tooltip.png') });
    await page.mouse.click(shown.box.left + x * scale, shown.box.top + y * scale);
    await page.waitForSelector(`body[data-state="ready"][data-route="#/site/${site?.id ?? ''}"]`);
    expect(new URL(page.url()).hash).toBe(`#/site/${site?.id ?? ''}`);

    // One technology at a time: the dots and the legend follow the switch.
    await page.goBack();
    await page.waitForSelector('body[data-state="ready"][data-route=""]');
    for (const technology of ['mobile', 'fixed', 'all']) {
      await page.click(`.map-switch button[data-value="${technology}"]`);
      const dots = await expectMap(page, data, vi, technology);
      if (technology !== 'all') expect(dots.paths.reduce((n, p) => n + p.ids.length, 0)).toBe(placed.filter((s) => s.technology === technology).length);
    }
    expect(problems).toEqual([]);
  });

  it('switches to English, remembers it across a reload, and shows the same figures', async () => {
    const context = contexts[0] as BrowserContext;
    const page = context.pages()[0] as Page;
    const problems = watch(page);
    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await page.reload();
    await ready(page);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    const window = (await page.getAttribute('.switch button[aria-pressed="true"]', 'data-value')) ?? '';
    expect(window).toBe('30d'); // the window chosen last, remembered too
    const data = await api(`/api/v1/overview?window=${window}`);
    await expectFigures(page, data, en);
    await expectMap(page, data, en);
    await page.screenshot({ path: join(shots, 'overview-en-30d.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('fits a phone: no sideways scrolling of the page or of a table, the map as wide as the screen', async () => {
    const context = await browser({ width: 390, height: 844 }, true);
    const page = await firstPage(context);
    await logIn(page, READ_TOKEN);
    await ready(page);
    const problems = watch(page);
    await page.reload();
    await ready(page);
    expect(await page.evaluate(() => { const g = globalThis as unknown as PageGlobals; return g.document.documentElement.scrollWidth <= g.innerWidth; })).toBe(true);
    // Each table row is a block on a phone: no box scrolls sideways either.
    const boxes = await page.evaluate(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('.scroll')].map((b) => { const e = b as unknown as { scrollWidth: number; clientWidth: number }; return e.scrollWidth - e.clientWidth; }));
    expect(boxes.length).toBeGreaterThan(0);
    expect(boxes.every((overflow) => overflow <= 0)).toBe(true);
    const data = await api('/api/v1/overview?window=24h');
    await expectFigures(page, data, vi);
    const map = await expectMap(page, data, vi);
    expect(map.box.width).toBeGreaterThan(340);
    expect(map.box.width).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(shots, 'overview-phone-vi-24h.png'), fullPage: true });
    await page.locator('.map-section').screenshot({ path: join(shots, 'overview-map-phone.png') });
    await page.click('tr.level-2 .fold');
    await page.locator('table.areas').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'overview-phone-areas.png') });
    await page.locator('table.slowest').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'overview-phone-slowest.png') });
    expect(problems).toEqual([]);
  });
});

// Kept out of the skip: the release's collector tarball must carry the built console.
describe('the collector release', () => {
  it('stages the built console beside the collector', async () => {
    const { stageDeployable, DEPLOYABLES } = await import('./release/release-tarballs.js');
    await buildConsole();
    const stage = mkdtempSync(join(tmpdir(), 'speedwatch-stage-'));
    try {
      const collector = DEPLOYABLES.find((d) => d.dir === 'collector');
      if (collector === undefined) throw new Error('no collector deployable');
      mkdirSync(stage, { recursive: true });
      stageDeployable(new URL('../', import.meta.url).pathname, collector, stage, () => {});
      expect(existsSync(join(stage, 'dist', 'console', 'manifest.json'))).toBe(true);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  });
});
