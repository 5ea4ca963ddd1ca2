/**
 * Two collectors on one PostgreSQL, one of them killed during a replay storm (issue 16's fault
 * test). Agents are the real agent stack minus measuring (a durable outbox and the collector
 * client, with reconnects and backoff), each with a backlog on disk, behind a TCP load balancer
 * that spreads connections across both collectors and skips a dead one (support/failover-proxy.ts).
 * All start at once; while their backlogs are being stored, the collector holding the lease
 * gets SIGKILL. At the end:
 * - every result is stored exactly once: as many rows as distinct ids in PostgreSQL, each id one
 *   an agent made, under that agent, and every one it made; every outbox empty;
 * - the agents moved to the surviving collector (its connections gauge, `agent_connections`);
 * - the survivor took the lease within its bound (ttl + ttl/3) and publishes the verdicts.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import { createLogger } from '@speedwatch/shared';
import { CollectorClient, Outbox } from '@speedwatch/agent';
// Types only: the collector package exports no store; its built files are loaded by path (as the benchmarks do).
import type * as ClusterModule from '../collector/test/postgres-cluster.js';
import type * as PostgresStoreModule from '../collector/src/store/postgres/postgres-store.js';
import type * as TokensModule from '../collector/src/ingest/tokens.js';
import type { PostgresCluster } from '../collector/test/postgres-cluster.js';
import { startFailoverProxy } from './support/failover-proxy.js';
import type { FailoverProxy } from './support/failover-proxy.js';
import { BIN, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const ROOT = new URL('../', import.meta.url);
const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(new URL(path, ROOT).pathname).href)) as T;
const clusterModule = await load<typeof ClusterModule>('collector/dist/test/postgres-cluster.js');
const unavailable = clusterModule.postgresUnavailable();
const skip = unavailable !== undefined && process.env['CI'] !== 'true';
if (skip) process.stderr.write(`PostgreSQL tests skipped: ${unavailable}\n`);

const AGENTS = 16;
/** Results on each agent's disk before it first connects: its backlog to replay. */
const BACKLOG = 500;
/** The collectors' lease: ttl 3 s, renewed every second; a dead holder is replaced within 4 s. */
const LEASE_TTL_MS = 3000;
const logger = createLogger({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'sw-failover-'));
let cluster: PostgresCluster | undefined;
let database = '';
let proxy: FailoverProxy | undefined;
const collectors: (Running & { line: string; url: string })[] = [];
const clients: CollectorClient[] = [];
const outboxes: Outbox[] = [];

