/**
 * Fleet health end to end in the collector: a real collector on loopback with its store writer
 * thread and a real SQLite file, an agent speaking the protocol over a WebSocket. Its `health`
 * shows in /api/v1/agents, /metrics (promtool-clean) and `agents list`, is written once per
 * heartbeat, survives a restart, and the fleet-health alerts fire on a low bar. Also the
 * `agent_health` table and the in-memory FleetHealth on their own.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import type { CollectorConfig } from '../src/config/collector-config.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { FleetHealth } from '../src/ingest/fleet-health.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { startCollector } from '../src/server/collector-server.js';
import { openStore } from '../src/store/sqlite-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import type { AgentHealthRecord } from '../src/store/store-types.js';
import { WorkerStoreWriter } from '../src/writer/worker-store-writer.js';
import type { AgentClient } from './ingest-util.js';
import { connectAgent, scrapeValue } from './ingest-util.js';
import { promtoolCheckMetrics } from './promtool.js';
import { freshStore } from './store-util.js';

const run = promisify(execFile);
const CLI = new URL('../dist/src/bin/speedwatch-collector.js', import.meta.url).pathname;
const GB = 1_000_000_000;

/** What a Pi short of disk and failing its tests would send (docs/protocol.md#health). */
function healthMessage(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    type: 'health',
    clock: new Date(now).toISOString(),
    agent: { version: '0.2.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
    uptimeSeconds: 3600,
    systemUptimeSeconds: 86_400,
    backlog: 7,
    dropped: 2,
    lastTest: { status: 'failed', finishedAt: new Date(now - 60_000).toISOString(), errorCode: 'SW_DNS' },
    failedTestsInARow: 4,
    lastOkTestAt: new Date(now - 3_600_000).toISOString(),
    diskFreeBytes: GB,
    cpuTemperatureCelsius: 61.5,
    ...overrides,
  };
}

