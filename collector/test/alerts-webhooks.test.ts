/**
 * The collector's own alerts end to end in one process: a real collector on a temp SQLite file,
 * results through the real WebSocket ingest or the store, and a real HTTP receiver on 127.0.0.1
 * that records every POST. Only time and randomness are fakes: the collector's clock is a
 * number the test moves, and backoff sleeps advance it instead of waiting.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { AlertsReport } from '../src/alerts/alert-service.js';
import type { WebhookMessage } from '../src/alerts/webhook-payload.js';
import type { AlertsConfig, CollectorConfig } from '../src/config/collector-config.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import { storeResults as storeBatch } from './store-util.js';
import { connectAgent, makeResult } from './ingest-util.js';
import { freePort } from './util.js';
import { FakeClock, forMs as alertsUtilForMs, HOUR, MIN, NEVER, startAlertingCollector, tempDb } from './alerts-util.js';
import type { Running } from './alerts-util.js';

/** SpeedwatchSiteBelowTarget after an hour (its default) and the other rules never, unless overridden. */
function forMs(overrides: Partial<AlertsConfig['forMs']> = {}): AlertsConfig['forMs'] {
  return alertsUtilForMs({ siteBelowTarget: HOUR, ...overrides });
}

interface Receiver {
  url: string;
  port: number;
  posts: { path: string; body: WebhookMessage }[];
  /** The most POSTs that were being answered at once. */
  maxConcurrent: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 (port 0 unless given) answering POST n with `reply(n)`; closed after the test. */
async function startReceiver(options: { port?: number; reply?: (index: number) => { status: number; delayMs?: number } } = {}): Promise<Receiver> {
  const reply: (index: number) => { status: number; delayMs?: number } = options.reply ?? (() => ({ status: 200 }));
  let inFlight = 0;
  const receiver: Receiver = {
    url: '',
    port: 0,
    posts: [],
    maxConcurrent: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    receiver.maxConcurrent = Math.max(receiver.maxConcurrent, inFlight);
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const index = receiver.posts.length;
      receiver.posts.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(parts).toString('utf8')) as WebhookMessage });
      const { status, delayMs = 0 } = reply(index);
      setTimeout(() => {
        inFlight--;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : `failure ${status}`);
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/hook`;
  onTestFinished(() => receiver.close());
  return receiver;
}

/** A collector on `dbPath` with the fake clock, forMs() and backoff jitter 0.123; 3 tests make a verdict; closed after the test. */
async function start(dbPath: string, clock: FakeClock, alerts: Partial<AlertsConfig>, extra: Partial<CollectorConfig> = {}): Promise<Running> {
  return startAlertingCollector(dbPath, clock, { forMs: forMs(), ...alerts }, { extra, random: 0.123 });
}

function addAgent(running: Pick<Running, 'store' | 'collector'>, id: string, technology: 'fixed' | 'mobile', now: number): string {
  const token = newToken();
  running.store.agents.add({ id, name: `Trạm Y tế ${id}`, siteKind: 'clinic', technology, isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc' }, hashToken(token), now);
  void running.collector.refreshAgents(); // SQLite: reloaded before this turn ends
  return token;
}

/** Stores results with these downloads, started a minute apart before `now`. */
function storeResults(store: SqliteStore, agentId: string, downloads: readonly number[], now: number, technology: 'fixed' | 'mobile' = 'mobile'): void {
  const results = downloads.map((mbps, i) => {
    const startedAt = new Date(now - (i + 1) * MIN).toISOString();
    return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(), technology }, mbps);
  });
  storeBatch(store, agentId, results, now);
}

async function getAlerts(collector: RunningCollector, query = '', headers: Record<string, string> = {}): Promise<{ status: number; body: AlertsReport }> {
  const res = await fetch(`${collector.url}api/v1/alerts${query}`, { headers });
  return { status: res.status, body: (await res.json()) as AlertsReport };
}

/** Evaluates after a maintenance (verdicts) at the clock's time. */
async function evaluate(collector: RunningCollector): Promise<void> {
  await collector.maintain();
  await collector.alerts.evaluate();
}

describe("the collector's own alerts", () => {
  it('fires once for a site below target fed through ingest, not again on re-evaluation, and resolves after good results', async () => {
    const clock = new FakeClock();
    const receiver = await startReceiver();
    const { collector, store } = await start(tempDb(), clock, { webhooks: [receiver.url] });
    const token = addAgent({ store, collector }, 'clinic-1', 'mobile', clock.now());
    const agent = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    onTestFinished(() => agent.ws.terminate());
    await agent.hello();
    const send = async (downloads: number[]): Promise<void> => {
      const results = downloads.map((mbps, i) => {
        const startedAt = new Date(clock.now() - (i + 1) * MIN).toISOString();
        return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(), technology: 'mobile' }, mbps);
      });
      agent.send({ type: 'results', results });
      expect((await agent.next('ack'))['ids']).toHaveLength(downloads.length);
    };

    // Three tests at 30 Mbps: the 24 h median, 30, is under mobile's 42 Mbps.
    await send([30, 30, 30]);
    await evaluate(collector);
    let listed = await getAlerts(collector);
    // The area's group alert is pending too (its for is a week here): look at the site's.
    const site = (report: AlertsReport): AlertsReport['alerts'] => report.alerts.filter((a) => a.alertname === 'SpeedwatchSiteBelowTarget');
    expect(site(listed.body)).toMatchObject([{ state: 'pending', startsAt: null, labels: { agent_id: 'clinic-1' } }]);
    expect(receiver.posts).toEqual([]); // pending is not notified

    clock.ms += HOUR; // the rule's for
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(1);
    const firing = receiver.posts[0]?.body as WebhookMessage;
    expect(firing).toMatchObject({ version: '4', status: 'firing', receiver: 'speedwatch-collector', groupLabels: { alertname: 'SpeedwatchSiteBelowTarget' }, externalURL: collector.url });
    expect(firing.alerts).toHaveLength(1);
    expect(firing.alerts[0]).toMatchObject({
      status: 'firing',
      labels: { alertname: 'SpeedwatchSiteBelowTarget', agent_id: 'clinic-1', technology: 'mobile', site_kind: 'clinic', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc', severity: 'warning' },
      startsAt: new Date(clock.now()).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: `${collector.url}api/v1/alerts`,
    });
    expect(firing.alerts[0]?.annotations['description']).toContain('the median download was 30.0 Mbps over 3 tests, under the mobile target of 42.0 Mbps');
    expect(firing.alerts[0]?.fingerprint).toMatch(/^[0-9a-f]{16}$/);

    for (let i = 0; i < 3; i++) {
      clock.ms += MIN;
      await evaluate(collector);
    }
    expect(receiver.posts).toHaveLength(1); // no duplicate for an unchanged state
    listed = await getAlerts(collector, '?state=firing');
    expect(listed.status).toBe(200);
    expect(listed.body.alerts).toMatchObject([{ state: 'firing', fingerprint: firing.alerts[0]?.fingerprint, startsAt: firing.alerts[0]?.startsAt }]);
    expect(listed.body.webhooks).toEqual([{ id: expect.stringMatching(/^[0-9a-f]{16}$/), url: `http://127.0.0.1:${receiver.port}/…`, undelivered: 0, lastError: null }]);

    // Four tests at 60 Mbps: the median of 30, 30, 30, 60, 60, 60, 60 is 60, above 42.
    await send([60, 60, 60, 60]);
    clock.ms += MIN;
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(2);
    expect(receiver.posts[1]?.body).toMatchObject({ status: 'resolved' });
    expect(receiver.posts[1]?.body.alerts).toMatchObject([
      { status: 'resolved', fingerprint: firing.alerts[0]?.fingerprint, startsAt: firing.alerts[0]?.startsAt, endsAt: new Date(clock.now()).toISOString() },
    ]);
    expect((await getAlerts(collector)).body.alerts).toEqual([]);
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(2);
  });

  it('retries a receiver that answers 500 twice, with exponential backoff, and marks the notification delivered on the 200', async () => {
    const clock = new FakeClock();
    const receiver = await startReceiver({ reply: (n) => ({ status: n < 2 ? 500 : 200 }) });
    const { collector, store } = await start(tempDb(), clock, { webhooks: [receiver.url], forMs: forMs({ siteBelowTarget: 0 }) });
    addAgent({ store, collector }, 'clinic-1', 'mobile', clock.now());
    storeResults(store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(3);
    expect(new Set(receiver.posts.map((p) => JSON.stringify(p.body))).size).toBe(1); // the same message each time
    // backoff 1 s doubling, equal jitter with random 0.123: 500 + 0.123 × 500 (561.5, rounded), then 1000 + 0.123 × 1000.
    expect(clock.sleeps).toEqual([562, 1123]);
    expect((await getAlerts(collector)).body.webhooks).toMatchObject([{ undelivered: 0, lastError: null }]);
    clock.ms += HOUR;
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(3);
  });

  it('keeps a notification the receiver never took, and delivers it once after a restart on the same database', async () => {
    const clock = new FakeClock();
    const dbPath = tempDb();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const alerts = { webhooks: [url], delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, attempts: 2 } };

    const first = await start(dbPath, clock, alerts);
    addAgent(first, 'clinic-1', 'mobile', clock.now());
    storeResults(first.store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(first.collector); // pending
    clock.ms += HOUR;
    await evaluate(first.collector); // fires; nothing listens
    expect(clock.sleeps).toEqual([562]); // two attempts, one backoff
    const before = await getAlerts(first.collector, '?state=firing');
    expect(before.body.alerts).toMatchObject([{ alertname: 'SpeedwatchSiteBelowTarget', state: 'firing' }]);
    expect(before.body.webhooks).toMatchObject([{ undelivered: 1, lastError: expect.stringMatching(/^SW_WEBHOOK_NETWORK: POST http:\/\/127\.0\.0\.1:\d+\/…: ECONNREFUSED/) }]);
    await first.close();

    const receiver = await startReceiver({ port });
    const second = await start(dbPath, clock, alerts);
    expect((await getAlerts(second.collector, '?state=firing')).body.alerts).toMatchObject([{ startsAt: before.body.alerts[0]?.startsAt }]);
    // Before its next attempt is due (1 to 2 s after two failures), nothing is sent.
    await evaluate(second.collector);
    expect(receiver.posts).toEqual([]);
    clock.ms += 10_000;
    await evaluate(second.collector);
    expect(receiver.posts).toHaveLength(1);
    expect(receiver.posts[0]?.body.alerts).toMatchObject([{ status: 'firing', startsAt: before.body.alerts[0]?.startsAt, fingerprint: before.body.alerts[0]?.fingerprint }]);
    await second.close();

    // A third start: the state is unchanged and was delivered, so nothing is sent again.
    const third = await start(dbPath, clock, alerts);
    clock.ms += MIN;
    await evaluate(third.collector);
    expect(receiver.posts).toHaveLength(1);
    expect((await getAlerts(third.collector)).body.webhooks).toMatchObject([{ undelivered: 0 }]);
  });

  it('keeps the for progress of a pending alert across a restart', async () => {
    const clock = new FakeClock();
    const dbPath = tempDb();
    const receiver = await startReceiver();
    const first = await start(dbPath, clock, { webhooks: [receiver.url] });
    addAgent(first, 'clinic-1', 'mobile', clock.now());
    storeResults(first.store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(first.collector);
    const pending = (await getAlerts(first.collector, '?state=pending')).body.alerts.find((a) => a.alertname === 'SpeedwatchSiteBelowTarget');
    const activeAt = pending?.activeAt;
    expect(activeAt).toBe(new Date(clock.now()).toISOString());
    await first.close();

    clock.ms += HOUR; // an hour after it was first seen: the for has passed
    const second = await start(dbPath, clock, { webhooks: [receiver.url] });
    await evaluate(second.collector);
    expect((await getAlerts(second.collector, '?state=firing')).body.alerts).toMatchObject([{ alertname: 'SpeedwatchSiteBelowTarget', activeAt }]);
    expect(receiver.posts).toHaveLength(1);
  });

  it('never has more POSTs in flight than delivery.concurrency', async () => {
    const clock = new FakeClock();
    const receiver = await startReceiver({ reply: () => ({ status: 200, delayMs: 150 }) });
    const webhooks = [1, 2, 3, 4, 5, 6].map((n) => `${receiver.url}/${n}`);
    const { collector, store } = await start(tempDb(), clock, {
      webhooks,
      forMs: forMs({ siteBelowTarget: 0 }),
      delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, concurrency: 2 },
    });
    addAgent({ store, collector }, 'clinic-1', 'mobile', clock.now());
    storeResults(store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(collector);
    expect(receiver.posts.map((p) => p.path).sort()).toEqual(webhooks.map((w) => new URL(w).pathname).sort());
    expect(receiver.maxConcurrent).toBe(2);
  });

  it('sends a group of alerts with the same name in one POST, firing and resolved alike', async () => {
    const clock = new FakeClock();
    const receiver = await startReceiver();
    const { collector, store } = await start(tempDb(), clock, {
      webhooks: [receiver.url],
      forMs: forMs({ siteBelowTarget: NEVER, agentDisconnected: 0 }),
    });
    for (const id of ['a', 'b', 'c']) addAgent({ store, collector }, id, 'fixed', clock.now());
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(1);
    expect(receiver.posts[0]?.body).toMatchObject({ status: 'firing', commonLabels: { alertname: 'SpeedwatchAgentDisconnected', severity: 'info', site_kind: 'clinic' } });
    expect(receiver.posts[0]?.body.alerts.map((a) => a.labels['agent_id'])).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    store.agents.revoke('b', clock.now()); // leaves every rule: its alert resolves
    await collector.refreshAgents();
    clock.ms += MIN;
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(2);
    expect(receiver.posts[1]?.body).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', labels: { agent_id: 'b' } }] });
  });

  it('waits for a later round after a 4xx, and after a timeout', async () => {
    const clock = new FakeClock();
    const receiver = await startReceiver({ reply: (n) => (n === 0 ? { status: 400 } : n === 1 ? { status: 200, delayMs: 1000 } : { status: 200 }) });
    const { collector, store } = await start(tempDb(), clock, {
      webhooks: [receiver.url],
      forMs: forMs({ siteBelowTarget: 0 }),
      delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, timeoutMs: 200, attempts: 1 },
    });
    addAgent({ store, collector }, 'clinic-1', 'mobile', clock.now());
    storeResults(store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(1);
    expect((await getAlerts(collector)).body.webhooks).toMatchObject([{ undelivered: 1, lastError: 'SW_WEBHOOK_STATUS: POST http://127.0.0.1:' + receiver.port + '/…: HTTP 400: failure 400' }]);
    clock.ms += MIN;
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(2);
    expect((await getAlerts(collector)).body.webhooks).toMatchObject([{ undelivered: 1, lastError: expect.stringMatching(/^SW_WEBHOOK_TIMEOUT: .*no answer within 200 ms/) }]);
    clock.ms += MIN;
    await evaluate(collector);
    expect(receiver.posts).toHaveLength(3);
    expect((await getAlerts(collector)).body.webhooks).toMatchObject([{ undelivered: 0, lastError: null }]);
  });

  it('evaluates and lists alerts without webhooks, posting nothing', async () => {
    const clock = new FakeClock();
    const { collector, store } = await start(tempDb(), clock, { webhooks: [], forMs: forMs({ siteBelowTarget: 0 }) });
    addAgent({ store, collector }, 'clinic-1', 'mobile', clock.now());
    storeResults(store, 'clinic-1', [20, 25, 30], clock.now());
    await evaluate(collector);
    const { body } = await getAlerts(collector, '?state=firing');
    expect(body.alerts).toMatchObject([{ alertname: 'SpeedwatchSiteBelowTarget', state: 'firing', value: 25 }]);
    expect(body.webhooks).toEqual([]);
    expect(body.evaluatedAt).toBe(new Date(clock.now()).toISOString());
  });

  it('serves /api/v1/alerts with the same read token as the rest of the API, and checks its parameters', async () => {
    const clock = new FakeClock();
    const readToken = 'a-long-read-token-0123456789';
    const { collector } = await start(tempDb(), clock, {}, { readToken });
    expect((await getAlerts(collector)).status).toBe(401);
    expect((await getAlerts(collector, '', { authorization: `Bearer ${readToken}` })).status).toBe(200);
    const bad = await getAlerts(collector, '?state=resolved', { authorization: `Bearer ${readToken}` });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'SW_BAD_PARAMETER', parameter: 'state' } });
  });

  it('lists where each notification went at /api/v1/alerts/deliveries: delivered or failed, attempts and error, webhooks by host only', async () => {
    const clock = new FakeClock();
    const good = await startReceiver();
    const bad = await startReceiver({ reply: () => ({ status: 500 }) });
    // Paths and queries often carry a receiver's secret: they must appear nowhere in the answer.
    const goodUrl = `${good.url}/SECRET-PATH?token=s3cr3t-query`;
    const badUrl = `${bad.url}/SECRET-PATH-2`;
    const running = await start(tempDb(), clock, { webhooks: [goodUrl, badUrl], forMs: forMs({ agentDisconnected: 0 }), delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, attempts: 2 } });
    const { collector } = running;
    const token = addAgent(running, 'clinic-1', 'mobile', clock.now());
    await evaluate(collector);
    const deliveries = async (): Promise<{ text: string; body: any }> => {
      const text = await (await fetch(`${collector.url}api/v1/alerts/deliveries`)).text();
      return { text, body: JSON.parse(text) };
    };
    const [alert] = (await getAlerts(collector)).body.alerts;
    expect(alert).toMatchObject({ alertname: 'SpeedwatchAgentDisconnected', state: 'firing' });
    const first = await deliveries();
    expect(first.body.timeZone).toBe('Asia/Ho_Chi_Minh');
    const [goodId, badId] = first.body.routes.map((w: { id: string }) => w.id);
    // An entry of alerts.webhooks is a route of its own, named (as is its channel) by its URL's host only.
    expect(first.body.routes).toEqual([
      { id: goodId, name: `http://127.0.0.1:${good.port}/…`, channel: `http://127.0.0.1:${good.port}/…`, channelType: 'webhook', lang: 'en', quietHours: null, digestAt: null, heldUntil: null },
      { id: badId, name: `http://127.0.0.1:${bad.port}/…`, channel: `http://127.0.0.1:${bad.port}/…`, channelType: 'webhook', lang: 'en', quietHours: null, digestAt: null, heldUntil: null },
    ]);
    // Delivered during the round, whose retries of the bad webhook move the fake clock meanwhile.
    const at = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);
    expect(first.body.deliveries).toEqual(
      [
        { route: goodId, fingerprint: alert?.fingerprint, alertname: 'SpeedwatchAgentDisconnected', notified: 'firing', state: 'delivered', attempts: 1, lastError: null, deliveredAt: at, nextAttemptAt: null },
        {
          route: badId,
          fingerprint: alert?.fingerprint,
          alertname: 'SpeedwatchAgentDisconnected',
          notified: 'firing',
          state: 'failed',
          attempts: 2,
          lastError: `SW_WEBHOOK_STATUS: POST http://127.0.0.1:${bad.port}/…: HTTP 500: failure 500`,
          deliveredAt: null,
          nextAttemptAt: expect.stringMatching(/^\d{4}-/),
        },
      ].sort((a, b) => (a.route < b.route ? -1 : 1)),
    );
    expect(first.text).not.toMatch(/SECRET|s3cr3t/);
    expect(bad.posts).toHaveLength(2);

    // The box connects: the alert resolves; the good webhook hears it (its row goes), the bad one still fails.
    const client = await connectAgent(`${collector.url.replace(/^http/, 'ws')}v1/agents`, token);
    await client.hello();
    clock.ms += 10 * MIN;
    await evaluate(collector);
    client.ws.terminate();
    expect((await getAlerts(collector)).body.alerts).toEqual([]);
    expect(good.posts.map((p) => p.body.status)).toEqual(['firing', 'resolved']);
    expect((await deliveries()).body.deliveries).toMatchObject([{ route: badId, notified: 'resolved', state: 'failed', attempts: 2, deliveredAt: null }]);
  });
});
