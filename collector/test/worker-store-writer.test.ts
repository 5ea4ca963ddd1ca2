/**
 * The store writer thread against a real SQLite file. The thread runs the compiled module
 * (npm test runs tsc -b first; see src/worker-url.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import type { FrameBatch } from '../src/store/frame-batch.js';
import { frameBatch } from '../src/store/frame-batch.js';
import Database from 'better-sqlite3';
import { openAlertStore } from '../src/alerts/alert-store.js';
import { resultFigures } from '../src/store/result-row.js';
import type { InsertOutcome } from '../src/store/store-types.js';
import { openStore } from '../src/store/sqlite-store.js';
import { WorkerStoreWriter } from '../src/writer/worker-store-writer.js';
import { makeResult } from './ingest-util.js';

let dir: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sw-writer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batchOf(agentId: string, frameResults: unknown[], accepted: number[]): FrameBatch {
  const frame = JSON.stringify({ type: 'results', results: frameResults });
  const figures = accepted.map((i) => resultFigures(frameResults[i] as ReturnType<typeof makeResult>));
  return frameBatch(agentId, 1_000, frame, frameResults.length, accepted, figures);
}

/** Stages the batches and commits them in one transaction, as ingest does. */
function commit(writer: WorkerStoreWriter, batches: readonly FrameBatch[]): Promise<InsertOutcome[]> {
  return writer.commitStaged(batches.map((batch) => writer.stage(batch)));
}

function freshDb(name: string): string {
  const path = join(dir, `${name}.db`);
  const store = openStore(path);
  store.agents.add({ id: 'site-1', name: 'School 1', siteKind: 'school', technology: 'fixed' }, 'hash-1', 0);
  store.close();
  return path;
}

