/**
 * The collector's database on a disk that fills up (a 16 MB tmpfs mounted by the test): it
 * stops acking, says why in its log and metrics, keeps the connection open for a resend, and
 * once space is freed takes the resend; nothing acked is lost and the file passes
 * SQLite's integrity check. Needs root (mount); skipped with a printed reason otherwise,
 * except under CI.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { BIN, stopChild } from './support/processes.js';

const notRoot = process.getuid?.() !== 0;
if (notRoot) {
  if (process.env['CI'] === 'true') throw new Error('the disk-full test needs root under CI (it mounts a tmpfs)');
  console.warn('disk-full test SKIPPED: it needs root to mount a tmpfs');
}

let mountPoint = '';
let child: ChildProcess | undefined;
let stderr = '';

beforeAll(() => {
  if (notRoot) return;
  mountPoint = mkdtempSync(join(tmpdir(), 'sw-diskfull-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountPoint]);
});
afterAll(async () => {
  if (child !== undefined) await stopChild(child);
  if (mountPoint !== '') {
    execFileSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
});

function result(): MeasurementResult {
  const startedAt = new Date(Date.now() - 60_000).toISOString();
  const samplesMbps = Array.from({ length: 50 }, (_, i) => 95 + (i % 10) + i / 1000);
  const phase = { mbps: 101.5, bytes: 101_500_000, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: 126_000_000, sampleIntervalMs: 200, samplesMbps };
  return { schemaVersion: 1, id: randomUUID(), status: 'ok', startedAt, finishedAt: new Date().toISOString(), technology: 'fixed', download: phase, upload: { ...phase, confirmedBy: 'header' } };
}

interface Answer {
  type: string;
  ids?: string[];
  code?: string;
}

/** Opens the agent's connection, says hello and hands every later message to `onMessage`. */
async function connect(url: string, token: string, onMessage: (m: Answer) => void): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}v1/agents`, { headers: { authorization: `Bearer ${token}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const welcomed = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version: 'test' }, clock: new Date().toISOString() }));
  await welcomed;
  ws.on('message', (data) => onMessage(JSON.parse(data.toString()) as Answer));
  return ws;
}

async function metric(url: string, series: string): Promise<number> {
  const text = await (await fetch(`${url}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe.skipIf(notRoot)('collector with its database on a full disk', () => {
  it('stops acking and says why, then takes the resend once space is freed, losing nothing acked', async () => {
    const db = join(mountPoint, 'speedwatch.db');
    const token = execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', 'school-1', '--name', 'School 1', '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim();
    child = spawn(process.execPath, [BIN.collector, 'serve', '--db', db, '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`collector did not start within 10 s: ${stderr}`)), 10_000);
      child?.stdout?.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve((JSON.parse(d.toString().split('\n')[0] as string) as { url: string }).url);
      });
    });

    // Fill the disk but for ~1.5 MB, held by a file the test can delete to free space.
    const filler = join(mountPoint, 'filler');
    const free = Number(execFileSync('df', ['--output=avail', '-B1', mountPoint], { encoding: 'utf8' }).split('\n')[1]);
    writeFileSync(filler, Buffer.alloc(Math.max(0, free - 1_500_000)));

    const acked = new Set<string>();
    const unacked = new Map<string, MeasurementResult>();
    let storeError: Answer | undefined;
    const onMessage = (m: Answer): void => {
      if (m.type === 'ack') for (const id of m.ids ?? []) {
        acked.add(id);
        unacked.delete(id);
      }
      if (m.type === 'error' && m.code === 'SW_STORE_UNAVAILABLE') storeError = m;
    };
    const ws = await connect(url, token, onMessage);
    // Batches of 20 (~30 kB of documents each), one at a time, until the collector refuses one.
    for (let n = 0; n < 200 && storeError === undefined; n++) {
      const batch = Array.from({ length: 20 }, result);
      for (const r of batch) unacked.set(r.id, r);
      const answered = new Promise<void>((resolve) => {
        ws.once('message', () => resolve());
        ws.once('close', () => resolve());
      });
      ws.send(JSON.stringify({ type: 'results', results: batch }));
      await answered;
    }
    expect(storeError, 'the collector should refuse a batch once the disk is full').toBeDefined();
    expect(acked.size).toBeGreaterThan(0);
    expect(unacked.size).toBeGreaterThan(0);
    // The connection stays open: the agent sends again after a pause, not after a reconnect.
    await new Promise((r) => setTimeout(r, 300));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(stderr).toMatch(/"event":"store-failed".*(database or disk is full|SQLITE_FULL)/);
    expect(await metric(url, 'speedwatch_collector_rejected_total{reason="store_unavailable"}')).toBeGreaterThan(0);

    // Space freed: the agent's resend of everything unacked is taken, on the same connection.
    rmSync(filler);
    const resend = [...unacked.values()];
    for (let i = 0; i < resend.length; i += 20) {
      const answered = new Promise<void>((resolve) => ws.once('message', () => resolve()));
      ws.send(JSON.stringify({ type: 'results', results: resend.slice(i, i + 20) }));
      await answered;
    }
    expect(unacked.size).toBe(0);
    ws.close();
    await stopChild(child);
    child = undefined;

    const check = new Database(db, { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
      const stored = new Set((check.prepare('SELECT id FROM results').all() as { id: string }[]).map((r) => r.id));
      expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
      expect(stored.size).toBe(acked.size);
    } finally {
      check.close();
    }
  }, 120_000);
});
