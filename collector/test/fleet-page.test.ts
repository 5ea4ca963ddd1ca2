/**
 * `GET /api/v1/fleet`, the console's fleet page in one answer, from a collector started
 * in-process on a real SQLite file with agents speaking the real protocol: which boxes are
 * silent (by their own test interval), disconnected, unhealthy by the alert rules' bars,
 * paused or revoked; the counts, the versions, the filters, the order (worst first) and the limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, startTestCollector } from './ingest-util.js';

const READ = 'fleet-page-read-token-0123456789';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GB = 1_000_000_000;

let t: TestCollector;
const clients: AgentClient[] = [];

interface Box {
  id: string;
  problems: string[];
  connected: boolean;
  version: string | null;
  intervalMs: number;
  silentAfterMs: number;
  lastResultAt: string | null;
  health: { diskFreeBytes: number | null; failedTestsInARow: number | null; clockSkewSeconds: number } | null;
}

async function fleet(query = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(new URL(`/api/v1/fleet${query}`, t.collector.url), { headers: { authorization: `Bearer ${READ}` } });
  return { status: res.status, body: await res.json() };
}

function health(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    type: 'health',
    clock: new Date(now).toISOString(),
    agent: { version: '0.2.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
    backlog: 0,
    dropped: 0,
    lastTest: { status: 'ok', finishedAt: new Date(now - 5 * MINUTE).toISOString() },
    failedTestsInARow: 0,
    lastOkTestAt: new Date(now - 5 * MINUTE).toISOString(),
    diskFreeBytes: 10 * GB,
    ...overrides,
  };
}

/** Connects `id` saying `version` in its hello, sends a result started `resultAgoMs` ago (if given) and a health report (if given). */
async function box(id: string, { version = '0.2.0', resultAgoMs, report }: { version?: string; resultAgoMs?: number; report?: Record<string, unknown> }): Promise<AgentClient> {
  const client = await connectAgent(t.wsUrl, t.addAgent(id));
  clients.push(client);
  client.send({ type: 'hello', protocol: 1, agent: { version }, clock: new Date().toISOString() });
  await client.next('welcome');
  if (resultAgoMs !== undefined) {
    const startedAt = new Date(Date.now() - resultAgoMs).toISOString();
    client.send({ type: 'results', results: [makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString() })] });
    await client.next('ack');
  }
  if (report !== undefined) client.send(report);
  return client;
}

