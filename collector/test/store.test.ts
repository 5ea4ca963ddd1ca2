import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { MIGRATIONS } from '../src/store/migrations.js';
import type { SqliteStore} from '../src/store/sqlite-store.js';
import { StoreError, openStore } from '../src/store/sqlite-store.js';
import type { NewAgent } from '../src/store/store-types.js';
import { parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { batchOfResults } from '../src/store/frame-batch.js';
import { resultFigures, udpFigures } from '../src/store/result-row.js';
import { freshStore, latestStored, makeResult, open, storeResults, tempDir } from './store-util.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC: buckets of an hour, a day and 15 minutes all start here. */
const T0 = Date.UTC(2026, 0, 5);

// ---- helpers -------------------------------------------------------------------------------

/** The `code` of what `fn` throws (undefined if it returns). */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return (err as StoreError).code;
  }
  return undefined;
}

const SITE: NewAgent = { id: 'lso-caoloc-thcs-hopthanh', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed' };

function addAgent(store: SqliteStore, id = SITE.id): void {
  store.agents.add({ ...SITE, id }, `hash-of-${id}`, T0 - DAY);
}

/** Every stored result, all pages, in order. */
function allIds(store: SqliteStore, agentId?: string): string[] {
  return store.results.page({ limit: 10_000, ...(agentId === undefined ? {} : { agentId }) }).results.map((r) => r.id);
}

// ---- tests ---------------------------------------------------------------------------------

describe('SqliteStore', () => {
  describe('openStore', () => {
    it('creates every table STRICT on a fresh file, in WAL mode, and sets user_version', () => {
      const { store, path } = freshStore();
      store.close();
      const db = new Database(path, { readonly: true });
      onTestFinished(() => {
        db.close();
      });
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = db
        .prepare<[], { name: string; strict: number }>("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'")
        .all();
      expect(tables.map((t) => t.name).sort()).toEqual(['agent_changes', 'agent_health', 'agents', 'alert_notifications', 'alerts', 'area_units', 'dirty_hours', 'enrollment_codes', 'latest_udp', 'results', 'rollup_state', 'rollups_hourly']);
      expect(tables.every((t) => t.strict === 1)).toBe(true);
    });

    it('re-opens an existing file without migrating again and keeps its data', () => {
      const { store, path } = freshStore();
      addAgent(store);
      store.close();
      const again = open(path);
      expect(again.agents.list().map((a) => a.id)).toEqual([SITE.id]);
      again.close();
      const db = new Database(path, { readonly: true });
      onTestFinished(() => {
        db.close();
      });
      expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    });

    it('refuses a database written by a newer version (SW_STORE_VERSION) and leaves it untouched', () => {
      const path = join(tempDir(), 'newer.db');
      const db = new Database(path);
      db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
      db.close();
      expect(codeOf(() => openStore(path))).toBe('SW_STORE_VERSION');
      const check = new Database(path, { readonly: true });
      onTestFinished(() => {
        check.close();
      });
      expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length + 1);
      expect(check.prepare('SELECT count(*) AS n FROM sqlite_schema').get()).toEqual({ n: 0 });
    });

    it('fails with SW_STORE_OPEN naming the path when the directory is missing or the file is not a database', () => {
      const dir = tempDir();
      const missing = join(dir, 'no-such-dir', 'collector.db');
      const notDb = join(dir, 'notes.txt');
      writeFileSync(notDb, 'this is not a database, it is a text file long enough to have a header\n'.repeat(20));
      for (const path of [missing, notDb]) {
        let error: unknown;
        try {
          openStore(path);
        } catch (err) {
          error = err;
        }
        expect((error as StoreError).code).toBe('SW_STORE_OPEN');
        expect((error as StoreError).message).toContain(path);
      }
    });

    it('fills latest_udp when migrating to 11, from each agent\'s last 10 results only', () => {
      const { store, path } = freshStore();
      for (const id of ['a', 'b', 'c']) addAgent(store, id);
      // a: UDP quality in its third newest result; b: only in its eleventh newest; c: never.
      const third = makeResult(T0 + 1_000, { udpRttMs: 25 });
      storeResults(store, 'a', [makeResult(T0, { udpRttMs: 60 }), third, makeResult(T0 + 2_000), makeResult(T0 + 3_000)], T0 + 4_000);
      storeResults(store, 'b', [makeResult(T0, { udpRttMs: 70 }), ...Array.from({ length: 10 }, (_, i) => makeResult(T0 + (i + 1) * 1_000))], T0 + 20_000);
      storeResults(store, 'c', [makeResult(T0)], T0 + 1_000);
      store.close();
      const db = new Database(path);
      db.exec('DROP TABLE latest_udp');
      db.pragma('user_version = 10');
      db.close();
      const migrated = open(path);
      const latest = migrated.results.latestActivity(['a', 'b', 'c']);
      expect(latest.map((l) => [l.agentId, l.udp])).toEqual([
        ['a', { id: third.id, ts: T0 + 1_000, figures: udpFigures(third.udp as NonNullable<MeasurementResult['udp']>) }],
        ['b', undefined],
        ['c', undefined],
      ]);
    });

    it.each([
      [{ retentionDays: 0 }],
      [{ retentionDays: -1 }],
      [{ retentionDays: Number.NaN }],
      [{ synchronous: 'OFF' as 'FULL' }],
    ])('refuses options %j with SW_STORE_ARGUMENT', (options) => {
      expect(codeOf(() => openStore(join(tempDir(), 'x.db'), options))).toBe('SW_STORE_ARGUMENT');
    });
  });

  describe('agents', () => {
    it('stores an agent and reads it back with only the optional properties it has', () => {
      const { store } = freshStore();
      const added = store.agents.add(SITE, 'h1', T0);
      expect(added).toStrictEqual({ ...SITE, createdAt: T0 });
      expect(store.agents.get(SITE.id)).toStrictEqual({ ...SITE, createdAt: T0 });
      const full: NewAgent = { id: 'b', name: 'B', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', area: 'Lạng Sơn/Cao Lộc', lat: 21.87, lon: 106.76 };
      store.agents.add(full, 'h2', T0);
      expect(store.agents.get('b')).toStrictEqual({ ...full, createdAt: T0 });
      expect(store.agents.get('nobody')).toBeUndefined();
    });

    it('refuses an id that exists with SW_AGENT_EXISTS', () => {
      const { store } = freshStore();
      store.agents.add(SITE, 'h1', T0);
      expect(codeOf(() => store.agents.add({ ...SITE, name: 'other' }, 'h2', T0))).toBe('SW_AGENT_EXISTS');
      expect(store.agents.get(SITE.id)?.name).toBe(SITE.name);
    });

    it('lists every agent by id, revoked ones included', () => {
      const { store } = freshStore();
      for (const id of ['c', 'a', 'b']) addAgent(store, id);
      store.agents.revoke('b', T0);
      expect(store.agents.list().map((a) => [a.id, a.revokedAt])).toEqual([
        ['a', undefined],
        ['b', T0],
        ['c', undefined],
      ]);
    });

    it('finds an agent by token hash only while it is not revoked', () => {
      const { store } = freshStore();
      store.agents.add(SITE, 'h1', T0);
      expect(store.agents.byTokenHash('h1')?.id).toBe(SITE.id);
      expect(store.agents.byTokenHash('h2')).toBeUndefined();
      expect(store.agents.revoke(SITE.id, T0 + 1)).toBe(true);
      expect(store.agents.byTokenHash('h1')).toBeUndefined();
      expect(store.agents.get(SITE.id)?.revokedAt).toBe(T0 + 1);
    });

    it('revokes once: false for an agent already revoked or unknown', () => {
      const { store } = freshStore();
      store.agents.add(SITE, 'h1', T0);
      expect(store.agents.revoke(SITE.id, T0 + 1)).toBe(true);
      expect(store.agents.revoke(SITE.id, T0 + 2)).toBe(false);
      expect(store.agents.get(SITE.id)?.revokedAt).toBe(T0 + 1);
      expect(store.agents.revoke('nobody', T0)).toBe(false);
    });

    it('rotates the token of an unrevoked agent only', () => {
      const { store } = freshStore();
      store.agents.add(SITE, 'old', T0);
      expect(store.agents.rotate(SITE.id, 'new')).toBe(true);
      expect(store.agents.byTokenHash('old')).toBeUndefined();
      expect(store.agents.byTokenHash('new')?.id).toBe(SITE.id);
      expect(store.agents.rotate('nobody', 'x')).toBe(false);
      store.agents.revoke(SITE.id, T0);
      expect(store.agents.rotate(SITE.id, 'newer')).toBe(false);
    });

    it('records versions and last-seen times in batches, never moving last seen backwards', () => {
      const { store } = freshStore();
      store.agents.add(SITE, 'h1', T0);
      store.agents.touch([{ id: SITE.id, version: '0.1.0', lastSeenAt: T0 + 5 }]);
      store.agents.touch([{ id: SITE.id, version: '0.2.0', lastSeenAt: T0 + 9 }, { id: 'nobody', lastSeenAt: T0 }]);
      expect(store.agents.get(SITE.id)).toMatchObject({ version: '0.2.0', lastSeenAt: T0 + 9 });
      // A touch without a version keeps it; an older time (another thread's late flush) is ignored.
      store.agents.touch([{ id: SITE.id, lastSeenAt: T0 + 7 }]);
      expect(store.agents.get(SITE.id)).toMatchObject({ version: '0.2.0', lastSeenAt: T0 + 9 });
    });

    it('moves the change counter when an agent is added, revoked or rotated, and not when it is seen', () => {
      const { store, path } = freshStore();
      const other = open(path); // another process, as the CLI would be
      const seq = [store.agents.changeSeq()];
      other.agents.add(SITE, 'c1', T0);
      seq.push(store.agents.changeSeq());
      other.agents.touch([{ id: SITE.id, version: '0.1.0', lastSeenAt: T0 + 1 }]);
      seq.push(store.agents.changeSeq());
      other.agents.rotate(SITE.id, 'c2');
      seq.push(store.agents.changeSeq());
      other.agents.revoke(SITE.id, T0 + 2);
      seq.push(store.agents.changeSeq());
      expect(seq).toEqual([0, 1, 1, 2, 3]);
      expect(store.agents.listWithTokens()).toEqual([{ agent: expect.objectContaining({ id: SITE.id, revokedAt: T0 + 2 }) }]);
    });
  });

  describe('writes.insertFrames', () => {
    it('stores new ids and reports re-sent and repeated ones as duplicates', () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      addAgent(store, 'b');
      const [r1, r2, r3] = [makeResult(T0), makeResult(T0 + 1), makeResult(T0 + 2)];
      expect(storeResults(store, 'a', [r1, r2], T0 + 10)).toEqual({ inserted: [r1.id, r2.id], duplicates: [] });
      // r2 re-sent, r3 twice in one batch: first copy inserted, second a duplicate.
      expect(storeResults(store, 'a', [r2, r3, r3], T0 + 20)).toEqual({ inserted: [r3.id], duplicates: [r2.id, r3.id] });
      // Ids are global: the same id from another agent is a duplicate too, and stays the first agent's.
      expect(storeResults(store, 'b', [r1], T0 + 30)).toEqual({ inserted: [], duplicates: [r1.id] });
      expect(allIds(store, 'a')).toHaveLength(3);
      expect(allIds(store, 'b')).toEqual([]);
      expect(storeResults(store, 'a', [], T0)).toEqual({ inserted: [], duplicates: [] });
    });

    it('commits several agents\' batches in one transaction with an outcome per batch (group commit)', () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      addAgent(store, 'b');
      const [r1, r2, r3] = [makeResult(T0), makeResult(T0 + 1), makeResult(T0 + 2)];
      expect(
        store.writes.insertFrames([
          batchOfResults('a', T0 + 10, [r1, r2]),
          batchOfResults('b', T0 + 10, [r3, r1]), // r1 again: already stored by the first batch
          batchOfResults('a', T0 + 10, []),
        ]),
      ).toEqual([
        { inserted: [r1.id, r2.id], duplicates: [] },
        { inserted: [r3.id], duplicates: [r1.id] },
        { inserted: [], duplicates: [] },
      ]);
      expect(allIds(store, 'a').sort()).toEqual([r1.id, r2.id].sort());
      expect(allIds(store, 'b')).toEqual([r3.id]);
    });

    it('stores nothing of a group when one batch fails (one transaction)', () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      const ok = makeResult(T0);
      // An unknown agent violates the foreign key: the whole group rolls back.
      expect(codeOf(() => store.writes.insertFrames([batchOfResults('a', T0, [ok]), batchOfResults('ghost', T0, [makeResult(T0 + 1)])]))).toBe('SW_STORE_WRITE');
      expect(allIds(store)).toEqual([]);
    });

    it('keeps the whole document and the extracted columns across close and re-open', () => {
      const { store, path } = freshStore();
      addAgent(store);
      const full = makeResult(T0 + 1_000, { downloadMbps: 95.5, uploadMbps: 41.25, latencyMs: 18, jitterMs: 2.5, lossRatio: 0.1 });
      const failed = makeResult(T0 + 2_000, { status: 'failed' });
      storeResults(store, SITE.id, [full, failed], T0 + 60_000);
      store.close();
      const again = open(path);
      const { results } = again.results.page({ limit: 10 });
      expect(results).toStrictEqual([
        {
          id: full.id,
          agentId: SITE.id,
          ts: T0 + 1_000,
          receivedAt: T0 + 60_000,
          status: 'ok',
          downloadMbps: 95.5,
          uploadMbps: 41.25,
          latencyMs: 18,
          jitterMs: 2.5,
          lossRatio: 0.1,
          result: full,
        },
        { id: failed.id, agentId: SITE.id, ts: T0 + 2_000, receivedAt: T0 + 60_000, status: 'failed', result: failed },
      ]);
      expect(latestStored(again, SITE.id)?.id).toBe(failed.id);
      expect(latestStored(again, 'nobody')).toBeUndefined();
    });

    it('stores nothing of a batch when one row fails, and throws SW_STORE_WRITE with the cause', () => {
      const { store, path } = freshStore();
      addAgent(store);
      const good = [makeResult(T0), makeResult(T0 + 1)];
      const bad = makeResult(T0 + 2);
      // A real SQLite error in the middle of the transaction, raised by a trigger from another connection.
      const db = new Database(path);
      onTestFinished(() => {
        db.close();
      });
      db.exec(`CREATE TRIGGER fail_one BEFORE INSERT ON results WHEN NEW.id = '${bad.id}' BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`);
      let error: unknown;
      try {
        storeResults(store, SITE.id, [...good, bad], T0);
      } catch (err) {
        error = err;
      }
      expect((error as StoreError).code).toBe('SW_STORE_WRITE');
      expect(((error as StoreError).cause as { code?: string }).code).toBe('SQLITE_CONSTRAINT_TRIGGER');
      expect(allIds(store)).toEqual([]);
      db.exec('DROP TRIGGER fail_one');
      expect(storeResults(store, SITE.id, [...good, bad], T0).inserted).toHaveLength(3);
    });

    it('throws SW_STORE_WRITE for an unknown agent and after close', () => {
      const { store } = freshStore();
      expect(codeOf(() => storeResults(store, 'nobody', [makeResult(T0)], T0))).toBe('SW_STORE_WRITE');
      addAgent(store);
      store.close();
      expect(codeOf(() => storeResults(store, SITE.id, [makeResult(T0)], T0))).toBe('SW_STORE_WRITE');
      expect(codeOf(() => store.agents.revoke(SITE.id, T0))).toBe('SW_STORE_WRITE');
      expect(codeOf(() => store.agents.list())).toBe('SW_STORE_READ');
    });
  });

  describe('queryResults', () => {
    it('pages through every row exactly once in (ts, id) order, ties included', () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      addAgent(store, 'b');
      // 40 results over 10 distinct times, so pages end in the middle of equal timestamps.
      const results = Array.from({ length: 40 }, (_, i) => makeResult(T0 + (i % 10) * 1_000));
      storeResults(store, 'a', results.slice(0, 30), T0);
      storeResults(store, 'b', results.slice(30), T0);
      const expected = results.map((r) => ({ id: r.id, ts: Date.parse(r.startedAt) })).sort((x, y) => x.ts - y.ts || (x.id < y.id ? -1 : 1));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = store.results.page({ limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.results.map((r) => r.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 20);
      expect(seen).toEqual(expected.map((e) => e.id));
      expect(pages).toBe(6); // 40 rows by 7: five full pages and one of 5
    });

    it('filters by agent and by from <= ts < to, and pages within the filter', () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      addAgent(store, 'b');
      const a = Array.from({ length: 10 }, (_, i) => makeResult(T0 + i * HOUR));
      storeResults(store, 'a', a, T0);
      storeResults(store, 'b', [makeResult(T0 + 3 * HOUR)], T0);
      const first = store.results.page({ agentId: 'a', from: T0 + 2 * HOUR, to: T0 + 7 * HOUR, limit: 3 });
      expect(first.results.map((r) => r.ts)).toEqual([2, 3, 4].map((h) => T0 + h * HOUR));
      const cursor = first.nextCursor as string;
      const second = store.results.page({ agentId: 'a', from: T0 + 2 * HOUR, to: T0 + 7 * HOUR, limit: 3, cursor });
      expect(second.results.map((r) => r.ts)).toEqual([5, 6].map((h) => T0 + h * HOUR));
      expect(second.nextCursor).toBeUndefined();
      expect(store.results.page({ from: T0 + 3 * HOUR, to: T0 + 3 * HOUR + 1, limit: 10 }).results.map((r) => r.agentId).sort()).toEqual(['a', 'b']);
    });

    it.each([
      ['not base64url', 'abc$%^'],
      ['no separator', Buffer.from('12345').toString('base64url')],
      ['a ts that is not a number', Buffer.from('x.abc').toString('base64url')],
      ['padding a valid cursor', `${Buffer.from('1.abcdefgh').toString('base64url')}==`],
      ['empty', ''],
    ])('refuses a cursor that is %s with SW_STORE_CURSOR', (_, cursor) => {
      const { store } = freshStore();
      expect(codeOf(() => store.results.page({ limit: 10, cursor }))).toBe('SW_STORE_CURSOR');
    });

    it.each([0, 10_001, 1.5, Number.NaN])('refuses limit %d with SW_STORE_ARGUMENT', (limit) => {
      const { store } = freshStore();
      expect(codeOf(() => store.results.page({ limit }))).toBe('SW_STORE_ARGUMENT');
    });
  });

  describe('results.latestActivity', () => {
    it("gives each agent's latest result's figures, loaded latencies included, and its latest download", () => {
      const { store } = freshStore();
      addAgent(store, 'a');
      addAgent(store, 'b');
      addAgent(store, 'c');
      const withDownload = makeResult(T0, { downloadMbps: 88.5, uploadMbps: 30, latencyMs: 14, jitterMs: 2, lossRatio: 0.05 });
      const loaded = { download: { count: 3, medianMs: 41.5, p90Ms: 50, lossRatio: 0 }, upload: { count: 3, medianMs: 60.25, p90Ms: 70, lossRatio: 0 } };
      const latest = parseMeasurementResult({ ...makeResult(T0 + 1_000, { uploadMbps: 31, latencyMs: 15 }), loadedLatency: loaded });
      storeResults(store, 'a', [withDownload, latest], T0 + 2_000);
      storeResults(store, 'b', [makeResult(T0, { status: 'failed' })], T0 + 2_000);
      const [a, b, ...none] = store.results.latestActivity(['a', 'b', 'c']);
      expect(none).toEqual([]);
      // The same figures ingest keeps of a result, read from columns and the document by SQLite.
      expect(a).toEqual({ agentId: 'a', figures: resultFigures(latest), download: { ts: T0, mbps: 88.5 } });
      expect(a?.figures).toMatchObject({ downloadMbps: null, loadedDownloadMs: 41.5, loadedUploadMs: 60.25 });
      expect(b).toEqual({ agentId: 'b', figures: resultFigures(latestStored(store, 'b')?.result as MeasurementResult) });
    });
  });

  describe('series', () => {
    it('computes exact bucket statistics from raw results below an hour, skipping missing values', () => {
      const { store } = freshStore();
      addAgent(store);
      const step = 15 * 60_000;
      storeResults(store, 
        SITE.id,
        [
          // Bucket T0: 10, 20, 30, 40 -> count 4, min 10, mean 25, median (20 + 30) / 2 = 25, max 40.
          ...[40, 10, 30, 20].map((mbps, i) => makeResult(T0 + i * 60_000, { downloadMbps: mbps })),
          makeResult(T0 + 5 * 60_000, { status: 'failed' }), // no download: not counted
          // Bucket T0 + 30 min (T0 + 15 min is empty and not returned): 7, 1, 4 -> median 4, mean 4.
          ...[7, 1, 4].map((mbps, i) => makeResult(T0 + 30 * 60_000 + i, { downloadMbps: mbps })),
          // Outside [from, to).
          makeResult(T0 - 1, { downloadMbps: 1_000 }),
          makeResult(T0 + HOUR, { downloadMbps: 1_000 }),
        ],
        T0,
      );
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, step)).toEqual([
        { ts: T0, count: 4, min: 10, mean: 25, median: 25, max: 40 },
        { ts: T0 + 30 * 60_000, count: 3, min: 1, mean: 4, median: 4, max: 7 },
      ]);
      expect(store.rollups.series(SITE.id, 'upload_mbps', T0, T0 + HOUR, step)).toEqual([]);
      expect(store.rollups.series('nobody', 'download_mbps', T0, T0 + HOUR, step)).toEqual([]);
    });

    it('combines hourly roll-ups into daily points after maintain', () => {
      const { store } = freshStore();
      addAgent(store);
      storeResults(store, 
        SITE.id,
        [
          // Day 1, hour 0: 10, 20, 30 (median 20, count 3); hour 5: 40 (count 1).
          // Daily: count 4, min 10, mean (10+20+30+40)/4 = 25, max 40, and the count-weighted
          // median of hourly medians: 20 (weight 3) reaches half of 4 first -> 20.
          ...[10, 20, 30].map((v, i) => makeResult(T0 + i * 60_000, { latencyMs: v })),
          makeResult(T0 + 5 * HOUR, { latencyMs: 40 }),
          // Day 2, hour 1: 10, 30 (median 20); hour 2: 50, 70 (median 60). The running count
          // is exactly half (2 of 4) after the first hour -> median (20 + 60) / 2 = 40; mean 40.
          ...[10, 30].map((v, i) => makeResult(T0 + DAY + HOUR + i, { latencyMs: v })),
          ...[50, 70].map((v, i) => makeResult(T0 + DAY + 2 * HOUR + i, { latencyMs: v })),
        ],
        T0,
      );
      const now = T0 + 2 * DAY;
      expect(store.rollups.maintain(now).rolledUpHours).toBe(4);
      const daily = [
        { ts: T0, count: 4, min: 10, mean: 25, median: 20, max: 40 },
        { ts: T0 + DAY, count: 4, min: 10, mean: 40, median: 40, max: 70 },
      ];
      expect(store.rollups.series(SITE.id, 'latency_ms', T0, now, DAY)).toEqual(daily);
      expect(store.rollups.series(SITE.id, 'latency_ms', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, count: 3, min: 10, mean: 20, median: 20, max: 30 }]);
      // Jitter and loss are rolled up too (the factory's defaults: 1.5 ms, 0).
      expect(store.rollups.series(SITE.id, 'jitter_ms', T0, now, DAY).map((p) => [p.count, p.median])).toEqual([
        [4, 1.5],
        [4, 1.5],
      ]);
      // Idempotent: nothing new to roll up, same answer.
      expect(store.rollups.maintain(now)).toEqual({ rolledUpHours: 0, deletedResults: 0 });
      expect(store.rollups.series(SITE.id, 'latency_ms', T0, now, DAY)).toEqual(daily);
    });

    it('serves hours not rolled up yet from raw results in the same way', () => {
      const { store } = freshStore();
      addAgent(store);
      storeResults(store, SITE.id, [10, 30].map((v, i) => makeResult(T0 + i, { downloadMbps: v })), T0);
      store.rollups.maintain(T0 + HOUR);
      storeResults(store, SITE.id, [50, 70].map((v, i) => makeResult(T0 + HOUR + i, { downloadMbps: v })), T0);
      // Hour 0 from the roll-up (median 20), hour 1 from raw (median 60): exactly half -> 40.
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + 2 * HOUR, DAY)).toEqual([
        { ts: T0, count: 4, min: 10, mean: 40, median: 40, max: 70 },
      ]);
    });

    it('recomputes an hour that receives a late result at the next maintain', () => {
      const { store } = freshStore();
      addAgent(store);
      storeResults(store, SITE.id, [makeResult(T0 + 1, { downloadMbps: 10 }), makeResult(T0 + 2, { downloadMbps: 20 })], T0);
      store.rollups.maintain(T0 + 3 * HOUR);
      const before = [{ ts: T0, count: 2, min: 10, mean: 15, median: 15, max: 20 }];
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual(before);
      storeResults(store, SITE.id, [makeResult(T0 + 3, { downloadMbps: 90 })], T0 + 3 * HOUR);
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual(before); // roll-up not redone yet
      expect(store.rollups.maintain(T0 + 3 * HOUR).rolledUpHours).toBe(1);
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, count: 3, min: 10, mean: 40, median: 20, max: 90 }]);
    });

    it.each([
      ['a zero step', 'download_mbps', 0],
      ['a fractional step', 'download_mbps', 1.5],
      ['an unknown metric', 'speed', HOUR],
    ])('refuses %s with SW_STORE_ARGUMENT', (_, metric, step) => {
      const { store } = freshStore();
      expect(codeOf(() => store.rollups.series(SITE.id, metric as 'download_mbps', T0, T0 + DAY, step))).toBe('SW_STORE_ARGUMENT');
    });
  });

  describe('maintain', () => {
    it('deletes raw results older than the retention and keeps their roll-ups', () => {
      const { store } = freshStore({ retentionDays: 2 });
      addAgent(store);
      const now = T0 + 10 * DAY + 30 * 60_000;
      const old = makeResult(T0 + 5 * DAY, { downloadMbps: 80 }); // 5 days before now
      const edge = makeResult(now - 2 * DAY, { downloadMbps: 60 }); // exactly at the cut: kept
      const recent = makeResult(now - HOUR, { downloadMbps: 70 });
      storeResults(store, SITE.id, [old, edge, recent], T0);
      expect(store.rollups.maintain(now)).toEqual({ rolledUpHours: 3, deletedResults: 1 });
      expect(allIds(store)).toEqual([edge.id, recent.id]);
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, now, DAY).map((p) => [p.ts, p.count, p.median])).toEqual([
        [T0 + 5 * DAY, 1, 80],
        [T0 + 8 * DAY, 1, 60],
        [T0 + 9 * DAY, 1, 70],
      ]);
      expect(store.rollups.maintain(now).deletedResults).toBe(0);
    });

    it('leaves the roll-up of an hour whose raw results were deleted when a late result arrives for it', () => {
      const { store } = freshStore({ retentionDays: 1 });
      addAgent(store);
      storeResults(store, SITE.id, [makeResult(T0 + 1, { downloadMbps: 10 }), makeResult(T0 + 2, { downloadMbps: 20 })], T0);
      const now = T0 + 3 * DAY;
      // The newest row stays until a newer one exists (rowids are never reused: see below).
      expect(store.rollups.maintain(now).deletedResults).toBe(1);
      storeResults(store, SITE.id, [makeResult(T0 + 3, { downloadMbps: 90 })], now);
      // The late row is too old to keep, and recomputing from it alone would lose the hour's data.
      expect(store.rollups.maintain(now)).toEqual({ rolledUpHours: 0, deletedResults: 1 });
      expect(store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, count: 2, min: 10, mean: 15, median: 15, max: 20 }]);
    });

    it('never deletes the newest row, so a new row never gets the rowid of one already seen', () => {
      const { store } = freshStore({ retentionDays: 1 });
      addAgent(store);
      storeResults(store, SITE.id, [makeResult(T0 + 1), makeResult(T0 + 2)], T0);
      const seen: number[] = [];
      const lastRowid = store.results.scanVerdictRows(T0, undefined, (row) => seen.push(row[0]));
      expect(store.rollups.maintain(T0 + 3 * DAY).deletedResults).toBe(1);
      const fresh = makeResult(T0 + 3 * DAY - 1000);
      storeResults(store, SITE.id, [fresh], T0 + 3 * DAY);
      const after: string[] = [];
      store.results.scanVerdictRows(T0, lastRowid, (row) => after.push(row[1]));
      expect(seen).toHaveLength(2);
      expect(after).toEqual([SITE.id]);
    });
  });

  describe('backup and size', () => {
    it('backs up to a file that opens as a store holding the rows', async () => {
      const { store, dir } = freshStore();
      addAgent(store);
      const results = [makeResult(T0), makeResult(T0 + 1)];
      storeResults(store, SITE.id, results, T0);
      const copy = join(dir, 'backup.db');
      await store.backup(copy);
      const restored = open(copy);
      expect(restored.agents.list().map((a) => a.id)).toEqual([SITE.id]);
      expect(allIds(restored)).toEqual(allIds(store));
      expect(allIds(restored)).toHaveLength(2);
    });

    it('fails a backup into a missing directory with SW_STORE_BACKUP', async () => {
      const { store, dir } = freshStore();
      await expect(store.backup(join(dir, 'missing', 'backup.db'))).rejects.toMatchObject({ code: 'SW_STORE_BACKUP' });
    });

    it('reports the size of the file and its WAL', () => {
      const { store, path } = freshStore();
      addAgent(store);
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect(store.sizeBytes()).toBeGreaterThan(0);
    });
  });
});
