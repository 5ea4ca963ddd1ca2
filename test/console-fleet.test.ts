/**
 * The console's fleet and alerts pages and its admin actions in a real browser: Debian's Chromium
 * driven by playwright-core against a real collector process (read and admin tokens) over the
 * seeded fleet of 300 Lạng Sơn sites, with health reports for a few boxes and one paused, and
 * two real webhook receivers on loopback, one answering 200 and one 500. A read-only session sees
 * the fleet's figures equal to /api/v1/fleet's and no control; an admin session asks a box for a
 * test, pauses and resumes one, and issues an enrollment code that the store then holds and
 * /v1/enroll redeems. Forged actions (page script without the CSRF header, a script with the
 * cookie and a wrong token, another origin's page) are refused. The alerts page shows the alerts
 * API's entries and where each notification went. Vietnamese and English, a phone viewport, no
 * console error. Screenshots go to a folder printed in the output.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openStore } from '@speedwatch/collector';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, firstPage, launchBrowser, logIn as logInAt, ready, startConsoleCollector, watch } from './support/browser.js';
import type { ConsoleCollector, PageElement, PageGlobals } from './support/browser.js';
import { BIN } from './support/processes.js';

const run = promisify(execFile);
const READ_TOKEN = 'console-fleet-read-token-0123456789';
const ADMIN_TOKEN = 'console-fleet-admin-token-0123456789';
const MINUTE = 60_000;

const skip = chromiumMissing("the console's fleet browser test") !== undefined;

interface FleetBox {
  id: string;
  problems: string[];
  version: string | null;
  pausedAt: string | null;
  lastResultAt: string | null;
}
interface Fleet {
  counts: Record<string, number>;
  versions: { version: string | null; boxes: number }[];
  boxes: FleetBox[];
  matched: number;
}
interface Alerts {
  evaluatedAt: string | null;
  alerts: { fingerprint: string; alertname: string; state: string; labels: Record<string, string>; activeAt: string; startsAt: string | null }[];
  webhooks: { id: string; url: string; undelivered: number }[];
}
interface Deliveries {
  routes: { id: string; name: string; channel: string; channelType: string }[];
  deliveries: { route: string; fingerprint: string; state: string; attempts: number; lastError: string | null; deliveredAt: string | null }[];
}

/** A webhook receiver on loopback answering every POST with `status`; GET /evil serves a page that posts to the collector from this other origin. */
async function startReceiver(status: number, evil: () => string): Promise<{ url: string; origin: string; posts: number; server: Server }> {
  const receiver = { url: '', origin: '', posts: 0, server: undefined as unknown as Server };
  receiver.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/evil') {
      // An attacker's page on another origin of the same host: same-site to the browser, so a
      // SameSite=Strict cookie goes with its request; only Sec-Fetch-Site (and the CSRF token) stop it.
      const script = `fetch(${JSON.stringify(`${evil()}api/v1/pause`)}, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"agent":"lso-020"}' }).then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });`;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>evil</title><script>${script}</script>`);
      return;
    }
    req.resume();
    req.on('end', () => {
      receiver.posts += 1;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `failure ${status}`);
    });
  });
  await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.server.address() as AddressInfo;
  receiver.origin = `http://127.0.0.1:${port}`;
  receiver.url = `${receiver.origin}/hook/SECRET-PATH?token=s3cr3t-${status}`;
  return receiver;
}

