/**
 * `speedwatch-collector serve` on PostgreSQL, end to end: two real collector processes on one
 * throwaway cluster (postgres-cluster.ts), agents over WebSocket to either, results acked only
 * once committed and stored once however often and wherever they are sent, and the API of each
 * collector answering from PostgreSQL. The password comes from a file and is never logged.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { startCollector } from '../src/server/collector-server.js';
import { batchOfResults } from '../src/store/frame-batch.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/postgres-migrations.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import type { CollectorStore } from '../src/store/collector-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { openStore } from '../src/store/sqlite-store.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { connectAgent, makeResult } from './ingest-util.js';
import { makeResult as makeStoredResult } from './store-util.js';
import type { AgentClient } from './ingest-util.js';
import { clusterForTests } from './postgres-for-tests.js';

const exec = promisify(execFile);
const BIN = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;
const postgres = clusterForTests();

interface Collector {
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output: () => string;
}

const started: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(started.map(stop));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A config file naming the database, the password in a file beside it; returns its path. */
function configFor(database: string): string {
  const cluster = postgres.cluster();
  const dir = mkdtempSync(join(tmpdir(), 'sw-pg-collector-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'pg-password'), `${cluster.password}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'collector.yaml'),
    [
      'host: 127.0.0.1',
      'port: 0',
      `db: ${join(dir, 'local.db')}`,
      'heartbeat: 1s',
      'maintenanceInterval: 1s',
      'logLevel: debug',
      `store: { kind: postgres, url: "${cluster.url(database)}", passwordFile: ${join(dir, 'pg-password')} }`,
      '',
    ].join('\n'),
  );
  return join(dir, 'collector.yaml');
}

/** Runs a command of the CLI; its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts `serve` with the config at `config`; resolves at its listening line. */
async function serve(config: string): Promise<Collector> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not listening within 20 s:\n${out}`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"event":"listening"'));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}) before listening:\n${out}`));
    });
  });
  return { url, wsUrl: `${url.replace(/^http/, 'ws')}v1/agents`, child, output: () => out };
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

