/**
 * UDP quality on /metrics (docs/collector.md#metrics): the gauges of each site's newest result
 * with a `udp` section, in base units and labelled with the site as its other gauges, scraped
 * over HTTP from a live collector fed through the real WebSocket protocol, on SQLite (a temp
 * file) and on PostgreSQL (a throwaway cluster); then read back from the store alone by a
 * collector started afresh on the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { startCollector } from '../src/server/collector-server.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import type { CollectorStore } from '../src/store/collector-store.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { openStore } from '../src/store/sqlite-store.js';
import { connectAgent, makeResult } from './ingest-util.js';
import type { AgentClient } from './ingest-util.js';
import { clusterForTests } from './postgres-for-tests.js';
import { promtoolCheckMetrics } from './promtool.js';
import { udpSection } from './store-util.js';

const HOUR = 3_600_000;
const postgres = clusterForTests();
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Backend {
  name: string;
  skip: boolean;
  /** Opens the backend's data (the same each call, once `fresh` made it). */
  open(): Promise<CollectorStore>;
  /** Makes new empty data. */
  fresh(): Promise<void>;
  /** The collector's `db`: the SQLite file, or a path never opened (PostgreSQL keeps the alerts too). */
  db(): string;
}

const BACKENDS: Backend[] = [
  (() => {
    let path = '';
    return {
      name: 'SQLite',
      skip: false,
      fresh: async () => {
        const dir = mkdtempSync(join(tmpdir(), 'sw-udp-metrics-'));
        dirs.push(dir);
        path = join(dir, 'collector.db');
      },
      open: async () => sqliteCollectorStore(openStore(path)),
      db: () => path,
    };
  })(),
  (() => {
    let database = '';
    return {
      name: 'PostgreSQL',
      skip: postgres.skip,
      fresh: async () => {
        database = await postgres.cluster().createDatabase();
      },
      open: async () => openPostgresStore({ url: postgres.cluster().url(database), password: postgres.cluster().password }),
      db: () => '/nonexistent/unused.db',
    };
  })(),
];

/** A result started `hoursAgo` before `now`, with the UDP probe's section around `udpRttMs` when given. */
function resultAt(now: number, hoursAgo: number, udpRttMs?: number): MeasurementResult {
  const startedMs = now - hoursAgo * HOUR;
  const times = { startedAt: new Date(startedMs).toISOString(), finishedAt: new Date(startedMs + 25_000).toISOString() };
  return udpRttMs === undefined ? makeResult(times) : parseMeasurementResult({ ...makeResult(times), udp: udpSection(udpRttMs) });
}

/** The lines of the scrape of the UDP families, HELP and TYPE left out. */
const udpLines = (scrape: string): string[] => scrape.split('\n').filter((line) => line.startsWith('speedwatch_agent_udp_'));

