/**
 * The collector killed with SIGKILL three times while ten agents stream results at it, each
 * agent being the real agent stack minus measuring (its durable outbox and its collector
 * client, with reconnect and backoff). At the end every result is stored exactly once, and
 * every outbox is empty: nothing acked was lost, nothing unacked was given up.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { MeasurementResult } from '@speedwatch/shared';
import { createLogger } from '@speedwatch/shared';
import { CollectorClient, Outbox } from '@speedwatch/agent';
import { BIN, startUntil } from './support/processes.js';
import type { Running } from './support/processes.js';

const AGENTS = 10;
const dir = mkdtempSync(join(tmpdir(), 'sw-killstorm-'));
const db = join(dir, 'collector.db');
const logger = createLogger({ level: 'silent' });
let collector: (Running & { line: string }) | undefined;
const clients: CollectorClient[] = [];
const outboxes: Outbox[] = [];

afterAll(async () => {
  await Promise.all(clients.map((c) => c.stop()));
  await Promise.all(outboxes.map((o) => o.close()));
  if (collector !== undefined) collector.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function result(): MeasurementResult {
  const startedAt = new Date(Date.now() - 30_000).toISOString();
  const phase = { mbps: 98.2, bytes: 98_200_000, durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: 120_000_000, sampleIntervalMs: 200, samplesMbps: [97.1, 99.4, 98.0] };
  return { schemaVersion: 1, id: randomUUID(), status: 'ok', startedAt, finishedAt: new Date().toISOString(), technology: 'fixed', download: phase };
}

async function serve(port: number): Promise<void> {
  collector = await startUntil(process.execPath, [BIN.collector, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn'], (l) => l.includes('"listening"'));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('collector killed repeatedly during a storm', () => {
  it('ends with every result stored exactly once and every outbox empty', async () => {
    const tokens = Array.from({ length: AGENTS }, (_, i) =>
      execFileSync(process.execPath, [BIN.collector, 'agents', 'add', '--db', db, '--id', `site-${i}`, '--name', `Site ${i}`, '--site-kind', 'school', '--technology', 'fixed'], { encoding: 'utf8' }).trim(),
    );
    await serve(0);
    const port = Number(new URL((JSON.parse((collector as { line: string }).line) as { url: string }).url).port);
    for (const [i, token] of tokens.entries()) {
      const outbox = await Outbox.open({ dir: join(dir, `agent-${i}`), logger });
      outboxes.push(outbox);
      const client = new CollectorClient({
        url: `ws://127.0.0.1:${port}/v1/agents`,
        token,
        queue: outbox,
        hello: () => ({ type: 'hello', protocol: 1, agent: { version: 'test' } }),
        logger,
        batchSize: 50,
        backoffInitialMs: 50,
        backoffMaxMs: 400,
        onFatal: (err) => {
          throw err;
        },
      });
      clients.push(client);
      client.start();
    }

    // Ten agents append 10 results each every 50 ms for ~4 s while the collector is killed
    // three times, each time restarted on the same file and port after 300 ms.
    const produced = new Set<string>();
    let producing = true;
    const producers = outboxes.map(async (outbox, i) => {
      while (producing) {
        for (let k = 0; k < 10; k++) {
          const r = result();
          await outbox.append(r);
          produced.add(r.id);
        }
        clients[i]?.notify();
        await sleep(50);
      }
    });
    for (let kill = 0; kill < 3; kill++) {
      await sleep(900 + Math.floor(Math.random() * 400));
      collector?.child.kill('SIGKILL');
      await new Promise<void>((r) => collector?.child.once('exit', () => r()));
      await sleep(300);
      await serve(port);
    }
    producing = false;
    await Promise.all(producers);
    clients.forEach((c) => c.notify());

    const deadline = Date.now() + 60_000;
    while (outboxes.some((o) => o.stats.pending > 0)) {
      if (Date.now() > deadline) throw new Error(`outboxes not drained: ${outboxes.map((o) => o.stats.pending).join(',')}`);
      await sleep(100);
    }
    expect(produced.size).toBeGreaterThan(1000);
    const check = new Database(db, { readonly: true });
    try {
      const rows = check.prepare('SELECT id FROM results').all() as { id: string }[];
      const stored = new Set(rows.map((r) => r.id));
      expect(stored.size).toBe(rows.length);
      expect(rows.length).toBe(produced.size);
      expect([...produced].filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      check.close();
    }
    expect(outboxes.every((o) => o.stats.dropped === 0)).toBe(true);
  }, 120_000);
});
