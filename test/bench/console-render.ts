/**
 * The console's overview at fleet size: a real collector over `sites` seeded Lạng Sơn sites
 * (10 000 in `npm run bench`), the overview opened in headless Chromium, and the time from the
 * script's start to the page drawn (body `data-render-ms`: the API request, the map's outlines,
 * the area tree, the map) beside the API's own answer time for the same request, fetched from
 * Node in the same run, as a ratio; and the script's gzipped size against its 300 KB budget.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from '@speedwatch/shared';
import type { Page } from 'playwright-core';
import { chromiumMissing, firstPage, launchBrowser, ready, startConsoleCollector } from '../support/browser.js';
import type { BenchRow } from './collector-bench.js';

/** The console's script budget, gzipped bytes (docs/console.md). */
const JS_BUDGET_BYTES = 300 * 1024;
/** The overview's render goal, ms. */
const RENDER_GOAL_MS = 1000;

export interface ConsoleRenderOptions {
  /** Reloads measured (and API requests timed); at least 5. */
  runs: number;
  /** Seeded sites. */
  sites: number;
  /** Days of results seeded before now; a short history keeps seeding quick (the overview's first window is 24 h). */
  days: number;
}

export interface ConsoleRenderSummary {
  sites: number;
  days: number;
  seedMs: number;
  results: number;
  renderMs: { median: number; all: number[] };
  /** Time to the first byte and the whole answer of GET /api/v1/overview from Node. */
  apiMs: { median: number; all: number[] };
  apiBytes: number;
  /** Sites with coordinates, and the dots the page drew. */
  placed: number;
  dots: number;
  jsGzipBytes: number;
  boundariesGzipBytes: number;
}

async function renderMs(page: Page): Promise<number> {
  await ready(page);
  return Number(await page.getAttribute('body', 'data-render-ms'));
}

/** The dots the map drew, counted from its paths' `M x y h0` segments; runs in the page. */
function countDots(): number {
  const { document } = globalThis as unknown as { document: { querySelectorAll: (s: string) => Iterable<{ getAttribute: (n: string) => string | null }> } };
  let n = 0;
  for (const path of document.querySelectorAll('svg.map path.dots')) n += (path.getAttribute('d') ?? '').split('M').length - 1;
  return n;
}

export async function benchConsoleRender(options: ConsoleRenderOptions): Promise<{ rows: BenchRow[]; summary: ConsoleRenderSummary | { skipped: string } }> {
  const why = chromiumMissing('the console render benchmark');
  if (why !== undefined) return { rows: [{ measure: 'console overview render', value: 'skipped', peer: '', ratio: '', goal: why }], summary: { skipped: why } };
  const runs = Math.max(5, options.runs);
  process.stderr.write(`console render: seeding ${options.sites} sites × ${options.days} days and starting the collector…\n`);
  const collector = await startConsoleCollector({ seed: { sites: options.sites, days: options.days } });
  try {
    const path = '/api/v1/overview?window=24h';
    const api: number[] = [];
    let apiBytes = 0;
    let placed = 0;
    // The first answer parses each agent's verdicts once; it is a warm-up, as the page's first load is.
    for (let i = 0; i <= runs; i++) {
      const started = performance.now();
      const res = await fetch(new URL(path, collector.url));
      const text = await res.text();
      const ms = performance.now() - started;
      if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
      if (i > 0) api.push(ms);
      apiBytes = Buffer.byteLength(text);
      placed = (JSON.parse(text) as { sites: { lat: number | null }[] }).sites.filter((s) => s.lat !== null).length;
    }
    process.stderr.write(`console render: ${options.sites} sites, /api/v1/overview ${median(api).toFixed(1)} ms, ${apiBytes} B; opening Chromium…\n`);
    const context = await launchBrowser(collector.dir, { width: 1280, height: 900 });
    const render: number[] = [];
    let dots = 0;
    try {
      const page = await firstPage(context);
      await page.goto(collector.url);
      await renderMs(page); // the first load fills the cache with the script, style sheet and outlines
      for (let i = 0; i < runs; i++) {
        await page.reload();
        render.push(await renderMs(page));
      }
      dots = await page.evaluate(countDots);
      // To look at: does the map still read with the whole fleet on it?
      const shots = mkdtempSync(join(tmpdir(), 'speedwatch-console-bench-'));
      await page.locator('.map-section').screenshot({ path: join(shots, `map-${options.sites}-sites.png`) });
      process.stderr.write(`console render: the map's screenshot is in ${shots}\n`);
    } finally {
      await context.close();
    }
    if (dots !== placed) throw new Error(`the map drew ${dots} dots for ${placed} sites with coordinates`);
    const summary: ConsoleRenderSummary = {
      sites: options.sites,
      days: options.days,
      seedMs: Math.round(collector.seedMs),
      results: collector.sites.reduce((n, s) => n + s.results, 0),
      renderMs: { median: median(render), all: render },
      apiMs: { median: median(api), all: api.map((ms) => Math.round(ms * 10) / 10) },
      apiBytes,
      placed,
      dots,
      jsGzipBytes: collector.built.jsGzipBytes,
      boundariesGzipBytes: collector.built.boundariesGzipBytes,
    };
    const int = (n: number): string => n.toLocaleString('en-US').replace(/,/g, ' ');
    const sites = int(summary.sites);
    return {
      summary,
      rows: [
        {
          measure: `console overview drawn, script start to ready (${sites} sites, map of ${int(dots)} dots, median of ${runs} reloads) vs GET /api/v1/overview from Node`,
          value: `${summary.renderMs.median.toFixed(0)} ms`,
          peer: `${summary.apiMs.median.toFixed(1)} ms (${(apiBytes / 1e6).toFixed(2)} MB)`,
          ratio: (summary.renderMs.median / summary.apiMs.median).toFixed(1),
          goal: `< ${RENDER_GOAL_MS} ms`,
        },
        {
          measure: `console script gzipped vs budget (map outlines ${(summary.boundariesGzipBytes / 1024).toFixed(0)} KB gzipped, fetched apart)`,
          value: `${(summary.jsGzipBytes / 1024).toFixed(1)} KB`,
          peer: `${JS_BUDGET_BYTES / 1024} KB`,
          ratio: (summary.jsGzipBytes / JS_BUDGET_BYTES).toFixed(2),
          goal: '< 300 KB',
        },
        {
          measure: `console bench fleet seeded: ${sites} sites × ${options.days} days, ${int(summary.results)} results`,
          value: `${(summary.seedMs / 1000).toFixed(1)} s`,
          peer: '',
          ratio: '',
          goal: '',
        },
      ],
    };
  } finally {
    await collector.stop();
  }
}
