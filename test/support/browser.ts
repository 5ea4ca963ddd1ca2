/**
 * The console's browser tests' shared parts: Debian's Chromium through playwright-core (headless,
 * a fresh profile), what a page did wrong, logging in, and a real collector process over a seeded
 * Lạng Sơn fleet. Without /usr/bin/chromium a suite is skipped with the reason printed, except
 * under CI (`CI=true`), where it fails: .ci/run installs chromium.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { buildConsole } from '../console/build-console.js';
import type { BuiltConsole } from '../console/build-console.js';
import { seedFleet } from './console-fleet.js';
import type { SeedOptions, SeededSite } from './console-fleet.js';
import { BIN, startUntil } from './processes.js';
import type { Running } from './processes.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here (printed), or undefined; throws under CI. */
export function chromiumMissing(suite: string): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (process.env['CI'] === 'true') throw new Error(`${suite} cannot run under CI: ${why}`);
  console.warn(`${suite} SKIPPED: ${why}`);
  return why;
}

/**
 * The page's DOM as functions run in the page see it. The test packages' TypeScript has no DOM
 * types, and page code cannot be text: the console's CSP forbids eval, as it should.
 */
export interface PageElement {
  textContent: string | null;
  getAttribute: (name: string) => string | null;
  querySelector: (selector: string) => PageElement | null;
  querySelectorAll: (selector: string) => Iterable<PageElement>;
}
export interface PageDocument {
  querySelectorAll: (selector: string) => Iterable<PageElement>;
  querySelector: (selector: string) => PageElement | null;
  body: { dataset: Record<string, string | undefined> };
  documentElement: { lang: string; scrollWidth: number };
}
export interface PageGlobals {
  document: PageDocument;
  innerWidth: number;
}

/** How the console formats figures in each language (collector/console/src/i18n.ts), for holding a page against the API. */
export interface FigureFormats {
  mbps: Intl.NumberFormat;
  count: Intl.NumberFormat;
  percent: Intl.NumberFormat;
}

function figureFormats(locale: string): FigureFormats {
  return {
    mbps: new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
    count: new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }),
    percent: new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  };
}

export const FORMATS: Readonly<Record<'vi' | 'en', FigureFormats>> = Object.freeze({ vi: figureFormats('vi-VN'), en: figureFormats('en-GB') });

/** What a page did wrong from now on: console errors, uncaught exceptions, failed requests, HTTP errors. */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  return problems;
}

/** Chromium with a fresh profile under `dir`, in the zone Europe/Paris, so a page must show the collector's zone, not the browser's. */
export async function launchBrowser(dir: string, viewport: { width: number; height: number }, isMobile = false): Promise<BrowserContext> {
  const profile = mkdtempSync(join(dir, 'profile-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    viewport,
    isMobile,
    hasTouch: isMobile,
    deviceScaleFactor: isMobile ? 2 : 1,
    timezoneId: 'Europe/Paris',
  });
}

/** The context's page (a persistent context opens with one). */
export async function firstPage(context: BrowserContext): Promise<Page> {
  return context.pages()[0] ?? (await context.newPage());
}

/** Logs in through the login form, from `url` (which sends to it). */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.waitForURL('**/console/login');
  await page.fill('#token', token);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

/** Waits until the page is drawn (and, if given, with `window` chosen). */
export async function ready(page: Page, window?: string): Promise<void> {
  await page.waitForSelector('body[data-state="ready"]', { timeout: 15_000 });
  if (window !== undefined) await page.waitForSelector(`body[data-state="ready"] .switch button[data-value="${window}"][aria-pressed="true"]`, { timeout: 15_000 });
}

export interface ConsoleCollector {
  url: string;
  /** A temporary folder removed by stop(): the database, the config, browser profiles. */
  dir: string;
  sites: SeededSite[];
  built: BuiltConsole;
  process: Running & { line: string };
  /** How long seeding took, ms. */
  seedMs: number;
  /** GET with the read token (else the admin token); the parsed JSON, expecting 200. */
  api: <T = unknown>(path: string) => Promise<T>;
  stop: () => Promise<void>;
}

export interface ConsoleCollectorOptions {
  readToken?: string;
  adminToken?: string;
  /** More collector config, YAML lines. */
  config?: string;
  now?: number;
  /** The fleet: 300 sites with 30 days of results unless said. */
  seed?: SeedOptions;
  /** Runs on the seeded database before the collector starts (more state: health reports, paused boxes). */
  afterSeed?: (dbPath: string) => void;
}

/**
 * Builds the console, seeds Lạng Sơn sites (300 with 30 days of results unless `seed` says
 * otherwise), and starts a real collector process on them; resolves once its first maintenance
 * pass computed the verdicts.
 */
export async function startConsoleCollector(options: ConsoleCollectorOptions = {}): Promise<ConsoleCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'speedwatch-console-'));
  const built = await buildConsole();
  const seedStarted = performance.now();
  const sites = seedFleet(join(dir, 'collector.db'), options.now ?? Date.now(), options.seed);
  const seedMs = performance.now() - seedStarted;
  console.log(`seeded ${sites.length} sites, ${sites.reduce((n, s) => n + s.results, 0)} results in ${Math.round(seedMs)} ms`);
  options.afterSeed?.(join(dir, 'collector.db'));
  const config = join(dir, 'collector.yaml');
  const lines = ['host: 127.0.0.1', 'port: 0', `db: ${join(dir, 'collector.db')}`, 'logLevel: warn'];
  if (options.readToken !== undefined) lines.push(`readToken: ${options.readToken}`);
  if (options.adminToken !== undefined) lines.push(`adminToken: ${options.adminToken}`);
  writeFileSync(config, `${lines.join('\n')}\n${options.config ?? ''}`);
  const running = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'), 20_000);
  const url = (JSON.parse(running.line) as { url: string }).url;
  const deadline = Date.now() + 60_000;
  while ((await fetch(new URL('/readyz', url))).status !== 200) {
    if (Date.now() > deadline) {
      await running.stop();
      throw new Error(`the collector was not ready within 60 s:\n${running.output()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const token = options.readToken ?? options.adminToken;
  return {
    url,
    dir,
    sites,
    built,
    process: running,
    seedMs,
    async api<T>(path: string): Promise<T> {
      const res = await fetch(new URL(path, url), token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