/** Health reports for a few seeded boxes (as their agents would have sent them), and lso-010 paused. */
function seedHealth(dbPath: string): void {
  const store = openStore(dbPath);
  try {
    const now = Date.now();
    const report = (version: string, extra: Record<string, unknown>) => ({
      clock: new Date(now - MINUTE).toISOString(),
      agent: { version, platform: 'linux', arch: 'arm64', node: '20.18.1' },
      backlog: 0,
      dropped: 0,
      failedTestsInARow: 0,
      lastOkTestAt: new Date(now - 10 * MINUTE).toISOString(),
      diskFreeBytes: 8_000_000_000,
      ...extra,
    });
    const record = (agentId: string, version: string, extra: Record<string, unknown> = {}, skewMs = 0) => ({ agentId, receivedAt: now - MINUTE, skewMs, report: report(version, extra) });
    store.health.save([
      // A metered box that has spent its month's data budget.
      record('lso-001', '0.2.0', { diskFreeBytes: 50_000_000, dataUsage: { month: '2026-11', usedBytes: 10_500_000_000, budgetBytes: 10_000_000_000 } }),
      record('lso-002', '0.2.0', { failedTestsInARow: 5, lastTest: { status: 'failed', finishedAt: new Date(now - 2 * MINUTE).toISOString(), errorCode: 'SW_DNS' } }),
      record('lso-003', '0.3.0', {}, 5 * MINUTE),
      record('lso-004', '0.3.0'),
      record('lso-005', '0.3.0'),
      record('lso-006', '0.2.0', { diskFreeBytes: 20_000_000, failedTestsInARow: 4 }),
    ]);
    store.agents.setPaused(['lso-010'], now);
  } finally {
    store.close();
  }
}

/** The fleet page's figures; runs in the page. */
function readFleet(): { tiles: Record<string, string | null>; versions: { version: string | null; boxes: string | null | undefined }[]; boxes: { id: string | null; problems: string[] }[]; actions: number; form: boolean } {
  const { document } = globalThis as unknown as PageGlobals;
  const tiles: Record<string, string | null> = {};
  for (const el of document.querySelectorAll('.tiles [data-field]')) tiles[el.getAttribute('data-field') ?? ''] = el.textContent;
  return {
    tiles,
    versions: [...document.querySelectorAll('table.versions tbody tr')].map((r) => ({ version: r.getAttribute('data-version'), boxes: r.querySelector('[data-field="boxes"]')?.textContent })),
    boxes: [...document.querySelectorAll('table.boxes tbody tr')].map((r: PageElement) => ({ id: r.getAttribute('data-agent'), problems: [...r.querySelectorAll('[data-problem]')].map((p) => p.getAttribute('data-problem') ?? '') })),
    actions: [...document.querySelectorAll('[data-action]')].length,
    form: document.querySelector('form.enroll') !== null,
  };
}

/** The alerts page's rows; runs in the page. */
function readAlerts(): { firing: string | null | undefined; pending: string | null | undefined; rows: { fingerprint: string | null; state: string | null; deliveries: { route: string | null; state: string | null }[]; activeAt: string | null | undefined }[]; text: string } {
  const { document } = globalThis as unknown as PageGlobals;
  return {
    firing: document.querySelector('[data-field="firing"]')?.textContent,
    pending: document.querySelector('[data-field="pending"]')?.textContent,
    rows: [...document.querySelectorAll('table.alert-list tbody tr')].map((r) => ({
      fingerprint: r.getAttribute('data-fingerprint'),
      state: r.getAttribute('data-state'),
      activeAt: r.querySelector('[data-field="activeAt"]')?.getAttribute('datetime'),
      deliveries: [...r.querySelectorAll('li.delivery')].map((d) => ({ route: d.getAttribute('data-route'), state: d.getAttribute('data-state') })),
    })),
    text: document.querySelector('main')?.textContent ?? '',
  };
}

