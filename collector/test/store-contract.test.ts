/**
 * One suite, two backends: what the collector relies on from its store (collector-store.ts),
 * checked on SQLite (a temp file) and on PostgreSQL (a throwaway cluster, postgres-cluster.ts).
 * Where the backends differ on purpose the test says so: retention is row-exact on SQLite and by
 * whole months on PostgreSQL, so only what both promise is asserted here (postgres-store.test.ts
 * and store.test.ts have the rest).
 */
import { join } from 'node:path';
import { parseMeasurementResult } from '@speedwatch/shared';
import type { MeasurementResult } from '@speedwatch/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { CollectorStore } from '../src/store/collector-store.js';
import { batchOfResults } from '../src/store/frame-batch.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { resultFigures, udpFigures } from '../src/store/result-row.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { openStore } from '../src/store/sqlite-store.js';
import type { AgentHealthRecord, InsertOutcome, NewAgent, VerdictRow } from '../src/store/store-types.js';
import { clusterForTests } from './postgres-for-tests.js';
import { makeResult, tempDir, udpSection } from './store-util.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC: buckets of an hour, a day and 15 minutes all start here. */
const T0 = Date.UTC(2026, 0, 5);

interface Backend {
  name: string;
  skip: boolean;
  /** A new empty store, closed when the test finishes. */
  fresh(options?: { retentionDays?: number }): Promise<CollectorStore>;
  /** Another connection to the same data, as a second collector (or the CLI) would have. */
  another(store: CollectorStore): Promise<CollectorStore>;
}

const postgres = clusterForTests();

const BACKENDS: Backend[] = [
  (() => {
    const paths = new WeakMap<CollectorStore, string>();
    const open = (path: string, retentionDays?: number): CollectorStore => {
      const store = sqliteCollectorStore(openStore(path, retentionDays === undefined ? {} : { retentionDays }));
      onTestFinished(() => store.close());
      paths.set(store, path);
      return store;
    };
    return {
      name: 'SQLite',
      skip: false,
      fresh: async (options = {}) => open(join(tempDir(), 'collector.db'), options.retentionDays),
      another: async (store) => open(paths.get(store) as string),
    };
  })(),
  (() => {
    const databases = new WeakMap<CollectorStore, string>();
    const open = async (database: string, retentionDays?: number): Promise<CollectorStore> => {
      const cluster = postgres.cluster();
      const store = await openPostgresStore({ url: cluster.url(database), password: cluster.password, ...(retentionDays === undefined ? {} : { retentionDays }) });
      onTestFinished(() => store.close());
      databases.set(store, database);
      return store;
    };
    return {
      name: 'PostgreSQL',
      skip: postgres.skip,
      fresh: async (options = {}) => open(await postgres.cluster().createDatabase(), options.retentionDays),
      another: async (store) => open(databases.get(store) as string),
    };
  })(),
];

const SITE: NewAgent = { id: 'lso-caoloc-thcs-hopthanh', name: 'Trường THCS Hợp Thành', siteKind: 'school', technology: 'fixed' };

async function addAgent(store: CollectorStore, id = SITE.id): Promise<void> {
  await store.agents.add({ ...SITE, id }, `hash-of-${id}`, T0 - DAY);
}

/** Stores an agent's results through the write path ingest uses, in one transaction. */
async function storeResults(store: CollectorStore, agentId: string, results: readonly MeasurementResult[], receivedAt: number): Promise<InsertOutcome> {
  return (await store.results.insertFrames([batchOfResults(agentId, receivedAt, results)]))[0] as InsertOutcome;
}

/** Every stored result's id, all pages, in (ts, id) order. */
async function allIds(store: CollectorStore, agentId?: string): Promise<string[]> {
  return (await store.results.page({ limit: 10_000, ...(agentId === undefined ? {} : { agentId }) })).results.map((r) => r.id);
}

/** The scan's rows, less the store's own first column (rowid or transaction). */
async function scan(store: CollectorStore, from: number, after?: string): Promise<{ rows: VerdictRow[]; position: string }> {
  const rows: VerdictRow[] = [];
  const position = await store.results.scanVerdictRows(from, after, (row) => rows.push(row));
  return { rows, position };
}

const ids = (rows: readonly VerdictRow[]): string[] => rows.map((r) => `${r[1]}@${r[2] - T0}`);

