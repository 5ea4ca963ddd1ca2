/**
 * Backpressure: when more results are read than committed, the ingest server stops reading
 * the connections that keep sending (TCP pushes back on the agent) and resumes once commits
 * catch up; nothing is lost and the paused agent is not dropped by the heartbeat.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import type { FrameBatch } from '../src/store/frame-batch.js';
import { AgentDirectory } from '../src/ingest/agent-directory.js';
import { IngestServer } from '../src/ingest/ingest-server.js';
import type { StoreWriter } from '../src/writer/store-writer.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { openStore } from '../src/store/sqlite-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { CollectorMetrics } from '../src/metrics/collector-metrics.js';
import { connectAgent, makeResult } from './ingest-util.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The real store, with each commit held until the test lets it go: a slow disk, on demand. */
function gatedWriter(store: SqliteStore): Pick<StoreWriter, 'stage' | 'commitStaged'> & { release(): void; commits: number } {
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const closeGate = (): void => {
    let open!: () => void;
    gate = { promise: new Promise<void>((r) => (open = r)), open };
  };
  closeGate();
  const staged = new Map<number, FrameBatch>();
  const writer = {
    commits: 0,
    stage(batch: FrameBatch): number {
      staged.set(staged.size, batch);
      return staged.size - 1;
    },
    async commitStaged(handles: readonly number[]) {
      await gate?.promise;
      writer.commits++;
      return store.writes.insertFrames(handles.map((h) => staged.get(h) as FrameBatch));
    },
    release() {
      gate?.open();
      gate = undefined;
    },
  };
  return writer;
}

/**
 * An ingest server at `url` over a real store in a temp dir, with its commits held (gatedWriter)
 * and at most 100 results pending, and `agents` agents added (school-0, school-1, …, their
 * tokens in order). All of it is closed after the test, the held commits let go first.
 */
async function heldIngestServer(agents: number, heartbeatMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sw-backpressure-'));
  const store = openStore(join(dir, 'speedwatch.db'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
  const tokens = Array.from({ length: agents }, (_, i) => {
    const token = newToken();
    store.agents.add({ id: `school-${i}`, name: `School ${i}`, siteKind: 'school', technology: 'fixed' }, hashToken(token), Date.now());
    return token;
  });
  const writer = gatedWriter(store);
  const ingest = new IngestServer({
    agents: await AgentDirectory.load(sqliteCollectorStore(store).agents, createLogger({ level: 'silent' })),
    writer,
    logger: createLogger({ level: 'silent' }),
    now: Date.now,
    limits: { ...COLLECTOR_DEFAULTS.limits, maxMessagesPerMinute: 1000 },
    maxFutureMs: 600_000,
    maxAgeMs: 30 * 86_400_000,
    heartbeatMs,
    events: new CollectorMetrics({ databaseSizeBytes: () => 0 }),
    maxPendingResults: 100,
  });
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => ingest.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Cleanups run last-first: the held commits go before ingest.close() waits for them.
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())), () => ingest.close(), () => writer.release());
  return { store, writer, ingest, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agents`, tokens };
}

describe('ingest backpressure', () => {
  it('stops reading an agent past maxPendingResults and resumes when commits catch up, losing nothing', async () => {
    const { store, writer, ingest, url, tokens } = await heldIngestServer(1, 100);
    const client = await connectAgent(url, tokens[0]);
    cleanups.push(() => client.ws.terminate());
    await client.hello();

    // Three batches of 60, one at a time, while commits are held: after the second (120 > 100)
    // the connection is paused, so the third stays unread in the socket.
    const batches = [0, 1, 2].map(() => Array.from({ length: 60 }, () => makeResult()));
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    client.send({ type: 'results', results: batches[0] });
    await pause(100);
    expect(ingest.backpressure).toEqual({ pendingResults: 60, queuedFrames: 0, pausedConnections: 0, waitingWelcomes: 0 });
    client.send({ type: 'results', results: batches[1] });
    await pause(100);
    expect(ingest.backpressure).toEqual({ pendingResults: 120, queuedFrames: 0, pausedConnections: 1, waitingWelcomes: 0 });
    client.send({ type: 'results', results: batches[2] });
    await pause(500); // five heartbeats: a paused agent is not dropped
    expect(ingest.backpressure).toEqual({ pendingResults: 120, queuedFrames: 0, pausedConnections: 1, waitingWelcomes: 0 });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(writer.commits).toBe(0);
    writer.release();
    const acked = new Set<string>();
    while (acked.size < 180) for (const id of (await client.next('ack', 5000))['ids'] as string[]) acked.add(id);
    expect(acked).toEqual(new Set(batches.flat().map((r) => r.id)));
    expect(store.results.page({ limit: 1000 }).results).toHaveLength(180);
    expect(ingest.backpressure).toEqual({ pendingResults: 0, queuedFrames: 0, pausedConnections: 0, waitingWelcomes: 0 });
  });

  /** An ingest server over a real store with commits held, and `n` agents connected (not said hello). */
  async function heldIngest(n: number) {
    const { ingest, writer, url, tokens } = await heldIngestServer(n, 1000);
    const clients = await Promise.all(tokens.map((t) => connectAgent(url, t)));
    for (const c of clients) cleanups.push(() => c.ws.terminate());
    const [first, second] = clients as [(typeof clients)[number], (typeof clients)[number]];
    // The first goes over the limit: 120 results pending, commits held.
    await first.hello();
    first.send({ type: 'results', results: Array.from({ length: 120 }, () => makeResult()) });
    await new Promise((r) => setTimeout(r, 100));
    expect(ingest.backpressure).toMatchObject({ pendingResults: 120, pausedConnections: 1 });
    second.send({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() });
    return { ingest, writer, first, second, helloAt: performance.now() };
  }

  it('holds the welcome of a hello that comes while over the limits until there is room', async () => {
    const { ingest, writer, second } = await heldIngest(2);
    const welcome = second.next('welcome', 2000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ingest.backpressure.waitingWelcomes).toBe(1);
    writer.release();
    await welcome;
    expect(ingest.backpressure).toMatchObject({ pendingResults: 0, pausedConnections: 0, waitingWelcomes: 0 });
  });

  it('welcomes a waiting hello after 2.5 s even while over the limits, and pauses its connection', async () => {
    const { ingest, second, helloAt } = await heldIngest(2);
    await second.next('welcome', 5000);
    const waitedMs = performance.now() - helloAt;
    expect(waitedMs).toBeGreaterThan(2_200);
    expect(waitedMs).toBeLessThan(4_000);
    expect(ingest.backpressure).toMatchObject({ pendingResults: 120, pausedConnections: 2, waitingWelcomes: 0 });
  });
});
