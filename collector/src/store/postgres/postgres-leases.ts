/**
 * Leases on PostgreSQL (table `leases`, migration 4): one row per lease, its expiry on the
 * database's clock, so that collectors whose clocks disagree agree on who holds it. What a lease
 * is for and its bounds: cluster/lease.ts. `checkFence` is the other half: a transaction doing
 * work under a lease first checks that it still holds it, then records its epoch in
 * `lease_fences` unless a newer holder's is there already (a fencing token). That row stays
 * locked until the transaction ends, so an old holder's last write and its successor's first
 * are ordered, and nothing of the old holder's is written after the successor has written.
 */
import type pg from 'pg';
import type { LeaseClaim, LeaseFence, LeaseSource } from '../../cluster/lease.js';
import { StoreError } from '../store-error.js';
import type { PgDb } from './postgres-db.js';

const CLAIM_SQL = `
  INSERT INTO leases AS l (name, holder, epoch, acquired_at, expires_at)
  VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + $3 * interval '1 millisecond')
  ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END,
    acquired_at = CASE WHEN l.holder = excluded.holder THEN l.acquired_at ELSE excluded.acquired_at END,
    expires_at = excluded.expires_at
  WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
  RETURNING epoch`;

export class PgLeases implements LeaseSource {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async claim(name: string, holder: string, ttlMs: number): Promise<LeaseClaim> {
    if (!(Number.isSafeInteger(ttlMs) && ttlMs > 0)) throw new StoreError('SW_STORE_ARGUMENT', `a lease's time to live must be a positive integer of ms, got ${ttlMs}`);
    const { rows } = await this.#db.write<{ epoch: number }>(`claim the lease ${name}`, CLAIM_SQL, [name, holder, ttlMs]);
    const claimed = rows[0];
    if (claimed !== undefined) return { held: true, holder, epoch: claimed.epoch };
    const current = await this.#db.read<{ holder: string; epoch: number }>(`read the lease ${name}`, 'SELECT holder, epoch FROM leases WHERE name = $1', [name]);
    return { held: false, holder: current[0]?.holder, epoch: current[0]?.epoch ?? 0 };
  }

  async release(name: string, holder: string): Promise<void> {
    await this.#db.write(`release the lease ${name}`, "UPDATE leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2", [name, holder]);
  }

  /** Who holds `name` now and until when (ms since the epoch, the database's clock); undefined if nobody ever has. */
  async holder(name: string): Promise<{ holder: string; epoch: number; expiresAt: number; live: boolean } | undefined> {
    const rows = await this.#db.read<{ holder: string; epoch: number; expires_at: number; live: boolean }>(
      `read the lease ${name}`,
      "SELECT holder, epoch, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at, expires_at > clock_timestamp() AS live FROM leases WHERE name = $1",
      [name],
    );
    const row = rows[0];
    return row === undefined ? undefined : { holder: row.holder, epoch: row.epoch, expiresAt: row.expires_at, live: row.live };
  }
}

/**
 * In the transaction of `client`: throws SW_LEASE_LOST unless `fence.holder` holds the lease
 * now, with the same epoch, and no newer holder has written under it; then records the epoch
 * as the newest to write (that row locked until the transaction ends). Call it first in every
 * transaction that writes under a lease.
 */
export async function checkFence(client: pg.PoolClient, fence: LeaseFence): Promise<void> {
  const lost = (): StoreError =>
    new StoreError('SW_LEASE_LOST', `this collector (${fence.holder}) no longer holds the lease ${fence.name} (epoch ${fence.epoch}): another collector does its work now; nothing was written`);
  const held = await client.query('SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > clock_timestamp()', [fence.name, fence.holder, fence.epoch]);
  if (held.rowCount !== 1) throw lost();
  const newest = await client.query(
    `INSERT INTO lease_fences AS f (name, epoch) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET epoch = excluded.epoch WHERE f.epoch <= excluded.epoch RETURNING 1`,
    [fence.name, fence.epoch],
  );
  if (newest.rowCount !== 1) throw lost();
}
