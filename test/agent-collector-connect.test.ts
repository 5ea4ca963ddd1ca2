/**
 * What the agent's collector client logs when it cannot connect: for each cause (a closed port,
 * a name under .invalid, a self-signed certificate, an HTTP 404 to the upgrade, a server that
 * never answers), exactly one warn line with the URL, a stable `cause` and a hint, however many
 * retries follow (those log at debug), and one more warn line each time the cause changes.
 * Real sockets on loopback, the real clock, a backoff of a few milliseconds.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CollectorClient, Outbox } from '@speedwatch/agent';
import type { CollectorClientOptions } from '@speedwatch/agent';
import { AGENTS_PATH, createLogger } from '@speedwatch/shared';
import { freePort, listen, selfSignedCertificate } from './support/net.js';

const TOKEN = 'swa_connect-test-token';
const WARN = 40;
const DEBUG = 20;

type LogLine = { level: number; msg: string; event?: string } & Record<string, unknown>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});


/** An HTTP server answering every WebSocket upgrade with `status()` (asked afresh each time). */
async function refusingServer(status: () => number): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(status()).end());
  server.on('upgrade', (_req, socket: net.Socket) => {
    const code = status();
    socket.end(`HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  const listening = await listen(server);
  cleanups.push(listening.close);
  return listening;
}

/**
 * Runs a client of `url` until it has logged `attempts` failed connections (each a
 * `connect-failed` line at warn or debug), then stops it; returns its log. `onFailure(n)` runs
 * after the n-th failure, before the retry.
 */
async function failures(url: string, attempts: number, onFailure: (n: number) => Promise<void> | void = () => {}, options: Partial<CollectorClientOptions> = {}): Promise<LogLine[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sw-connect-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const outbox = await Outbox.open({ dir, logger: createLogger({ level: 'silent' }), fsyncDir: false });
  cleanups.push(() => outbox.close());
  const lines: LogLine[] = [];
  let failed = 0;
  let done!: () => void;
  let broken!: (err: unknown) => void;
  const enough = new Promise<void>((resolve, reject) => {
    done = resolve;
    broken = reject;
  });
  const client = new CollectorClient({
    url,
    token: TOKEN,
    queue: outbox,
    hello: () => ({ type: 'hello', protocol: 1, agent: { version: '0.1.0' } }),
    logger: createLogger({
      level: 'debug',
      write: (text) => {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.event !== 'connect-failed') return;
        failed++;
        Promise.resolve(onFailure(failed)).then(() => (failed >= attempts ? done() : undefined), broken);
      },
    }),
    backoffInitialMs: 5,
    backoffMaxMs: 20,
    connectTimeoutMs: 5000,
    onFatal: broken,
    ...options,
  });
  cleanups.push(() => client.stop());
  client.start();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${failed} of ${attempts} failed connections within 15 s; log:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)), 15_000);
  });
  try {
    await Promise.race([enough, timeout]);
  } finally {
    clearTimeout(timer);
    await client.stop();
  }
  expect(JSON.stringify(lines)).not.toContain(TOKEN);
  return lines;
}

function warnings(lines: LogLine[]): LogLine[] {
  return lines.filter((l) => l.event === 'connect-failed' && l.level === WARN);
}

describe('the collector client, when it cannot connect', () => {
  it('logs a refused connection once at warn, with the URL and a hint, and each retry at debug', async () => {
    const url = `ws://127.0.0.1:${await freePort()}${AGENTS_PATH}`;
    const lines = await failures(url, 5);
    expect(warnings(lines)).toEqual([
      expect.objectContaining({ cause: 'refused', errCode: 'ECONNREFUSED', url, msg: expect.stringMatching(/connection refused by 127\.0\.0\.1:\d+; nothing listens there/) }),
    ]);
    expect(lines.filter((l) => l.event === 'connect-failed' && l.level === DEBUG)).toHaveLength(4);
  });

  it('logs a name that does not resolve once at warn', async () => {
    const url = `ws://speedwatch-collector.invalid:8600${AGENTS_PATH}`;
    const lines = await failures(url, 4);
    expect(warnings(lines)).toEqual([
      expect.objectContaining({ cause: 'dns', url, msg: expect.stringMatching(/speedwatch-collector\.invalid does not resolve .*DNS/) }),
    ]);
  });

  it('logs an untrusted certificate once at warn, pointing at collector.caFile', async () => {
    const { cert, key } = selfSignedCertificate();
    const server = https.createServer({ cert, key }, (_req, res) => res.writeHead(404).end());
    const listening = await listen(server, 'https');
    cleanups.push(listening.close);
    const url = `wss://127.0.0.1:${listening.port}${AGENTS_PATH}`;
    const lines = await failures(url, 4);
    expect(warnings(lines)).toEqual([
      expect.objectContaining({ cause: 'tls', errCode: 'DEPTH_ZERO_SELF_SIGNED_CERT', url, msg: expect.stringMatching(/TLS handshake failed.*collector\.caFile/) }),
    ]);
  });

  it('logs an HTTP 404 to the upgrade once at warn, naming the path the collector expects', async () => {
    const server = await refusingServer(() => 404);
    const url = `ws://127.0.0.1:${server.port}/wrong/path`;
    const lines = await failures(url, 4);
    expect(warnings(lines)).toEqual([expect.objectContaining({ cause: 'not-found', status: 404, url, msg: expect.stringContaining(`the path ${AGENTS_PATH}`) })]);
  });

  it('logs a server that never answers the upgrade once at warn, as a timeout', async () => {
    const server = net.createServer((socket) => socket.on('error', () => {}));
    const listening = await listen(server);
    cleanups.push(listening.close);
    const url = `ws://127.0.0.1:${listening.port}${AGENTS_PATH}`;
    const lines = await failures(url, 3, () => {}, { connectTimeoutMs: 100 });
    expect(warnings(lines)).toEqual([expect.objectContaining({ cause: 'timeout', url, msg: expect.stringContaining('within 100 ms') })]);
  });

  it('logs again each time the cause changes, and only then', async () => {
    // Three failures of each: 404, 503, 404 again, then nothing listening at all.
    const plan = [404, 404, 404, 503, 503, 503, 404, 404, 404];
    let attempt = 0;
    const server = await refusingServer(() => plan[attempt++] ?? 500);
    const url = `ws://127.0.0.1:${server.port}${AGENTS_PATH}`;
    const lines = await failures(url, 12, async (n) => {
      if (n === plan.length) await server.close();
    });
    expect(warnings(lines).map((l) => [l['cause'], l['status']])).toEqual([
      ['not-found', 404],
      ['http-status', 503],
      ['not-found', 404],
      ['refused', undefined],
    ]);
    expect(lines.filter((l) => l.event === 'connect-failed' && l.level === DEBUG)).toHaveLength(8);
    expect(warnings(lines)[1]?.msg).toMatch(/HTTP 503 to the WebSocket upgrade; a proxy in front of the collector answers/);
  });
});
