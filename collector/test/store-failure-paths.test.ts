/**
 * A database that stops answering never ends the collector: each path that touches the store
 * turns the StoreError into its documented answer and a log line. The collector's own
 * connection is closed under it here, so that every read and write fails at once: the API
 * answers 503 SW_STORE_UNAVAILABLE, a batch is answered SW_STORE_UNAVAILABLE on its open
 * connection, the heartbeat's agent reload keeps the agents it had (logging once), liveness
 * waits to be written, and /healthz answers throughout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { startCollector } from '../src/server/collector-server.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { openStore } from '../src/store/sqlite-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { connectAgent, makeResult } from './ingest-util.js';
import { tempDir } from './store-util.js';
import { join } from 'node:path';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function collectorWithBrokenStore(): Promise<{ collector: RunningCollector; token: string; lines: string[]; breakStore: () => void }> {
  const db = join(tempDir(), 'speedwatch.db');
  const store = openStore(db);
  const token = newToken();
  store.agents.add({ id: 'school-1', name: 'School 1', siteKind: 'school', technology: 'fixed' }, hashToken(token), Date.now());
  const lines: string[] = [];
  const collector = await startCollector(
    { ...COLLECTOR_DEFAULTS, port: 0, db, heartbeatMs: 100 },
    { store: sqliteCollectorStore(store), logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }) },
  );
  await collector.maintain();
  cleanups.push(async () => {
    await collector.close();
    store.close();
  });
  return { collector, token, lines, breakStore: () => store.close() };
}

const events = (lines: readonly string[], event: string): Record<string, unknown>[] =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === event);

describe('the collector when its database stops answering', () => {
  it('answers API reads 503 SW_STORE_UNAVAILABLE and /healthz 200, and logs each failure', async () => {
    const { collector, lines, breakStore } = await collectorWithBrokenStore();
    expect((await fetch(`${collector.url}api/v1/results`)).status).toBe(200);
    breakStore();
    for (const path of ['api/v1/results', 'api/v1/series?agent=school-1&metric=download_mbps']) {
      const res = await fetch(`${collector.url}${path}`);
      expect(res.status, `${path}: ${await res.clone().text()}`).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'SW_STORE_UNAVAILABLE' } });
    }
    expect((await fetch(`${collector.url}healthz`)).status).toBe(200);
    const ready = await fetch(`${collector.url}readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not ready', waiting: [expect.stringMatching(/^database: /)] });
    expect(events(lines, 'request-store-failed')).toHaveLength(2);
  });

  it('answers a batch SW_STORE_UNAVAILABLE on its open connection, keeps its agents through failed reloads, and keeps liveness to write later', async () => {
    const { collector, token, lines, breakStore } = await collectorWithBrokenStore();
    const agent = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    cleanups.push(() => agent.ws.terminate());
    await agent.hello();
    breakStore();
    agent.send({ type: 'results', results: [makeResult()] });
    expect(await agent.next('error')).toMatchObject({ code: 'SW_STORE_UNAVAILABLE' });
    expect(agent.ws.readyState).toBe(agent.ws.OPEN);
    // Heartbeats go on: the reload of the agents table fails, logged once; the agent stays.
    await new Promise((r) => setTimeout(r, 450));
    expect(agent.ws.readyState).toBe(agent.ws.OPEN);
    expect(events(lines, 'agents-reload-failed')).toHaveLength(1);
    expect(events(lines, 'liveness-flush-failed').length).toBeGreaterThan(0);
    // A new connection with the same token is still let in from the table in memory.
    const again = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    cleanups.push(() => again.ws.terminate());
    expect(await again.hello()).toMatchObject({ type: 'welcome', agentId: 'school-1' });
    expect(events(lines, 'store-failed')).toHaveLength(1);
  });

  it('logs a failed maintenance pass and serves the verdicts it had', async () => {
    const { collector, lines, breakStore } = await collectorWithBrokenStore();
    const before = collector.verdicts.computedAt;
    breakStore();
    await collector.maintain();
    expect(events(lines, 'maintenance-failed')).toHaveLength(1);
    expect(collector.verdicts.computedAt).toBe(before);
    expect((await fetch(`${collector.url}api/v1/compliance`)).status).toBe(200);
  });
});