/** Polls `check` every 100 ms until it resolves true, for at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(postgres.skip)('speedwatch-collector serve on PostgreSQL', () => {
  let store: PostgresStore;
  let database: string;
  let configs: string[] = [];
  const tokens = new Map<string, string>();
  let first: Collector;
  let second: Collector;
  const clients: AgentClient[] = [];
  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await store?.close();
  });

  it('adds agents to PostgreSQL with `agents add --config`, and starts two collectors on the database, migrated once', async () => {
    database = await postgres.cluster().createDatabase();
    const cluster = postgres.cluster();
    configs = [configFor(database), configFor(database)];
    for (const [id, kind] of [['school-1', 'school'], ['clinic-1', 'clinic']] as const) {
      const added = await cli('agents', 'add', '--config', configs[0] as string, '--id', id, '--name', `Site ${id}`, '--site-kind', kind, '--technology', 'fixed', '--area', 'Lạng Sơn/Cao Lộc');
      expect(added.code, added.stderr).toBe(0);
      tokens.set(id, added.stdout.trim());
    }
    const listed = await cli('agents', 'list', '--config', configs[1] as string, '--json');
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((a) => a.id)).toEqual(['clinic-1', 'school-1']);
    expect((await cli('agents', 'list', '--config', configs[0] as string, '--db', '/tmp/x.db')).stderr).toContain('give --config alone');
    [first, second] = await Promise.all([serve(configs[0] as string), serve(configs[1] as string)]);
    const { rows } = await cluster.admin<{ n: string }>('SELECT count(*) AS n FROM schema_migrations', database);
    expect(Number(rows[0]?.n)).toBe(POSTGRES_MIGRATIONS.length);
    store = await openPostgresStore({ url: cluster.url(database), password: cluster.password });
  });

  it('acks results only once committed, and stores each once however often and through whichever collector it is sent', async () => {
    const results = Array.from({ length: 20 }, (_, i) => makeResult({ startedAt: new Date(Date.now() - (i + 2) * 60_000).toISOString(), finishedAt: new Date(Date.now() - (i + 2) * 60_000 + 25_000).toISOString() }, 100 + i));
    const viaFirst = await connectAgent(first.wsUrl, tokens.get('school-1'));
    const viaSecond = await connectAgent(second.wsUrl, tokens.get('clinic-1'));
    clients.push(viaFirst, viaSecond);
    await viaFirst.hello();
    await viaSecond.hello();
    viaFirst.send({ type: 'results', results: results.slice(0, 15) });
    expect((await viaFirst.next('ack', 10_000))['ids']).toEqual(results.slice(0, 15).map((r) => r.id));
    // The same ids again, through the other collector (from another agent, even): acked, not stored again.
    viaSecond.send({ type: 'results', results: results.slice(10) });
    expect(((await viaSecond.next('ack', 10_000))['ids'] as string[]).sort()).toEqual(results.slice(10).map((r) => r.id).sort());
    viaFirst.send({ type: 'results', results });
    await viaFirst.next('ack', 10_000);
    const { rows } = await postgres.cluster().admin<{ agent_id: string; n: string }>('SELECT agent_id, count(*) AS n FROM results GROUP BY agent_id ORDER BY agent_id', database);
    expect(rows.map((r) => [r.agent_id, Number(r.n)])).toEqual([
      ['clinic-1', 5],
      ['school-1', 15],
    ]);
    const ids = await postgres.cluster().admin<{ n: string }>('SELECT count(*) AS n FROM result_ids', database);
    expect(Number(ids.rows[0]?.n)).toBe(20);
  });

  it('answers the API of either collector from PostgreSQL: results, series, the site page, agents and readiness', async () => {
    for (const collector of [first, second]) {
      const page = await getJson(`${collector.url}api/v1/results?agent=school-1&limit=10`);
      expect(page.status).toBe(200);
      expect(page.body.results).toHaveLength(10);
      const rest = await getJson(`${collector.url}api/v1/results?agent=school-1&limit=10&cursor=${page.body.nextCursor as string}`);
      expect(rest.body.results).toHaveLength(5);
      expect(rest.body.nextCursor).toBeNull();
      // Whole days come from the hourly roll-ups: an hour rolled up before its results arrived is
      // recomputed at the next maintenance pass (every second here).
      const daily = async (): Promise<number> =>
        (await getJson(`${collector.url}api/v1/series?agent=school-1&metric=download_mbps&step=1d`)).body.points.reduce((n: number, p: { count: number }) => n + p.count, 0);
      await until(async () => (await daily()) === 15, 10_000, 'the daily series counting every result');
      const quarters = await getJson(`${collector.url}api/v1/series?agent=school-1&metric=download_mbps&step=15m`);
      expect(quarters.body.points.reduce((n: number, p: { count: number }) => n + p.count, 0)).toBe(15);
      const site = await getJson(`${collector.url}api/v1/site?agent=clinic-1`);
      expect(site.body.recent).toHaveLength(5);
      await until(async () => (await fetch(`${collector.url}readyz`)).status === 200, 20_000, 'readyz');
      // A report reads its range on a thread of its own, with its own connection.
      const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      const report = await getJson(`${collector.url}api/v1/report?from=${day(-1)}&to=${day(1)}&area=${encodeURIComponent('Lạng Sơn/Cao Lộc')}`);
      expect(report.status).toBe(200);
      expect(report.body.totals.reduce((n: number, row: { tests: number }) => n + row.tests, 0)).toBe(20);
      // The latest result of each agent, from the maintenance thread's read of PostgreSQL.
      await until(async () => (await getJson(`${collector.url}api/v1/agents`)).body.agents.every((a: { latest: unknown }) => a.latest !== null), 20_000, 'latest results');
    }
  });

  it('takes an agent added while it runs at its first connection, and drops a revoked one within a heartbeat', async () => {
    const token = newToken();
    await store.agents.add({ id: 'office-1', name: 'Office', siteKind: 'office', technology: 'fixed' }, hashToken(token), Date.now());
    const office = await connectAgent(second.wsUrl, token);
    clients.push(office);
    await office.hello();
    expect((await cli('agents', 'revoke', 'office-1', '--config', configs[0] as string)).code).toBe(0);
    expect((await office.closed).code).toBe(4001);
  });

  it('never logs the password', () => {
    const { password } = postgres.cluster();
    for (const collector of [first, second]) {
      expect(collector.output()).toContain('"event":"store-opened"');
      expect(collector.output()).not.toContain(password);
    }
  });
});

describe.skipIf(postgres.skip)('speedwatch-collector migrate', () => {
  const HOUR = 3_600_000;
  const T0 = Date.UTC(2026, 0, 5);

  /** What a store holds, read through the interface: equal on both sides after a migration. */
  async function contents(store: CollectorStore): Promise<Record<string, unknown>> {
    return {
      agents: await store.agents.listWithTokens(),
      codes: await store.enrollment.latestByAgent(),
      health: await store.health.list(),
      units: await store.areaUnits.all(),
      results: (await store.results.page({ limit: 10_000 })).results,
      daily: await store.rollups.series('school-1', 'download_mbps', T0 - 40 * 24 * HOUR, T0 + 2 * 24 * HOUR, 24 * HOUR),
      deletedBefore: await store.results.deletedBefore(),
      latest: await store.results.latestActivity(['school-1', 'clinic-1']),
    };
  }

  it('copies a SQLite store into PostgreSQL, then on a second run only what came since', async () => {
    const cluster = postgres.cluster();
    const database = await cluster.createDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'sw-migrate-'));
    dirs.push(dir);
    const passwordFile = join(dir, 'pw');
    writeFileSync(passwordFile, `${cluster.password}\n`);
    const db = join(dir, 'town.db');
    const sqlite = sqliteCollectorStore(openStore(db));
    const target = await openPostgresStore({ url: cluster.url(database), password: cluster.password });
    try {
      await sqlite.agents.add({ id: 'school-1', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc', areaCode: '06100', lat: 21.86, lon: 106.83 }, 'h1', T0 - 60 * 24 * HOUR);
      await sqlite.agents.add({ id: 'clinic-1', name: 'Trạm Y tế', siteKind: 'clinic', technology: 'mobile' }, 'h2', T0 - 60 * 24 * HOUR);
      await sqlite.agents.touch([{ id: 'school-1', version: '0.2.0', lastSeenAt: T0 }]);
      await sqlite.agents.setPaused(['clinic-1'], T0);
      await sqlite.enrollment.issue('clinic-1', 'code-hash', T0, T0 + 24 * HOUR);
      await sqlite.areaUnits.upsert([{ code: '06', name: 'Lạng Sơn' }, { code: '06100', name: 'Hợp Thành', parentCode: '06', validFrom: T0 - 365 * 24 * HOUR }]);
      await sqlite.health.save([{ agentId: 'school-1', receivedAt: T0, skewMs: -12, report: { clock: new Date(T0).toISOString(), agent: { version: '0.2.0', platform: 'linux', arch: 'arm64', node: '20.18.1' }, backlog: 3, dropped: 0 } }]);
      // A month back (another partition) and this week, rolled up; then a late one for a rolled-up hour.
      // Two with UDP quality; the later one (i = 27, T0 + 27 h) is school-1's latest_udp.
      const results = Array.from({ length: 40 }, (_, i) => makeStoredResult(T0 - (i % 2 === 0 ? 30 * 24 : 0) * HOUR + i * HOUR, { downloadMbps: 50 + i, ...(i === 17 || i === 27 ? { udpRttMs: 20 + i } : {}) }));
      await sqlite.results.insertFrames([batchOfResults('school-1', T0, results)]);
      await sqlite.rollups.maintain(T0 + 2 * 24 * HOUR);
      await sqlite.results.insertFrames([batchOfResults('school-1', T0, [makeStoredResult(T0 + 5 * HOUR + 1, { downloadMbps: 10 })])]);

      const first = await cli('migrate', '--from', db, '--to', cluster.url(database), '--password-file', passwordFile);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/: 2 agents, 1 enrollment codes, 1 health reports, 2 area units, 41 results read, 41 of them new, \d+ hourly roll-ups, the latest UDP figures of 1 agents/);
      expect(await contents(target)).toEqual(await contents(sqlite));
      expect((await target.results.latestActivity(['school-1']))[0]?.udp?.id).toBe(results[27]?.id);

      // The collector went on storing meanwhile: the second run copies only that.
      const newer = makeStoredResult(T0 + 30 * HOUR, { downloadMbps: 99, udpRttMs: 18 });
      await sqlite.results.insertFrames([batchOfResults('school-1', T0, [newer])]);
      await sqlite.agents.revoke('clinic-1', T0 + HOUR);
      const second = await cli('migrate', '--from', db, '--to', cluster.url(database), '--password-file', passwordFile);
      expect(second.stdout).toMatch(/1 results read \(resumed after row 41, copied by an earlier run\), 1 of them new/);
      expect(await contents(target)).toEqual(await contents(sqlite));
      expect((await target.results.latestActivity(['school-1']))[0]?.udp?.id).toBe(newer.id);
      // The late hour, marked in SQLite before the copy, is recomputed the same way on both sides
      // (the retention horizons part: SQLite moves its own at every pass, PostgreSQL at a dropped month).
      await sqlite.rollups.maintain(T0 + 3 * 24 * HOUR);
      await target.rollups.maintain(T0 + 3 * 24 * HOUR);
      expect({ ...(await contents(target)), deletedBefore: 0 }).toEqual({ ...(await contents(sqlite)), deletedBefore: 0 });
    } finally {
      await target.close();
      await sqlite.close();
    }
  });

  it('refuses a URL holding a password, without echoing it', async () => {
    const refused = await cli('migrate', '--from', '/nonexistent.db', '--to', 'postgres://sw:hunter2-secret@127.0.0.1/sw');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--to: expected a URL without a password');
    expect(refused.stderr).not.toContain('hunter2');
  });
});

