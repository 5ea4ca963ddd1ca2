/**
 * The verdicts the lease holder computed, published on PostgreSQL for the other collectors
 * (tables `verdict_state`, `verdict_agents`, `verdict_groups`, migration 4), as the JSON text
 * it serves itself: every collector then answers with the same bytes. Each publication is one
 * transaction under the lease (checkFence) that moves `verdict_state.seq`; an agent's row
 * takes the seq of the publication that changed it, so a reader asks only for the rows past
 * the seq it last read.
 */
import type { LeaseFence } from '../../cluster/lease.js';
import type { PublishedVerdicts, VerdictPublication, VerdictsToPublish } from '../collector-store.js';
import type { PgDb } from './postgres-db.js';
import { checkFence } from './postgres-leases.js';

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
      const ids = verdicts.agents.map((a) => a.agentId);
      if (verdicts.full) {
        // A holder's first publication names every agent with verdicts: the others have none.
        await client.query('UPDATE verdict_agents SET verdicts = NULL, seq = $1 WHERE verdicts IS NOT NULL AND NOT (agent_id = ANY($2::text[]))', [seq, ids]);
      }
      if (ids.length > 0) {
        await client.query(
          `INSERT INTO verdict_agents (agent_id, seq, verdicts) SELECT t.agent_id, $1, t.verdicts FROM unnest($2::text[], $3::text[]) AS t (agent_id, verdicts)
           ON CONFLICT (agent_id) DO UPDATE SET seq = excluded.seq, verdicts = excluded.verdicts`,
          [seq, ids, verdicts.agents.map((a) => a.json)],
        );
      }
      if (verdicts.removed.length > 0) await client.query('UPDATE verdict_agents SET verdicts = NULL, seq = $1 WHERE agent_id = ANY($2::text[])', [seq, verdicts.removed]);
      await client.query('DELETE FROM verdict_groups');
      await client.query(
        'INSERT INTO verdict_groups (group_by, window_name, verdicts) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])',
        [verdicts.groups.map((g) => g.groupBy), verdicts.groups.map((g) => g.window), verdicts.groups.map((g) => g.json)],
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
      const groups = await client.query<[string, string, string]>({ text: 'SELECT group_by, window_name, verdicts FROM verdict_groups', rowMode: 'array' });
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
