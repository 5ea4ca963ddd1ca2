/**
 * CollectorClient on a fake clock against a stand-in collector on loopback: what it sends and
 * when, how it waits between connections, and what it does with frames it cannot trust. Sockets
 * are real; only time is fake, so every delay the client arms is exact (`random` is 0.5).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../src/outbox/outbox.js';
import type { CollectorAuthError, CollectorClientOptions, HealthFigures } from '../src/stream/collector-client.js';
import { CollectorClient, DEFAULT_MAX_BAD_FRAMES } from '../src/stream/collector-client.js';
import type { CollectorStub, StubConnection, StubOptions } from './collector-stub.js';
import { LEVEL, LogCapture, startCollectorStub, within } from './collector-stub.js';
import { FakeClock } from './fake-clock.js';
import { makeResult, resultId } from './util.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const INITIAL_MS = 1000;
const PING_MS = 30_000;
const ACK_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 15_000;

interface Setup {
  clock: FakeClock;
  logs: LogCapture;
  outbox: Outbox;
  dir: string;
  client: CollectorClient;
  fatal: CollectorAuthError[];
}

/** A client of `url` streaming a real outbox (temp dir) holding results 1..`results`; stopped after the test. */
async function setup(url: string, results = 0, options: Partial<CollectorClientOptions> = {}): Promise<Setup> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sw-client-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const logs = new LogCapture();
  const outbox = await Outbox.open({ dir, logger: logs.logger, fsyncDir: false });
  cleanups.push(() => outbox.close());
  for (let n = 1; n <= results; n++) await outbox.append(makeResult(n));
  const clock = new FakeClock();
  const fatal: CollectorAuthError[] = [];
  const client = new CollectorClient({
    url,
    token: 'swa_secret-token',
    queue: outbox,
    hello: () => ({ type: 'hello', protocol: 1, agent: { version: '0.1.0' } }),
    logger: logs.logger,
    backoffInitialMs: INITIAL_MS,
    backoffMaxMs: 8000,
    pingIntervalMs: PING_MS,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    clock,
    wallNow: () => Date.parse('2025-03-01T08:00:00.000Z'),
    random: () => 0.5,
    onFatal: (err) => fatal.push(err),
    ...options,
  });
  // stop() waits for the close handshake on the fake clock's grace timer: advance it meanwhile.
  cleanups.push(async () => {
    const stopped = client.stop();
    await clock.advance(5000);
    await within(stopped, 5000, 'client.stop()');
  });
  return { clock, logs, outbox, dir, client, fatal };
}

async function stub(options: StubOptions = {}): Promise<CollectorStub> {
  const s = await startCollectorStub(options);
  cleanups.push(() => s.close());
  return s;
}

/** A loopback port nothing listens on (it listened a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Takes the next connection and its hello; resolves once the client is welcomed. */
async function welcomed(s: CollectorStub, logs: LogCapture): Promise<StubConnection> {
  const since = logs.lines.length;
  const conn = await s.connections.next('a connection from the client');
  expect((await conn.messages.next('hello'))['type']).toBe('hello');
  await logs.waitFor((l) => l.event === 'welcome', 'the client to read the welcome', 5000, since);
  return conn;
}

async function nextResults(conn: StubConnection): Promise<string[]> {
  const message = await conn.messages.next('a results message');
  expect(message['type']).toBe('results');
  return (message['results'] as { id: string }[]).map((r) => r.id);
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => resultId(from + i));
}

function pendingIds(outbox: Outbox): string[] {
  return outbox.pending().map((r) => r.id);
}

/** Resolves once the outbox holds exactly `ids` (the client updates it asynchronously). */
async function outboxHolds(s: Setup, ids: string[]): Promise<void> {
  await within(
    (async () => {
      while (pendingIds(s.outbox).join() !== ids.join()) await new Promise((r) => setImmediate(r));
    })(),
    5000,
    `the outbox to hold ${ids.join(', ') || 'nothing'} (it holds ${pendingIds(s.outbox).join(', ')})`,
  );
}

