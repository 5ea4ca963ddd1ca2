/**
 * The PostgreSQL store's pool and its few ways of running SQL: a statement, a transaction on one
 * connection, each failure turned into the StoreError that names what was being done and where.
 */
import type pg from 'pg';
import { storeReading, storeWriting } from '../store-error.js';

/**
 * Advisory lock keys (one namespace per database). Writes of results take HORIZON shared and the
 * roll-up that moves the horizon takes it exclusive, so a result is either seen by the roll-up's
 * check or sees the new horizon itself (see postgres-rollups.ts).
 */
export const LOCKS = Object.freeze({ migrate: 0x5377_0001, horizon: 0x5377_0002, partitions: 0x5377_0003, maintenance: 0x5377_0004 });

export type Isolation = 'READ COMMITTED' | 'REPEATABLE READ';

export class PgDb {
  readonly pool: pg.Pool;
  /** postgres://user@host:port/database, for messages. */
  readonly location: string;

  constructor(pool: pg.Pool, location: string) {
    this.pool = pool;
    this.location = location;
  }

  /** One read statement; SW_STORE_READ naming `what` on failure. */
  async read<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<R[]> {
    return storeReading(this.location, what, async () => (await this.pool.query<R>(sql, params)).rows);
  }

  /** One write statement (its own transaction); SW_STORE_WRITE naming `what` on failure. */
  async write<R extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
    return storeWriting(this.location, what, () => this.pool.query<R>(sql, params));
  }

  /** `fn` in one transaction on one connection, committed when it resolves, rolled back when it throws. */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, isolation: Isolation = 'READ COMMITTED'): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A connection that breaks between two statements (the server restarted, the backend was
    // terminated) emits 'error' on the client it lent; without a listener that ends the process.
    // The transaction's next statement fails with it, and the connection is not reused.
    const onError = (): void => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone: the pool must not hand it out again
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** A writing transaction; SW_STORE_WRITE naming `what` on failure, nothing of it stored. */
  writing<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>, isolation?: Isolation): Promise<T> {
    return storeWriting(this.location, what, () => this.transaction(fn, isolation));
  }

  /** A reading transaction (one snapshot with REPEATABLE READ); SW_STORE_READ naming `what`. */
  reading<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>, isolation: Isolation = 'REPEATABLE READ'): Promise<T> {
    return storeReading(this.location, what, () => this.transaction(fn, isolation));
  }
}

/**
 * Runs `sql` as a cursor in the transaction of `client`, passing each row (as an array of
 * columns) to `visit`, `batch` rows a fetch: a month of results is never held at once.
 */
export async function eachRow(client: pg.PoolClient, sql: string, params: unknown[], visit: (row: unknown[]) => void, batch = 10_000): Promise<void> {
  await client.query(`DECLARE speedwatch_scan NO SCROLL CURSOR FOR ${sql}`, params);
  for (;;) {
    const { rows } = await client.query<unknown[]>({ text: `FETCH ${batch} FROM speedwatch_scan`, rowMode: 'array' });
    for (const row of rows) visit(row);
    if (rows.length < batch) break;
  }
  await client.query('CLOSE speedwatch_scan');
}
