/**
 * The API's actions behind the admin token, on real processes: "test now" for one agent or an
 * area's agents spread over a window, and pause/resume, which the agents honour through the
 * settings the collector pushes.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, startEndpointProcess, startUntil, stopChild } from './support/processes.js';
import type { Running } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-actions-'));
const db = join(dir, 'collector.db');
const READ = 'read-token-0123456789';
const ADMIN = 'admin-token-0123456789';
let endpoint: Running & { url: string };
let collector: Running & { line: string };
let url = '';
const daemons = new Map<string, { child: ChildProcess; log: () => string }>();
const AGENTS = [
  { id: 'caoloc-1', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' },
  { id: 'caoloc-2', area: 'Lạng Sơn/Cao Lộc/Gia Cát' },
  { id: 'badinh-1', area: 'Hà Nội/Ba Đình' },
] as const;

function post(path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(new URL(path, url), { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) } });
}

async function agentsView(): Promise<Map<string, { pausedAt: string | null; latest: { startedAt: string } | null; settings: { version: string | null; appliedVersion: string | null } }>> {
  const res = await fetch(new URL('/api/v1/agents', url), { headers: { authorization: `Bearer ${READ}` } });
  const { agents } = (await res.json()) as { agents: { id: string; pausedAt: string | null; latest: { startedAt: string } | null; settings: { version: string | null; appliedVersion: string | null } }[] };
  return new Map(agents.map((a) => [a.id, a]));
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function testsDone(id: string): { finishedAtMs: number; line: Record<string, unknown> }[] {
  return (daemons.get(id)?.log() ?? '')
    .split('\n')
    .filter((l) => l.includes('"event":"test-done"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .map((line) => ({ line, finishedAtMs: typeof line['time'] === 'number' ? line['time'] : Date.parse(String(line['time'])) }));
}

beforeAll(async () => {
  endpoint = await startEndpointProcess(['--host', '127.0.0.1', '--port', '0']);
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    `db: ${db}\nport: 0\nheartbeat: 1s\nreadToken: ${READ}\nadminToken: ${ADMIN}\nfleet:\n  defaults:\n    interval: 1h\n    endpoints: [${endpoint.url}]\n` +
      `    test: { tests: [latency, download], duration: 1200ms, warmup: 200ms, streams: 1, latencyCount: 3 }\n` +
      `  overrides:\n    - match: { agent: badinh-1 }\n      interval: 2s\n`,
  );
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (line) => line.includes('"event":"listening"'));
  url = (JSON.parse(collector.line) as { url: string }).url;
  for (const { id, area } of AGENTS) {
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', id, '--name', id, '--site-kind', 'school', '--technology', 'fixed', '--area', area], { encoding: 'utf8' }).trim();
    mkdirSync(join(dir, id));
    writeFileSync(join(dir, id, 'token'), token);
    writeFileSync(join(dir, id, 'agent.yaml'), `collector:\n  url: ${url.replace(/^http/, 'ws')}v1/agents\n  tokenFile: token\ndataDir: data\n`);
    const child = spawn(process.execPath, [BIN.agent, 'run', '--config', join(dir, id, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
    daemons.set(id, { child, log: () => log });
  }
  await until('every agent applied its settings', 20_000, async () => {
    const view = await agentsView();
    return AGENTS.every((a) => view.get(a.id)?.settings.appliedVersion !== null && view.get(a.id)?.settings.appliedVersion === view.get(a.id)?.settings.version) ? true : undefined;
  });
}, 60_000);

afterAll(async () => {
  await Promise.all([...daemons.values()].map((d) => stopChild(d.child)));
  await collector?.stop();
  await endpoint?.stop();
});

describe('actions behind the admin token', () => {
  it('refuse requests without the admin token: none, or the read token', async () => {
    expect((await post('/api/v1/tests', { agent: 'caoloc-1' })).status).toBe(401);
    const withRead = await post('/api/v1/tests', { agent: 'caoloc-1' }, READ);
    expect(withRead.status).toBe(401);
    expect(((await withRead.json()) as { error: { code: string } }).error.code).toBe('SW_UNAUTHORIZED');
    expect((await fetch(new URL('/api/v1/tests', url), { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(405);
  });

  it('name what is wrong with a body: no agents named, an unknown field, an unknown agent', async () => {
    const cases: [unknown, number, string][] = [
      [{}, 400, 'SW_BAD_PARAMETER'],
      [{ agent: 'caoloc-1', when: 'now' }, 400, 'SW_BAD_PARAMETER'],
      [{ area: 'Lạng Sơn', spread: 'soon' }, 400, 'SW_BAD_PARAMETER'],
      [{ agent: 'nobody' }, 404, 'SW_NOT_FOUND'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/api/v1/tests', body, ADMIN);
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code], JSON.stringify(body)).toEqual([status, code]);
    }
  });

  it('run a test now on one agent', async () => {
    const before = testsDone('caoloc-1').length;
    const res = await post('/api/v1/tests', { agent: 'caoloc-1' }, ADMIN);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ requested: [{ id: 'caoloc-1', delayMs: 0 }], notConnected: [], paused: [], spreadMs: 0 });
    await until('caoloc-1 tested', 20_000, () => (testsDone('caoloc-1').length > before ? true : undefined));
  }, 30_000);

  it('spread an area\'s tests over the window asked for', async () => {
    const before = new Map(['caoloc-1', 'caoloc-2'].map((id) => [id, testsDone(id).length]));
    const res = await post('/api/v1/tests', { area: 'lạng sơn/cao lộc', spread: '3s' }, ADMIN);
    expect(res.status).toBe(202);
    const body = (await res.json()) as { requested: { id: string; delayMs: number }[]; spreadMs: number };
    expect(body.spreadMs).toBe(3000);
    expect(body.requested.map((r) => r.id).sort()).toEqual(['caoloc-1', 'caoloc-2']);
    expect(body.requested.map((r) => r.delayMs).sort((a, b) => a - b)).toEqual([0, 3000]);
    const done = await until('both Cao Lộc agents tested', 30_000, () => {
      const fresh = ['caoloc-1', 'caoloc-2'].map((id) => testsDone(id).slice(before.get(id)));
      return fresh.every((f) => f.length > 0) ? fresh.map((f) => f[0]?.finishedAtMs ?? Number.NaN) : undefined;
    });
    // The second test finished about 3 s after the first (each takes the same time).
    expect(Math.abs((done[0] ?? 0) - (done[1] ?? 0))).toBeGreaterThan(2000);
  }, 40_000);

  it('pause an agent: it stops testing, is not asked for tests, and tests again once resumed', async () => {
    await until('badinh-1 tests on its 2 s interval', 20_000, () => (testsDone('badinh-1').length >= 1 ? true : undefined));
    const paused = await post('/api/v1/pause', { agent: 'badinh-1' }, ADMIN);
    expect(await paused.json()).toEqual({ changed: ['badinh-1'], unchanged: [] });
    await until('badinh-1 applied its paused settings', 10_000, () => (daemons.get('badinh-1')?.log().includes('"paused":true') === true ? true : undefined));
    const view = await agentsView();
    expect(view.get('badinh-1')?.pausedAt).toEqual(expect.any(String));
    // A test that had started may finish; after that, none for three intervals.
    await new Promise((r) => setTimeout(r, 3000));
    const whilePaused = testsDone('badinh-1').length;
    const asked = await post('/api/v1/tests', { agent: 'badinh-1' }, ADMIN);
    expect(await asked.json()).toMatchObject({ requested: [], paused: ['badinh-1'] });
    await new Promise((r) => setTimeout(r, 6000));
    expect(testsDone('badinh-1').length).toBe(whilePaused);
    expect((await (await post('/api/v1/pause', { agent: 'badinh-1' }, ADMIN)).json())).toEqual({ changed: [], unchanged: ['badinh-1'] });
    expect((await (await post('/api/v1/resume', { agent: 'badinh-1' }, ADMIN)).json())).toEqual({ changed: ['badinh-1'], unchanged: [] });
    await until('badinh-1 tests again', 20_000, () => (testsDone('badinh-1').length > whilePaused ? true : undefined));
  }, 60_000);

  it('report agents that are not connected', async () => {
    const agent = daemons.get('caoloc-2');
    if (agent !== undefined) await stopChild(agent.child);
    await until('caoloc-2 disconnected', 10_000, async () => {
      const res = await post('/api/v1/tests', { agent: 'caoloc-2' }, ADMIN);
      const body = (await res.json()) as { notConnected: string[] };
      return body.notConnected.includes('caoloc-2') ? true : undefined;
    });
  }, 20_000);
});
