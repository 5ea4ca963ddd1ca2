/**
 * Several collectors on one PostgreSQL database (issue 16, item 3), two in this process, each
 * with its own pool as two processes would have: one lease holder runs maintenance, verdicts
 * and alerts for both; the other serves the verdicts it published, byte for byte; an agent
 * connected to both keeps only its newer connection; each /metrics carries its own agents; the
 * next holder continues the alerts' outbox where the last one left it, and a write of the old
 * holder after the change is refused (SW_LEASE_LOST).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import type { AlertRecord } from '../src/alerts/alert-evaluation.js';
import type { NotificationUpsert } from '../src/alerts/notification-plan.js';
import { SharedAlertStore } from '../src/alerts/shared-alert-store.js';
import type { LeaseFence } from '../src/cluster/lease.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import type { CollectorConfig } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { startCollector } from '../src/server/collector-server.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { batchOfResults } from '../src/store/frame-batch.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import type { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { parseVerdictConfig } from '../src/verdict/verdict-config.js';
import { connectAgent } from './ingest-util.js';
import type { AgentClient } from './ingest-util.js';
import { clusterForTests } from './postgres-for-tests.js';
import { makeResult } from './store-util.js';

const postgres = clusterForTests();
const LEASE_TTL_MS = 900;
const HOUR = 3_600_000;

interface Member {
  collector: RunningCollector;
  store: PostgresStore;
}

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(postgres.skip)('several collectors on one PostgreSQL', () => {
  let database: string;
  let admin: PostgresStore;
  const members: Member[] = [];
  const clients: AgentClient[] = [];
  const servers: Server[] = [];

  // A database of its own for each test.
  beforeEach(async () => {
    database = await postgres.cluster().createDatabase();
    admin = await openPostgresStore({ url: postgres.cluster().url(database), password: postgres.cluster().password });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.ws.terminate();
    for (const m of members.splice(0)) {
      await m.collector.close();
      await m.store.close();
    }
    for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
    await admin.close();
  });

  async function member(name: string, overrides: Partial<CollectorConfig> = {}): Promise<Member> {
    const store = await openPostgresStore({ url: postgres.cluster().url(database), password: postgres.cluster().password });
    const collector = await startCollector(
      { ...COLLECTOR_DEFAULTS, port: 0, db: '/nonexistent/unused.db', heartbeatMs: 200, maintenanceIntervalMs: HOUR, leaseTtlMs: LEASE_TTL_MS, ...overrides },
      { store, logger: createLogger({ level: 'silent' }), collectorId: `test/${name}/0`, verdictConfig: parseVerdictConfig({ minTests: { agent: 3 } }, 'verdicts') },
    );
    const m = { collector, store };
    members.push(m);
    return m;
  }

  /** The two members, the lease holder first, once one holds the lease. */
  async function pair(overrides: Partial<CollectorConfig> = {}): Promise<[Member, Member]> {
    const a = await member('a', overrides);
    const b = await member('b', overrides);
    const holder = await until(() => [a, b].find((m) => m.collector.cluster?.lease.held), 5000, 'a lease holder');
    return holder === a ? [a, b] : [b, a];
  }

  async function addAgent(id: string, extra: { technology?: 'fixed' | 'mobile'; area?: string } = {}): Promise<string> {
    const token = newToken();
    await admin.agents.add({ id, name: `Site ${id}`, siteKind: 'school', technology: extra.technology ?? 'fixed', area: extra.area ?? 'Lạng Sơn/Cao Lộc' }, hashToken(token), Date.now());
    return token;
  }

  const wsOf = (m: Member): string => `${m.collector.url.replace(/^http/, 'ws')}v1/agents`;
  const text = async (m: Member, path: string): Promise<string> => (await fetch(`${m.collector.url}${path}`)).text();

  describe('the lease', () => {
    it('is held by one collector at a time, and taken by the other within ttl + ttl/3 of its release', async () => {
      const [leader, follower] = await pair();
      // Several renewal periods: still one holder, the same.
      await new Promise((r) => setTimeout(r, 3 * LEASE_TTL_MS));
      expect(leader.collector.cluster?.lease.held).toBe(true);
      expect(follower.collector.cluster?.lease.held).toBe(false);
      const released = Date.now();
      const epoch = leader.collector.cluster?.lease.epoch ?? 0;
      await leader.collector.close();
      members.splice(members.indexOf(leader), 1);
      await leader.store.close();
      await until(() => follower.collector.cluster?.lease.held, LEASE_TTL_MS + LEASE_TTL_MS / 3 + 500, 'the follower holding the lease');
      expect(Date.now() - released).toBeLessThanOrEqual(LEASE_TTL_MS / 3 + 500);
      expect(follower.collector.cluster?.lease.epoch).toBe(epoch + 1);
    });
  });

  describe('verdicts', () => {
    it('are computed by the lease holder and served identically by the other after a refresh', async () => {
      await addAgent('school-1');
      await addAgent('clinic-1', { technology: 'mobile', area: 'Lạng Sơn/Lộc Bình' });
      const now = Date.now();
      const results = (speed: number, count: number, offset: number) => Array.from({ length: count }, (_, i) => makeResult(now - (i + offset) * 10 * 60_000, { downloadMbps: speed }));
      await admin.results.insertFrames([batchOfResults('school-1', now, results(150, 6, 1)), batchOfResults('clinic-1', now, results(20, 6, 1))]);
      const [leader, follower] = await pair();
      await leader.collector.maintain();
      await follower.collector.maintain();
      const paths = ['api/v1/compliance', 'api/v1/compliance?groupBy=area&window=24h', 'api/v1/agents', 'api/v1/overview?window=24h'];
      const first = await Promise.all(paths.map((p) => text(leader, p)));
      expect(await Promise.all(paths.map((p) => text(follower, p)))).toEqual(first);
      expect(JSON.parse(first[0] as string).computedAt).not.toBeNull();

      // New results: the follower serves the new verdicts once the holder has published them and it has read them.
      await admin.results.insertFrames([batchOfResults('clinic-1', now, results(200, 12, 7))]);
      await leader.collector.maintain();
      await follower.collector.maintain();
      const second = await Promise.all(paths.map((p) => text(leader, p)));
      expect(second).not.toEqual(first);
      expect(await Promise.all(paths.map((p) => text(follower, p)))).toEqual(second);
      const agents = JSON.parse(second[2] as string) as { agents: { id: string; latest: { downloadMbps: number } | null }[] };
      expect(agents.agents.every((a) => a.latest !== null)).toBe(true);
    });
  });

  describe('an agent connected to both', () => {
    it('keeps only its newer connection: the collector holding the older one closes it (4003) within a few heartbeats', async () => {
      const token = await addAgent('office-1');
      const [leader, follower] = await pair();
      const older = await connectAgent(wsOf(leader), token);
      clients.push(older);
      await older.hello();
      await leader.collector.cluster?.beat();
      const newer = await connectAgent(wsOf(follower), token);
      clients.push(newer);
      await newer.hello();
      const closed = await Promise.race([older.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
      expect(closed?.code).toBe(4003);
      expect(newer.ws.readyState).toBe(newer.ws.OPEN);
      const { rows } = await postgres.cluster().admin<{ collector: string }>("SELECT collector FROM agent_connections WHERE agent_id = 'office-1'", database);
      expect(rows.map((r) => r.collector)).toEqual([follower.collector.cluster?.id]);
    });
  });

  describe('/metrics', () => {
    it('carries the series of the agents connected to each collector; the lease holder also those connected nowhere', async () => {
      const tokens = { a: await addAgent('agent-a'), b: await addAgent('agent-b') };
      await addAgent('agent-idle');
      const [leader, follower] = await pair();
      const onLeader = await connectAgent(wsOf(leader), tokens.a);
      const onFollower = await connectAgent(wsOf(follower), tokens.b);
      clients.push(onLeader, onFollower);
      await onLeader.hello();
      await onFollower.hello();
      const connectedLine = (id: string, value: 0 | 1): RegExp => new RegExp(`^speedwatch_agent_connected\\{agent_id="${id}",[^}]*\\} ${value}$`, 'm');
      const series = (scrape: string, id: string): boolean => scrape.includes(`agent_id="${id}"`);
      await until(async () => {
        await Promise.all([leader.collector.cluster?.beat(), follower.collector.cluster?.beat()]);
        const [l, f] = await Promise.all([text(leader, 'metrics'), text(follower, 'metrics')]);
        return connectedLine('agent-a', 1).test(l) && connectedLine('agent-b', 1).test(f) && !series(l, 'agent-b') && !series(f, 'agent-a') && connectedLine('agent-idle', 0).test(l) && !series(f, 'agent-idle');
      }, 5000, 'each collector carrying its own agents');
      expect(/^speedwatch_collector_agent_connections 1$/m.test(await text(leader, 'metrics'))).toBe(true);
      // The API, unlike /metrics, answers for the whole fleet from either collector (once each has read the other's beat).
      await leader.collector.cluster?.beat();
      await follower.collector.cluster?.beat();
      await leader.collector.cluster?.beat();
      const connected = async (m: Member): Promise<string[]> => ((await (await fetch(`${m.collector.url}api/v1/agents`)).json()) as { agents: { id: string; connected: boolean }[] }).agents.filter((a) => a.connected).map((a) => a.id);
      expect(await connected(leader)).toEqual(['agent-a', 'agent-b']);
      expect(await connected(follower)).toEqual(['agent-a', 'agent-b']);
    });
  });

  describe("the alerts' state in PostgreSQL", () => {
    it('is kept in memory by the holder exactly as the tables hold it after each write', async () => {
      const claim = await admin.cluster.leases.claim('leader', 'test/holder/0', 60_000);
      const fence: LeaseFence = { name: 'leader', holder: 'test/holder/0', epoch: claim.epoch };
      const holder = new SharedAlertStore(admin.cluster.alerts, () => fence);
      await holder.refresh();
      const T = Date.UTC(2026, 10, 30, 8);
      const alert = (fingerprint: string, state: 'pending' | 'firing'): AlertRecord => ({
        fingerprint,
        labels: { alertname: 'SpeedwatchAgentDisconnected', agent_id: fingerprint },
        annotations: { summary: `${fingerprint} is not connected` },
        state,
        value: 0,
        activeAt: T,
        ...(state === 'firing' ? { firedAt: T + 60_000 } : {}),
      });
      const payload = (fingerprint: string): NotificationUpsert['alert'] => ({ labels: { alertname: 'SpeedwatchAgentDisconnected' }, annotations: {}, startsAt: new Date(T).toISOString(), endsAt: '0001-01-01T00:00:00Z', fingerprint });
      const upsert = (route: string, fingerprint: string, seq: number, status: 'firing' | 'resolved' = 'firing'): NotificationUpsert => ({ route, fingerprint, alertname: 'SpeedwatchAgentDisconnected', status, startsAt: T, seq, alert: payload(fingerprint) });
      /** Everything the alerts read, from `store`. */
      const reads = (store: SharedAlertStore, now: number) => ({
        alerts: store.loadAlerts(),
        // In no particular order, as SQLite's.
        states: store
          .notificationStates()
          .map(({ route, fingerprint, status, startsAt, seq, alert }) => ({ route, fingerprint, status, startsAt, seq, alert }))
          .sort((x, y) => `${x.route} ${x.fingerprint}`.localeCompare(`${y.route} ${y.fingerprint}`)),
        due: store.due(now),
        backlog: [...store.backlog()].sort(([x], [y]) => x.localeCompare(y)),
        deliveries: store.deliveries(),
        evaluatedAt: store.evaluatedAt(),
      });
      const same = async (now: number): Promise<void> => {
        const fresh = new SharedAlertStore(admin.cluster.alerts, () => undefined);
        await fresh.refresh();
        expect(reads(holder, now)).toEqual(reads(fresh, now));
      };
      await holder.alertCommit({ changed: [alert('a', 'pending'), alert('b', 'firing'), alert('c', 'firing')], removed: [] }, [upsert('r1', 'b', 1), upsert('r2', 'b', 1), upsert('r1', 'c', 1)], T);
      await same(T);
      await holder.alertsFailed([{ route: 'r1', fingerprint: 'b', seq: 1 }, { route: 'r1', fingerprint: 'c', seq: 1 }], { attempts: 2, nextAttemptAt: T + 5000, error: 'SW_WEBHOOK_STATUS: HTTP 500' });
      await same(T + 1000);
      await holder.alertsDelivered([{ route: 'r2', fingerprint: 'b', seq: 1 }, { route: 'r1', fingerprint: 'c', seq: 7 }], T + 2000, 1);
      await same(T + 6000);
      await holder.alertCommit({ changed: [alert('a', 'firing')], removed: [alert('c', 'firing')] }, [upsert('r1', 'c', 2, 'resolved')], T + 3000);
      await holder.alertsDelivered([{ route: 'r1', fingerprint: 'c', seq: 2 }], T + 4000, 1);
      await same(T + 6000);
      expect(await holder.forgetRoutes(['r2'])).toBe(1);
      await same(T + 6000);
      expect(holder.deliveries().map((d) => [d.route, d.fingerprint, d.deliveredAt])).toEqual([['r2', 'b', T + 2000]]);
    });
  });

  describe('alerts', () => {
    it('are evaluated and delivered by the lease holder from the state in PostgreSQL; the next holder continues its outbox', async () => {
      await addAgent('silent-1');
      let failing = true;
      const received: unknown[] = [];
      const hook = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (failing) {
            res.writeHead(500).end();
            return;
          }
          received.push(JSON.parse(body));
          res.writeHead(200).end();
        });
      });
      servers.push(hook);
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
      const alerts = {
        ...COLLECTOR_DEFAULTS.alerts,
        webhooks: [url],
        forMs: { ...COLLECTOR_DEFAULTS.alerts.forMs, agentDisconnected: 0 },
        delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, attempts: 1, backoffMs: 10, maxBackoffMs: 20 },
      };
      const [leader, follower] = await pair({ alerts });
      await leader.collector.maintain();
      const queued = async (): Promise<{ attempts: number; delivered_at: number | null } | undefined> =>
        (await postgres.cluster().admin<{ attempts: number; delivered_at: number | null }>("SELECT attempts, delivered_at FROM alert_notifications WHERE alertname = 'SpeedwatchAgentDisconnected'", database)).rows[0];
      const failed = await until(async () => ((await queued())?.attempts ?? 0) >= 1 && queued(), 5000, 'a failed delivery recorded by the holder');
      expect(failed.delivered_at).toBeNull();
      // The follower serves the holder's state; it delivers nothing itself.
      await follower.collector.maintain();
      const report = (await (await fetch(`${follower.collector.url}api/v1/alerts`)).json()) as { alerts: { alertname: string; state: string }[]; evaluatedAt: string | null };
      expect(report.alerts).toEqual([expect.objectContaining({ alertname: 'SpeedwatchAgentDisconnected', state: 'firing' })]);
      expect(report.evaluatedAt).not.toBeNull();
      expect(follower.collector.alerts.running).toBe(false);

      // The holder goes; the other takes the lease and delivers what was queued, once.
      const oldFence = leader.collector.cluster?.lease.fence;
      expect(oldFence).toBeDefined();
      failing = false;
      await leader.collector.close();
      members.splice(members.indexOf(leader), 1);
      await leader.store.close();
      await until(() => follower.collector.cluster?.lease.held, 3000, 'the follower holding the lease');
      const delivered = await until(async () => (await queued())?.delivered_at != null && queued(), 5000, 'the queued notification delivered by the new holder');
      expect(delivered.attempts).toBeGreaterThan(failed.attempts);
      expect(received).toHaveLength(1);
      await follower.collector.alerts.evaluate();
      expect(received).toHaveLength(1);

      // The old holder's writes are refused now.
      await expect(admin.cluster.alerts.commit(oldFence as LeaseFence, { changed: [], removed: [] }, [], Date.now())).rejects.toMatchObject({ code: 'SW_LEASE_LOST' });
    });
  });
});
