/**
 * The real agent daemon, as a child process, against a collector that answers its first batch
 * with `null` and `{"type":"ack","ids":5}`: the frames of issue 11, which used to end the
 * daemon with a TypeError and exit status 1. It must log them as bad frames, keep running, and
 * deliver its backlog once the collector acks properly.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '@speedwatch/agent';
import { AGENTS_PATH, createLogger } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { listen } from './support/net.js';
import type { Listening } from './support/net.js';
import { BIN, stopChild } from './support/processes.js';

const TOKEN = 'swa_hostile-daemon-token-0123456789';
const IDS = ['hostile-daemon-0001', 'hostile-daemon-0002', 'hostile-daemon-0003'];

let dir = '';
let server: Listening | undefined;
let daemon: ChildProcess | undefined;
let log = '';
/** Ids the collector acked, and whether it is well-behaved yet. */
const acked = new Set<string>();

function result(id: string): MeasurementResult {
  return {
    schemaVersion: 1,
    id,
    status: 'failed',
    startedAt: '2025-03-01T08:00:00.000Z',
    finishedAt: '2025-03-01T08:00:01.000Z',
    technology: 'fixed',
    error: { phase: 'select', code: 'SW_CONNECT_REFUSED', message: 'a result made for this test' },
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (daemon?.exitCode != null) throw new Error(`the daemon exited (${daemon.exitCode}) while waiting for ${what}:\n${log}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function logEvents(event: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sw-hostile-daemon-'));
  // The backlog the daemon will find: three results already in its outbox.
  const outbox = await Outbox.open({ dir: path.join(dir, 'state'), logger: createLogger({ level: 'silent' }) });
  for (const id of IDS) await outbox.append(result(id));
  await outbox.close();

  // The collector: welcomes, answers the first batch with the two frames, then acks the batch.
  const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: httpServer, path: AGENTS_PATH, perMessageDeflate: false });
  let batches = 0;
  wss.on('connection', (ws, req) => {
    ws.on('error', () => {});
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return ws.close(4001);
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; results?: { id: string }[] };
      if (message.type === 'hello') {
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, agentId: 'hostile', serverTime: new Date().toISOString(), limits: { maxFrameBytes: 1_048_576, maxBatch: 500, maxMessagesPerMinute: 120 } }));
        return;
      }
      if (message.type !== 'results') return; // health: this collector answers only batches
      const ids = (message.results ?? []).map((r) => r.id);
      if (++batches === 1) {
        ws.send('null');
        ws.send('{"type":"ack","ids":5}');
      }
      // After them, on the same connection: what a collector should send.
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'ack', ids }));
      for (const id of ids) acked.add(id);
    });
  });
  server = await listen(httpServer);

  await writeFile(path.join(dir, 'token'), TOKEN);
  await writeFile(
    path.join(dir, 'agent.yaml'),
    `collector:\n  url: ws://127.0.0.1:${server.port}${AGENTS_PATH}\n  tokenFile: token\nsite:\n  name: hostile-test\n  kind: school\n  technology: fixed\n` +
      // A day between tests: none runs while this test does; the backlog is what it sends.
      `schedule:\n  interval: 1d\nendpoints:\n  urls: [http://127.0.0.1:9/]\ndataDir: state\nlogLevel: info\n`,
  );
  daemon = spawn(process.execPath, [BIN.agent, 'run', '--config', path.join(dir, 'agent.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  daemon.stderr?.setEncoding('utf8').on('data', (d: string) => {
    log += d;
  });
}, 30_000);

afterAll(async () => {
  if (daemon !== undefined) await stopChild(daemon);
  await server?.close();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('the agent daemon against a collector sending frames it cannot read', () => {
  it('logs them, keeps running, delivers its backlog, and stops cleanly', async () => {
    await until('two bad frames in the daemon log', () => logEvents('bad-frame').length >= 2);
    expect(logEvents('bad-frame').map((l) => [l['type'], l['level']])).toEqual([
      ['(null)', 40],
      ['ack', 40],
    ]);
    await until('the backlog to be acked', () => IDS.every((id) => acked.has(id)));
    expect(daemon?.exitCode).toBeNull();
    expect(daemon?.signalCode).toBeNull();

    // Stopped with SIGTERM it exits 0, its outbox empty: every result was delivered.
    const child = daemon as ChildProcess;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logEvents('stopped').at(-1)?.['pending']).toBe(0);
    expect(log).not.toContain(TOKEN);
  }, 30_000);
});
