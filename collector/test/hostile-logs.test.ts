/**
 * Secrets never reach the log. A collector whose every log line (debug and up) is captured is
 * driven through everything that handles a secret: agents connecting with their tokens; wrong,
 * near-miss, mis-schemed and revoked tokens; a token revoked, and one rotated, while connected;
 * the read token on the API and /metrics, right and wrong, and echoed back in parameters;
 * alert webhooks whose URLs carry credentials, a secret path and a secret query, delivered,
 * failing and unreachable; alert channels with their bot token, access token, topic token and
 * SMTP password, delivered, refused (401, Zalo's -216) and unreachable. Then no captured line
 * holds any 16 characters in a row of any of them, and neither do /api/v1/alerts and
 * /api/v1/alerts/deliveries (their `lastError` is a logged message). A configuration with
 * secrets in invalid values is refused without echoing them either.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createLogger } from '@speedwatch/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelConfig } from '../src/alerts/channels/channel-config.js';
import type { CollectorConfig } from '../src/config/collector-config.js';
import { Secret } from '../src/config/secret.js';
import { COLLECTOR_DEFAULTS, loadCollectorConfig } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { startCollector } from '../src/server/collector-server.js';
import { openStore } from '../src/store/sqlite-store.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import type { AgentClient } from './ingest-util.js';
import { connectAgent, makeResult } from './ingest-util.js';
import { fakeNtfy, fakeTelegram, fakeZalo } from './channel-servers.js';
import { freePort } from './util.js';

const DAY = 86_400_000;
/** Long enough that only SpeedwatchAgentDisconnected fires. */
const NEVER = 7 * DAY;
/** A window this long found in a log line is a leak. */
const WINDOW = 16;

const secret = (prefix: string): string => `${prefix}${randomBytes(12).toString('hex')}`;

/** Every secret the test hands the collector, by what it is. */
const secrets = new Map<string, string>();
const lines: string[] = [];
let store: SqliteStore;
let collector: RunningCollector;
let receiver: ReturnType<typeof createServer>;
const channelServers: { close(): Promise<void> }[] = [];
const clients: AgentClient[] = [];