describe('WorkerStoreWriter', () => {
  it('commits batches on its thread, reports duplicates, and stores each document as sent', async () => {
    const path = freshDb('commit');
    const writer = await WorkerStoreWriter.open(path, {}, logger);
    try {
      const [a, b, c] = [makeResult(), makeResult(), makeResult()];
      const outcomes = await commit(writer, [batchOf('site-1', [a, { broken: true }, b], [0, 2]), batchOf('site-1', [b, c], [0, 1])]);
      expect(outcomes).toEqual([
        { inserted: [a.id, b.id], duplicates: [] },
        { inserted: [c.id], duplicates: [b.id] },
      ]);
      const store = openStore(path);
      const stored = store.results.page({ limit: 10 }).results;
      store.close();
      expect(stored.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
      expect(stored.find((r) => r.id === a.id)?.result).toEqual(a);
    } finally {
      await writer.close();
    }
  });

  it('rejects a write that fails with the store error, and keeps working', async () => {
    const path = freshDb('fail');
    const writer = await WorkerStoreWriter.open(path, {}, logger);
    try {
      const ghost = makeResult();
      // An unknown agent breaks the foreign key: the whole transaction is refused.
      await expect(commit(writer, [batchOf('site-1', [makeResult()], [0]), batchOf('nobody', [ghost], [0])])).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
      const good = makeResult();
      expect(await commit(writer, [batchOf('site-1', [good], [0])])).toEqual([{ inserted: [good.id], duplicates: [] }]);
      const store = openStore(path);
      expect(store.results.page({ limit: 10 }).results.map((r) => r.id)).toEqual([good.id]);
      store.close();
    } finally {
      await writer.close();
    }
  });

  it('fails to open with SW_STORE_OPEN naming the path, and refuses writes once closed', async () => {
    const bad = join(dir, 'no-such-dir', 'x.db');
    await expect(WorkerStoreWriter.open(bad, {}, logger)).rejects.toMatchObject({ code: 'SW_STORE_OPEN', message: expect.stringContaining(bad) });
    const writer = await WorkerStoreWriter.open(freshDb('closed'), {}, logger);
    await writer.close();
    await expect(commit(writer, [])).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
  });

  it('commits batches staged ahead, once, and refuses handles it never staged, storing nothing', async () => {
    const path = freshDb('staged');
    const writer = await WorkerStoreWriter.open(path, {}, logger);
    try {
      const [a, b, c] = [makeResult(), makeResult(), makeResult()];
      const first = writer.stage(batchOf('site-1', [a, b], [0, 1]));
      const second = writer.stage(batchOf('site-1', [c], [0]));
      expect(await writer.commitStaged([first, second])).toEqual([
        { inserted: [a.id, b.id], duplicates: [] },
        { inserted: [c.id], duplicates: [] },
      ]);
      // Released by the commit: naming them again is an error, as is a handle never staged.
      await expect(writer.commitStaged([first])).rejects.toMatchObject({ code: 'SW_STORE_WRITE', message: expect.stringMatching(/not known/) });
      const d = makeResult();
      const third = writer.stage(batchOf('site-1', [d], [0]));
      await expect(writer.commitStaged([third, 999])).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
      const store = openStore(path);
      expect(store.results.page({ limit: 10 }).results.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
      store.close();
    } finally {
      await writer.close();
    }
  });

  it('records liveness and the alerts\' writes on its thread', async () => {
    const path = freshDb('touch');
    const writer = await WorkerStoreWriter.open(path, {}, logger);
    try {
      await writer.touch([{ id: 'site-1', version: '1.2.3', lastSeenAt: 5_000 }]);
      const alert = { fingerprint: 'f1', labels: { alertname: 'SpeedwatchAgentSilent' }, annotations: {}, state: 'pending' as const, value: 1, activeAt: 4_000 };
      await writer.alertCommit({ changed: [alert], removed: [] }, [], 4_000);
      expect(await writer.forgetRoutes([])).toBe(0);
      const store = openStore(path);
      const alerts = openAlertStore(path);
      try {
        expect(store.agents.get('site-1')).toMatchObject({ version: '1.2.3', lastSeenAt: 5_000 });
        expect(alerts.loadAlerts()).toEqual([alert]);
      } finally {
        alerts.close();
        store.close();
      }
    } finally {
      await writer.close();
    }
  });

  it('waits on its own thread for a lock another process holds, while the caller\'s event loop runs on', async () => {
    const path = freshDb('locked');
    const writer = await WorkerStoreWriter.open(path, { busyTimeoutMs: 5_000 }, logger);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const result = makeResult();
      const started = performance.now();
      const writing = commit(writer, [batchOf('site-1', [result], [0])]);
      // The event loop keeps turning while the write waits: the largest gap between ticks stays small.
      let last = performance.now();
      let worstGapMs = 0;
      const ticker = setInterval(() => {
        const t = performance.now();
        worstGapMs = Math.max(worstGapMs, t - last);
        last = t;
      }, 5);
      await new Promise((r) => setTimeout(r, 1_000));
      other.exec('COMMIT');
      expect(await writing).toEqual([{ inserted: [result.id], duplicates: [] }]);
      clearInterval(ticker);
      expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(worstGapMs).toBeLessThan(100);
    } finally {
      other.close();
      await writer.close();
    }
  });

  it('rejects with SW_STORE_WRITE when the lock outlasts the busy timeout, and writes once it is free', async () => {
    const path = freshDb('busy');
    const writer = await WorkerStoreWriter.open(path, { busyTimeoutMs: 200 }, logger);
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const result = makeResult();
      await expect(commit(writer, [batchOf('site-1', [result], [0])])).rejects.toMatchObject({ code: 'SW_STORE_WRITE', message: expect.stringMatching(/database is locked/) });
      other.exec('COMMIT');
      expect(await commit(writer, [batchOf('site-1', [result], [0])])).toEqual([{ inserted: [result.id], duplicates: [] }]);
    } finally {
      other.close();
      await writer.close();
    }
  });
});