describe.skipIf(skip)("the console's fleet and alerts pages in Chromium", { timeout: 120_000 }, () => {
  let shots: string;
  let collector: ConsoleCollector;
  let url = '';
  let good: Awaited<ReturnType<typeof startReceiver>>;
  let bad: Awaited<ReturnType<typeof startReceiver>>;
  const contexts: BrowserContext[] = [];

  const browser = async (viewport = { width: 1400, height: 1000 }, isMobile = false): Promise<BrowserContext> => {
    const context = await launchBrowser(collector.dir, viewport, isMobile);
    contexts.push(context);
    return context;
  };
  const admin = (path: string, body: unknown): Promise<Response> =>
    fetch(new URL(path, url), { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const fleetApi = (problem = 'all'): Promise<Fleet> => collector.api<Fleet>(`/api/v1/fleet?problem=${problem}`);
  const count = (lang: 'vi' | 'en', n: number): string => new Intl.NumberFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { maximumFractionDigits: 0 }).format(n);

  /** The page's fleet figures against the API's for the same filter. */
  const expectFleet = async (page: Page, problem: string, lang: 'vi' | 'en'): Promise<Fleet> => {
    const shown = await page.evaluate(readFleet);
    const data = await fleetApi(problem);
    for (const field of ['boxes', 'connected', 'silent', 'disconnected', 'unhealthy', 'testsFailing', 'diskLow', 'clockSkew', 'paused', 'ok', 'revoked']) {
      expect(shown.tiles[field], field).toBe(count(lang, data.counts[field] ?? Number.NaN));
    }
    expect(shown.versions).toEqual(data.versions.map((v) => ({ version: v.version ?? '', boxes: count(lang, v.boxes) })));
    expect(shown.boxes).toEqual(data.boxes.map((b) => ({ id: b.id, problems: b.problems.length === 0 ? ['ok'] : b.problems })));
    return data;
  };

  beforeAll(async () => {
    shots = mkdtempSync(join(tmpdir(), 'speedwatch-console-fleet-screenshots-'));
    console.log(`console fleet screenshots: ${shots}`);
    good = await startReceiver(200, () => url);
    bad = await startReceiver(500, () => url);
    collector = await startConsoleCollector({
      readToken: READ_TOKEN,
      adminToken: ADMIN_TOKEN,
      afterSeed: seedHealth,
      // The seeded boxes test every 2 h: the fleet settings say so, and the alerts' schedule too.
      config: [
        'fleet:',
        '  defaults: { interval: 2h }',
        'alerts:',
        `  webhooks: [${JSON.stringify(good.url)}, ${JSON.stringify(bad.url)}]`,
        // One evaluation, at start: what the pages show does not move under the test.
        '  evaluateInterval: 1h',
        '  scheduleInterval: 2h',
        '  for: { agentDisconnected: 0s, siteBelowTarget: 0s, agentSilent: 0s, agentDiskLow: 0s, agentTestsFailing: 0s }',
        '  delivery: { attempts: 1, timeout: 2s, backoff: 1s, maxBackoff: 10s }',
        '',
      ].join('\n'),
    });
    url = collector.url;
    // The first evaluation fires the alerts; its delivery round reaches both receivers.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { deliveries } = await collector.api<Deliveries>('/api/v1/alerts/deliveries');
      if (deliveries.some((d) => d.state === 'delivered') && deliveries.some((d) => d.state === 'failed')) break;
      if (Date.now() > deadline) throw new Error(`no delivered and failed notifications within 30 s:\n${collector.process.output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 180_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await collector?.stop();
    for (const receiver of [good, bad]) await new Promise<void>((resolve) => (receiver === undefined ? resolve() : receiver.server.close(() => resolve())));
  });

  it('shows a read-only session the fleet with the API figures, filters, and no admin control', async () => {
    const context = await browser();
    const page = await firstPage(context);
    await logInAt(page, url, READ_TOKEN);
    await ready(page);
    const problems = watch(page);
    await page.click('header nav a[data-page="fleet"]');
    await page.waitForSelector('body[data-page="fleet"][data-state="ready"]');
    expect(await page.textContent('header nav a[data-page="fleet"]')).toBe('Thiết bị');
    const all = await expectFleet(page, 'all', 'vi');
    console.log(`fleet page drawn ${await page.getAttribute('body', 'data-render-ms')} ms after the navigation (300 boxes)`);
    // The seeded fleet: nobody connected, some silent, the seeded health problems, one paused.
    expect(all.counts).toMatchObject({ boxes: 300, connected: 0, disconnected: 300, testsFailing: 2, diskLow: 2, clockSkew: 1, unhealthy: 4, paused: 1, revoked: 0 });
    expect(all.counts['silent']).toBeGreaterThan(5);
    // Versions from the seeded health reports (0.1.0 for every box that tested, then the six
    // above); the boxes that never reported are unknown. Most first, every box once.
    expect(all.versions[0]).toEqual({ version: '0.1.0', boxes: expect.any(Number) as unknown });
    expect(all.versions).toContainEqual({ version: '0.2.0', boxes: 3 });
    expect(all.versions.map((v) => v.version)).toEqual(expect.arrayContaining([null, '0.3.0']));
    expect(all.versions.reduce((n, v) => n + v.boxes, 0)).toBe(300);
    expect(all.versions.map((v) => v.boxes)).toEqual([...all.versions.map((v) => v.boxes)].sort((a, b) => b - a));
    const shown = await page.evaluate(readFleet);
    expect(shown.actions).toBe(0);
    expect(shown.form).toBe(false);
    await page.screenshot({ path: join(shots, 'fleet-read-vi.png'), fullPage: false });
    for (const filter of ['unhealthy', 'silent', 'paused']) {
      await page.click(`.filters a[data-filter="${filter}"]`);
      await page.waitForSelector(`body[data-state="ready"] .filters a[data-filter="${filter}"][aria-current="page"]`);
      const data = await expectFleet(page, filter, 'vi');
      expect(data.matched).toBe(data.boxes.length);
      if (filter === 'unhealthy') {
        // The metered box's health cell says what its tests used against its budget, in red once spent.
        const line = await page.$eval('table.boxes tr[data-agent="lso-001"] [data-field="dataUsed"]', (el) => ({ text: el.textContent, cls: el.getAttribute('class') }));
        expect(line.text).toMatch(/^đã dùng 10[.,]5 GB \/ 10 GB dữ liệu tháng này$/);
        expect(line.cls).toBe('bad');
      }
    }
    expect((await fleetApi('unhealthy')).boxes.map((b) => b.id).sort()).toEqual(['lso-001', 'lso-002', 'lso-003', 'lso-006']);
    await page.screenshot({ path: join(shots, 'fleet-read-vi-paused.png'), fullPage: true });
    // English: the same figures, English labels.
    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await expectFleet(page, 'paused', 'en');
    expect(await page.textContent('header nav a[data-page="fleet"]')).toBe('Fleet');
    await page.click('.filters a[data-filter="unhealthy"]');
    await page.waitForSelector('body[data-state="ready"] .filters a[data-filter="unhealthy"][aria-current="page"]');
    await expectFleet(page, 'unhealthy', 'en');
    await page.screenshot({ path: join(shots, 'fleet-read-en-unhealthy.png'), fullPage: true });
    expect(problems).toEqual([]);

    // Page script posting an action without the CSRF header: refused, nothing done.
    const forged = await page.evaluate(async () => {
      const res = await fetch('/api/v1/pause', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'lso-020' }) });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    });
    expect(forged).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    // The only problems since: that refusal (its response, and Chromium's console line for it).
    expect(problems).toContain(`HTTP 403: ${url}api/v1/pause`);
    expect(problems.filter((p) => !p.includes('403'))).toEqual([]);
  });

  it('gives an admin session "Test now", pause and resume, each with the answer the API gives', async () => {
    const context = await browser();
    const page = await firstPage(context);
    await logInAt(page, url, ADMIN_TOKEN);
    await ready(page);
    const problems = watch(page);
    await page.goto(`${url}#/fleet?problem=unhealthy`);
    await page.waitForSelector('body[data-page="fleet"][data-state="ready"]');
    await expectFleet(page, 'unhealthy', 'vi');
    expect((await page.evaluate(readFleet)).form).toBe(true);
    // lso-001 is not connected (nothing is, in the seed): the API names it in notConnected, and the page says so.
    const answer = (await (await admin('/api/v1/tests', { agent: 'lso-001' })).json()) as { requested: unknown[]; notConnected: string[] };
    expect(answer).toMatchObject({ requested: [], notConnected: ['lso-001'] });
    await page.click('tr[data-agent="lso-001"] button[data-action="test"]');
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.querySelector('[data-field="action-message"]')?.textContent ?? '') !== '');
    expect(await page.textContent('[data-field="action-message"]')).toBe('lso-001: thiết bị không kết nối nên chưa đo được; thiết bị sẽ đo theo lịch khi kết nối lại.');
    await page.screenshot({ path: join(shots, 'fleet-admin-vi-test-now.png'), fullPage: false });

    // Pause lso-002: the API says it is paused, the row says so after the page fetches again.
    await page.click('tr[data-agent="lso-002"] button[data-action="pause"]');
    await page.waitForSelector('tr[data-agent="lso-002"] button[data-action="resume"]');
    expect(await page.textContent('[data-field="action-message"]')).toBe('lso-002: đã tạm dừng đo.');
    const paused = await fleetApi('paused');
    expect(paused.boxes.map((b) => b.id)).toEqual(['lso-002', 'lso-010']);
    expect(await page.getAttribute('tr[data-agent="lso-002"]', 'data-problems')).toContain('paused');
    await expectFleet(page, 'unhealthy', 'vi');
    await page.click('tr[data-agent="lso-002"] button[data-action="resume"]');
    await page.waitForSelector('tr[data-agent="lso-002"] button[data-action="pause"]');
    expect(await page.textContent('[data-field="action-message"]')).toBe('lso-002: đã cho đo tiếp.');
    expect((await fleetApi('paused')).boxes.map((b) => b.id)).toEqual(['lso-010']);
    expect(problems).toEqual([]);
  });

  it('issues an enrollment code for a new site: the store holds it and /v1/enroll redeems it', async () => {
    const context = contexts[1] as BrowserContext;
    const page = context.pages()[0] as Page;
    const problems = watch(page);
    await page.fill('#enroll-id', 'lso-new-301');
    await page.fill('#enroll-name', 'Trạm y tế Hợp Thành mới');
    await page.selectOption('#enroll-kind', 'clinic');
    await page.selectOption('#enroll-technology', 'mobile');
    await page.fill('#enroll-isp', 'Viettel');
    await page.fill('#enroll-area', 'lạng sơn/cao lộc/hợp thành');
    await page.selectOption('#enroll-expires', '14d');
    await page.click('form.enroll button[type=submit]');
    await page.waitForSelector('[data-field="code"]');
    const code = (await page.textContent('[data-field="code"]')) ?? '';
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$/);
    await page.screenshot({ path: join(shots, 'fleet-admin-vi-enrolled.png'), fullPage: true });
    // In the store: the new site, with its area in the existing spelling, and its code waiting.
    const { agents } = await collector.api<{ agents: { id: string; site: { area: string | null; kind: string } }[] }>('/api/v1/agents');
    expect(agents.find((a) => a.id === 'lso-new-301')?.site).toMatchObject({ area: 'Lạng Sơn/Cao Lộc/Hợp Thành', kind: 'clinic' });
    const { stdout } = await run(process.execPath, [BIN.collector, 'agents', 'list', '--db', join(collector.dir, 'collector.db'), '--json']);
    const listed = (JSON.parse(stdout) as { id: string; enrollment?: { expiresAt: number; usedAt?: number } }[]).find((a) => a.id === 'lso-new-301');
    expect(listed?.enrollment?.usedAt).toBeUndefined();
    expect((listed?.enrollment?.expiresAt ?? 0) - Date.now()).toBeGreaterThan(14 * 86_400_000 - 5 * MINUTE);
    // The page fetched the fleet again: the new box is listed as disconnected.
    await page.click('.filters a[data-filter="all"]');
    await page.waitForSelector('body[data-state="ready"] .filters a[data-filter="all"][aria-current="page"]');
    expect((await fleetApi()).counts['boxes']).toBe(301);
    await expectFleet(page, 'all', 'vi');
    // A box redeems the code.
    const enrolled = await fetch(new URL('/v1/enroll', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(enrolled.status).toBe(200);
    expect(((await enrolled.json()) as { agentId: string }).agentId).toBe('lso-new-301');
    expect(problems).toEqual([]);
  });

  it('refuses forged actions: page script without the CSRF header, a script with the cookie and a wrong token, another origin', async () => {
    const context = contexts[1] as BrowserContext;
    const page = context.pages()[0] as Page;
    // From the admin's own page, but without the header the console sends.
    const forged = await page.evaluate(async () => {
      const res = await fetch('/api/v1/tests', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'lso-020' }) });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    });
    expect(forged).toMatchObject({ status: 403, body: { error: { code: 'SW_CSRF' } } });
    // A script holding the admin session's cookie: a wrong token is refused, the session's own works.
    const cookie = (await context.cookies()).find((c) => c.name === 'sw_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    const headers = { cookie: `sw_session=${cookie?.value ?? ''}`, 'content-type': 'application/json' };
    const wrong = await fetch(new URL('/api/v1/pause', url), { method: 'POST', headers: { ...headers, 'x-csrf-token': 'A'.repeat(43) }, body: JSON.stringify({ agent: 'lso-020' }) });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('SW_CSRF');
    const session = (await (await fetch(new URL('/api/v1/session', url), { headers })).json()) as { role: string; csrfToken: string };
    expect(session.role).toBe('admin');
    const right = await fetch(new URL('/api/v1/tests', url), { method: 'POST', headers: { ...headers, 'x-csrf-token': session.csrfToken }, body: JSON.stringify({ agent: 'lso-020' }) });
    expect(right.status).toBe(202);
    // Another origin's page in the admin's browser: the cookie goes along (same site), Sec-Fetch-Site stops it.
    const refusals = (): number => collector.process.output().split('\n').filter((l) => /"event":"action-refused".*"code":"SW_CSRF".*"path":"\/api\/v1\/pause"/.test(l)).length;
    const before = refusals();
    const evil = await context.newPage();
    await evil.goto(`${good.origin}/evil`);
    await evil.waitForFunction(() => (globalThis as unknown as { document: { title: string } }).document.title !== 'evil', undefined, { timeout: 10_000 });
    const deadline = Date.now() + 10_000;
    while (refusals() === before) {
      if (Date.now() > deadline) throw new Error(`the collector did not log the refused cross-origin action:\n${collector.process.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await evil.close();
    expect((await fleetApi('paused')).boxes.map((b) => b.id)).toEqual(['lso-010']);
  });

  it('shows the alerts API entries and where each notification went, in Vietnamese and English', async () => {
    const context = contexts[0] as BrowserContext;
    const page = context.pages()[0] as Page;
    await page.click('.switch button[data-value="vi"]');
    await page.waitForSelector('html[lang="vi"] body[data-state="ready"]');
    const problems = watch(page);
    await page.click('header nav a[data-page="alerts"]');
    await page.waitForSelector('body[data-page="alerts"][data-state="ready"]');
    const check = async (lang: 'vi' | 'en'): Promise<void> => {
      const shown = await page.evaluate(readAlerts);
      const alerts = await collector.api<Alerts>('/api/v1/alerts');
      const { routes, deliveries } = await collector.api<Deliveries>('/api/v1/alerts/deliveries');
      const firing = alerts.alerts.filter((a) => a.state === 'firing').length;
      expect(shown.firing).toBe(count(lang, firing));
      expect(shown.pending).toBe(count(lang, alerts.alerts.length - firing));
      // Firing before pending, warnings before information, else in the API's order.
      const rank = (a: Alerts['alerts'][number]): number => (a.state === 'firing' ? 0 : 10) + ({ critical: 0, warning: 1, info: 2 }[a.labels['severity'] ?? ''] ?? 3);
      const ordered = alerts.alerts.map((a, i) => ({ a, i })).sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i).map((x) => x.a).slice(0, 500);
      expect(shown.rows.map((r) => r.fingerprint)).toEqual(ordered.map((a) => a.fingerprint));
      expect(shown.rows.map((r) => r.activeAt)).toEqual(ordered.map((a) => a.activeAt));
      const byAlert = new Map<string, { route: string; state: string }[]>();
      for (const d of deliveries) byAlert.set(d.fingerprint, [...(byAlert.get(d.fingerprint) ?? []), { route: d.route, state: d.state }]);
      expect(shown.rows.map((r) => r.deliveries)).toEqual(shown.rows.map((r) => byAlert.get(r.fingerprint ?? '') ?? []));
      // Both receivers heard: one delivered, one failing with its error; named by host only.
      const states = shown.rows.flatMap((r) => r.deliveries.map((d) => d.state));
      expect(states).toContain('delivered');
      expect(states).toContain('failed');
      // Each entry of alerts.webhooks is a route of its own, it and its channel named by host only.
      expect(routes.map((w) => [w.name, w.channel, w.channelType])).toEqual([
        [`${good.origin}/…`, `${good.origin}/…`, 'webhook'],
        [`${bad.origin}/…`, `${bad.origin}/…`, 'webhook'],
      ]);
      expect(shown.text).toContain(`${bad.origin}/…`);
      expect(shown.text).toContain('SW_WEBHOOK_STATUS');
      expect(shown.text).not.toMatch(/SECRET|s3cr3t/);
    };
    await check('vi');
    const alerts = await collector.api<Alerts>('/api/v1/alerts');
    const names = new Set(alerts.alerts.map((a) => a.alertname));
    for (const name of ['SpeedwatchAgentDisconnected', 'SpeedwatchSiteBelowTarget', 'SpeedwatchAgentDiskLow', 'SpeedwatchAgentTestsFailing']) expect(names).toContain(name);
    console.log(`alerts page: ${alerts.alerts.length} alerts (${[...names].join(', ')}), ${good.posts} POSTs to the good receiver, ${bad.posts} to the failing one`);
    await page.screenshot({ path: join(shots, 'alerts-vi.png'), fullPage: false });
    // A filter by alert name.
    await page.click('.filters a[data-filter="SpeedwatchAgentDiskLow"]');
    await page.waitForSelector('body[data-state="ready"] .filters a[data-filter="SpeedwatchAgentDiskLow"][aria-current="page"]');
    expect((await page.evaluate(readAlerts)).rows.map((r) => r.fingerprint)).toEqual(alerts.alerts.filter((a) => a.alertname === 'SpeedwatchAgentDiskLow').map((a) => a.fingerprint));
    await page.screenshot({ path: join(shots, 'alerts-vi-disk-low.png'), fullPage: true });
    await page.click('.filters a[data-filter=""]');
    await page.waitForSelector('body[data-state="ready"] .filters a[data-filter=""][aria-current="page"]');
    await page.click('.switch button[data-value="en"]');
    await page.waitForSelector('html[lang="en"] body[data-state="ready"]');
    await check('en');
    expect(await page.textContent('table.alert-list')).toContain('Delivered');
    await page.screenshot({ path: join(shots, 'alerts-en.png'), fullPage: false });
    expect(problems).toEqual([]);
  });

  it('fits a phone: the fleet (with its admin controls) and the alerts without sideways scrolling of the page', async () => {
    const context = await browser({ width: 390, height: 844 }, true);
    const page = await firstPage(context);
    await logInAt(page, url, ADMIN_TOKEN);
    await ready(page);
    const problems = watch(page);
    const fits = (): Promise<boolean> =>
      page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return g.document.documentElement.scrollWidth <= g.innerWidth;
      });
    await page.goto(`${url}#/fleet?problem=unhealthy`);
    await page.waitForSelector('body[data-page="fleet"][data-state="ready"]');
    expect(await fits()).toBe(true);
    await expectFleet(page, 'unhealthy', 'vi');
    await page.screenshot({ path: join(shots, 'fleet-phone-vi.png'), fullPage: true });
    await page.goto(`${url}#/alerts?name=SpeedwatchAgentTestsFailing`);
    await page.waitForSelector('body[data-page="alerts"][data-state="ready"]');
    expect(await fits()).toBe(true);
    await page.screenshot({ path: join(shots, 'alerts-phone-vi.png'), fullPage: true });
    expect(problems).toEqual([]);
  });
});