function addAgent(id: string): string {
  const token = newToken();
  store.agents.add({ id, name: `Site ${id}`, siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc' }, hashToken(token), Date.now());
  secrets.set(`token of ${id}`, token);
  void collector.refreshAgents(); // SQLite: reloaded before this turn ends
  return token;
}

async function connect(token: string | undefined, path = 'v1/agents', headers: Record<string, string> = {}): Promise<AgentClient | number | undefined> {
  try {
    const url = `${collector.url.replace(/^http/, 'ws')}${path}`;
    const client = await (Object.keys(headers).length === 0 ? connectAgent(url, token) : connectWithHeaders(url, headers));
    clients.push(client);
    return client;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode;
  }
}

/** An upgrade with raw headers instead of a bearer token: it must be refused, so it never resolves. */
function connectWithHeaders(url: string, headers: Record<string, string>): Promise<never> {
  return new Promise((_resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
    ws.once('open', () => reject(new Error('connected without a bearer token')));
  });
}

async function get(path: string, authorization?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${collector.url}${path.replace(/^\//, '')}`, { headers: authorization === undefined ? {} : { authorization }, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-logs-'));
  const dbPath = join(dir, 'speedwatch.db');
  store = openStore(dbPath);
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url?.startsWith('/ok/') === true ? 200 : 500, { 'content-type': 'text/plain' }).end('receiver says no'));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  const closed = await freePort();
  for (const name of ['read token', 'webhook password', 'webhook user']) secrets.set(name, secret(name.replace(/\W/g, '-')));
  for (const n of [1, 2, 3, 4]) {
    secrets.set(`webhook ${n} path`, secret(`path${n}-`));
    secrets.set(`webhook ${n} query`, secret(`query${n}-`));
  }
  const s = (name: string): string => secrets.get(name) as string;
  const webhooks = [
    // fetch refuses credentials in a URL, quoting the URL in its error.
    `http://${s('webhook user')}:${s('webhook password')}@127.0.0.1:${port}/ok/${s('webhook 1 path')}?token=${s('webhook 1 query')}`,
    `http://127.0.0.1:${port}/fail/${s('webhook 2 path')}?token=${s('webhook 2 query')}`,
    `http://127.0.0.1:${closed}/hook/${s('webhook 3 path')}?key=${s('webhook 3 query')}`,
    `http://127.0.0.1:${port}/ok/${s('webhook 4 path')}?access_token=${s('webhook 4 query')}`,
  ];
  // Channels: for each, one whose secret the service takes, one it refuses, and one nobody listens for.
  for (const name of ['telegram token', 'wrong telegram token', 'zalo token', 'wrong zalo token', 'ntfy token', 'wrong ntfy token', 'smtp password']) {
    secrets.set(name, name.includes('telegram') ? `${String(Date.now()).slice(-9)}:${secret('AAE')}` : secret(name.replace(/\W/g, '-')));
  }
  const telegram = await fakeTelegram(s('telegram token'), ['-1001']);
  const zalo = await fakeZalo(s('zalo token'), ['4242']);
  const ntfy = await fakeNtfy(s('ntfy token'), ['boxes']);
  channelServers.push(telegram, zalo, ntfy);
  const channels: ChannelConfig[] = [
    { type: 'telegram', name: 'tg-ok', baseUrl: telegram.baseUrl, token: new Secret(s('telegram token'), 'env A'), chatId: '-1001' },
    { type: 'telegram', name: 'tg-refused', baseUrl: telegram.baseUrl, token: new Secret(s('wrong telegram token'), 'env B'), chatId: '-1001' },
    { type: 'telegram', name: 'tg-unreachable', baseUrl: `http://127.0.0.1:${closed}`, token: new Secret(s('telegram token'), 'env A'), chatId: '-1001' },
    { type: 'zalo', name: 'zalo-ok', baseUrl: zalo.baseUrl, accessToken: new Secret(s('zalo token'), 'env C'), userId: '4242' },
    { type: 'zalo', name: 'zalo-refused', baseUrl: zalo.baseUrl, accessToken: new Secret(s('wrong zalo token'), 'env D'), userId: '4242' },
    { type: 'ntfy', name: 'ntfy-ok', baseUrl: ntfy.baseUrl, topic: 'boxes', token: new Secret(s('ntfy token'), 'env E') },
    { type: 'ntfy', name: 'ntfy-refused', baseUrl: ntfy.baseUrl, topic: 'boxes', token: new Secret(s('wrong ntfy token'), 'env F') },
    { type: 'email', name: 'mail-unreachable', smtp: { host: '127.0.0.1', port: closed, security: 'starttls', user: 'alerts@example.org', password: new Secret(s('smtp password'), 'file /run/smtp') }, from: 'alerts@example.org', to: ['it@example.org'] },
  ];
  const config: CollectorConfig = {
    ...COLLECTOR_DEFAULTS,
    port: 0,
    db: dbPath,
    heartbeatMs: 200,
    readToken: s('read token'),
    logLevel: 'debug',
    alerts: {
      ...COLLECTOR_DEFAULTS.alerts,
      webhooks,
      channels,
      routes: channels.map((c) => ({ name: `to-${c.name}`, channel: c.name, match: {}, lang: 'vi' as const })),
      evaluateIntervalMs: DAY,
      forMs: { siteBelowTarget: NEVER, groupBelowTarget: NEVER, agentSilent: NEVER, agentDisconnected: 0, collectorRejecting: NEVER, agentDiskLow: NEVER, agentTestsFailing: NEVER, siteUdpLossHigh: NEVER, siteUdpJitterHigh: NEVER, siteUdpRoundTripHigh: NEVER },
      delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, attempts: 2, backoffMs: 10, maxBackoffMs: 10, timeoutMs: 2_000 },
    },
  };
  collector = await startCollector(config, {
    store: sqliteCollectorStore(store),
    logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
    // Retries without waiting.
    alertClock: { now: () => Date.now(), sleep: () => Promise.resolve() },
  });
});

afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await collector?.close();
  for (const server of channelServers) await server.close();
  store?.close();
  await new Promise<void>((resolve) => (receiver === undefined ? resolve() : receiver.close(() => resolve())));
});

describe('secrets in logs', () => {
  it('logs no token, read token, webhook or channel secret, whatever agents, API clients, webhooks and channels do', async () => {
    // A well-behaved agent.
    const school = (await connect(addAgent('school-1'))) as AgentClient;
    await school.hello();
    const result = makeResult();
    school.send({ type: 'results', results: [result] });
    expect((await school.next('ack'))['ids']).toEqual([result.id]);

    // A token revoked while connected: closed with 4001, then refused.
    const clinicToken = addAgent('clinic-1');
    const clinic = (await connect(clinicToken)) as AgentClient;
    await clinic.hello();
    store.agents.revoke('clinic-1', Date.now());
    expect(await clinic.closed).toMatchObject({ code: 4001 });
    expect(await connect(clinicToken)).toBe(401);

    // A token rotated while connected: the old one is closed and refused, the new one works.
    const oldToken = addAgent('office-1');
    const office = (await connect(oldToken)) as AgentClient;
    await office.hello();
    const rotated = newToken();
    secrets.set('rotated token of office-1', rotated);
    store.agents.rotate('office-1', hashToken(rotated));
    expect(await office.closed).toMatchObject({ code: 4001 });
    expect(await connect(oldToken)).toBe(401);
    const officeAgain = (await connect(rotated)) as AgentClient;
    await officeAgain.hello();
    officeAgain.ws.close();

    // Wrong tokens: made up, one character off, in the wrong scheme or place. Each is a
    // secret too: a near miss is usually a real token mistyped.
    const schoolToken = secrets.get('token of school-1') as string;
    const wrong = [newToken(), newToken(), `${schoolToken.slice(0, -1)}${schoolToken.endsWith('A') ? 'B' : 'A'}`, schoolToken.toUpperCase()];
    wrong.forEach((token, i) => secrets.set(`wrong token ${i}`, token));
    for (const token of wrong) expect([401, 429]).toContain(await connect(token));
    expect([401, 429]).toContain(await connect(undefined, 'v1/agents', { authorization: `Basic ${Buffer.from(`school-1:${schoolToken}`).toString('base64')}` }));
    expect([401, 429]).toContain(await connect(undefined, `v1/agents?token=${schoolToken}`, { 'x-token': schoolToken }));

    // The read token: right, wrong, and echoed back in parameters and paths.
    const readToken = secrets.get('read token') as string;
    expect((await get('/api/v1/agents', `Bearer ${readToken}`)).status).toBe(200);
    expect((await get('/metrics', `Bearer ${readToken}`)).status).toBe(200);
    const wrongRead = `${readToken.slice(0, -1)}x`;
    secrets.set('wrong read token', wrongRead);
    for (const authorization of [`Bearer ${wrongRead}`, `Basic ${readToken}`, readToken, `Bearer ${schoolToken}`]) {
      expect((await get('/api/v1/results', authorization)).status).toBe(401);
      expect((await get('/metrics', authorization)).status).toBe(401);
    }
    expect((await get(`/api/v1/results?token=${readToken}`)).status).toBe(401);
    expect((await get(`/api/v1/results?token=${readToken}`, `Bearer ${readToken}`)).status).toBe(400);
    expect((await get(`/api/v1/results?agent=${schoolToken}`, `Bearer ${readToken}`)).status).toBe(400);
    expect((await get(`/api/v1/series?agent=school-1&metric=${readToken}`, `Bearer ${readToken}`)).status).toBe(400);
    expect((await get(`/${readToken}`, `Bearer ${readToken}`)).status).toBe(404);

    // Alerts: SpeedwatchAgentDisconnected fires for the agents not connected; each webhook is
    // tried: refused by fetch (credentials), 500 twice, connection refused, delivered.
    await collector.alerts.evaluate();
    const alerts = await get('/api/v1/alerts', `Bearer ${readToken}`);
    expect(alerts.status).toBe(200);
    const report = JSON.parse(alerts.text) as { webhooks: { undelivered: number; lastError: string | null }[]; routes: { name: string; undelivered: number; lastError: string | null }[] };
    expect(report.webhooks.map((w) => w.undelivered > 0)).toEqual([true, true, true, false]);
    expect(report.routes.slice(4).map((r) => [r.name, r.undelivered > 0, r.lastError?.split(':')[0] ?? null])).toEqual([
      ['to-tg-ok', false, null],
      ['to-tg-refused', true, 'SW_CHANNEL_AUTH'],
      ['to-tg-unreachable', true, 'SW_CHANNEL_NETWORK'],
      ['to-zalo-ok', false, null],
      ['to-zalo-refused', true, 'SW_CHANNEL_AUTH'],
      ['to-ntfy-ok', false, null],
      ['to-ntfy-refused', true, 'SW_CHANNEL_AUTH'],
      ['to-mail-unreachable', true, 'SW_CHANNEL_NETWORK'],
    ]);
    const deliveries = await get('/api/v1/alerts/deliveries', `Bearer ${readToken}`);
    expect(deliveries.status).toBe(200);

    // The log saw all of it (so that its silence about secrets means something)…
    const events = new Set(lines.map((line) => (JSON.parse(line) as { event?: string }).event));
    for (const event of ['connected', 'hello', 'unauthorized', 'token-revoked', 'notification-retry', 'notification-failed', 'notification-delivered']) expect(events).toContain(event);
    expect(lines.some((line) => line.includes('includes credentials'))).toBe(true);
    for (const type of ['webhook', 'telegram', 'zalo', 'ntfy', 'email']) expect(lines.some((line) => line.includes(`"channelType":"${type}"`)), type).toBe(true);
    // …and no 16 characters in a row of any secret, nor of the API's report of webhooks and routes.
    const log = lines.join('');
    for (const [name, value] of secrets) {
      for (const text of [value, encodeURIComponent(value), Buffer.from(value).toString('base64')]) {
        for (let i = 0; i + WINDOW <= text.length; i++) {
          const piece = text.slice(i, i + WINDOW);
          expect(log.includes(piece), `${name}: "${piece}" in the log`).toBe(false);
          expect(alerts.text.includes(piece), `${name}: "${piece}" in /api/v1/alerts`).toBe(false);
          expect(deliveries.text.includes(piece), `${name}: "${piece}" in /api/v1/alerts/deliveries`).toBe(false);
        }
      }
    }
  });

  it('refuses a configuration with secrets in invalid values without echoing them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-logs-config-'));
    const short = secret('short-').slice(0, 15); // one character too short to be a read token
    const password = secret('pw-');
    const file = join(dir, 'collector.yaml');
    const token = secret('inline-token-');
    writeFileSync(
      file,
      [
        'alerts:',
        '  webhooks:',
        `    - "ftp://u:${password}@example.com/x"`,
        `    - "http://u:${password}@example.com/hook"`,
        '  channels:',
        `    - { name: tg, type: telegram, token: "${token}", chatId: "-1" }`,
        `    - { name: mail, type: email, smtp: { host: smtp.example.org, user: u, password: "${password}" }, from: a@example.org, to: b@example.org }`,
        `    - { name: gw, type: ntfy, topic: t, baseUrl: "https://u:${password}@ntfy.example.org" }`,
        '',
      ].join('\n'),
    );
    let message = '';
    try {
      loadCollectorConfig({ file, env: { SPEEDWATCH_READ_TOKEN: short } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/readToken/);
    expect(message).toMatch(/alerts\.webhooks\[0\]/);
    expect(message).toMatch(/alerts\.channels\[0\]\.token: give the secret as \{file: PATH\} or \{env: NAME\}/);
    expect(message).toMatch(/alerts\.channels\[1\]\.smtp\.password/);
    expect(message).toMatch(/alerts\.channels\[2\]\.baseUrl/);
    expect(message).not.toContain(short);
    expect(message).not.toContain(password);
    expect(message).not.toContain(token);
  });
});