/** Polls `probe` every 20 ms until it returns a value, for at most `timeoutMs`. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fleet health in a live collector', () => {
  let dir = '';
  let dbPath = '';
  let token = '';
  let store: SqliteStore | undefined;
  let writer: WorkerStoreWriter | undefined;
  let collector: RunningCollector | undefined;
  let client: AgentClient | undefined;
  const logger = createLogger({ level: 'silent' });
  // A bar of 10 GB, so the agent's 1 GB free is short; both alerts fire at once.
  const config = (): CollectorConfig => ({
    ...COLLECTOR_DEFAULTS,
    port: 0,
    db: dbPath,
    heartbeatMs: 200,
    alerts: {
      ...COLLECTOR_DEFAULTS.alerts,
      evaluateIntervalMs: 86_400_000,
      forMs: { ...COLLECTOR_DEFAULTS.alerts.forMs, agentDiskLow: 0, agentTestsFailing: 0 },
      fleetHealth: { ...COLLECTOR_DEFAULTS.alerts.fleetHealth, diskFreeBelowBytes: 10 * GB },
    },
  });

  async function start(): Promise<RunningCollector> {
    store = openStore(dbPath);
    writer = await WorkerStoreWriter.open(dbPath, {}, logger);
    collector = await startCollector(config(), { store: sqliteCollectorStore(store), writer, logger });
    return collector;
  }

  async function stop(): Promise<void> {
    client?.ws.terminate();
    client = undefined;
    await collector?.close();
    await writer?.close();
    store?.close();
    collector = undefined;
    writer = undefined;
    store = undefined;
  }

  async function get(path: string): Promise<any> {
    return (await fetch(`${collector!.url}${path}`)).json();
  }

  async function agentHealth(): Promise<any> {
    const { agents } = (await get('api/v1/agents')) as { agents: { id: string; health: unknown }[] };
    return agents.find((a) => a.id === 'school-1')?.health ?? undefined;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sw-fleet-health-'));
    dbPath = join(dir, 'collector.db');
    token = newToken();
    const setup = openStore(dbPath);
    setup.agents.add({ id: 'school-1', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc' }, hashToken(token), Date.now());
    setup.close();
    await start();
  }, 30_000);

  afterAll(async () => {
    await stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('refuses health before hello, and a bad one naming its field, keeping the connection', async () => {
    client = await connectAgent(`${collector!.url.replace(/^http/, 'ws')}v1/agents`, token);
    client.send(healthMessage());
    expect(await client.next('error')).toMatchObject({ code: 'SW_HELLO_REQUIRED' });
    await client.hello();
    client.send(healthMessage({ diskFreeBytes: -1 }));
    const refused = await client.next('error');
    expect(refused).toMatchObject({ code: 'SW_PROTOCOL_MESSAGE' });
    expect(refused['message']).toMatch(/^health\.diskFreeBytes: /);
    client.send(healthMessage({ agent: { version: 'v'.repeat(10_000) } }));
    expect((await client.next('error'))['message']).toMatch(/^health\.agent\.version: /);
    expect(await scrapeValue(collector!.url, 'speedwatch_collector_rejected_total{reason="message"}')).toBe(2);
    expect(await agentHealth()).toBeUndefined();
  });

  it('shows a valid health report in /api/v1/agents, with when it arrived and the clock skew', async () => {
    const before = Date.now();
    client!.send(healthMessage());
    const health = await until('the health report in the API', agentHealth);
    expect(Date.parse(health.reportedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(Math.abs(health.clockSkewSeconds)).toBeLessThan(5);
    expect(health).toMatchObject({
      agent: { version: '0.2.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
      uptimeSeconds: 3600,
      systemUptimeSeconds: 86_400,
      backlog: 7,
      dropped: 2,
      lastTest: { status: 'failed', errorCode: 'SW_DNS' },
      failedTestsInARow: 4,
      diskFreeBytes: GB,
      cpuTemperatureCelsius: 61.5,
    });
  });

  it('exposes the figures as metrics in base units, and promtool check metrics prints nothing', async () => {
    const text = await (await fetch(`${collector!.url}metrics`)).text();
    const id = '{agent_id="school-1"}';
    expect(text).toContain(`speedwatch_agent_disk_free_bytes${id} 1000000000\n`);
    expect(text).toContain(`speedwatch_agent_cpu_temperature_celsius${id} 61.5\n`);
    expect(text).toContain(`speedwatch_agent_outbox_backlog_results${id} 7\n`);
    expect(text).toContain(`speedwatch_agent_outbox_dropped_results_total${id} 2\n`);
    expect(text).toContain('# TYPE speedwatch_agent_outbox_dropped_results_total counter\n');
    expect(text).toContain(`speedwatch_agent_uptime_seconds${id} 3600\n`);
    expect(text).toContain(`speedwatch_agent_system_uptime_seconds${id} 86400\n`);
    expect(text).toContain(`speedwatch_agent_failed_tests_in_a_row${id} 4\n`);
    expect(text).toContain('speedwatch_agent_last_test_status{agent_id="school-1",status="failed"} 1\n');
    expect(text).toMatch(/^speedwatch_agent_last_ok_test_timestamp_seconds\{agent_id="school-1"\} \d+(\.\d+)?$/m);
    expect(text).toMatch(/^speedwatch_agent_health_reported_timestamp_seconds\{agent_id="school-1"\} \d+(\.\d+)?$/m);
    expect(text).toMatch(/^speedwatch_agent_clock_skew_seconds\{agent_id="school-1"\} -?\d/m);
    expect(text).toContain('speedwatch_agent_info{agent_id="school-1",version="test"} 1\n');
    const out = await promtoolCheckMetrics(text);
    if (out !== undefined) expect(out).toBe('exit=0\n');
  });

  it('fires SpeedwatchAgentDiskLow and SpeedwatchAgentTestsFailing on a bar of 10 GB and 3 failed tests', async () => {
    await collector!.alerts.evaluate();
    const { alerts } = collector!.alerts.report('firing');
    const fleet = alerts.filter((a) => a.labels['agent_id'] === 'school-1' && a.alertname !== 'SpeedwatchAgentDisconnected');
    expect(fleet.map((a) => a.alertname).sort()).toEqual(['SpeedwatchAgentDiskLow', 'SpeedwatchAgentTestsFailing']);
    const disk = fleet.find((a) => a.alertname === 'SpeedwatchAgentDiskLow');
    expect(disk).toMatchObject({ value: GB, labels: { site_kind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' } });
    expect(disk?.annotations['summary']).toBe('Trường THCS Hợp Thành (school-1) is short of disk: 1.0 GB free');
  });

  it('writes the latest report once per heartbeat, however often the agent reports', async () => {
    for (const backlog of [8, 9, 10]) client!.send(healthMessage({ backlog }));
    await until('the last report in memory', async () => ((await agentHealth())?.backlog === 10 ? true : undefined));
    await collector!.flushLiveness();
    const db = new Database(dbPath, { readonly: true });
    try {
      const rows = db.prepare<[], { agent_id: string; report: string }>('SELECT agent_id, report FROM agent_health').all();
      expect(rows.map((r) => [r.agent_id, (JSON.parse(r.report) as { backlog: number }).backlog])).toEqual([['school-1', 10]]);
    } finally {
      db.close();
    }
  });

  it('lists the health columns in `agents list`, and the report in its --json', async () => {
    const text = await run(process.execPath, [CLI, 'agents', 'list', '--db', dbPath], { timeout: 20_000 });
    expect(text.stdout).toMatch(/^school-1\tfixed\tschool\tLạng Sơn\/Cao Lộc\tVNPT\tTrường THCS Hợp Thành\tactive\t0\.2\.0\tbacklog 10\t1\.0 GB free\t61\.5 °C\tfailed SW_DNS \(4 in a row\)$/m);
    const json = JSON.parse((await run(process.execPath, [CLI, 'agents', 'list', '--db', dbPath, '--json'], { timeout: 20_000 })).stdout) as { id: string; health: { backlog: number } }[];
    expect(json[0]?.health).toMatchObject({ backlog: 10, diskFreeBytes: GB });
  });

  it('keeps the latest report, its metrics and the alerts across a collector restart', async () => {
    const reportedAt = ((await agentHealth()) as { reportedAt: string }).reportedAt;
    await stop();
    await start();
    const health = await agentHealth();
    expect(health).toMatchObject({ reportedAt, backlog: 10, diskFreeBytes: GB, lastTest: { status: 'failed' } });
    const text = await (await fetch(`${collector!.url}metrics`)).text();
    expect(text).toContain('speedwatch_agent_disk_free_bytes{agent_id="school-1"} 1000000000\n');
    await collector!.alerts.evaluate();
    const firing = collector!.alerts.report('firing').alerts.map((a) => a.alertname);
    expect(firing).toContain('SpeedwatchAgentDiskLow');
    expect(firing).toContain('SpeedwatchAgentTestsFailing');

    // A report with room and an ok test resolves both.
    client = await connectAgent(`${collector!.url.replace(/^http/, 'ws')}v1/agents`, token);
    await client.hello();
    client.send(healthMessage({ diskFreeBytes: 20 * GB, failedTestsInARow: 0, lastTest: { status: 'ok', finishedAt: new Date().toISOString() }, lastOkTestAt: new Date().toISOString() }));
    await until('the new report', async () => ((await agentHealth())?.diskFreeBytes === 20 * GB ? true : undefined));
    await collector!.alerts.evaluate();
    const after = collector!.alerts.report().alerts.map((a) => a.alertname);
    expect(after).not.toContain('SpeedwatchAgentDiskLow');
    expect(after).not.toContain('SpeedwatchAgentTestsFailing');
  }, 30_000);
});

describe('agent_health table', () => {
  const record = (agentId: string, receivedAt: number, backlog: number): AgentHealthRecord => ({
    agentId,
    receivedAt,
    skewMs: -1500,
    report: { clock: new Date(receivedAt).toISOString(), agent: { version: '0.1.0' }, backlog, dropped: 0 },
  });

  it('keeps each agent\'s newest report, skips unknown agents, and reads back what it saved', () => {
    const { store } = freshStore();
    store.agents.add({ id: 'a', name: 'A', siteKind: 'school', technology: 'fixed' }, 'hash-a', 0);
    store.health.save([record('a', 2000, 2), record('nobody', 2000, 1)]);
    store.health.save([record('a', 1000, 1)]); // older: a crossing save, ignored
    expect(store.health.list()).toEqual({ records: [record('a', 2000, 2)], unreadable: [] });
  });

  it('skips, and names, a stored row that no longer passes validation', () => {
    const { store, path } = freshStore();
    store.agents.add({ id: 'a', name: 'A', siteKind: 'school', technology: 'fixed' }, 'hash-a', 0);
    store.agents.add({ id: 'b', name: 'B', siteKind: 'school', technology: 'fixed' }, 'hash-b', 0);
    store.health.save([record('a', 1000, 1)]);
    const db = new Database(path);
    try {
      db.prepare("INSERT INTO agent_health (agent_id, received_at, skew_ms, report) VALUES ('b', 1, 0, '{\"backlog\":-4}')").run();
    } finally {
      db.close();
    }
    expect(store.health.list()).toEqual({ records: [record('a', 1000, 1)], unreadable: ['b'] });
  });
});

describe('FleetHealth', () => {
  const record = (receivedAt: number): AgentHealthRecord => ({ agentId: 'a', receivedAt, skewMs: 0, report: { clock: new Date(receivedAt).toISOString(), agent: { version: '1' }, backlog: 0, dropped: 0 } });

  it('hands out each agent\'s latest report once, and again only if its write failed and no newer one came', () => {
    const health = new FleetHealth();
    health.load([record(1)]);
    expect(health.takeDirty()).toEqual([]); // loaded from the database: nothing to write
    health.record(record(2));
    health.record(record(3));
    const taken = health.takeDirty();
    expect(taken).toEqual([record(3)]);
    expect(health.takeDirty()).toEqual([]);
    health.returnDirty(taken);
    expect(health.takeDirty()).toEqual([record(3)]);
    health.returnDirty(taken);
    health.record(record(4));
    expect(health.takeDirty()).toEqual([record(4)]);
    expect(health.get('a')).toEqual(record(4));
  });

  it('keeps a report that arrived before the database load finished', () => {
    const health = new FleetHealth();
    health.record(record(5));
    health.load([record(4)]);
    expect(health.get('a')?.receivedAt).toBe(5);
  });
});