describe.each(BACKENDS)('the store on $name', (backend) => {
  describe.skipIf(backend.skip)('agents', () => {
    it('stores an agent and reads it back with only the optional properties it has, by id and by token', async () => {
      const store = await backend.fresh();
      const full = { ...SITE, id: 'full', isp: 'VNPT', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', areaCode: '06100', lat: 21.86, lon: 106.83, contractMbps: 300 };
      expect(await store.agents.add(SITE, 'h1', T0)).toStrictEqual({ ...SITE, createdAt: T0 });
      expect(await store.agents.add(full, 'h2', T0 + 1)).toStrictEqual({ ...full, createdAt: T0 + 1 });
      expect(await store.agents.get('full')).toStrictEqual({ ...full, createdAt: T0 + 1 });
      expect(await store.agents.get('nobody')).toBeUndefined();
      expect((await store.agents.byTokenHash('h2'))?.id).toBe('full');
      expect((await store.agents.list()).map((a) => a.id)).toEqual(['full', SITE.id]);
      await expect(store.agents.add({ ...SITE, name: 'again' }, 'h3', T0)).rejects.toMatchObject({ code: 'SW_AGENT_EXISTS' });
    });

    it('revokes and rotates an active agent only; a revoked one has no token and cannot be found by it', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      expect(await store.agents.rotate(SITE.id, 'new-hash')).toBe(true);
      expect(await store.agents.byTokenHash(`hash-of-${SITE.id}`)).toBeUndefined();
      expect((await store.agents.byTokenHash('new-hash'))?.id).toBe(SITE.id);
      expect(await store.agents.revoke(SITE.id, T0)).toBe(true);
      expect(await store.agents.revoke(SITE.id, T0 + 1)).toBe(false);
      expect(await store.agents.rotate(SITE.id, 'other')).toBe(false);
      expect(await store.agents.revoke('nobody', T0)).toBe(false);
      expect(await store.agents.byTokenHash('new-hash')).toBeUndefined();
      expect(await store.agents.listWithTokens()).toEqual([{ agent: expect.objectContaining({ id: SITE.id, revokedAt: T0 }) }]);
    });

    it('edits a site\'s description, pauses and resumes, answering which agents changed in the order asked', async () => {
      const store = await backend.fresh();
      for (const id of ['a', 'b', 'c']) await addAgent(store, id);
      await store.agents.revoke('c', T0);
      expect(await store.agents.edit('a', { name: 'Trạm Y tế', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel' })).toBe(true);
      expect(await store.agents.edit('nobody', { name: 'x', siteKind: 'clinic', technology: 'mobile' })).toBe(false);
      expect(await store.agents.get('a')).toStrictEqual({ id: 'a', name: 'Trạm Y tế', siteKind: 'clinic', technology: 'mobile', isp: 'Viettel', createdAt: T0 - DAY });
      expect(await store.agents.setPaused(['b', 'a', 'c', 'nobody'], T0)).toEqual(['b', 'a']);
      expect(await store.agents.setPaused(['a'], T0 + 1)).toEqual([]);
      expect((await store.agents.get('a'))?.pausedAt).toBe(T0);
      expect(await store.agents.setPaused(['a', 'b', 'c'], undefined)).toEqual(['a', 'b']);
      expect((await store.agents.get('a'))?.pausedAt).toBeUndefined();
    });

    it('records versions and last-seen times, never moving last seen backwards', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await store.agents.touch([{ id: SITE.id, version: '0.1.0', lastSeenAt: T0 + 10 }, { id: 'nobody', lastSeenAt: T0 }]);
      await store.agents.touch([{ id: SITE.id, lastSeenAt: T0 + 5 }]);
      expect(await store.agents.get(SITE.id)).toMatchObject({ version: '0.1.0', lastSeenAt: T0 + 10 });
      await store.agents.touch([{ id: SITE.id, version: '0.2.0', lastSeenAt: T0 + 20 }]);
      expect(await store.agents.get(SITE.id)).toMatchObject({ version: '0.2.0', lastSeenAt: T0 + 20 });
    });

    it('moves the change counter, seen from another connection, at every identity change and not when an agent is seen', async () => {
      const store = await backend.fresh();
      const other = await backend.another(store);
      const seq = [await store.agents.changeSeq()];
      const step = async (change: () => Promise<unknown>): Promise<void> => {
        await change();
        seq.push(await store.agents.changeSeq());
      };
      await step(() => other.agents.add(SITE, 'c1', T0));
      await step(() => other.agents.touch([{ id: SITE.id, version: '0.1.0', lastSeenAt: T0 + 1 }]));
      await step(() => other.agents.rotate(SITE.id, 'c2'));
      await step(() => other.agents.edit(SITE.id, { ...SITE, name: 'renamed' }));
      await step(() => other.agents.setPaused([SITE.id], T0));
      await step(() => other.agents.revoke(SITE.id, T0 + 2));
      // It moves (by one trigger or more: an edit sets every site column) at each identity
      // change, and stays when the agent is only seen.
      const moved = seq.slice(1).map((value, i) => value > (seq[i] as number));
      expect(seq[0]).toBe(0);
      expect(moved).toEqual([true, false, true, true, true, true]);
    });
  });

  describe.skipIf(backend.skip)('enrollment codes', () => {
    it('enrolls once with a live code, setting the token; a used, expired, ended or unknown code is refused as such', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await store.enrollment.issue(SITE.id, 'code-1', T0, T0 + DAY);
      await store.enrollment.issue(SITE.id, 'code-2', T0 + 10, T0 + DAY); // ends code-1
      expect(await store.enrollment.redeem('code-1', 'token-1', T0 + 20)).toEqual({ outcome: 'expired', expiredAt: T0 + 10 });
      expect(await store.enrollment.redeem('code-2', 'token-2', T0 + 20)).toEqual({ outcome: 'enrolled', agentId: SITE.id });
      expect((await store.agents.byTokenHash('token-2'))?.id).toBe(SITE.id);
      expect(await store.enrollment.redeem('code-2', 'token-3', T0 + 30)).toEqual({ outcome: 'used', usedAt: T0 + 20 });
      expect(await store.enrollment.redeem('nothing', 'token-4', T0 + 30)).toEqual({ outcome: 'unknown' });
      expect(await store.enrollment.latestByAgent()).toEqual(new Map([[SITE.id, { agentId: SITE.id, createdAt: T0 + 10, expiresAt: T0 + DAY, usedAt: T0 + 20 }]]));
      await store.enrollment.issue(SITE.id, 'code-3', T0 + 40, T0 + DAY);
      await store.agents.revoke(SITE.id, T0 + 50);
      expect(await store.enrollment.redeem('code-3', 'token-5', T0 + 60)).toEqual({ outcome: 'unknown' });
    });

    it('adds a new site with its first code in one transaction, and neither when the id is taken', async () => {
      const store = await backend.fresh();
      await store.enrollment.issue('new', 'code-1', T0, T0 + DAY, { agent: { ...SITE, id: 'new' }, tokenHash: 'nobody-knows' });
      expect((await store.agents.get('new'))?.name).toBe(SITE.name);
      await expect(store.enrollment.issue('new', 'code-2', T0, T0 + DAY, { agent: { ...SITE, id: 'new' }, tokenHash: 'x' })).rejects.toMatchObject({ code: 'SW_AGENT_EXISTS' });
      expect(await store.enrollment.redeem('code-2', 't', T0 + 1)).toEqual({ outcome: 'unknown' });
      expect(await store.enrollment.redeem('code-1', 't', T0 + 1)).toEqual({ outcome: 'enrolled', agentId: 'new' });
    });
  });

  describe.skipIf(backend.skip)('health and area units', () => {
    it('keeps each agent\'s newest health report, skipping agents it does not know', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      const report = (uptimeSeconds: number): AgentHealthRecord['report'] => ({
        clock: new Date(T0).toISOString(),
        agent: { version: '0.1.0', platform: 'linux', arch: 'arm64', node: '20.18.1' },
        uptimeSeconds,
        systemUptimeSeconds: 1000,
        backlog: 0,
        dropped: 0,
        failedTestsInARow: 0,
      });
      const at = (receivedAt: number, uptime: number): AgentHealthRecord => ({ agentId: SITE.id, receivedAt, skewMs: -80, report: report(uptime) });
      await store.health.save([at(T0 + 2, 2), at(T0 + 1, 1), { ...at(T0, 0), agentId: 'nobody' }]);
      await store.health.save([at(T0, 0)]); // older: ignored
      expect(await store.health.list()).toEqual({ records: [at(T0 + 2, 2)], unreadable: [] });
    });

    it('adds and replaces area units by code', async () => {
      const store = await backend.fresh();
      await store.areaUnits.upsert([{ code: '06', name: 'Lạng Sơn' }, { code: '06100', name: 'Hợp Thanh', parentCode: '06', validFrom: T0 }]);
      await store.areaUnits.upsert([{ code: '06100', name: 'Hợp Thành', parentCode: '06', validFrom: T0, validTo: T0 + DAY }]);
      expect(await store.areaUnits.all()).toEqual(
        new Map([
          ['06', { code: '06', name: 'Lạng Sơn' }],
          ['06100', { code: '06100', name: 'Hợp Thành', parentCode: '06', validFrom: T0, validTo: T0 + DAY }],
        ]),
      );
    });
  });

  describe.skipIf(backend.skip)('results.insertFrames', () => {
    it('stores new ids and reports re-sent, repeated and other agents\' ids as duplicates', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      await addAgent(store, 'b');
      const [r1, r2, r3] = [makeResult(T0), makeResult(T0 + 1), makeResult(T0 + 2)];
      expect(await storeResults(store, 'a', [r1, r2], T0 + 10)).toEqual({ inserted: [r1.id, r2.id], duplicates: [] });
      expect(await storeResults(store, 'a', [r2, r3, r3], T0 + 20)).toEqual({ inserted: [r3.id], duplicates: [r2.id, r3.id] });
      // Ids are global: the same id from another agent (even with another time) is a duplicate, and stays the first agent's.
      expect(await storeResults(store, 'b', [r1, { ...r2, startedAt: new Date(T0 + 40 * DAY).toISOString() }], T0 + 30)).toEqual({ inserted: [], duplicates: [r1.id, r2.id] });
      expect(await allIds(store, 'a')).toHaveLength(3);
      expect(await allIds(store, 'b')).toEqual([]);
      expect(await store.results.insertFrames([])).toEqual([]);
    });

    it('commits several agents\' batches at once with an outcome per batch (group commit)', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      await addAgent(store, 'b');
      const [r1, r2, r3] = [makeResult(T0), makeResult(T0 + 1), makeResult(T0 + 2)];
      expect(await store.results.insertFrames([batchOfResults('a', T0, [r1, r2]), batchOfResults('b', T0, [r3, r1]), batchOfResults('a', T0, [])])).toEqual([
        { inserted: [r1.id, r2.id], duplicates: [] },
        { inserted: [r3.id], duplicates: [r1.id] },
        { inserted: [], duplicates: [] },
      ]);
      expect((await allIds(store, 'a')).sort()).toEqual([r1.id, r2.id].sort());
      expect(await allIds(store, 'b')).toEqual([r3.id]);
    });

    it('stores each id once when two connections (two collectors) write the same results at the same time', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      const other = await backend.another(store);
      const results = Array.from({ length: 200 }, (_, i) => makeResult(T0 + i * 1_000));
      const outcomes = await Promise.all([
        storeResults(store, SITE.id, results.slice(0, 150), T0),
        storeResults(other, SITE.id, results.slice(50), T0),
      ]);
      const inserted = outcomes.flatMap((o) => o.inserted);
      expect(inserted.sort()).toEqual(results.map((r) => r.id).sort());
      expect(outcomes.flatMap((o) => o.duplicates)).toHaveLength(100);
      expect(await allIds(store)).toHaveLength(200);
    });

    it('keeps the whole document and the columns taken from it, and reads them from another connection', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      const full = makeResult(T0 + 1_000, { downloadMbps: 30.003500000000003, uploadMbps: 41.25, latencyMs: 18, jitterMs: 2.5, lossRatio: 0.1 });
      const failed = makeResult(T0 + 2_000, { status: 'failed' });
      await storeResults(store, SITE.id, [full, failed], T0 + 60_000);
      const { results } = await (await backend.another(store)).results.page({ limit: 10 });
      expect(results).toStrictEqual([
        { id: full.id, agentId: SITE.id, ts: T0 + 1_000, receivedAt: T0 + 60_000, status: 'ok', downloadMbps: 30.003500000000003, uploadMbps: 41.25, latencyMs: 18, jitterMs: 2.5, lossRatio: 0.1, result: full },
        { id: failed.id, agentId: SITE.id, ts: T0 + 2_000, receivedAt: T0 + 60_000, status: 'failed', result: failed },
      ]);
    });
  });

  describe.skipIf(backend.skip)('reading results', () => {
    it('pages through every row exactly once in (ts, id) order, ties included', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      await addAgent(store, 'b');
      // 40 results over 10 distinct times, so pages end in the middle of equal timestamps; ids
      // that differ by case and punctuation at one time sort as bytes, as SQLite compares them
      // (a locale's collation would put apple before Zebra and ignore - and _).
      const odd = ['Zebra_001', 'apple-001', 'APPLE_001', '_under001', '-dash0001'];
      const results = Array.from({ length: 40 }, (_, i) => makeResult(T0 + (i < odd.length ? 0 : (i % 10) * 1_000), i < odd.length ? { id: odd[i] as string } : {}));
      await storeResults(store, 'a', results.slice(0, 30), T0);
      await storeResults(store, 'b', results.slice(30), T0);
      const expected = results.map((r) => ({ id: r.id, ts: Date.parse(r.startedAt) })).sort((x, y) => x.ts - y.ts || Buffer.compare(Buffer.from(x.id), Buffer.from(y.id)));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.results.page({ limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        seen.push(...page.results.map((r) => r.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== undefined && pages < 20);
      expect(seen).toEqual(expected.map((e) => e.id));
      expect(pages).toBe(6);
    });

    it('filters by agent and by from <= ts < to, pages within the filter, and lists an agent\'s latest newest first', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      await addAgent(store, 'b');
      await storeResults(store, 'a', Array.from({ length: 10 }, (_, i) => makeResult(T0 + i * HOUR)), T0);
      await storeResults(store, 'b', [makeResult(T0 + 3 * HOUR)], T0);
      const first = await store.results.page({ agentId: 'a', from: T0 + 2 * HOUR, to: T0 + 7 * HOUR, limit: 3 });
      expect(first.results.map((r) => r.ts)).toEqual([2, 3, 4].map((h) => T0 + h * HOUR));
      const second = await store.results.page({ agentId: 'a', from: T0 + 2 * HOUR, to: T0 + 7 * HOUR, limit: 3, cursor: first.nextCursor as string });
      expect(second.results.map((r) => r.ts)).toEqual([5, 6].map((h) => T0 + h * HOUR));
      expect(second.nextCursor).toBeUndefined();
      expect((await store.results.page({ from: T0 + 3 * HOUR, to: T0 + 3 * HOUR + 1, limit: 10 })).results.map((r) => r.agentId).sort()).toEqual(['a', 'b']);
      expect((await store.results.recent('a', 3)).map((r) => r.ts)).toEqual([9, 8, 7].map((h) => T0 + h * HOUR));
    });

    it.each([
      ['a cursor it did not issue', { limit: 10, cursor: 'abc$%^' }, 'SW_STORE_CURSOR'],
      ['a cursor padded', { limit: 10, cursor: `${Buffer.from('1.abcdefgh').toString('base64url')}==` }, 'SW_STORE_CURSOR'],
      ['limit 0', { limit: 0 }, 'SW_STORE_ARGUMENT'],
      ['limit 10 001', { limit: 10_001 }, 'SW_STORE_ARGUMENT'],
    ])('refuses %s', async (_, query, code) => {
      const store = await backend.fresh();
      await expect(store.results.page(query)).rejects.toMatchObject({ code });
    });

    it('gives each agent\'s latest result\'s figures, loaded latencies included, and its latest download', async () => {
      const store = await backend.fresh();
      for (const id of ['a', 'b', 'c']) await addAgent(store, id);
      const withDownload = makeResult(T0, { downloadMbps: 88.5, uploadMbps: 30, latencyMs: 14, jitterMs: 2, lossRatio: 0.05 });
      const loaded = { download: { count: 3, medianMs: 41.5, p90Ms: 50, lossRatio: 0 }, upload: { count: 3, medianMs: 60.25, p90Ms: 70, lossRatio: 0 } };
      const latest = parseMeasurementResult({ ...makeResult(T0 + 1_000, { uploadMbps: 31, latencyMs: 15 }), loadedLatency: loaded });
      const failed = makeResult(T0, { status: 'failed' });
      await storeResults(store, 'a', [withDownload, latest], T0 + 2_000);
      await storeResults(store, 'b', [failed], T0 + 2_000);
      expect(await store.results.latestActivity(['a', 'b', 'c'])).toEqual([
        { agentId: 'a', figures: resultFigures(latest), download: { ts: T0, mbps: 88.5 } },
        { agentId: 'b', figures: resultFigures(failed) },
      ]);
      expect(await store.results.latestActivity([])).toEqual([]);
    });

    describe('an agent\'s newest UDP quality', () => {
      /** What latestActivity gives of a stored result with a udp section. */
      const latestUdp = (result: MeasurementResult) => ({ id: result.id, ts: Date.parse(result.startedAt), figures: udpFigures(result.udp ?? udpSection(0)) });

      it('is its newest result with a udp section, kept when later results have none, read from another connection', async () => {
        const store = await backend.fresh();
        for (const id of ['a', 'b']) await addAgent(store, id);
        const older = makeResult(T0 + 1_000, { udpRttMs: 20 });
        const newest = makeResult(T0 + 3_000, { udpRttMs: 30.5 });
        const after = makeResult(T0 + 5_000, { downloadMbps: 90 });
        await storeResults(store, 'a', [older, newest, after], T0 + 6_000);
        const plain = makeResult(T0 + 5_000);
        await storeResults(store, 'b', [plain], T0 + 6_000);
        const other = await backend.another(store);
        expect(await other.results.latestActivity(['a', 'b'])).toEqual([
          { agentId: 'a', figures: resultFigures(after), download: { ts: T0 + 5_000, mbps: 90 }, udp: latestUdp(newest) },
          { agentId: 'b', figures: resultFigures(plain) },
        ]);
      });

      it('is replaced only by a newer one: not by a late older result, a re-sent one, or another agent\'s copy of an id', async () => {
        const store = await backend.fresh();
        for (const id of ['a', 'b']) await addAgent(store, id);
        const kept = makeResult(T0 + 3_000, { udpRttMs: 30 });
        await storeResults(store, 'a', [kept], T0 + 4_000);
        const other = await backend.another(store);
        await storeResults(other, 'a', [makeResult(T0 + 2_000, { udpRttMs: 99 })], T0 + 5_000);
        expect(await storeResults(other, 'a', [kept], T0 + 5_000)).toEqual({ inserted: [], duplicates: [kept.id] });
        const copied = parseMeasurementResult({ ...makeResult(T0 + 9_000, { udpRttMs: 77 }), id: kept.id });
        expect(await storeResults(store, 'b', [copied], T0 + 9_500)).toEqual({ inserted: [], duplicates: [kept.id] });
        const [a, b] = await store.results.latestActivity(['a', 'b']);
        expect(a?.udp).toEqual(latestUdp(kept));
        expect(b).toBeUndefined();
        const newer = makeResult(T0 + 4_000, { udpRttMs: 12.25 });
        await storeResults(other, 'a', [newer], T0 + 10_000);
        expect((await store.results.latestActivity(['a']))[0]?.udp).toEqual(latestUdp(newer));
      });

      it('takes the newest of several batches of one group commit, whatever their order', async () => {
        const store = await backend.fresh();
        for (const id of ['a', 'b']) await addAgent(store, id);
        const newest = makeResult(T0 + 7_000, { udpRttMs: 41 });
        const older = makeResult(T0 + 6_000, { udpRttMs: 40 });
        const forB = makeResult(T0 + 1_000, { udpRttMs: 8 });
        const outcomes = await store.results.insertFrames([batchOfResults('a', T0 + 8_000, [newest]), batchOfResults('b', T0 + 8_000, [forB]), batchOfResults('a', T0 + 8_000, [older])]);
        expect(outcomes.map((o) => o.inserted.length)).toEqual([1, 1, 1]);
        const [a, b] = await store.results.latestActivity(['a', 'b']);
        expect(a?.udp).toEqual(latestUdp(newest));
        expect(b?.udp).toEqual(latestUdp(forB));
      });
    });

    it('scans the window in ts order, then only what was stored since, late results included, none twice', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      await addAgent(store, 'b');
      const other = await backend.another(store);
      await storeResults(store, 'a', [makeResult(T0 + 3_000, { downloadMbps: 50 }), makeResult(T0 + 1_000), makeResult(T0 - DAY)], T0);
      const first = await scan(store, T0);
      expect(ids(first.rows)).toEqual(['a@1000', 'a@3000']);
      expect(first.rows[1]?.slice(1)).toEqual(['a', T0 + 3_000, 'ok', 50, null, null, null]);
      expect(ids((await scan(store, T0, first.position)).rows)).toEqual([]);
      // From another connection: a new one, and a late one older than everything scanned so far.
      await storeResults(other, 'b', [makeResult(T0 + 5_000)], T0);
      await storeResults(other, 'a', [makeResult(T0 + 500)], T0);
      const second = await scan(store, T0, first.position);
      expect(ids(second.rows)).toEqual(['b@5000', 'a@500']);
      expect(ids((await scan(store, T0, second.position)).rows)).toEqual([]);
      const between: VerdictRow[] = [];
      await store.results.scanVerdictRowsBetween(T0 + 500, T0 + 5_000, (row) => between.push(row));
      expect(ids(between)).toEqual(['a@500', 'a@1000', 'a@3000']);
    });
    it('keeps whether a test ran on a busy line for the verdict scans: 1 flagged, 0 checked and quiet, null not checked', async () => {
      const store = await backend.fresh();
      await addAgent(store, 'a');
      const busyLine = (flagged: boolean): MeasurementResult['busyLine'] => ({ interface: 'eth0', crossTrafficBytes: flagged ? 9_000_000 : 1000, crossRxBytes: 0, crossTxBytes: flagged ? 9_000_000 : 1000, durationMs: 24_000, thresholdBytesPerSec: 25_000, flagged });
      const withLine = (at: number, flagged: boolean): MeasurementResult => parseMeasurementResult({ ...makeResult(at), busyLine: busyLine(flagged) });
      await storeResults(store, 'a', [withLine(T0 + 1_000, true), withLine(T0 + 2_000, false), makeResult(T0 + 3_000)], T0);
      const other = await backend.another(store);
      expect((await scan(other, T0)).rows.map((r) => r[7])).toEqual([1, 0, null]);
      const between: VerdictRow[] = [];
      await other.results.scanVerdictRowsBetween(T0, T0 + 5_000, (row) => between.push(row));
      expect(between.map((r) => r[7])).toEqual([1, 0, null]);
      const page = await other.results.page({ limit: 10, agentId: 'a' });
      expect(page.results[0]?.result.busyLine).toEqual(busyLine(true));
    });
  });

  describe.skipIf(backend.skip)('series, roll-ups and retention', () => {
    it('computes exact bucket statistics from raw results below an hour, skipping missing values', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await storeResults(
        store,
        SITE.id,
        [
          ...[40, 10, 30, 20].map((mbps, i) => makeResult(T0 + i * 60_000, { downloadMbps: mbps })),
          makeResult(T0 + 5 * 60_000, { status: 'failed' }),
          ...[7, 1, 4].map((mbps, i) => makeResult(T0 + 30 * 60_000 + i, { downloadMbps: mbps })),
          makeResult(T0 - 1, { downloadMbps: 1_000 }),
          makeResult(T0 + HOUR, { downloadMbps: 1_000 }),
        ],
        T0,
      );
      expect(await store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, 15 * 60_000)).toEqual([
        { ts: T0, count: 4, min: 10, mean: 25, median: 25, max: 40 },
        { ts: T0 + 30 * 60_000, count: 3, min: 1, mean: 4, median: 4, max: 7 },
      ]);
      expect(await store.rollups.series(SITE.id, 'upload_mbps', T0, T0 + HOUR, 15 * 60_000)).toEqual([]);
    });

    it('combines hourly roll-ups into daily points after maintenance, with hours not rolled up yet from raw results', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await storeResults(
        store,
        SITE.id,
        [
          // Day 1: hour 0 10, 20, 30 (median 20, count 3); hour 5: 40. Daily median: 20 (weight 3 of 4).
          ...[10, 20, 30].map((v, i) => makeResult(T0 + i * 60_000, { latencyMs: v })),
          makeResult(T0 + 5 * HOUR, { latencyMs: 40 }),
          // Day 2: hour 1 10, 30 (median 20); hour 2 50, 70 (median 60): exactly half -> 40.
          ...[10, 30].map((v, i) => makeResult(T0 + DAY + HOUR + i, { latencyMs: v })),
          ...[50, 70].map((v, i) => makeResult(T0 + DAY + 2 * HOUR + i, { latencyMs: v })),
        ],
        T0,
      );
      const now = T0 + DAY + 2 * HOUR; // hour 2 of day 2 is not complete: served from raw results
      expect((await store.rollups.maintain(now)).rolledUpHours).toBe(3);
      const daily = [
        { ts: T0, count: 4, min: 10, mean: 25, median: 20, max: 40 },
        { ts: T0 + DAY, count: 4, min: 10, mean: 40, median: 40, max: 70 },
      ];
      expect(await store.rollups.series(SITE.id, 'latency_ms', T0, T0 + 2 * DAY, DAY)).toEqual(daily);
      expect(await store.rollups.maintain(now)).toEqual({ rolledUpHours: 0, deletedResults: 0 });
      expect((await store.rollups.maintain(T0 + 2 * DAY)).rolledUpHours).toBe(1);
      expect(await store.rollups.series(SITE.id, 'latency_ms', T0, T0 + 2 * DAY, DAY)).toEqual(daily);
      expect(await store.rollups.series(SITE.id, 'jitter_ms', T0, T0 + 2 * DAY, DAY)).toEqual([
        { ts: T0, count: 4, min: 1.5, mean: 1.5, median: 1.5, max: 1.5 },
        { ts: T0 + DAY, count: 4, min: 1.5, mean: 1.5, median: 1.5, max: 1.5 },
      ]);
    });

    it('recomputes an hour that receives a late result, from any connection, at the next maintenance', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await storeResults(store, SITE.id, [makeResult(T0 + 1, { downloadMbps: 10 }), makeResult(T0 + 2, { downloadMbps: 20 })], T0);
      await store.rollups.maintain(T0 + 3 * HOUR);
      const before = [{ ts: T0, count: 2, min: 10, mean: 15, median: 15, max: 20 }];
      expect(await store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual(before);
      await storeResults(await backend.another(store), SITE.id, [makeResult(T0 + 3, { downloadMbps: 90 })], T0 + 3 * HOUR);
      expect(await store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual(before);
      expect((await store.rollups.maintain(T0 + 3 * HOUR)).rolledUpHours).toBe(1);
      expect(await store.rollups.series(SITE.id, 'download_mbps', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, count: 3, min: 10, mean: 40, median: 20, max: 90 }]);
    });

    it('drops results older than the retention, keeps the recent ones and the roll-ups, and says from when results are whole', async () => {
      const store = await backend.fresh({ retentionDays: 30 });
      await addAgent(store);
      const now = T0 + 100 * DAY + 30 * 60_000;
      const cutoff = now - 30 * DAY;
      // Two months before the cut (gone on both: a month wholly past it), just after it, and recent.
      const old = makeResult(T0 + HOUR, { downloadMbps: 80 });
      const edge = makeResult(cutoff + HOUR, { downloadMbps: 60 });
      const recent = makeResult(now - HOUR, { downloadMbps: 70 });
      await storeResults(store, SITE.id, [old, edge, recent], T0);
      expect(await store.results.deletedBefore()).toBeUndefined();
      expect(await store.rollups.maintain(now)).toEqual({ rolledUpHours: 3, deletedResults: 1 });
      expect(await allIds(store)).toEqual([edge.id, recent.id]);
      const deletedBefore = (await store.results.deletedBefore()) as number;
      expect(deletedBefore).toBeGreaterThan(T0 + HOUR);
      expect(deletedBefore).toBeLessThanOrEqual(cutoff);
      expect((await store.rollups.series(SITE.id, 'download_mbps', T0, now, DAY)).map((p) => [p.ts, p.count, p.median])).toEqual([
        [T0, 1, 80],
        [Math.floor((cutoff + HOUR) / DAY) * DAY, 1, 60],
        [Math.floor((now - HOUR) / DAY) * DAY, 1, 70],
      ]);
      expect((await store.rollups.maintain(now)).deletedResults).toBe(0);
    });

    it.each([
      ['a zero step', 'download_mbps', 0],
      ['a fractional step', 'download_mbps', 1.5],
      ['an unknown metric', 'speed', HOUR],
    ])('refuses %s with SW_STORE_ARGUMENT', async (_, metric, step) => {
      const store = await backend.fresh();
      await expect(store.rollups.series(SITE.id, metric as 'download_mbps', T0, T0 + DAY, step)).rejects.toMatchObject({ code: 'SW_STORE_ARGUMENT' });
    });
  });

  describe.skipIf(backend.skip)('closed', () => {
    it('refuses reads and writes once closed, with the store\'s codes', async () => {
      const store = await backend.fresh();
      await addAgent(store);
      await store.close();
      await store.close();
      await expect(storeResults(store, SITE.id, [makeResult(T0)], T0)).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
      await expect(store.agents.revoke(SITE.id, T0)).rejects.toMatchObject({ code: 'SW_STORE_WRITE' });
      await expect(store.agents.list()).rejects.toMatchObject({ code: 'SW_STORE_READ' });
    });
  });
});