describe('CollectorClient', () => {
  describe('streaming', () => {
    it('sends hello, then the backlog oldest first, and forgets a result only once it is acked', async () => {
      const s = await stub();
      const t = await setup(s.url, 3);
      t.client.start();
      const conn = await s.connections.next('a connection');
      const hello = await conn.messages.next('hello');
      expect(hello).toMatchObject({ type: 'hello', protocol: 1, clock: '2025-03-01T08:00:00.000Z', backlog: 3, dropped: 0 });
      expect(await nextResults(conn)).toEqual(range(1, 3));
      expect(pendingIds(t.outbox)).toEqual(range(1, 3));
      conn.send({ type: 'ack', ids: range(1, 2) });
      await outboxHolds(t, range(3, 3));
      conn.send({ type: 'ack', ids: [resultId(3)] });
      await outboxHolds(t, []);
      expect(t.client.state).toBe('open');
    });

    it('sends no batch larger than the maxBatch the collector announced', async () => {
      const s = await stub({ welcome: { maxFrameBytes: 1024 * 1024, maxBatch: 2, maxMessagesPerMinute: 100 } });
      const t = await setup(s.url, 3);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 2));
      conn.send({ type: 'ack', ids: range(1, 2) });
      expect(await nextResults(conn)).toEqual(range(3, 3));
    });
  });

  describe('timing', () => {
    it('waits a full-jitter exponential backoff between failed connections, capped, and a welcome starts it over', async () => {
      const s = await stub();
      s.refuseWith = 503;
      const t = await setup(s.url);
      t.client.start();
      // random() is 0.5: each wait is half of min(8000, 1000 · 2^n).
      const expected = [500, 1000, 2000, 4000, 4000, 4000];
      for (const [i, delay] of expected.entries()) {
        const line = await t.logs.nth('connect-failed', i + 1);
        expect(line).toMatchObject({ cause: 'http-status', status: 503, retryInMs: delay, attempt: i + 1 });
        expect(t.clock.dueIn()).toEqual([delay]);
        expect(t.client.state).toBe('waiting');
        if (i < expected.length - 1) await t.clock.advance(delay);
      }
      s.refuseWith = undefined;
      await t.clock.advance(4000);
      const conn = await welcomed(s, t.logs);
      conn.ws.close(1001, 'going away');
      const line = await t.logs.nth('disconnected', 1);
      expect(line).toMatchObject({ code: 1001, reason: 'going away', retryInMs: 500 });
    });

    it('drops a connection whose pong does not come by the next ping, and reconnects', async () => {
      const s = await stub({ autoPong: false });
      const t = await setup(s.url);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      await t.clock.advance(PING_MS);
      await conn.pings.next('the first ping');
      await t.clock.advance(PING_MS);
      expect(await within(conn.closed, 5000, 'the client to drop the connection')).toBe(1006);
      expect(t.logs.events('heartbeat-missed', LEVEL.warn)).toHaveLength(1);
      const line = await t.logs.nth('disconnected', 1);
      await t.clock.advance(line['retryInMs'] as number);
      await welcomed(s, t.logs);
    });

    it('keeps a connection whose pongs come back', async () => {
      const s = await stub();
      const t = await setup(s.url);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      for (let i = 1; i <= 3; i++) {
        await t.clock.advance(PING_MS);
        await conn.pings.next(`ping ${i}`);
        // The stub pongs before this frame; the socket keeps order, so once the client has read
        // the frame it has read the pong.
        conn.send({ type: 'noop' });
        await t.logs.nth('unknown-message', i);
      }
      expect(t.logs.events('heartbeat-missed')).toEqual([]);
      expect(s.accepted()).toBe(1);
    });

    it('gives up on a batch not acked within ackTimeoutMs and sends it again on a new connection', async () => {
      const s = await stub();
      const t = await setup(s.url, 2);
      t.client.start();
      const first = await welcomed(s, t.logs);
      expect(await nextResults(first)).toEqual(range(1, 2));
      await t.clock.advance(ACK_TIMEOUT_MS - 1);
      expect(t.logs.events('ack-timeout')).toEqual([]);
      await t.clock.advance(1);
      expect(t.logs.events('ack-timeout', LEVEL.warn)).toHaveLength(1);
      await within(first.closed, 5000, 'the client to drop the connection');
      // A connection that was welcomed starts the backoff over: half of 1000.
      expect((await t.logs.nth('disconnected', 1))['retryInMs']).toBe(500);
      await t.clock.advance(500);
      const second = await welcomed(s, t.logs);
      expect(await nextResults(second)).toEqual(range(1, 2));
      expect(pendingIds(t.outbox)).toEqual(range(1, 2));
    });

    it('after an error message, sends the batch again once a pause has passed, on the same connection', async () => {
      const s = await stub();
      const t = await setup(s.url, 2);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 2));
      conn.send({ type: 'error', code: 'SW_RATE_LIMITED', message: 'over 120 messages a minute; message dropped' });
      const line = await t.logs.nth('collector-error', 1);
      // random() · backoffInitialMs · 5
      expect(line).toMatchObject({ level: LEVEL.warn, code: 'SW_RATE_LIMITED', pauseMs: 2500 });
      t.client.notify(); // a new result does not cut the pause short
      await t.clock.advance(2499);
      expect(conn.messages.size).toBe(0);
      await t.clock.advance(1);
      expect(await nextResults(conn)).toEqual(range(1, 2));
      conn.send({ type: 'ack', ids: range(1, 2) });
      await outboxHolds(t, []);
      expect(s.accepted()).toBe(1);
    });

    it('drops a connection that sends no welcome within connectTimeoutMs, and sends no result on it', async () => {
      const s = await stub({ welcome: false });
      const t = await setup(s.url, 1);
      t.client.start();
      const conn = await s.connections.next('a connection');
      expect((await conn.messages.next('hello'))['type']).toBe('hello');
      t.client.notify();
      await t.clock.advance(CONNECT_TIMEOUT_MS);
      await within(conn.closed, 5000, 'the client to drop the connection');
      expect(await t.logs.nth('connect-failed', 1)).toMatchObject({ level: LEVEL.warn, cause: 'no-welcome' });
      expect(conn.messages.size).toBe(0);
    });

    it('stops on HTTP 401 and calls onFatal once, with nothing left armed', async () => {
      const s = await stub();
      s.refuseWith = 401;
      const t = await setup(s.url);
      t.client.start();
      const line = await t.logs.nth('unauthorized', 1);
      expect(line['level']).toBe(LEVEL.error);
      expect(t.fatal.map((e) => e.code)).toEqual(['SW_AGENT_UNAUTHORIZED']);
      expect(t.client.state).toBe('stopped');
      expect(t.clock.dueIn()).toEqual([]);
      expect(JSON.stringify(t.logs.lines)).not.toContain('swa_secret-token');
    });

    it('stop() closes the connection and leaves no timer armed', async () => {
      const s = await stub();
      const t = await setup(s.url);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      await within(t.client.stop(), 5000, 'stop()');
      expect(await within(conn.closed, 5000, 'the close')).toBe(1000);
      expect(t.clock.dueIn()).toEqual([]);
      expect(t.client.state).toBe('stopped');
    });
  });

  describe('health', () => {
    const HEALTH_MS = 300_000;
    /** Health every 5 min; pings rarely, so that fake time can jump past several health messages. */
    const withHealth = (health: CollectorClientOptions['health']): Partial<CollectorClientOptions> => ({
      ...(health === undefined ? {} : { health }),
      healthIntervalMs: HEALTH_MS,
      pingIntervalMs: 100 * HEALTH_MS,
    });
    const figures = async (): Promise<HealthFigures> => ({ agent: { version: '0.1.0' }, diskFreeBytes: 1_000_000_000, cpuTemperatureCelsius: 50.5 });

    /** The next `n` messages, by type (health is gathered asynchronously, so it may follow the first batch). */
    async function take(conn: StubConnection, n: number): Promise<Map<string, Record<string, unknown>>> {
      const byType = new Map<string, Record<string, unknown>>();
      for (let i = 0; i < n; i++) {
        const message = await conn.messages.next(`message ${i + 1} of ${n}`);
        byType.set(message['type'] as string, message);
      }
      return byType;
    }

    it('sends health after the welcome, with its clock and the outbox figures, then every healthIntervalMs', async () => {
      const s = await stub();
      const t = await setup(s.url, 2, withHealth(figures));
      t.client.start();
      const conn = await welcomed(s, t.logs);
      const first = await take(conn, 2);
      expect(first.get('health')).toEqual({
        type: 'health',
        clock: '2025-03-01T08:00:00.000Z',
        agent: { version: '0.1.0' },
        diskFreeBytes: 1_000_000_000,
        cpuTemperatureCelsius: 50.5,
        backlog: 2,
        dropped: 0,
      });
      conn.send({ type: 'ack', ids: (first.get('results')?.['results'] as { id: string }[]).map((r) => r.id) });
      await outboxHolds(t, []);
      await t.clock.advance(HEALTH_MS - 1);
      expect(conn.messages.size).toBe(0);
      await t.clock.advance(1);
      expect(await conn.messages.next('the second health')).toMatchObject({ type: 'health', backlog: 0 });
      await t.clock.advance(HEALTH_MS);
      expect(await conn.messages.next('the third health')).toMatchObject({ type: 'health' });
    });

    it('sends no health without a health source', async () => {
      const s = await stub();
      const t = await setup(s.url, 0, withHealth(undefined));
      t.client.start();
      const conn = await welcomed(s, t.logs);
      await t.clock.advance(3 * HEALTH_MS);
      expect(conn.messages.size).toBe(0);
    });

    it('stops sending health on a connection whose collector refuses it (an older collector), keeps the batch in flight, and tries again on the next connection', async () => {
      const s = await stub();
      const t = await setup(s.url, 2, withHealth(figures));
      t.client.start();
      const conn = await welcomed(s, t.logs);
      const first = await take(conn, 2);
      expect([...first.keys()].sort()).toEqual(['health', 'results']);
      // What a collector without `health` answers (collector/src/ingest before this message).
      conn.send({ type: 'error', code: 'SW_PROTOCOL_MESSAGE', message: 'unknown message type "health"; expected hello or results' });
      expect(await t.logs.nth('health-refused', 1)).toMatchObject({ level: LEVEL.info, code: 'SW_PROTOCOL_MESSAGE' });
      expect(t.logs.events('collector-error')).toEqual([]);
      // The batch was not refused: its ack settles it, and nothing is sent again.
      conn.send({ type: 'ack', ids: range(1, 2) });
      await outboxHolds(t, []);
      await t.clock.advance(3 * HEALTH_MS);
      expect(conn.messages.size).toBe(0);

      conn.ws.close(1001, 'collector restarting');
      await t.clock.advance((await t.logs.nth('disconnected', 1))['retryInMs'] as number);
      const second = await welcomed(s, t.logs);
      expect(await second.messages.next('health on the new connection')).toMatchObject({ type: 'health', backlog: 0 });
    });

    it('takes an SW_PROTOCOL_MESSAGE error as the batch\'s when no health was sent', async () => {
      const s = await stub();
      const t = await setup(s.url, 1, withHealth(undefined));
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 1));
      conn.send({ type: 'error', code: 'SW_PROTOCOL_MESSAGE', message: 'results.results: expected an array' });
      expect(await t.logs.nth('collector-error', 1)).toMatchObject({ code: 'SW_PROTOCOL_MESSAGE' });
      await t.clock.advance(2500);
      expect(await nextResults(conn)).toEqual(range(1, 1));
    });

    it('skips a health message whose figures cannot be gathered or are not valid, streams meanwhile, and tries again at the next interval', async () => {
      const s = await stub();
      let calls = 0;
      const t = await setup(
        s.url,
        1,
        withHealth(async () => {
          calls++;
          if (calls === 1) throw new Error('statfs: EIO');
          if (calls === 2) return { agent: { version: '0.1.0' }, cpuTemperatureCelsius: 9000 };
          return figures();
        }),
      );
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 1));
      expect(await t.logs.nth('health-failed', 1)).toMatchObject({ level: LEVEL.warn });
      conn.send({ type: 'ack', ids: range(1, 1) });
      await outboxHolds(t, []);
      await t.clock.advance(HEALTH_MS);
      expect(await t.logs.nth('health-invalid', 1)).toMatchObject({ level: LEVEL.warn, path: 'health.cpuTemperatureCelsius' });
      await t.clock.advance(HEALTH_MS);
      expect(await conn.messages.next('health at the third try')).toMatchObject({ type: 'health', cpuTemperatureCelsius: 50.5 });
      expect(s.accepted()).toBe(1);
    });

    it('stops while the health figures are still being gathered (a hung statfs), leaving no timer armed', async () => {
      const s = await stub();
      const t = await setup(s.url, 0, withHealth(() => new Promise<HealthFigures>(() => {})));
      t.client.start();
      const conn = await welcomed(s, t.logs);
      await within(t.client.stop(), 5000, 'stop()');
      expect(await within(conn.closed, 5000, 'the close')).toBe(1000);
      expect(t.clock.dueIn()).toEqual([]);
    });
  });

  describe('frames it cannot trust', () => {
    it('drops null, an ack whose ids are not an array, and a welcome without limits, and keeps streaming', async () => {
      const s = await stub();
      const t = await setup(s.url, 2);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 2));
      conn.sendRaw('null');
      conn.sendRaw('{"type":"ack","ids":5}');
      conn.sendRaw('{"type":"welcome","protocol":1,"agentId":"x","serverTime":"2025-03-01T08:00:00.000Z"}');
      await t.logs.nth('bad-frame', 3);
      expect(t.logs.events('bad-frame').map((l) => [l.level, l['type'], l['problem']])).toEqual([
        [LEVEL.warn, '(null)', 'the message: expected a message object'],
        [LEVEL.warn, 'ack', 'ack.ids: expected an array of at most 10000 items, got 5'],
        [LEVEL.warn, 'welcome', 'welcome.limits: expected an object (required)'],
      ]);
      conn.send({ type: 'ack', ids: range(1, 2) });
      await outboxHolds(t, []);
      expect(s.accepted()).toBe(1);
    });

    it('logs a bad frame with its type made printable and cut short, never the frame', async () => {
      const s = await stub();
      const t = await setup(s.url);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      const secret = 'do-not-log-me';
      conn.sendRaw(JSON.stringify({ type: `ACK\u001b[31m\u202e${'x'.repeat(100)}`, ids: [secret] }));
      conn.sendRaw(JSON.stringify({ type: 'ack', ids: [secret], [`${'k'.repeat(10_000)}`]: 1 }));
      conn.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]), true);
      conn.sendRaw(`{"type":"ack","ids":["${secret}"]`);
      await t.logs.nth('bad-frame', 4);
      const lines = t.logs.events('bad-frame');
      expect(lines.map((l) => l['type'])).toEqual([`ACK?[31m?${'x'.repeat(31)}…`, 'ack', '(binary)', '(not JSON)']);
      expect(lines[1]?.['problem']).toBe(`ack.${'k'.repeat(76)}…: expected one of type, ids`);
      const text = JSON.stringify(t.logs.lines);
      expect(text).not.toContain(secret);
      expect(text.length).toBeLessThan(10_000);
    });

    it(`closes a connection after ${DEFAULT_MAX_BAD_FRAMES} bad frames, and such connections grow the backoff`, async () => {
      const s = await stub();
      const t = await setup(s.url, 1);
      t.client.start();
      for (const [round, delay] of [500, 1000, 2000].entries()) {
        const conn = await welcomed(s, t.logs);
        for (let i = 0; i < DEFAULT_MAX_BAD_FRAMES; i++) conn.sendRaw('null');
        expect(await within(conn.closed, 5000, 'the client to close the connection')).toBe(1008);
        expect(t.logs.events('bad-frame')).toHaveLength((round + 1) * DEFAULT_MAX_BAD_FRAMES);
        const line = await t.logs.nth('disconnected', round + 1);
        expect(line).toMatchObject({ cause: 'bad-frames', retryInMs: delay });
        await t.clock.advance(delay);
      }
      // The result was never lost: still pending, and sent again on every connection.
      expect(pendingIds(t.outbox)).toEqual([resultId(1)]);
    });

    it('closes a connection that sends a frame over 1 MiB', async () => {
      const s = await stub();
      const t = await setup(s.url, 1);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      conn.sendRaw(JSON.stringify({ type: 'ack', ids: ['x'.repeat(1024 * 1024)] }));
      expect(await within(conn.closed, 5000, 'the client to close the connection')).toBe(1009);
      expect(await t.logs.nth('bad-frame', 1)).toMatchObject({ level: LEVEL.warn, errCode: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' });
      expect(pendingIds(t.outbox)).toEqual([resultId(1)]);
    });

    it('acks only ids in flight, ignoring the others with one warning per frame', async () => {
      const s = await stub();
      const t = await setup(s.url, 3);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 3));
      conn.send({ type: 'ack', ids: [resultId(1), 'never-sent-1', resultId(99), 'never-sent-2'] });
      await outboxHolds(t, range(2, 3));
      expect(t.logs.events('ack-unknown-ids', LEVEL.warn).map((l) => [l['unknownIds'], l['ackedIds']])).toEqual([[3, 1]]);
      // An id acked once is no longer in flight: acking it again does nothing.
      conn.send({ type: 'ack', ids: [resultId(1)] });
      await t.logs.nth('ack-unknown-ids', 2);
      conn.send({ type: 'ack', ids: range(2, 3) });
      await outboxHolds(t, []);
    });

    it('ignores an ack of ids never sent, before any batch', async () => {
      const s = await stub({ welcome: false });
      const t = await setup(s.url, 1);
      t.client.start();
      const conn = await s.connections.next('a connection');
      await conn.messages.next('hello');
      conn.send({ type: 'ack', ids: [resultId(1)] });
      await t.logs.nth('ack-unknown-ids', 1);
      expect(pendingIds(t.outbox)).toEqual([resultId(1)]);
    });

    it('dead-letters a rejected result in flight, and ignores a reject of any other id', async () => {
      const s = await stub();
      const t = await setup(s.url, 2);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 2));
      conn.send({ type: 'reject', id: resultId(7), code: 'SW_VALIDATION', message: 'not ours' });
      await t.logs.nth('reject-unknown-id', 1);
      expect(await readdir(t.dir)).not.toContain('dead-letter.jsonl');
      conn.send({ type: 'reject', id: resultId(1), code: 'SW_VALIDATION', message: 'download.mbps: expected a finite number >= 0, got -1' });
      await outboxHolds(t, [resultId(2)]);
      expect(t.outbox.stats.deadLettered).toBe(1);
      conn.send({ type: 'ack', ids: [resultId(2)] });
      await outboxHolds(t, []);
    });

    it('ignores message types it does not know, warning once per connection', async () => {
      const s = await stub();
      const t = await setup(s.url, 1);
      t.client.start();
      const conn = await welcomed(s, t.logs);
      expect(await nextResults(conn)).toEqual(range(1, 1));
      for (const type of ['suppress', 'suppress', 'maintenance']) conn.send({ type, anything: [1, { deep: null }] });
      await t.logs.nth('unknown-message', 3);
      expect(t.logs.events('unknown-message').map((l) => [l.level, l['type']])).toEqual([
        [LEVEL.warn, 'suppress'],
        [LEVEL.debug, 'suppress'],
        [LEVEL.debug, 'maintenance'],
      ]);
      expect(t.logs.events('bad-frame')).toEqual([]);
      conn.send({ type: 'ack', ids: [resultId(1)] });
      await outboxHolds(t, []);
    });

    it('treats a welcome with absurd limits as a bad frame and sends nothing until a good one', async () => {
      const s = await stub({ welcome: false });
      const t = await setup(s.url, 1);
      t.client.start();
      const conn = await s.connections.next('a connection');
      await conn.messages.next('hello');
      const welcome = { type: 'welcome', protocol: 1, agentId: 'stub-agent', serverTime: '2025-03-01T08:00:00.000Z' };
      conn.send({ ...welcome, limits: { maxFrameBytes: 1024 * 1024, maxBatch: 0, maxMessagesPerMinute: 120 } });
      conn.send({ ...welcome, limits: { maxFrameBytes: 1e12, maxBatch: 500, maxMessagesPerMinute: 120 } });
      await t.logs.nth('bad-frame', 2);
      expect(t.logs.events('bad-frame').map((l) => l['problem'])).toEqual([
        'welcome.limits.maxBatch: expected an integer >= 1 <= 10000, got 0',
        'welcome.limits.maxFrameBytes: expected an integer >= 1024 <= 67108864, got 1000000000000',
      ]);
      expect(t.client.state).toBe('connecting');
      conn.send({ ...welcome, limits: { maxFrameBytes: 1024 * 1024, maxBatch: 500, maxMessagesPerMinute: 120 } });
      expect(await nextResults(conn)).toEqual(range(1, 1));
    });
  });

  describe('connect problems', () => {
    it('logs a refused connection at warn once, with the URL and a hint, then at debug on each retry', async () => {
      const port = await closedPort();
      const t = await setup(`ws://127.0.0.1:${port}/v1/agents`);
      t.client.start();
      for (let i = 1; i <= 4; i++) {
        const line = await t.logs.nth('connect-failed', i);
        expect(line).toMatchObject({ cause: 'refused', errCode: 'ECONNREFUSED', url: `ws://127.0.0.1:${port}/v1/agents`, level: i === 1 ? LEVEL.warn : LEVEL.debug });
        await t.clock.advance(line['retryInMs'] as number);
      }
      expect(t.logs.events('connect-failed', LEVEL.warn)[0]?.msg).toMatch(/connection refused by 127\.0\.0\.1:\d+; nothing listens there/);
    });
  });
});
