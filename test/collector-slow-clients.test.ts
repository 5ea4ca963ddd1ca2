/**
 * A slow-loris attack and a flood of idle connections against the collector process: while
 * 800 connections dribble request headers a byte at a time and 800 more connect and say
 * nothing, an agent still connects, delivers and gets its acks, and /healthz answers at once;
 * the collector cuts the slow and silent connections once their headers pass 10 s.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'sw-slowclients-'));
let collector: (Running & { line: string }) | undefined;
const sockets: net.Socket[] = [];
const timers: NodeJS.Timeout[] = [];

afterAll(async () => {
  timers.forEach((t) => clearInterval(t));
  sockets.forEach((s) => s.destroy());
  await collector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('collector under slow and idle connections', () => {
  it('keeps serving agents and /healthz, and cuts the slow ones after the header timeout', async () => {
    const db = join(dir, 'collector.db');
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', 'school-1', '--name', 'School 1', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
    collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--db', db, '--port', '0', '--log-level', 'warn'], (l) => l.includes('"listening"'));
    const url = (JSON.parse(collector.line) as { url: string }).url;
    const port = Number(new URL(url).port);

    let closedByServer = 0;
    const open = (dribble: boolean): Promise<void> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          if (dribble) {
            socket.write('GET /healthz HTTP/1.1\r\nHost: collector\r\nX-Slow: ');
            // One byte every 2 s: the connection is never idle, the headers never end.
            timers.push(setInterval(() => socket.writable && socket.write('a'), 2000));
          }
          resolve();
        });
        socket.on('error', () => {});
        socket.on('close', () => closedByServer++);
        sockets.push(socket);
      });
    for (let i = 0; i < 800; i++) await open(true);
    for (let i = 0; i < 800; i++) await open(false);
    const opened = performance.now();

    // Others are served meanwhile: /healthz, and an agent's hello, results and ack.
    const started = performance.now();
    const health = await fetch(`${url}healthz`);
    expect(health.status).toBe(200);
    expect(performance.now() - started).toBeLessThan(1000);
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}v1/agents`, { headers: { authorization: `Bearer ${token}` } });
    // Every message in arrival order: the welcome and the settings after it may come in one read.
    const messages: { type: string; ids?: string[] }[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (d) => {
      messages.push(JSON.parse(d.toString()) as { type: string; ids?: string[] });
      wake?.();
    });
    const until = async (count: number): Promise<void> => {
      while (messages.length < count) await new Promise<void>((resolve) => (wake = resolve));
    };
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() }));
    await until(2);
    const id = randomUUID();
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    ws.send(JSON.stringify({ type: 'results', results: [{ schemaVersion: 1, id, status: 'failed', startedAt, finishedAt: new Date().toISOString(), error: { phase: 'select', code: 'SW_DNS', message: 'x' }, errors: [{ phase: 'select', code: 'SW_DNS', message: 'x' }] }] }));
    await until(3);
    expect(messages).toEqual([expect.objectContaining({ type: 'welcome' }), expect.objectContaining({ type: 'config' }), { type: 'ack', ids: [id] }]);

    // The header timeout (10 s, checked every second) cuts the slow and the silent connections.
    const deadline = opened + 15_000;
    while (closedByServer < 1600 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(closedByServer).toBe(1600);
    // The agent's connection, which finished its handshake, is not among them.
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  }, 60_000);
});