beforeAll(async () => {
  if (skip) return;
  if (unavailable !== undefined) throw new Error(`CI=true and ${unavailable}: .ci/run installs postgresql`);
  cluster = await clusterModule.startPostgresCluster();
  database = await cluster.createDatabase();
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all(outboxes.map((o) => o.close()));
  await Promise.all(collectors.map((c) => c.stop()));
  await proxy?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function result(agent: number, k: number): MeasurementResult {
  // A backlog of 15-minute tests, oldest first, all within the verdict windows.
  const started = Date.now() - (BACKLOG - k + 1) * 60_000 - agent * 1000;
  const phase = { mbps: 40 + (k % 50), bytes: 40_000_000, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: 50_000_000, sampleIntervalMs: 200, samplesMbps: [40, 41, 42] };
  return { schemaVersion: 1, id: randomUUID(), status: 'ok', startedAt: new Date(started).toISOString(), finishedAt: new Date(started + 25_000).toISOString(), technology: 'fixed', download: phase };
}

async function serve(config: string): Promise<Running & { line: string; url: string }> {
  const running = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config], (l) => l.includes('"listening"'), 30_000);
  return { ...running, url: (JSON.parse(running.line) as { url: string }).url };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(check: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

async function scalar(sql: string): Promise<string | undefined> {
  const { rows } = await (cluster as PostgresCluster).admin<Record<string, unknown>>(sql, database);
  const first = rows[0];
  return first === undefined ? undefined : String(Object.values(first)[0]);
}

describe.skipIf(skip)('two collectors on one PostgreSQL, one killed during a replay storm', () => {
  it('stores every result exactly once, moves the agents to the survivor, and hands it the lease within its bound', async () => {
    const pg = cluster as PostgresCluster;
    const stores = await load<typeof PostgresStoreModule>('collector/dist/src/store/postgres/postgres-store.js');
    const tokensModule = await load<typeof TokensModule>('collector/dist/src/ingest/tokens.js');
    const store = await stores.openPostgresStore({ url: pg.url(database), password: pg.password });
    const tokens: string[] = [];
    try {
      for (let i = 0; i < AGENTS; i++) {
        const token = tokensModule.newToken();
        await store.agents.add({ id: `site-${String(i).padStart(2, '0')}`, name: `Site ${i}`, siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc' }, tokensModule.hashToken(token), Date.now());
        tokens.push(token);
      }
    } finally {
      await store.close();
    }
    writeFileSync(join(dir, 'pg-password'), `${pg.password}\n`, { mode: 0o600 });
    const configs = [0, 1].map((n) => {
      const file = join(dir, `collector-${n}.yaml`);
      writeFileSync(
        file,
        [
          'host: 127.0.0.1',
          'port: 0',
          `db: ${join(dir, `local-${n}.db`)}`,
          'heartbeat: 1s',
          'maintenanceInterval: 1s',
          `leaseTtl: ${LEASE_TTL_MS}ms`,
          'logLevel: warn',
          `store: { kind: postgres, url: "${pg.url(database)}", passwordFile: ${join(dir, 'pg-password')} }`,
          '',
        ].join('\n'),
      );
      return file;
    });
    collectors.push(...(await Promise.all(configs.map(serve))));
    const ports = collectors.map((c) => Number(new URL(c.url).port));
    proxy = await startFailoverProxy(ports);

    // Every agent's backlog on disk before it first connects.
    const made = new Map<string, string>();
    for (const [i, token] of tokens.entries()) {
      const outbox = await Outbox.open({ dir: join(dir, `agent-${i}`), logger });
      outboxes.push(outbox);
      for (let k = 0; k < BACKLOG; k++) {
        const r = result(i, k);
        await outbox.append(r);
        made.set(r.id, `site-${String(i).padStart(2, '0')}`);
      }
      clients.push(
        new CollectorClient({
          url: `ws://127.0.0.1:${proxy.port}/v1/agents`,
          token,
          queue: outbox,
          hello: () => ({ type: 'hello', protocol: 1, agent: { version: 'test' } }),
          logger,
          batchSize: 25,
          backoffInitialMs: 100,
          backoffMaxMs: 1000,
          onFatal: (err) => {
            throw err;
          },
        }),
      );
    }
    const total = AGENTS * BACKLOG;

    // The lease is held before the storm: the holder is the one to kill.
    const holder = await until(async () => scalar("SELECT holder FROM leases WHERE name = 'leader' AND expires_at > clock_timestamp()"), 20_000, 'a collector holding the lease');
    const victim = collectors.find((c) => holder.split('/')[1] === String(c.child.pid));
    expect(victim, `the lease holder ${holder} is one of the two collectors`).toBeDefined();
    const survivor = collectors.find((c) => c !== victim) as (typeof collectors)[number];

    // The storm: every agent at once.
    for (const client of clients) client.start();
    await until(async () => Number(await scalar('SELECT count(*) FROM results')) >= total * 0.25 || undefined, 60_000, 'a quarter of the backlogs stored');
    const spread = proxy.open();
    expect(spread.every((n) => n > 0), `agents connected through both collectors (${spread.join(', ')})`).toBe(true);
    const storedAtKill = Number(await scalar('SELECT count(*) FROM results'));
    victim?.child.kill('SIGKILL');
    const killedAt = Date.now();

    // The survivor takes the lease within ttl + ttl/3 of the holder's last renewal (at most a
    // renewal period before the kill); the margin is for a loaded 2-core machine.
    const pidOf = (collectorId: string | undefined): string | undefined => collectorId?.split('/')[1];
    await until(
      async () => pidOf(await scalar("SELECT holder FROM leases WHERE name = 'leader' AND expires_at > clock_timestamp()")) === String(survivor.child.pid),
      LEASE_TTL_MS + LEASE_TTL_MS / 3 + 3000,
      'the survivor holding the lease',
    );
    const takeoverMs = Date.now() - killedAt;

    // Every outbox drains through the survivor.
    await until(async () => outboxes.every((o) => o.stats.pending === 0), 120_000, 'every outbox empty');
    expect(storedAtKill).toBeLessThan(total);

    // Exactly once: rows = distinct ids = results made; each under the agent that made it.
    const { rows } = await pg.admin<{ id: string; agent_id: string }>('SELECT id, agent_id FROM results', database);
    const ids = new Set(rows.map((r) => r.id));
    expect(rows.length).toBe(total);
    expect(ids.size).toBe(total);
    expect(Number(await scalar('SELECT count(*) FROM result_ids'))).toBe(total);
    expect(rows.filter((r) => made.get(r.id) !== r.agent_id)).toEqual([]);
    expect([...made.keys()].filter((id) => !ids.has(id))).toEqual([]);
    expect(outboxes.every((o) => o.stats.dropped === 0)).toBe(true);

    // The agents moved: all connected to the survivor, as its gauge and the fleet's table say.
    const metrics = async (): Promise<string> => (await fetch(`${survivor.url}metrics`)).text();
    await until(async () => /^speedwatch_collector_agent_connections 16$/m.test(await metrics()), 20_000, 'every agent connected to the survivor');
    await until(
      async () => (await scalar(`SELECT count(*) FROM agent_connections c JOIN collectors k ON k.id = c.collector WHERE k.expires_at > clock_timestamp() AND c.collector LIKE '%/${survivor.child.pid}/%'`)) === String(AGENTS),
      20_000,
      'agent_connections naming the survivor for every agent',
    );

    // The survivor publishes the verdicts now, computed from every stored result.
    await until(async () => pidOf(await scalar('SELECT holder FROM verdict_state')) === String(survivor.child.pid), 30_000, 'the survivor publishing verdicts');
    const compliance = (await (await fetch(`${survivor.url}api/v1/compliance?window=7d`)).json()) as { groups: { tests: number }[] };
    expect(compliance.groups.reduce((n, g) => n + g.tests, 0)).toBe(total);
    process.stderr.write(`failover: ${total} results, ${storedAtKill} stored at the kill, lease taken over ${takeoverMs} ms after it\n`);
  }, 240_000);
});