describe.skipIf(postgres.skip)('a collector whose PostgreSQL stops answering', () => {
  it('answers batches SW_STORE_UNAVAILABLE and API reads 503 while the database refuses connections, then takes the batch sent again, stored once', async () => {
    const cluster = postgres.cluster();
    const database = await cluster.createDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'sw-pg-down-'));
    dirs.push(dir);
    const local = join(dir, 'local.db');
    openStore(local).close(); // the alerts' state
    const store = await openPostgresStore({ url: cluster.url(database), password: cluster.password, poolSize: 2 });
    const token = newToken();
    await store.agents.add({ id: 'school-1', name: 'School', siteKind: 'school', technology: 'fixed' }, hashToken(token), Date.now());
    const collector = await startCollector({ ...COLLECTOR_DEFAULTS, port: 0, db: local, heartbeatMs: 200 }, { store, logger: createLogger({ level: 'silent' }) });
    const agent = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    try {
      await agent.hello();
      const results = [makeResult(), makeResult()];
      agent.send({ type: 'results', results: results.slice(0, 1) });
      await agent.next('ack', 5_000);
      // What a server restart or a network cut does to the pool: its connections die, new ones are refused.
      await cluster.admin(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database}'`);
      agent.send({ type: 'results', results });
      expect(await agent.next('error', 10_000)).toMatchObject({ code: 'SW_STORE_UNAVAILABLE' });
      const read = await fetch(`${collector.url}api/v1/results`);
      expect(read.status).toBe(503);
      expect(await read.json()).toMatchObject({ error: { code: 'SW_STORE_UNAVAILABLE', retryAfterSeconds: 5 } });
      expect((await fetch(`${collector.url}readyz`)).status).toBe(503);
      await cluster.admin(`ALTER DATABASE ${database} WITH ALLOW_CONNECTIONS true`);
      agent.send({ type: 'results', results });
      expect(((await agent.next('ack', 10_000))['ids'] as string[]).sort()).toEqual(results.map((r) => r.id).sort());
      const { rows } = await cluster.admin<{ n: string }>('SELECT count(*) AS n FROM results', database);
      expect(Number(rows[0]?.n)).toBe(2);
    } finally {
      agent.ws.terminate();
      await collector.close();
      await store.close();
    }
  });
});