/** Polls `check` every 25 ms until it is true, for at most `ms`. */
async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(BACKENDS)('UDP quality on /metrics, on $name', (backend) => {
  let store: CollectorStore;
  let collector: RunningCollector;
  const clients: AgentClient[] = [];
  const now = Date.now();
  /** school-1's results: UDP quality 3 h ago (rtt 40 ms) and 2 h ago (23.5 ms), none in its latest, 1 h ago. */
  const newestUdp = resultAt(now, 2, 23.5);
  const SCHOOL = 'agent_id="school-1",site_kind="school",technology="fixed",isp="VNPT",area="Lạng Sơn/Cao Lộc/Hợp Thành"';
  /**
   * school-1's series from newestUdp (udpSection(23.5)): round trip 23.5 ms median and 30 ms p95,
   * jitter 1.25 ms up and 2.5 ms down, 3 / 250 lost up and 2 / 247 down, 5 / 250 in all.
   */
  const expected = (udp: MeasurementResult): string[] => {
    const section = udp.udp as NonNullable<MeasurementResult['udp']>;
    return [
      `speedwatch_agent_udp_rtt_median_seconds{${SCHOOL}} ${section.rttMedianMs / 1000}`,
      `speedwatch_agent_udp_rtt_p95_seconds{${SCHOOL}} ${section.rttP95Ms / 1000}`,
      `speedwatch_agent_udp_jitter_seconds{${SCHOOL},direction="up"} ${section.forwardJitterMs / 1000}`,
      `speedwatch_agent_udp_jitter_seconds{${SCHOOL},direction="down"} ${section.returnJitterMs / 1000}`,
      `speedwatch_agent_udp_loss_ratio{${SCHOOL},direction="up"} ${section.forwardLossRatio}`,
      `speedwatch_agent_udp_loss_ratio{${SCHOOL},direction="down"} ${section.returnLossRatio}`,
      `speedwatch_agent_udp_round_trip_loss_ratio{${SCHOOL}} ${section.lossRatio}`,
      `speedwatch_agent_udp_last_result_timestamp_seconds{${SCHOOL}} ${Date.parse(udp.startedAt) / 1000}`,
    ];
  };

  async function start(): Promise<void> {
    store = await backend.open();
    collector = await startCollector(
      { ...COLLECTOR_DEFAULTS, port: 0, db: backend.db(), heartbeatMs: 200, maintenanceIntervalMs: HOUR, leaseTtlMs: 900 },
      { store, logger: createLogger({ level: 'silent' }) },
    );
  }
  async function stop(): Promise<void> {
    for (const c of clients.splice(0)) c.ws.terminate();
    await collector?.close();
    await store?.close();
  }
  const scrape = async (): Promise<string> => (await fetch(`${collector.url}metrics`)).text();
  async function send(token: string, results: MeasurementResult[]): Promise<void> {
    const client = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    clients.push(client);
    await client.hello();
    client.send({ type: 'results', results });
    expect((await client.next('ack', 10_000))['ids']).toEqual(results.map((r) => r.id));
  }

  const tokens = { school: newToken(), clinic: newToken() };
  beforeAll(async () => {
    if (backend.skip) return;
    await backend.fresh();
    await start();
    await store.agents.add({ id: 'school-1', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành' }, hashToken(tokens.school), now);
    await store.agents.add({ id: 'clinic-1', name: 'Trạm Y tế', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc' }, hashToken(tokens.clinic), now);
    await collector.refreshAgents();
    await send(tokens.school, [resultAt(now, 3, 40), newestUdp, resultAt(now, 1)]);
    await send(tokens.clinic, [resultAt(now, 2), resultAt(now, 1)]);
  }, 30_000);
  afterAll(stop);

  describe.skipIf(backend.skip)('from ingest', () => {
    it('shows the newest result with UDP quality in seconds and ratios, labelled as the site\'s other gauges, and nothing for a site without', async () => {
      const text = await scrape();
      // The same labels as the site's download gauge, then the series' own.
      expect(text).toContain(`speedwatch_agent_download_bytes_per_second{${SCHOOL}} 13750000\n`);
      expect(udpLines(text)).toEqual(expected(newestUdp));
      expect(udpLines(text).map((line) => line.slice(line.lastIndexOf(' ') + 1))).toEqual(['0.0235', '0.03', '0.00125', '0.0025', '0.012', '0.008097165991902834', '0.02', `${Date.parse(newestUdp.startedAt) / 1000}`]);
      expect(text).toMatch(/^speedwatch_agent_download_bytes_per_second\{agent_id="clinic-1",/m);
      expect(text).not.toMatch(/^speedwatch_agent_udp_\w+\{agent_id="clinic-1"/m);
    });

    it('declares each UDP family once, as a gauge with help', async () => {
      const text = await scrape();
      for (const name of ['rtt_median_seconds', 'rtt_p95_seconds', 'jitter_seconds', 'loss_ratio', 'round_trip_loss_ratio', 'last_result_timestamp_seconds']) {
        expect(text.match(new RegExp(`^# TYPE speedwatch_agent_udp_${name} gauge$`, 'gm'))).toHaveLength(1);
        expect(text.match(new RegExp(`^# HELP speedwatch_agent_udp_${name} \\S.*$`, 'gm'))).toHaveLength(1);
      }
    });

    it('passes promtool check metrics with nothing printed', async (ctx) => {
      const out = await promtoolCheckMetrics(await scrape());
      if (out === undefined) return ctx.skip();
      expect(out).toBe('exit=0\n');
    });

    it('moves to a newer result with UDP quality, and not back to a late older one', async () => {
      const late = resultAt(now, 2.5, 99);
      await send(tokens.school, [late]);
      expect(udpLines(await scrape())).toEqual(expected(newestUdp));
      const newer = resultAt(now, 0.5, 12.25);
      await send(tokens.school, [newer]);
      expect(udpLines(await scrape())).toEqual(expected(newer));
    });
  });

  describe.skipIf(backend.skip)('from the store, after a restart', () => {
    it('shows the same series once the first maintenance has read them, and none for a site without', async () => {
      const before = udpLines(await scrape());
      expect(before).toHaveLength(8);
      await stop();
      await start();
      await collector.maintain();
      // On PostgreSQL a collector shows a disconnected agent's series once it holds the lease.
      await until(async () => udpLines(await scrape()).length > 0, 5_000, 'UDP series after the restart');
      const text = await scrape();
      expect(udpLines(text)).toEqual(before);
      expect(text).not.toMatch(/^speedwatch_agent_udp_\w+\{agent_id="clinic-1"/m);
    });
  });
});
