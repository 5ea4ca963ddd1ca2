/**
 * A metered link end to end, as real processes on loopback: an endpoint paced to 50 Mbit/s, a
 * collector whose fleet config gives the site a small monthly data budget, and an agent daemon
 * whose usage ledger says its line moved 0.8 Mbit/s until now (last month's tests). The first
 * test is shortened to fit its share of the budget; the line is now 60 times faster, so that
 * test uses more than the month's whole budget, and the next one is skipped (latency only). The
 * collector shows the month's usage against the budget.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zonedMonth } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const DAY_MS = 86_400_000;
const ADMIN = 'budget-admin-token-0123456789';
const AGENT = 'mobile-clinic';
/** 20 kB of latency a test, and 100 bytes a ms each way at 0.8 Mbit/s. */
const SMALL_BYTES = 20_000;
const SLOW_BYTES_PER_MS = 100;
/**
 * The share each test should get: room for both phases for 5 s at the slow rate (1.02 MB; the
 * month's budget is at least that, the smallest one a budget may be, and at most 31 times it).
 */
const SHARE_BYTES = SMALL_BYTES + 2 * SLOW_BYTES_PER_MS * 5000;

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

/** Asks the collector for a test and waits for its result. */
async function testNow(): Promise<MeasurementResult> {
  const before = (await results()).length;
  await until('the agent connected and took the request', 20_000, async () => (((await request('/api/v1/tests', { agent: AGENT })) as { requested: unknown[] }).requested.length > 0 ? true : undefined));
  return until('the result', 60_000, async () => (await results())[before]);
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0', '--max-mbps', '50', '--log-level', 'warn']);
  const nowMs = Date.now();
  const { endMs } = zonedMonth(nowMs, ZONE);
  budgetBytes = Math.ceil((endMs - nowMs) / DAY_MS) * SHARE_BYTES;
  const db = join(dir, 'collector.db');
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    `db: ${db}\nport: 0\nheartbeat: 1s\nadminToken: ${ADMIN}\nlogLevel: warn\ntimeZone: ${ZONE}\nfleet:\n  defaults:\n    interval: 1d\n    endpoints: [${endpoint.url}]\n` +
      `    test: { duration: 8s, warmup: 2s, streams: 2, latencyCount: 5 }\n  overrides:\n    - match: { technology: mobile }\n      budget: { monthly: ${budgetBytes} }\n`,
  );
  const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', AGENT, '--name', AGENT, '--site-kind', 'clinic', '--technology', 'mobile'], { encoding: 'utf8' }).trim();
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'));
  api = (JSON.parse(collector.line) as { url: string }).url;
  const agentDir = join(dir, 'agent');
  mkdirSync(join(agentDir, 'state'), { recursive: true });
  writeFileSync(join(agentDir, 'token'), token);
  // Three tests of last month (they count for the estimate, not for this month's use).
  const lastMonth = zonedMonth(nowMs, ZONE).startMs - 3 * DAY_MS;
  const slow = (i: number): string => `${JSON.stringify({ atMs: lastMonth + i * DAY_MS, durationMs: 8000, phases: { select: 2000, latency: 18_000, download: 8000 * SLOW_BYTES_PER_MS, upload: 8000 * SLOW_BYTES_PER_MS } })}\n`;
  writeFileSync(join(agentDir, 'state', 'usage.jsonl'), [0, 1, 2].map(slow).join(''));
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

describe('a metered link with a monthly data budget', () => {
  it('shortens a test to its share of the budget, skips throughput once the budget is spent, and reports the usage', async () => {
    const first = await testNow();
    // Both phases fit their share for (share − 20 kB) / 200 bytes a ms = 5 s (to the 100 ms).
    expect(first.budget).toMatchObject({ monthlyBytes: budgetBytes, usedBytes: 0, action: 'shortened', reason: 'over-allowance' });
    expect(first.budget?.durationMs).toBeGreaterThanOrEqual(4900);
    expect(first.budget?.durationMs).toBeLessThanOrEqual(5000);
    expect(first.download?.mbps).toBeGreaterThan(40);
    expect(first.upload).toBeDefined();
    // At 50 Mbit/s each way (about 60 MB) the test used more than the month's budget (31 MB at most).
    expect(first.usage?.bytes).toBeGreaterThan(budgetBytes);

    const second = await testNow();
    expect(second.budget).toMatchObject({ action: 'skipped', reason: 'budget-spent', usedBytes: first.usage?.bytes, allowanceBytes: 0, skipped: ['download', 'upload'] });
    expect(second.download).toBeUndefined();
    expect(second.upload).toBeUndefined();
    expect(second.latency?.count).toBe(5);
    expect(second.status).toBe('ok');

    // The collector shows the month's use against the budget.
    const usage = await until('a health report with both tests', 10_000, async () => {
      const { agents } = (await request('/api/v1/agents')) as { agents: { id: string; health: { dataUsage: { usedBytes: number; budgetBytes: number | null; month: string } | null } | null }[] };
      const dataUsage = agents.find((a) => a.id === AGENT)?.health?.dataUsage;
      return dataUsage !== undefined && dataUsage !== null && dataUsage.usedBytes >= (first.usage?.bytes ?? 0) + (second.usage?.bytes ?? 0) ? dataUsage : undefined;
    });
    expect(usage).toEqual({ month: zonedMonth(Date.now(), ZONE).month, usedBytes: (first.usage?.bytes ?? 0) + (second.usage?.bytes ?? 0), budgetBytes });
    expect(daemon?.log()).toContain('"event":"budget-skipped"');
    console.info(`budget e2e: ${JSON.stringify({ first: first.budget, firstUsage: first.usage, second: second.budget, secondUsage: second.usage?.bytes, health: usage })}`);
  }, 120_000);
});
