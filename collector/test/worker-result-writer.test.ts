/**
 * The result writer thread against a real SQLite file. The worker runs compiled code, so this
 * test loads the built module (npm test runs tsc -b first).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@speedwatch/shared';
import type { FrameBatch } from '../src/ingest/frame-batch.js';
import { frameBatch } from '../src/ingest/frame-batch.js';
import type { WorkerResultWriter as WriterType } from '../src/ingest/worker-result-writer.js';
import { resultFigures } from '../src/store/result-row.js';
import { openStore } from '../src/store/sqlite-store.js';
import { makeResult } from './ingest-util.js';

const BUILT = new URL('../dist/src/ingest/worker-result-writer.js', import.meta.url);
let WorkerResultWriter: typeof WriterType;
let dir: string;
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT.pathname} is missing: run \`npx tsc -b\` first`);
  ({ WorkerResultWriter } = (await import(BUILT.href)) as { WorkerResultWriter: typeof WriterType });
  dir = mkdtempSync(join(tmpdir(), 'sw-writer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function batchOf(agentId: string, frameResults: unknown[], accepted: number[]): FrameBatch {
  const frame = JSON.stringify({ type: 'results', results: frameResults });
  const figures = accepted.map((i) => resultFigures(frameResults[i] as ReturnType<typeof makeResult>));
  return frameBatch(agentId, 1_000, frame, frameResults.length, accepted, figures);
}

function freshDb(name: string): string {
  const path = join(dir, `${name}.db`);
  const store = openStore(path);
  store.addAgent({ id: 'site-1', name: 'School 1', siteKind: 'school', technology: 'fixed' }, 'hash-1', 0);
  store.close();
  return path;
}

describe('WorkerResultWriter', () => {
  it('commits batches on its thread, reports duplicates, and stores each document as sent', async () => {
    const path = freshDb('commit');
    const writer = await WorkerResultWriter.open(path, {}, logger);
    try {
      const [a, b, c] = [makeResult(), makeResult(), makeResult()];
      const outcomes = await writer.write([batchOf('site-1', [a, { broken: true }, b], [0, 2]), batchOf('site-1', [b, c], [0, 1])]);
      expect(outcomes).toEqual([
        { inserted: [a.id, b.id], duplicates: [] },
        { inserted: [c.id], duplicates: [b.id] },
      ]);
      const store = openStore(path);
      const stored = store.queryResults({ limit: 10 }).results;
      store.close();
      expect(stored.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
      expect(stored.find((r) => r.id === a.id)?.result).toEqual(a);
    } finally {
      await writer.close();
    }
  });

  it('rejects a write that fails with the store error, and keeps working', async () => {
    const path = freshDb('fail');
    const writer = await WorkerResultWriter.open(path, {}, logger);
    try {
      const ghost = makeResult();
      // An unknown agent breaks the foreign key: the whole transaction is refused.
      await expect(writer.write([batchOf('site-1', [makeResult()], [0]), batchOf('nobody', [ghost], [0])])).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
      const good = makeResult();
      expect(await writer.write([batchOf('site-1', [good], [0])])).toEqual([{ inserted: [good.id], duplicates: [] }]);
      const store = openStore(path);
      expect(store.queryResults({ limit: 10 }).results.map((r) => r.id)).toEqual([good.id]);
      store.close();
    } finally {
      await writer.close();
    }
  });

  it('fails to open with SW_STORE_OPEN naming the path, and refuses writes once closed', async () => {
    const bad = join(dir, 'no-such-dir', 'x.db');
    await expect(WorkerResultWriter.open(bad, {}, logger)).rejects.toMatchObject({ code: 'SW_STORE_OPEN', message: expect.stringContaining(bad) });
    const writer = await WorkerResultWriter.open(freshDb('closed'), {}, logger);
    await writer.close();
    await expect(writer.write([])).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
  });
});
