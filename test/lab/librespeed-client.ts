/**
 * LibreSpeed's own browser client (`../shared/peers/librespeed/web/`, unchanged) run in headless
 * Chromium inside a lab namespace, against any LibreSpeed-style backend. The page that drives it
 * is served by a static server (static-site.ts) in the same namespace, from 127.0.0.1 on a port
 * of its own: another origin than the backend's, as a hosted LibreSpeed page is. Chromium runs in
 * the namespace through a wrapper script (`ip netns exec NS /usr/bin/chromium "$@"`) that
 * playwright-core launches as its browser; the pipe it talks over is inherited through the exec.
 *
 * Also: LibreSpeed's timing rules replayed over an agent phase's samples (`librespeedReplayMbps`).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import type { ThroughputResult } from '@speedwatch/shared';
import type { Running } from '../support/processes.js';
import { startUntil } from '../support/processes.js';

const here = fileURLToPath(import.meta.url);
const ROOT = here.slice(0, here.lastIndexOf('/test/') + 1);
/** LibreSpeed's browser client, beside the repository (see ../shared/peers/README.md). */
export const LIBRESPEED_WEB = join(ROOT, '..', 'shared', 'peers', 'librespeed', 'web');
const STATIC_SITE = `${ROOT}test/dist/lab/static-site.js`;
export const CHROMIUM = '/usr/bin/chromium';

/** What is missing to run LibreSpeed's client here, or undefined. */
export function librespeedClientMissing(): string | undefined {
  for (const file of ['speedtest.js', 'speedtest_worker.js']) {
    if (!existsSync(join(LIBRESPEED_WEB, file))) return `${join(LIBRESPEED_WEB, file)} is missing (LibreSpeed's client, see ../shared/peers/README.md)`;
  }
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  return undefined;
}

/**
 * The page: LibreSpeed's documented API (speedtest.js's Speedtest object) with one test point,
 * selected by hand (the "multiple points of test" mode, as a hosted page with a server list
 * uses: requests carry `cors=true`, the upload starts with an empty POST).
 */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>LibreSpeed against a lab endpoint</title>
<script src="speedtest.js"></script>
<script>
window.runLibreSpeed = function (server, settings) {
  return new Promise(function (resolve) {
    var test = new Speedtest();
    Object.keys(settings).forEach(function (key) { test.setParameter(key, settings[key]); });
    test.addTestPoint(server);
    test.setSelectedServer(server);
    var last = null;
    var started = Date.now();
    test.onupdate = function (data) { last = data; };
    test.onend = function (aborted) { resolve({ aborted: aborted, data: last, ms: Date.now() - started }); };
    test.start();
  });
};
</script>
`;

/** The worker's status at the end of a test, as its `status` message gives it. */
export interface LibreSpeedStatus {
  testState: number;
  dlStatus: string;
  ulStatus: string;
  pingStatus: string;
  jitterStatus: string;
  clientIp: string;
}

export interface LibreSpeedRun {
  /** Mbps as displayed (`dlStatus`, `ulStatus`); NaN for "Fail" or empty. */
  downloadMbps: number;
  uploadMbps: number;
  status: LibreSpeedStatus;
  aborted: boolean;
  /** Wall time of the whole test. */
  durationMs: number;
  /** Requests that failed or answered >= 400 during the test, other than the ones LibreSpeed aborts itself. */
  problems: string[];
}

export interface LibreSpeedClient {
  /** The page's origin, e.g. `http://127.0.0.1:40123`. */
  readonly origin: string;
  /** Runs one LibreSpeed test (`test_order` IP_D_U, its default) against the backend at `baseUrl`. */
  run(baseUrl: string, settings?: Record<string, string | number | boolean>, timeoutMs?: number): Promise<LibreSpeedRun>;
  close(): Promise<void>;
}

/**
 * Starts the page's server and Chromium in `link.clientNs`; `dir` holds the page and the
 * wrapper script (a temporary folder the caller removes).
 */
