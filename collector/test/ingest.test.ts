/**
 * Ingest with real WebSocket clients on loopback and a real SQLite file: authentication, and
 * a matrix of bad input where each case gets its documented answer, its counter moves, the
 * process stays up and a well-behaved agent's results are all stored meanwhile.
 */
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentClient, TestCollector } from './ingest-util.js';
import { connectAgent, makeResult, scrapeValue, startTestCollector } from './ingest-util.js';
import { latestStored } from './store-util.js';

let t: TestCollector;
const clients: AgentClient[] = [];

beforeEach(async () => {
  t = await startTestCollector({ limits: { maxFrameBytes: 64 * 1024, maxBatch: 20, maxMessagesPerMinute: 120 } });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await t.close();
});

async function agent(id: string): Promise<AgentClient> {
  const client = await connectAgent(t.wsUrl, t.addAgent(id));
  clients.push(client);
  await client.hello();
  return client;
}

async function statusOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode;
  }
  return undefined;
}

describe('ingest', () => {
  describe('authentication', () => {
    it('refuses an upgrade without a token, with a wrong token and with a revoked token: HTTP 401, no WebSocket', async () => {
      const token = t.addAgent('school-1');
      expect(await statusOf(connectAgent(t.wsUrl, undefined))).toBe(401);
      expect(await statusOf(connectAgent(t.wsUrl, 'swa_thisIsNotARealTokenAtAll'))).toBe(401);
      t.store.agents.revoke('school-1', Date.now());
      await t.collector.refreshAgents();
      expect(await statusOf(connectAgent(t.wsUrl, token))).toBe(401);
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="unauthorized"}')).toBe(3);
    });

    it('limits token guessing per address: after 10 failures, 429 with Retry-After before any token is checked', async () => {
      const token = t.addAgent('school-4');
      for (let i = 0; i < 10; i++) expect(await statusOf(connectAgent(t.wsUrl, `swa_guess${i}`))).toBe(401);
      const refused = await new Promise<{ status: number | undefined; retryAfter: string | undefined }>((resolve) => {
        // ws rejects with the status only; read the headers off the raw upgrade response.
        const req = http.get(t.wsUrl.replace(/^ws/, 'http'), { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', authorization: 'Bearer swa_guess10' } });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'] });
        });
      });
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      // The address is refused whatever it sends, a valid token included, until the bucket refills.
      expect(await statusOf(connectAgent(t.wsUrl, token))).toBe(429);
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="unauthorized"}')).toBe(10);
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="auth_rate_limited"}')).toBe(2);
    });

    it('answers 404 for a WebSocket at another path', async () => {
      const token = t.addAgent('school-1');
      expect(await statusOf(connectAgent(t.wsUrl.replace('/v1/agents', '/v2/agents'), token))).toBe(404);
    });

    it('takes identity from the token: welcome names the agent and results are stored under it', async () => {
      const client = await agent('clinic-7');
      const result = makeResult();
      client.send({ type: 'results', results: [result] });
      expect((await client.next('ack'))['ids']).toEqual([result.id]);
      expect(latestStored(t.store, 'clinic-7')?.id).toBe(result.id);
    });

    it('closes a connection with 4001 within a heartbeat of its token being revoked', async () => {
      const client = await agent('school-2');
      t.store.agents.revoke('school-2', Date.now());
      const closed = await Promise.race([client.closed, new Promise((r) => setTimeout(() => r('timeout'), 2000))]);
      expect(closed).toMatchObject({ code: 4001 });
    });

    it('replaces an older connection of the same agent with 4003', async () => {
      const token = t.addAgent('school-3');
      const first = await connectAgent(t.wsUrl, token);
      clients.push(first);
      const second = await connectAgent(t.wsUrl, token);
      clients.push(second);
      expect(await first.closed).toMatchObject({ code: 4003 });
      await second.hello();
    });
  });

  describe('bad input', () => {
    // Each row: what the misbehaving agent sends, the answer it must get, the counter reason.
    const cases: [string, (c: AgentClient) => void, { type: string; code: string; id?: 'first' }, string][] = [
      ['not JSON', (c) => c.send('{"type":'), { type: 'error', code: 'SW_PROTOCOL_JSON' }, 'json'],
      ['a binary frame', (c) => c.ws.send(Buffer.from([1, 2, 3])), { type: 'error', code: 'SW_PROTOCOL_BINARY' }, 'binary'],
      ['an unknown message type', (c) => c.send({ type: 'gossip' }), { type: 'error', code: 'SW_PROTOCOL_MESSAGE' }, 'message'],
      ['results of the wrong type', (c) => c.send({ type: 'results', results: 'many' }), { type: 'error', code: 'SW_PROTOCOL_MESSAGE' }, 'message'],
      ['an oversized batch', (c) => c.send({ type: 'results', results: Array.from({ length: 21 }, () => makeResult()) }), { type: 'error', code: 'SW_BATCH_TOO_LARGE' }, 'batch_too_large'],
      ['a result missing a field', (c) => c.send({ type: 'results', results: [{ ...makeResult(), status: undefined }] }), { type: 'reject', code: 'SW_VALIDATION' }, 'validation'],
      ['a result with a wrong type', (c) => c.send({ type: 'results', results: [{ ...makeResult(), download: { ...makeResult().download, mbps: 'fast' } }] }), { type: 'reject', code: 'SW_VALIDATION' }, 'validation'],
      ['a result from the far future', (c) => c.send({ type: 'results', results: [makeResult({ startedAt: '2099-01-01T00:00:00.000Z', finishedAt: '2099-01-01T00:00:25.000Z' })] }), { type: 'reject', code: 'SW_TIMESTAMP' }, 'timestamp'],
      ['a result from 1971', (c) => c.send({ type: 'results', results: [makeResult({ startedAt: '1971-01-01T00:00:00.000Z', finishedAt: '1971-01-01T00:00:25.000Z' })] }), { type: 'reject', code: 'SW_TIMESTAMP' }, 'timestamp'],
    ];

    it.each(cases)('answers %s as documented, counts it, and stores nothing from it', async (_name, misbehave, expected, reason) => {
      const bad = await agent('bad-agent');
      const before = await scrapeValue(t.collector.url, `speedwatch_collector_rejected_total{reason="${reason}"}`);
      misbehave(bad);
      const answer = await bad.next(expected.type);
      expect(answer).toMatchObject({ code: expected.code });
      expect(typeof answer['message']).toBe('string');
      expect(await scrapeValue(t.collector.url, `speedwatch_collector_rejected_total{reason="${reason}"}`)).toBe(before + 1);
      expect(latestStored(t.store, 'bad-agent')).toBeUndefined();
      // The connection survives and still works.
      const good = makeResult();
      bad.send({ type: 'results', results: [good] });
      expect((await bad.next('ack'))['ids']).toEqual([good.id]);
    });

    it('names the missing field in the reject message', async () => {
      const bad = await agent('bad-agent');
      const result = { ...makeResult(), status: undefined };
      bad.send({ type: 'results', results: [result] });
      const reject = await bad.next('reject');
      expect(reject).toMatchObject({ id: result.id, code: 'SW_VALIDATION' });
      expect(reject['message']).toMatch(/^status: expected one of "ok", "partial", "failed" \(required\)/);
    });

    it('answers results before hello with SW_HELLO_REQUIRED', async () => {
      const client = await connectAgent(t.wsUrl, t.addAgent('eager'));
      clients.push(client);
      client.send({ type: 'results', results: [makeResult()] });
      expect(await client.next('error')).toMatchObject({ code: 'SW_HELLO_REQUIRED' });
    });

    it('rejects the second of two results with one id in a batch, and stores the first once', async () => {
      const client = await agent('dup');
      const result = makeResult();
      client.send({ type: 'results', results: [result, { ...result }] });
      expect(await client.next('reject')).toMatchObject({ id: result.id, code: 'SW_DUPLICATE_ID' });
      expect((await client.next('ack'))['ids']).toEqual([result.id]);
      expect(t.store.results.page({ agentId: 'dup', limit: 10 }).results).toHaveLength(1);
    });

    it('acks a re-sent result again without storing it twice', async () => {
      const client = await agent('resend');
      const result = makeResult();
      client.send({ type: 'results', results: [result] });
      await client.next('ack');
      client.send({ type: 'results', results: [result] });
      expect((await client.next('ack'))['ids']).toEqual([result.id]);
      expect(t.store.results.page({ agentId: 'resend', limit: 10 }).results).toHaveLength(1);
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_ingested_results_total')).toBe(1);
    });

    it('closes a frame over maxFrameBytes with 1009 and counts it', async () => {
      const client = await agent('big');
      client.send({ type: 'results', results: [{ ...makeResult(), padding: 'x'.repeat(70_000) }] });
      expect(await client.closed).toMatchObject({ code: 1009 });
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="frame_too_large"}')).toBe(1);
    });

    it('drops a flood past the rate limit with SW_RATE_LIMITED, then closes it with 1008', async () => {
      const client = await agent('flood');
      for (let i = 0; i < 200; i++) client.send({ type: 'gossip' });
      expect(await client.next('error')).toMatchObject({ code: 'SW_PROTOCOL_MESSAGE' });
      expect(await client.closed).toMatchObject({ code: 1008 });
      expect(await scrapeValue(t.collector.url, 'speedwatch_collector_rejected_total{reason="rate_limited"}')).toBeGreaterThanOrEqual(20);
    });

    it('stores every result of a well-behaved agent while others misbehave, and stays up', async () => {
      const good = await agent('good');
      const bad = await agent('bad');
      const sent: string[] = [];
      const acked: string[] = [];
      for (let round = 0; round < 10; round++) {
        bad.send('not json');
        bad.send({ type: 'results', results: [{ id: 'x' }] });
        const batch = [makeResult(), makeResult()];
        sent.push(...batch.map((r) => r.id));
        good.send({ type: 'results', results: batch });
        acked.push(...((await good.next('ack'))['ids'] as string[]));
      }
      expect(acked.sort()).toEqual([...sent].sort());
      expect(t.store.results.page({ agentId: 'good', limit: 100 }).results.map((r) => r.id).sort()).toEqual([...sent].sort());
      expect((await fetch(`${t.collector.url}healthz`)).status).toBe(200);
    });
  });
});
