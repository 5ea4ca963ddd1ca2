/** Helpers for ingest tests: a collector on a temp SQLite file, agents with tokens, a WebSocket client. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { MeasurementResult } from '@speedwatch/shared';
import { createLogger, parseMeasurementResult } from '@speedwatch/shared';
import type { CollectorConfig } from '../src/config/collector-config.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { startCollector } from '../src/server/collector-server.js';
import { openStore } from '../src/store/sqlite-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import type { NewAgent } from '../src/store/store-types.js';

export interface TestCollector {
  collector: RunningCollector;
  /** The collector's serving connection; also how tests add and revoke agents, as the CLI would. */
  store: SqliteStore;
  dbPath: string;
  wsUrl: string;
  /** Adds an agent and has the collector pick it up at once (not at its next heartbeat); returns its token. */
  addAgent(id: string, extra?: Partial<NewAgent>): string;
  close(): Promise<void>;
}

export async function startTestCollector(overrides: Partial<CollectorConfig> = {}): Promise<TestCollector> {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'sw-collector-')), 'speedwatch.db');
  const store = openStore(dbPath);
  const config: CollectorConfig = { ...COLLECTOR_DEFAULTS, port: 0, db: dbPath, heartbeatMs: 200, ...overrides };
  const collector = await startCollector(config, { store: sqliteCollectorStore(store), logger: createLogger({ level: 'silent' }) });
  return {
    collector,
    store,
    dbPath,
    wsUrl: `${collector.url.replace(/^http/, 'ws')}v1/agents`,
    addAgent(id, extra = {}) {
      const token = newToken();
      store.agents.add({ id, name: `Site ${id}`, siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', isp: 'VNPT', ...extra }, hashToken(token), Date.now());
      // On SQLite the reload is done before this turn of the event loop ends (and a connection
      // with an unknown token reloads anyway): nothing to wait for.
      void collector.refreshAgents();
      return token;
    },
    async close() {
      await collector.close();
      store.close();
    },
  };
}

/** A valid result; `overrides` replace top-level fields. */
export function makeResult(overrides: Partial<MeasurementResult> = {}, downloadMbps = 110): MeasurementResult {
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  return parseMeasurementResult({
    schemaVersion: 1,
    id: randomUUID(),
    status: 'ok',
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(),
    technology: 'fixed',
    latency: { count: 3, minMs: 4, medianMs: 5, meanMs: 5, p90Ms: 6, maxMs: 6, jitterMs: 1, lossRatio: 0, samplesMs: [4, 5, 6] },
    download: { mbps: downloadMbps, bytes: downloadMbps * 1e6, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: downloadMbps * 1.25e6, sampleIntervalMs: 200, samplesMbps: [] },
    upload: { mbps: 40, bytes: 40e6, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: 50e6, sampleIntervalMs: 200, samplesMbps: [], confirmedBy: 'header' },
    ...overrides,
  });
}

export interface AgentClient {
  ws: WebSocket;
  /** Next message of `type` (earlier messages of other types are kept), within `timeoutMs`. */
  next(type: string, timeoutMs?: number): Promise<Record<string, any>>;
  send(message: unknown): void;
  hello(): Promise<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
}

export function connectAgent(url: string, token: string | undefined): Promise<AgentClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
    const inbox: Record<string, any>[] = [];
    const waiters: { type: string; resolve: (m: Record<string, any>) => void }[] = [];
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, any>;
      const waiter = waiters.findIndex((w) => w.type === message['type']);
      if (waiter >= 0) waiters.splice(waiter, 1)[0]?.resolve(message);
      else inbox.push(message);
    });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
    ws.once('open', () => {
      const client: AgentClient = {
        ws,
        closed,
        send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
        next: (type, timeoutMs = 3000) => {
          const queued = inbox.findIndex((m) => m['type'] === type);
          if (queued >= 0) return Promise.resolve(inbox.splice(queued, 1)[0] as Record<string, any>);
          return new Promise((res, rej) => {
            const entry = { type, resolve: (m: Record<string, any>) => { clearTimeout(timer); res(m); } };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(entry), 1);
              rej(new Error(`no ${type} message within ${timeoutMs} ms (inbox: ${JSON.stringify(inbox).slice(0, 300)})`));
            }, timeoutMs);
            waiters.push(entry);
          });
        },
        hello: () => {
          client.send({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() });
          return client.next('welcome');
        },
      };
      resolve(client);
    });
  });
}

/** The value of one series of a counter in a Prometheus text scrape (0 when absent). */
export async function scrapeValue(baseUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
