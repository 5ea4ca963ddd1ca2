/**
 * What only the PostgreSQL store has: its migrations table, monthly partitions and retention by
 * dropping them, its connection settings. What it shares with SQLite is in store-contract.test.ts.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { batchOfResults } from '../src/store/frame-batch.js';
import { describePostgres, parsePostgresUrl } from '../src/store/postgres/postgres-connection.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres/postgres-migrations.js';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { udpFigures } from '../src/store/result-row.js';
import type { PostgresStore, PostgresStoreOptions } from '../src/store/postgres/postgres-store.js';
import { clusterForTests } from './postgres-for-tests.js';
import { makeResult } from './store-util.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 2026-01-05, a Monday. */
const T0 = Date.UTC(2026, 0, 5);

const postgres = clusterForTests();

async function open(database: string, options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  const cluster = postgres.cluster();
  const store = await openPostgresStore({ url: cluster.url(database), password: cluster.password, ...options });
  onTestFinished(() => store.close());
  return store;
}

async function fresh(options: Partial<PostgresStoreOptions> = {}): Promise<{ store: PostgresStore; database: string }> {
  const database = await postgres.cluster().createDatabase();
  const store = await open(database, options);
  await store.agents.add({ id: 'school-1', name: 'Trường', siteKind: 'school', technology: 'fixed' }, 'h', T0);
  return { store, database };
}

async function partitions(database: string): Promise<string[]> {
  const { rows } = await postgres.cluster().admin<{ name: string }>("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'results'::regclass ORDER BY 1", database);
  return rows.map((r) => r.name);
}

async function count(database: string, table: string): Promise<number> {
  const { rows } = await postgres.cluster().admin<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, database);
  return Number(rows[0]?.n);
}