beforeAll(async () => {
  // Boxes test every 2 h (silent after 4 h), fast-1 every 5 min (silent after the 1 h floor).
  t = await startTestCollector({ readToken: READ, fleet: { defaults: { intervalMs: 2 * HOUR }, overrides: [{ match: { agent: 'fast-1' }, intervalMs: 5 * MINUTE }] } });
  await box('ok-1', { version: '0.3.0', resultAgoMs: 30 * MINUTE, report: health() });
  await box('ok-2', { version: '0.3.0', resultAgoMs: 3 * HOUR, report: health({ dataUsage: { month: '2026-11', usedBytes: 3_200_000_000, budgetBytes: 10_000_000_000 } }) });
  await box('disk-1', { resultAgoMs: 30 * MINUTE, report: health({ diskFreeBytes: 50_000_000 }) });
  await box('fail-1', { resultAgoMs: 30 * MINUTE, report: health({ failedTestsInARow: 5, lastTest: { status: 'failed', finishedAt: new Date().toISOString(), errorCode: 'SW_DNS' } }) });
  await box('skew-1', { resultAgoMs: 30 * MINUTE, report: health({ clock: new Date(Date.now() + 5 * MINUTE).toISOString() }) });
  await box('fast-1', { resultAgoMs: 90 * MINUTE });
  const gone = await box('gone-1', { resultAgoMs: 5 * HOUR });
  gone.ws.close();
  await gone.closed;
  await box('paused-1', {});
  t.store.agents.setPaused(['paused-1'], Date.now());
  t.addAgent('new-1');
  t.store.agents.add({ id: 'never-1', name: 'Site never-1', siteKind: 'office', technology: 'fixed' }, hashToken(newToken()), Date.now() - 5 * HOUR);
  t.addAgent('rev-1');
  t.store.agents.revoke('rev-1', Date.now());
  await t.collector.refreshAgents();
  // Health reports are handled as they arrive: wait until every one is in.
  const deadline = Date.now() + 5000;
  while ((await fleet()).body.boxes.filter((b: Box) => b.health !== null).length < 5) {
    if (Date.now() > deadline) throw new Error('the health reports did not arrive within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  for (const client of clients) client.ws.terminate();
  await t?.close();
});

describe('GET /api/v1/fleet', () => {
  it('judges each box: silent by its own interval, disconnected, unhealthy by the alert bars, paused', async () => {
    const { status, body } = await fleet();
    expect(status).toBe(200);
    const problems = Object.fromEntries((body.boxes as Box[]).map((b) => [b.id, b.problems]));
    expect(problems).toEqual({
      'ok-1': [],
      'ok-2': [], // 3 h without a result is not silent for a box testing every 2 h
      'disk-1': ['disk-low'],
      'fail-1': ['tests-failing'],
      'skew-1': ['clock-skew'],
      'fast-1': ['silent'], // 90 min: past the 1 h floor over 2 × 5 min
      'gone-1': ['silent', 'disconnected'],
      'paused-1': ['paused'], // no result, but paused: not silent
      'new-1': ['disconnected'], // added just now: not silent yet
      'never-1': ['silent', 'disconnected'], // added 5 h ago, never a result
    });
    const byId = new Map((body.boxes as Box[]).map((b) => [b.id, b]));
    expect(byId.get('fast-1')).toMatchObject({ intervalMs: 5 * MINUTE, silentAfterMs: HOUR });
    expect(byId.get('gone-1')).toMatchObject({ intervalMs: 2 * HOUR, silentAfterMs: 4 * HOUR, connected: false });
    expect(byId.get('disk-1')?.health).toMatchObject({ diskFreeBytes: 50_000_000, failedTestsInARow: 0, dataUsage: null });
    // A metered box says how much of its month's data budget its tests used.
    expect(byId.get('ok-2')?.health).toMatchObject({ dataUsage: { month: '2026-11', usedBytes: 3_200_000_000, budgetBytes: 10_000_000_000 } });
    expect(byId.get('skew-1')?.health?.clockSkewSeconds).toBeGreaterThan(290);
    expect(body.rules).toEqual({ silentIntervals: 2, silentMinMs: HOUR, defaultIntervalMs: 15 * MINUTE, diskFreeBelowBytes: 100_000_000, failedTestsInARow: 3, okTestWithinMs: 6 * HOUR, clockSkewMs: MINUTE });
    expect(body.timeZone).toBe('Asia/Ho_Chi_Minh');
  });

  it('lists the worst first: by the worst problem, then the longest without a result, revoked boxes left out', async () => {
    const { body } = await fleet();
    expect((body.boxes as Box[]).map((b) => b.id)).toEqual(['never-1', 'gone-1', 'fast-1', 'new-1', 'fail-1', 'disk-1', 'skew-1', 'paused-1', 'ok-2', 'ok-1']);
    expect(body).toMatchObject({ filter: 'all', matched: 10, limit: 500 });
  });

  it('counts every unrevoked box under each of its problems, and boxes by agent version', async () => {
    const { body } = await fleet('?problem=ok&limit=1');
    expect(body.counts).toEqual({ boxes: 10, ok: 2, connected: 7, silent: 3, disconnected: 3, unhealthy: 3, testsFailing: 1, diskLow: 1, clockSkew: 1, paused: 1, revoked: 1 });
    // From each box's hello; null for the two that never connected.
    expect(body.versions).toEqual([
      { version: '0.2.0', boxes: 6 },
      { version: '0.3.0', boxes: 2 },
      { version: null, boxes: 2 },
    ]);
  });

  it.each([
    ['silent', ['never-1', 'gone-1', 'fast-1']],
    ['disconnected', ['never-1', 'gone-1', 'new-1']],
    ['unhealthy', ['fail-1', 'disk-1', 'skew-1']],
    ['disk-low', ['disk-1']],
    ['tests-failing', ['fail-1']],
    ['clock-skew', ['skew-1']],
    ['paused', ['paused-1']],
    ['ok', ['ok-2', 'ok-1']],
    ['problems', ['never-1', 'gone-1', 'fast-1', 'new-1', 'fail-1', 'disk-1', 'skew-1', 'paused-1']],
    ['revoked', ['rev-1']],
  ])('filters problem=%s', async (problem, ids) => {
    const { body } = await fleet(`?problem=${problem}`);
    expect((body.boxes as Box[]).map((b) => b.id)).toEqual(ids);
    expect(body.matched).toBe(ids.length);
  });

  it('lists at most `limit` boxes and says how many matched', async () => {
    const { body } = await fleet('?problem=problems&limit=2');
    expect((body.boxes as Box[]).map((b) => b.id)).toEqual(['never-1', 'gone-1']);
    expect(body).toMatchObject({ matched: 8, limit: 2 });
  });

  it.each([
    ['?problem=broken', 'problem'],
    ['?limit=0', 'limit'],
    ['?limit=10001', 'limit'],
    ['?window=24h', 'window'],
  ])('refuses %s with SW_BAD_PARAMETER', async (query, parameter) => {
    expect(await fleet(query)).toMatchObject({ status: 400, body: { error: { code: 'SW_BAD_PARAMETER', parameter } } });
  });
});
