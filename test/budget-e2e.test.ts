/**
 * A metered link end to end, as real processes on loopback: an endpoint paced to 20 Mbit/s, a
 * collector whose fleet config gives the site a small monthly data budget, and an agent daemon
 * whose usage ledger holds last month's tests of its line. The first test is shortened to its
 * share of the month's budget and uses about what was estimated; the collector then lowers the
 * budget below what the month has used (a reload), and the next test is skipped (latency only).
 * The collector shows the month's usage against the budget. And a test's data cap holds: with
 * `--max-bytes` the download ends at the cap and the upload is left out.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zonedMonth } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runToEnd, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const DAY_MS = 86_400_000;
const ADMIN = 'budget-admin-token-0123456789';
const AGENT = 'mobile-clinic';
/** 20 kB of latency a test, and 2500 bytes a ms each way at 20 Mbit/s. */
const SMALL_BYTES = 20_000;
const LINE_BYTES_PER_MS = 2500;
/** The share each test should get: room for both phases for 5 s (25 MB). */
const SHARE_BYTES = SMALL_BYTES + 2 * LINE_BYTES_PER_MS * 5000;

const dir = mkdtempSync(join(tmpdir(), 'sw-budget-'));
let endpoint: Running & { url: string };
let collector: (Running & { line: string }) | undefined;
let api = '';
let daemon: { child: ChildProcess; log: () => string } | undefined;
/** The month's budget: SHARE_BYTES for each test the month has left at one a day. */
let budgetBytes = 0;