describe.skipIf(postgres.skip)('PostgresStore', () => {
  describe('openPostgresStore', () => {
    it('migrates a new database once, recording each version, even when two collectors open it at the same time', async () => {
      const database = await postgres.cluster().createDatabase();
      await Promise.all([open(database), open(database)]);
      await open(database);
      const { rows } = await postgres.cluster().admin<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', database);
      expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1));
    });

    it('refuses a database migrated by a newer speedwatch with SW_STORE_VERSION and leaves it untouched', async () => {
      const { database } = await fresh();
      const newer = POSTGRES_MIGRATIONS.length + 1;
      await postgres.cluster().admin(`INSERT INTO schema_migrations (version) VALUES (${newer})`, database);
      await expect(open(database)).rejects.toMatchObject({ code: 'SW_STORE_VERSION', message: expect.stringContaining(`schema version ${newer}`) });
      expect(await count(database, 'agents')).toBe(1);
    });

    it('fails with SW_STORE_OPEN naming the database, never the password, when the password is wrong', async () => {
      const database = await postgres.cluster().createDatabase();
      const cluster = postgres.cluster();
      const error = await openPostgresStore({ url: cluster.url(database), password: 'wrong-secret-123' }).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'SW_STORE_OPEN', message: expect.stringContaining(`postgres://speedwatch@127.0.0.1:${cluster.port}/${database}`) });
      expect(String((error as Error).message)).not.toContain('wrong-secret-123');
    });

    it.each([
      ['a password in the URL', 'postgres://u:secret@db/x', 'without a password'],
      ['another scheme', 'mysql://u@db/x', 'a postgres:// URL'],
      ['no database', 'postgres://u@db/', 'one database'],
      ['no role', 'postgres://db/x', 'naming the role'],
      ['an unknown parameter', 'postgres://u@db/x?options=-c', 'only parameters'],
    ])('refuses a URL with %s, saying what it expects', (_, url, expected) => {
      expect(parsePostgresUrl(url)).toEqual({ problem: expect.stringContaining(expected) });
    });

    it('reads a URL\'s parts, a socket directory and an sslmode included, and describes it without parameters', () => {
      expect(parsePostgresUrl('postgresql://sw@db.example.org/speedwatch?sslmode=verify-full')).toEqual({ host: 'db.example.org', port: 5432, user: 'sw', database: 'speedwatch', ssl: 'verify-full' });
      expect(parsePostgresUrl('postgres://sw@localhost:6543/speedwatch?host=/run/postgresql')).toMatchObject({ host: '/run/postgresql', port: 6543 });
      expect(describePostgres('postgres://sw@localhost:6543/speedwatch?host=/run/postgresql')).toBe('postgres://sw@[/run/postgresql]:6543/speedwatch');
    });
  });

  describe('migration 6', () => {
    it('fills latest_udp from each agent\'s last 10 results only', async () => {
      const { store, database } = await fresh();
      for (const id of ['a', 'b', 'c']) await store.agents.add({ id, name: id, siteKind: 'school', technology: 'fixed' }, `h-${id}`, T0);
      // a: UDP quality in its third newest result; b: only in its eleventh newest; c: never.
      const third = makeResult(T0 + 1_000, { udpRttMs: 25 });
      await store.results.insertFrames([
        batchOfResults('a', T0 + 4_000, [makeResult(T0, { udpRttMs: 60 }), third, makeResult(T0 + 2_000), makeResult(T0 + 3_000)]),
        batchOfResults('b', T0 + 20_000, [makeResult(T0, { udpRttMs: 70 }), ...Array.from({ length: 10 }, (_, i) => makeResult(T0 + (i + 1) * 1_000))]),
        batchOfResults('c', T0 + 1_000, [makeResult(T0)]),
      ]);
      await store.close();
      await postgres.cluster().admin('DROP TABLE latest_udp; DELETE FROM schema_migrations WHERE version = 6', database);
      const migrated = await open(database);
      const latest = await migrated.results.latestActivity(['a', 'b', 'c']);
      expect(latest.map((l) => [l.agentId, l.udp])).toEqual([
        ['a', { id: third.id, ts: T0 + 1_000, figures: udpFigures(third.udp as NonNullable<typeof third.udp>) }],
        ['b', undefined],
        ['c', undefined],
      ]);
    });
  });

  describe('partitions and retention', () => {
    it('stores a result in its month\'s partition, created on demand, and maintenance makes this month and the next two', async () => {
      const { store, database } = await fresh();
      await store.results.insertFrames([batchOfResults('school-1', T0, [makeResult(Date.UTC(2025, 10, 30, 23)), makeResult(T0)])]);
      expect(await partitions(database)).toEqual(['results_p2025_11', 'results_p2026_01']);
      await store.rollups.maintain(Date.UTC(2026, 2, 10));
      expect(await partitions(database)).toEqual(['results_p2025_11', 'results_p2026_01', 'results_p2026_03', 'results_p2026_04', 'results_p2026_05']);
      expect(await postgres.cluster().admin('SELECT count(*) AS n FROM results_p2025_11', database).then((r) => Number(r.rows[0]?.['n']))).toBe(1);
    });

    it('drops a month once all of it is past the retention, with its ids, and keeps a month the cut falls in whole', async () => {
      const { store, database } = await fresh({ retentionDays: 30 });
      const now = Date.UTC(2026, 2, 10); // cut: 2026-02-08
      const january = [makeResult(Date.UTC(2026, 0, 31, 23)), makeResult(Date.UTC(2026, 0, 2))];
      const february = makeResult(Date.UTC(2026, 1, 1)); // older than the cut, in the month it falls in
      await store.results.insertFrames([batchOfResults('school-1', T0, [...january, february, makeResult(now - HOUR)])]);
      expect(await store.rollups.maintain(now)).toMatchObject({ deletedResults: 2 });
      expect(await partitions(database)).toEqual(['results_p2026_02', 'results_p2026_03', 'results_p2026_04', 'results_p2026_05']);
      expect(await count(database, 'result_ids')).toBe(2);
      expect(await store.results.deletedBefore()).toBe(Date.UTC(2026, 1, 1));
      // A January result re-sent is not known any more: it is stored again, in a January made again.
      const [outcome] = await store.results.insertFrames([batchOfResults('school-1', now, [january[0] as (typeof january)[0]])]);
      expect(outcome?.inserted).toHaveLength(1);
      expect(await store.rollups.maintain(now + DAY)).toMatchObject({ deletedResults: 1 });
      expect(await partitions(database)).not.toContain('results_p2026_01');
    });
  });

  describe('results', () => {
    it('stores nothing of a group commit, ids included, when one row fails, and throws SW_STORE_WRITE with the cause', async () => {
      const { store, database } = await fresh();
      const [good, bad] = [makeResult(T0), makeResult(T0 + 1)];
      const trigger = `CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id = '${bad.id}' THEN RAISE EXCEPTION 'simulated write failure'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER fail_one BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION fail_one();`;
      await postgres.cluster().admin(trigger, database);
      const error = await store.results.insertFrames([batchOfResults('school-1', T0, [good]), batchOfResults('school-1', T0, [bad])]).catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'SW_STORE_WRITE', cause: expect.objectContaining({ code: 'P0001' }) });
      expect(await count(database, 'results')).toBe(0);
      expect(await count(database, 'result_ids')).toBe(0);
      await postgres.cluster().admin('DROP TRIGGER fail_one ON results', database);
      expect((await store.results.insertFrames([batchOfResults('school-1', T0, [good, bad])]))[0]?.inserted).toHaveLength(2);
    });

    it('reads the verdict window\'s new rows by transaction (its BRIN index), not by scanning the whole window', async () => {
      const { store, database } = await fresh();
      // Most of a month of a 100-site fleet (about 290 000 rows) written straight into January's partition.
      await store.results.insertFrames([batchOfResults('school-1', T0, [makeResult(T0)])]);
      await postgres.cluster().admin(
        `INSERT INTO results (id, agent_id, ts, received_at, status, doc)
         SELECT 'r' || g, 'school-1', ${T0} + g * 8000, ${T0}, 'ok', '{}' FROM generate_series(1::bigint, 290000) AS g;
         ANALYZE results`,
        database,
      );
      const position = await store.results.scanVerdictRows(T0 + 20 * DAY, undefined, () => {});
      await store.results.insertFrames([batchOfResults('school-1', T0, [makeResult(T0 + 25 * DAY)])]);
      const { rows } = await postgres.cluster().admin<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT tx FROM results WHERE ts >= ${T0} AND tx >= pg_snapshot_xmin('${position}'::pg_snapshot)::text::bigint AND NOT pg_visible_in_snapshot(tx::text::xid8, '${position}'::pg_snapshot)`,
        database,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('Bitmap Index Scan on results_p2026_01_tx_idx');
      expect(plan).not.toContain('Seq Scan');
      const added: string[] = [];
      await store.results.scanVerdictRows(T0, position, (row) => added.push(`${row[2] - T0}`));
      expect(added).toEqual([`${25 * DAY}`]);
    });
  });
});
