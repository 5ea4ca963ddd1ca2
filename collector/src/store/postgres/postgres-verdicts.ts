/**
 * The verdicts the lease holder computed, published on PostgreSQL for the other collectors
 * (tables `verdict_state`, `verdict_agents`, `verdict_groups`, migration 4), as the JSON text
 * it serves itself: every collector then answers with the same bytes. Each publication is one
 * transaction under the lease (checkFence) that moves `verdict_state.seq`; an agent's or a
 * grouping's row takes the seq of the publication that changed it, so a pass writes only what
 * changed and a reader asks only for the rows past the seq it last read (the groupings by area
 * alone are tens of megabytes at 40 000 sites).
 */
import type { LeaseFence } from '../../cluster/lease.js';
import type { PublishedVerdicts, VerdictPublication, VerdictsToPublish } from '../collector-store.js';
import { copyRows } from './postgres-copy.js';
import type { PgDb } from './postgres-db.js';
import { checkFence } from './postgres-leases.js';

/** Where a publication's rows are copied first: one pair per connection, emptied at each commit. */
const INCOMING_SQL = `
  CREATE TEMP TABLE IF NOT EXISTS incoming_verdicts (agent_id text COLLATE "C", verdicts text) ON COMMIT DELETE ROWS;
  CREATE TEMP TABLE IF NOT EXISTS incoming_verdict_groups (group_by text, window_name text, verdicts text) ON COMMIT DELETE ROWS`;

export class PgVerdicts implements VerdictPublication {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async publish(fence: LeaseFence, verdicts: VerdictsToPublish): Promise<number> {
    return this.#db.writing('publish the verdicts', async (client) => {
      await checkFence(client, fence);
      const { rows } = await client.query<{ seq: number }>('UPDATE verdict_state SET seq = seq + 1, computed_at = $1, holder = $2 WHERE id = 1 RETURNING seq', [verdicts.computedAt, fence.holder]);
      const seq = (rows[0] as { seq: number }).seq;
      // COPY a row at a time into temporary tables, then one statement each: a first publication
      // at 40 000 sites is ~100 MB of JSON, which as parameter arrays was built whole in memory
      // (twice, escaped) before a byte was sent.
      await client.query(INCOMING_SQL);
      await copyRows(client, 'incoming_verdicts', ['agent_id', 'verdicts'], verdicts.agents.map((a) => [a.agentId, a.json]));
      await copyRows(client, 'incoming_verdict_groups', ['group_by', 'window_name', 'verdicts'], verdicts.groups.map((g) => [g.groupBy, g.window, g.json]));
      if (verdicts.full) {
        // A holder's first publication names every agent with verdicts and every grouping: the others have none.
        await client.query('UPDATE verdict_agents v SET verdicts = NULL, seq = $1 WHERE verdicts IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incoming_verdicts i WHERE i.agent_id = v.agent_id)', [seq]);
        await client.query('DELETE FROM verdict_groups');
      }
      await client.query(
        `INSERT INTO verdict_agents (agent_id, seq, verdicts) SELECT agent_id, $1, verdicts FROM incoming_verdicts
         ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, verdicts = excluded.verdicts`,
        [seq],
      );
      if (verdicts.removed.length > 0) await client.query('UPDATE verdict_agents SET verdicts = NULL, seq = $1 WHERE agent_id = ANY($2::text[])', [seq, verdicts.removed]);
      await client.query(
        `INSERT INTO verdict_groups (group_by, window_name, seq, verdicts) SELECT group_by, window_name, $1, verdicts FROM incoming_verdict_groups
         ON CONFLICT (group_by, window_name) DO UPDATE SET seq = excluded.seq, verdicts = excluded.verdicts`,
        [seq],
      );
      return seq;
    });
  }

  async read(afterSeq: number): Promise<PublishedVerdicts | undefined> {
    return this.#db.reading('read the published verdicts', async (client) => {
      const { rows } = await client.query<{ seq: number; computed_at: number | null; holder: string | null }>('SELECT seq, computed_at, holder FROM verdict_state WHERE id = 1');
      const state = rows[0];
      if (state === undefined || state.seq === afterSeq || state.computed_at === null) return undefined;
      // A seq going back is another database (restored): read it all again.
      const full = afterSeq === 0 || state.seq < afterSeq;
      const agents = await client.query<[string, string | null]>({
        text: full ? 'SELECT agent_id, verdicts FROM verdict_agents WHERE verdicts IS NOT NULL' : 'SELECT agent_id, verdicts FROM verdict_agents WHERE seq > $1',
        values: full ? [] : [afterSeq],
        rowMode: 'array',
      });
      const groups = await client.query<[string, string, string]>({
        text: `SELECT group_by, window_name, verdicts FROM verdict_groups${full ? '' : ' WHERE seq > $1'}`,
        values: full ? [] : [afterSeq],
        rowMode: 'array',
      });
      return {
        seq: state.seq,
        computedAt: state.computed_at,
        holder: state.holder ?? '',
        full,
        agents: agents.rows.map(([agentId, json]) => ({ agentId, json })),
        groups: groups.rows.map(([groupBy, window, json]) => ({ groupBy, window, json })),
      };
    });
  }
}