export async function startLibreSpeedClient(link: { clientNs: string; inClient(...argv: string[]): string[] }, dir: string): Promise<LibreSpeedClient> {
  const page = join(dir, 'index.html');
  writeFileSync(page, PAGE);
  const wrapper = join(dir, 'chromium-in-namespace');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${link.clientNs} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);

  const argv = link.inClient(
    process.execPath, STATIC_SITE, '--host', '127.0.0.1', '--port', '0',
    `/=${page}`, `/speedtest.js=${join(LIBRESPEED_WEB, 'speedtest.js')}`, `/speedtest_worker.js=${join(LIBRESPEED_WEB, 'speedtest_worker.js')}`,
  );
  const site: Running & { line: string } = await startUntil(argv[0] as string, argv.slice(1), (line) => line.includes('"listening"'));
  let browser: Browser | undefined;
  try {
    const siteUrl = (JSON.parse(site.line) as { url: string }).url;
    browser = await chromium.launch({
      executablePath: wrapper,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-renderer-backgrounding', '--disable-background-timer-throttling'],
    });
    const b = browser;
    return {
      origin: new URL(siteUrl).origin,
      async run(baseUrl, settings = {}, timeoutMs = 90_000) {
        const context = await b.newContext();
        try {
          const tab = await context.newPage();
          const problems: string[] = [];
          tab.on('requestfailed', (req) => {
            const why = req.failure()?.errorText ?? '';
            // LibreSpeed aborts its streams when a test's time is up.
            if (why !== 'net::ERR_ABORTED') problems.push(`request failed: ${req.method()} ${req.url()} ${why}`);
          });
          tab.on('response', (res) => {
            if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
          });
          tab.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
          await tab.goto(siteUrl);
          const server = { name: 'lab', server: baseUrl, dlURL: 'garbage.php', ulURL: 'empty.php', pingURL: 'empty.php', getIpURL: 'getIP.php' };
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(() => reject(new Error(`LibreSpeed's test did not end within ${timeoutMs} ms (${problems.join('; ')})`)), timeoutMs);
          });
          try {
            const ended = await Promise.race([
              tab.evaluate(
                ([s, o]) => (globalThis as unknown as { runLibreSpeed: (s: unknown, o: unknown) => Promise<{ aborted: boolean; data: LibreSpeedStatus | null; ms: number }> }).runLibreSpeed(s, o),
                [server, settings] as const,
              ),
              timeout,
            ]);
            const status = ended.data ?? { testState: -1, dlStatus: '', ulStatus: '', pingStatus: '', jitterStatus: '', clientIp: '' };
            return {
              downloadMbps: displayed(status.dlStatus),
              uploadMbps: displayed(status.ulStatus),
              status,
              aborted: ended.aborted,
              durationMs: ended.ms,
              problems,
            };
          } finally {
            clearTimeout(timer);
          }
        } finally {
          await context.close();
        }
      },
      async close() {
        await b.close();
        await site.stop();
      },
    };
  } catch (err) {
    await browser?.close();
    await site.stop();
    throw err;
  }
}

function displayed(text: string): number {
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
}

/** LibreSpeed's defaults (speedtest_worker.js): grace time per phase, longest test, overhead factor. */
export const LIBRESPEED_TIMING = Object.freeze({ downloadGraceS: 1.5, uploadGraceS: 3, maxS: 15, tickMs: 200, overheadFactor: 1.06 });

/**
 * The figure LibreSpeed's timing rules (speedtest_worker.js, dlTest/ulTest with `time_auto`)
 * would display over an agent phase's bytes: a tick every 200 ms; at the first tick past the
 * grace time the count and the clock restart; from then on each tick shows bytes since the
 * restart over the time since, × 8 × 1.06, and adds min(400, 5 × bytes/s ÷ 100 000) ms of
 * "bonus"; the test ends at the tick where time since the restart plus bonus passes 15 s (or
 * where the agent's samples end). Undefined unless the samples are 200 ms apart and reach past
 * the grace time.
 */
export function librespeedReplayMbps(phase: ThroughputResult, graceS: number): number | undefined {
  const { tickMs, maxS, overheadFactor } = LIBRESPEED_TIMING;
  if (phase.sampleIntervalMs !== tickMs) return undefined;
  const cumulative = [0];
  for (const mbps of phase.samplesMbps) cumulative.push((cumulative.at(-1) as number) + (mbps * 1e6 * tickMs) / 8 / 1000);
  let start: number | undefined;
  let bonusMs = 0;
  let shown: number | undefined;
  for (let k = 1; k < cumulative.length; k++) {
    const t = k * tickMs;
    if (start === undefined) {
      // The restart happens only once some bytes have arrived; without any, the clock keeps its start.
      if (t > graceS * 1000) start = (cumulative[k] as number) > 0 ? k : 0;
      continue;
    }
    const elapsedMs = (k - start) * tickMs;
    const bytesPerS = ((cumulative[k] as number) - (cumulative[start] as number)) / (elapsedMs / 1000);
    bonusMs += Math.min(400, (5 * bytesPerS) / 100_000);
    shown = (bytesPerS * 8 * overheadFactor) / 1e6;
    if ((elapsedMs + bonusMs) / 1000 > maxS) break;
  }
  return shown;
}