async function request(path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, api), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${daemon?.log().slice(-3000) ?? ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function results(): Promise<MeasurementResult[]> {
  return ((await request(`/api/v1/results?agent=${AGENT}&limit=100`)) as { results: MeasurementResult[] }).results;
}

/**
 * Asks the collector for a test and waits for its result; asks again when none came within 20 s
 * (a request that reached the agent while it was between connections is not kept).
 */
async function testNow(): Promise<MeasurementResult> {
  const before = (await results()).length;
  for (let attempt = 1; ; attempt++) {
    await until('the agent connected and took the request', 20_000, async () => (((await request('/api/v1/tests', { agent: AGENT })) as { requested: unknown[] }).requested.length > 0 ? true : undefined));
    try {
      return await until('the result', 20_000, async () => (await results())[before]);
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0', '--max-mbps', '20', '--log-level', 'warn']);
  const nowMs = Date.now();
  const { endMs } = zonedMonth(nowMs, ZONE);
  budgetBytes = Math.ceil((endMs - nowMs) / DAY_MS) * SHARE_BYTES;
  const db = join(dir, 'collector.db');
  const config = join(dir, 'collector.yaml');
  writeFileSync(config, collectorConfig(budgetBytes));
  const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', AGENT, '--name', AGENT, '--site-kind', 'clinic', '--technology', 'mobile'], { encoding: 'utf8' }).trim();
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'));
  api = (JSON.parse(collector.line) as { url: string }).url;
  writeFileSync(config, collectorConfig(budgetBytes)); // with its port, for the reload
  const agentDir = join(dir, 'agent');
  mkdirSync(join(agentDir, 'state'), { recursive: true });
  writeFileSync(join(agentDir, 'token'), token);
  // Three tests of last month (they count for the estimate, not for this month's use).
  const lastMonth = zonedMonth(nowMs, ZONE).startMs - 3 * DAY_MS;
  const past = (i: number): string =>
    `${JSON.stringify({ atMs: lastMonth + i * DAY_MS, phases: { select: 2000, latency: 18_000, download: 8000 * LINE_BYTES_PER_MS, upload: 8000 * LINE_BYTES_PER_MS }, phaseMs: { download: 8000, upload: 8000 } })}\n`;
  writeFileSync(join(agentDir, 'state', 'usage.jsonl'), [0, 1, 2].map(past).join(''));
  writeFileSync(
    join(agentDir, 'agent.yaml'),
    `collector:\n  url: ws://127.0.0.1:${new URL(api).port}/v1/agents\n  tokenFile: token\nhealth:\n  interval: 1s\nbusyLine:\n  check: false\ndataDir: state\n`,
  );
  const child = spawn(process.execPath, [BIN.agent, 'run', '--config', join(agentDir, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  daemon = { child, log: () => log };
}, 30_000);

afterAll(async () => {
  if (daemon !== undefined) await stopChild(daemon.child);
  await collector?.stop();
  await endpoint?.stop();
});

function collectorConfig(monthly: number): string {
  return (
    `db: ${join(dir, 'collector.db')}\nport: ${collector === undefined ? 0 : new URL(api).port}\nheartbeat: 1s\nadminToken: ${ADMIN}\nlogLevel: warn\ntimeZone: ${ZONE}\n` +
    `fleet:\n  defaults:\n    interval: 1d\n    endpoints: [${endpoint.url}]\n    test: { duration: 8s, warmup: 2s, streams: 2, latencyCount: 5 }\n` +
    `  overrides:\n    - match: { technology: mobile }\n      budget: { monthly: ${monthly} }\n`
  );
}

describe('a metered link with a monthly data budget', () => {
  it('shortens a test to its share of the budget, skips throughput once the budget is spent, and reports the usage', async () => {
    const first = await testNow();
    // Both phases fit the share for (share − 20 kB) / 5000 bytes a ms = 5 s (to the 100 ms).
    expect(first.budget).toMatchObject({ monthlyBytes: budgetBytes, usedBytes: 0, action: 'shortened', reason: 'over-allowance' });
    // Its cap: twice its share, or on a month's last day what the month has left (its share).
    expect(first.budget?.capBytes).toBe(Math.min(budgetBytes, 2 * SHARE_BYTES));
    expect(first.budget?.durationMs).toBeGreaterThanOrEqual(4900);
    expect(first.budget?.durationMs).toBeLessThanOrEqual(5000);
    expect(first.download?.mbps).toBeGreaterThan(15);
    expect(first.upload?.mbps).toBeGreaterThan(15);
    // It used about what was estimated (connections and the upload's last confirmations add a little).
    const used = first.usage?.bytes ?? 0;
    expect(Math.abs(used / (first.budget?.estimatedBytes ?? 1) - 1)).toBeLessThan(0.25);

    // The budget lowered below what the month has used: the next test measures latency alone.
    writeFileSync(join(dir, 'collector.yaml'), collectorConfig(10_000_000));
    collector?.child.kill('SIGHUP');
    await until('the agent applied the lowered budget', 10_000, async () => (daemon?.log().split('"event":"settings-applied"').length ?? 0) > 2 ? true : undefined);
    const second = await testNow();
    expect(second.budget).toMatchObject({ monthlyBytes: 10_000_000, action: 'skipped', reason: 'budget-spent', usedBytes: used, allowanceBytes: 0, skipped: ['download', 'upload'] });
    expect(second.download).toBeUndefined();
    expect(second.upload).toBeUndefined();
    expect(second.latency?.count).toBe(5);
    expect(second.status).toBe('ok');

    // The collector shows the month's use against the budget.
    const usage = await until('a health report with both tests', 10_000, async () => {
      const { agents } = (await request('/api/v1/agents')) as { agents: { id: string; health: { dataUsage: { usedBytes: number; budgetBytes: number | null; month: string } | null } | null }[] };
      const dataUsage = agents.find((a) => a.id === AGENT)?.health?.dataUsage;
      return dataUsage !== undefined && dataUsage !== null && dataUsage.usedBytes >= used + (second.usage?.bytes ?? 0) ? dataUsage : undefined;
    });
    expect(usage).toEqual({ month: zonedMonth(Date.now(), ZONE).month, usedBytes: used + (second.usage?.bytes ?? 0), budgetBytes: 10_000_000 });
    expect(daemon?.log()).toContain('"event":"budget-skipped"');
    console.info(`budget e2e: ${JSON.stringify({ first: first.budget, firstUsage: first.usage, firstMbps: [first.download?.mbps, first.upload?.mbps], second: second.budget, secondUsage: second.usage?.bytes, health: usage })}`);
  }, 120_000);

  it("ends the download at the test's data cap and leaves the upload out", async () => {
    // 6 MB at 2.5 MB/s: the download ends after about 2.4 s, 1.4 s past its warm-up.
    const run = await runToEnd(process.execPath, [BIN.agent, 'once', '--endpoint', endpoint.url, '--duration', '4', '--streams', '2', '--json', '--max-bytes', '6MB'], 30_000);
    const result = JSON.parse(run.stdout) as MeasurementResult;
    expect(result.status).toBe('partial');
    expect(result.errors?.map((e) => [e.phase, e.code])).toEqual([['upload', 'SW_BUDGET_CAPPED']]);
    expect(result.download?.mbps).toBeGreaterThan(15);
    expect(result.upload).toBeUndefined();
    // Checked every 200 ms: past the cap by at most a sample's worth (0.5 MB) and what was in flight.
    expect(result.usage?.bytes).toBeGreaterThanOrEqual(6_000_000);
    expect(result.usage?.bytes).toBeLessThan(7_000_000);
    console.info(`budget e2e, capped: ${JSON.stringify({ usage: result.usage, download: { mbps: result.download?.mbps, durationMs: result.download?.durationMs } })}`);
  }, 60_000);
});
