/**
 * Which collector holds each agent's connection, on PostgreSQL (tables `collectors` and
 * `agent_connections`, migration 4): each collector writes, once a heartbeat and in one
 * transaction, that it is alive (until three heartbeats from now, the database's clock) and
 * which connections it opened and lost since; then reads every live collector's. An agent's row
 * is replaced by the connection registered last, so the collector holding an older one finds
 * another collector named and closes its own (cluster/fleet-connections.ts). The rows of a
 * collector that died stop counting when its presence expires, and are deleted by the lease
 * holder later.
 */
import type { AgentConnection, CollectorPresence, ConnectionStore } from '../collector-store.js';
import type { PgDb } from './postgres-db.js';

export class PgConnections implements ConnectionStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async beat(self: CollectorPresence, ttlMs: number, opened: readonly AgentConnection[], closed: readonly AgentConnection[], reassert: readonly AgentConnection[] = []): Promise<void> {
    await this.#db.writing(`record the connections of collector ${self.id}`, async (client) => {
      await client.query(
        `INSERT INTO collectors (id, url, started_at, seen_at, expires_at)
         VALUES ($1, $2, to_timestamp($3 / 1000.0), clock_timestamp(), clock_timestamp() + $4 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, seen_at = excluded.seen_at, expires_at = excluded.expires_at`,
        [self.id, self.url, self.startedAt, ttlMs],
      );
      if (closed.length > 0) {
        // Only rows still naming this connection: a newer one (here or elsewhere) stays.
        await client.query(
          `DELETE FROM agent_connections c USING unnest($2::text[], $3::int8[]) AS t (agent_id, conn)
           WHERE c.agent_id = t.agent_id AND c.collector = $1 AND c.conn = t.conn`,
          [self.id, closed.map((c) => c.agentId), closed.map((c) => c.conn)],
        );
      }
      if (reassert.length > 0) {
        // After a failed beat: rows that may have been pruned meanwhile, never over a newer one.
        await client.query(
          `INSERT INTO agent_connections (agent_id, collector, conn, connected_at)
           SELECT t.agent_id, $1, t.conn, clock_timestamp() FROM unnest($2::text[], $3::int8[]) AS t (agent_id, conn)
           ON CONFLICT (agent_id) DO NOTHING`,
          [self.id, reassert.map((c) => c.agentId), reassert.map((c) => c.conn)],
        );
      }
      if (opened.length > 0) {
        await client.query(
          `INSERT INTO agent_connections (agent_id, collector, conn, connected_at)
           SELECT t.agent_id, $1, t.conn, clock_timestamp() FROM unnest($2::text[], $3::int8[]) AS t (agent_id, conn)
           ON CONFLICT (agent_id) DO UPDATE SET collector = excluded.collector, conn = excluded.conn, connected_at = excluded.connected_at`,
          [self.id, opened.map((c) => c.agentId), opened.map((c) => c.conn)],
        );
      }
    });
  }

  async list(): Promise<[agentId: string, collector: string][]> {
    const { rows } = await this.#db.reading('read the fleet\'s connections', (client) =>
      client.query<[string, string]>({
        text: 'SELECT c.agent_id, c.collector FROM agent_connections c JOIN collectors k ON k.id = c.collector WHERE k.expires_at > clock_timestamp()',
        rowMode: 'array',
      }),
      'READ COMMITTED',
    );
    return rows;
  }

  async collectors(): Promise<{ id: string; url: string; live: boolean; connections: number }[]> {
    return this.#db.read<{ id: string; url: string; live: boolean; connections: number }>(
      'read the collectors',
      `SELECT k.id, k.url, k.expires_at > clock_timestamp() AS live, (SELECT count(*) FROM agent_connections c WHERE c.collector = k.id)::int AS connections
       FROM collectors k ORDER BY k.id`,
    );
  }

  async leave(collectorId: string): Promise<void> {
    await this.#db.writing(`remove collector ${collectorId} from the fleet`, async (client) => {
      await client.query('DELETE FROM agent_connections WHERE collector = $1', [collectorId]);
      await client.query('DELETE FROM collectors WHERE id = $1', [collectorId]);
    });
  }

  async prune(deadForMs: number): Promise<number> {
    return this.#db.writing('forget collectors that died', async (client) => {
      const dead = "SELECT id FROM collectors WHERE expires_at < clock_timestamp() - $1 * interval '1 millisecond'";
      const { rowCount } = await client.query(`DELETE FROM agent_connections WHERE collector IN (${dead})`, [deadForMs]);
      await client.query(`DELETE FROM collectors WHERE id IN (${dead})`, [deadForMs]);
      return rowCount ?? 0;
    });
  }
}
