/**
 * The agents' registry, enrollment codes, health reports and area units on PostgreSQL, with
 * SQLite's semantics (agent-registry.ts, enrollment-codes.ts, agent-health.ts, area-units.ts).
 */
import type pg from 'pg';
import type { AgentStore, AreaUnitStore, EnrollmentStore, HealthStore } from '../collector-store.js';
import type { AgentHealthRecord, AgentRecord, AgentTouch, NewAgent } from '../store-types.js';
import type { AgentRow, AgentWithToken } from '../agent-registry.js';
import { AGENT_COLUMNS, toAgent } from '../agent-registry.js';
import type { HealthRow, LoadedHealth } from '../agent-health.js';
import { loadHealth } from '../agent-health.js';
import type { AreaUnit, UnitRow } from '../area-units.js';
import { toUnit } from '../area-units.js';
import type { CodeRow, CodeState, Redemption } from '../enrollment-codes.js';
import { refusal } from '../enrollment-codes.js';
import { StoreError } from '../store-error.js';
import type { PgDb } from './postgres-db.js';

async function insertAgent(client: pg.ClientBase, agent: NewAgent, tokenHash: string, now: number): Promise<void> {
  const { rowCount } = await client.query(
    `INSERT INTO agents (id, name, site_kind, technology, isp, area, area_code, lat, lon, contract_mbps, token_hash, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`,
    [agent.id, agent.name, agent.siteKind, agent.technology, agent.isp ?? null, agent.area ?? null, agent.areaCode ?? null, agent.lat ?? null, agent.lon ?? null, agent.contractMbps ?? null, tokenHash, now],
  );
  if (rowCount === 0) throw new StoreError('SW_AGENT_EXISTS', `agent ${agent.id} already exists`);
}

export class PgAgents implements AgentStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async add(agent: NewAgent, tokenHash: string, now: number): Promise<AgentRecord> {
    await this.#db.writing(`add agent ${agent.id}`, (client) => insertAgent(client, agent, tokenHash, now));
    return (await this.get(agent.id)) as AgentRecord; // read back: exactly what is stored
  }

  async get(id: string): Promise<AgentRecord | undefined> {
    const rows = await this.#db.read<AgentRow>(`read agent ${id}`, `SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : toAgent(rows[0]);
  }

  async byTokenHash(tokenHash: string): Promise<AgentRecord | undefined> {
    const rows = await this.#db.read<AgentRow>('look up an agent by token', `SELECT ${AGENT_COLUMNS} FROM agents WHERE token_hash = $1 AND revoked_at IS NULL`, [tokenHash]);
    return rows[0] === undefined ? undefined : toAgent(rows[0]);
  }

  async list(): Promise<AgentRecord[]> {
    return (await this.#db.read<AgentRow>('list agents', `SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`)).map(toAgent);
  }

  async listWithTokens(): Promise<AgentWithToken[]> {
    const rows = await this.#db.read<AgentRow & { token_hash: string }>('load agents', `SELECT ${AGENT_COLUMNS}, token_hash FROM agents ORDER BY id`);
    return rows.map((row) => (row.revoked_at === null ? { agent: toAgent(row), tokenHash: row.token_hash } : { agent: toAgent(row) }));
  }

  async revoke(id: string, now: number): Promise<boolean> {
    return ((await this.#db.write(`revoke agent ${id}`, 'UPDATE agents SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id])).rowCount ?? 0) === 1;
  }

  async edit(id: string, site: Omit<NewAgent, 'id'>): Promise<boolean> {
    const { rowCount } = await this.#db.write(
      `edit agent ${id}`,
      'UPDATE agents SET name = $1, site_kind = $2, technology = $3, isp = $4, area = $5, area_code = $6, lat = $7, lon = $8, contract_mbps = $9 WHERE id = $10',
      [site.name, site.siteKind, site.technology, site.isp ?? null, site.area ?? null, site.areaCode ?? null, site.lat ?? null, site.lon ?? null, site.contractMbps ?? null, id],
    );
    return rowCount === 1;
  }

  async setPaused(ids: readonly string[], at: number | undefined): Promise<string[]> {
    const { rows } = await this.#db.write<{ id: string }>(
      `${at === undefined ? 'resume' : 'pause'} ${ids.length} agents`,
      at === undefined
        ? 'UPDATE agents SET paused_at = NULL WHERE id = ANY($1) AND paused_at IS NOT NULL RETURNING id'
        : 'UPDATE agents SET paused_at = $2 WHERE id = ANY($1) AND revoked_at IS NULL AND paused_at IS NULL RETURNING id',
      at === undefined ? [ids] : [ids, at],
    );
    const changed = new Set(rows.map((r) => r.id));
    return [...new Set(ids)].filter((id) => changed.has(id)); // in the order asked, as SQLite's
  }

  async rotate(id: string, tokenHash: string): Promise<boolean> {
    return ((await this.#db.write(`rotate the token of agent ${id}`, 'UPDATE agents SET token_hash = $1 WHERE id = $2 AND revoked_at IS NULL', [tokenHash, id])).rowCount ?? 0) === 1;
  }

  async touch(touches: readonly AgentTouch[]): Promise<void> {
    if (touches.length === 0) return;
    // One row per agent, as a sequence of SQLite's updates would leave it: the latest version given, the latest time.
    const byId = new Map<string, { version: string | null; lastSeenAt: number }>();
    for (const t of touches) {
      const seen = byId.get(t.id);
      byId.set(t.id, { version: t.version ?? seen?.version ?? null, lastSeenAt: Math.max(seen?.lastSeenAt ?? t.lastSeenAt, t.lastSeenAt) });
    }
    const ids = [...byId.keys()];
    await this.#db.write(
      `record when ${touches.length} agents were last seen`,
      // Never moves last_seen_at backwards: touches from two collectors may cross.
      `UPDATE agents a SET version = coalesce(t.version, a.version), last_seen_at = greatest(coalesce(a.last_seen_at, 0), t.last_seen_at)
       FROM unnest($1::text[], $2::text[], $3::int8[]) AS t (id, version, last_seen_at) WHERE a.id = t.id`,
      [ids, ids.map((id) => byId.get(id)?.version ?? null), ids.map((id) => byId.get(id)?.lastSeenAt ?? 0)],
    );
  }

  async changeSeq(): Promise<number> {
    return (await this.#db.read<{ seq: number }>('read the agent change counter', 'SELECT seq FROM agent_changes WHERE id = 1'))[0]?.seq ?? 0;
  }
}

export class PgEnrollment implements EnrollmentStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async issue(agentId: string, codeHash: string, now: number, expiresAt: number, add?: { agent: NewAgent; tokenHash: string }): Promise<void> {
    await this.#db.writing(`issue an enrollment code for agent ${agentId}`, async (client) => {
      if (add !== undefined) await insertAgent(client, add.agent, add.tokenHash, now);
      await client.query('UPDATE enrollment_codes SET expires_at = $1 WHERE agent_id = $2 AND used_at IS NULL AND expires_at > $1', [now, agentId]);
      await client.query('INSERT INTO enrollment_codes (code_hash, agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [codeHash, agentId, now, expiresAt]);
    });
  }

  async redeem(codeHash: string, tokenHash: string, now: number): Promise<Redemption> {
    // The code's row locked: two boxes typing the same code race here, and exactly one is enrolled.
    return this.#db.writing('redeem an enrollment code', async (client): Promise<Redemption> => {
      const { rows } = await client.query<CodeRow>(
        `SELECT c.agent_id, c.created_at, c.expires_at, c.used_at, a.revoked_at
         FROM enrollment_codes c JOIN agents a ON a.id = c.agent_id WHERE c.code_hash = $1 FOR UPDATE OF c`,
        [codeHash],
      );
      const row = rows[0];
      const refused = refusal(row, now);
      if (refused !== undefined || row === undefined) return refused ?? { outcome: 'unknown' };
      await client.query('UPDATE enrollment_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL', [now, codeHash]);
      await client.query('UPDATE agents SET token_hash = $1 WHERE id = $2 AND revoked_at IS NULL', [tokenHash, row.agent_id]);
      return { outcome: 'enrolled', agentId: row.agent_id };
    });
  }

  async latestByAgent(): Promise<Map<string, CodeState>> {
    const rows = await this.#db.read<{ agent_id: string; created_at: number; expires_at: number; used_at: number | null }>(
      'list enrollment codes',
      `SELECT agent_id, created_at, expires_at, used_at FROM enrollment_codes c
       WHERE created_at = (SELECT max(created_at) FROM enrollment_codes d WHERE d.agent_id = c.agent_id)`,
    );
    return new Map(rows.map((r) => [r.agent_id, { agentId: r.agent_id, createdAt: r.created_at, expiresAt: r.expires_at, ...(r.used_at === null ? {} : { usedAt: r.used_at }) }]));
  }
}

export class PgHealth implements HealthStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async save(records: readonly AgentHealthRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One row per agent (an upsert may not touch a row twice): the newest report, as SQLite's sequence would keep.
    const newest = new Map<string, AgentHealthRecord>();
    for (const r of records) if ((newest.get(r.agentId)?.receivedAt ?? -Infinity) <= r.receivedAt) newest.set(r.agentId, r);
    const rows = [...newest.values()];
    await this.#db.write(
      `record the health of ${records.length} agents`,
      // Only agents that exist, and never an older report over a newer one (two collectors' saves may cross).
      `INSERT INTO agent_health (agent_id, received_at, skew_ms, report)
       SELECT t.agent_id, t.received_at, t.skew_ms, t.report FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[]) AS t (agent_id, received_at, skew_ms, report)
       WHERE EXISTS (SELECT 1 FROM agents WHERE id = t.agent_id)
       ON CONFLICT (agent_id) DO UPDATE SET received_at = excluded.received_at, skew_ms = excluded.skew_ms, report = excluded.report
       WHERE excluded.received_at >= agent_health.received_at`,
      [rows.map((r) => r.agentId), rows.map((r) => r.receivedAt), rows.map((r) => Math.round(r.skewMs)), rows.map((r) => JSON.stringify(r.report))],
    );
  }

  async list(): Promise<LoadedHealth> {
    return loadHealth(await this.#db.read<HealthRow>('load the agents\' health', 'SELECT agent_id, received_at, skew_ms, report FROM agent_health ORDER BY agent_id'));
  }
}

export class PgAreaUnits implements AreaUnitStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async upsert(units: readonly AreaUnit[]): Promise<void> {
    if (units.length === 0) return;
    const last = [...new Map(units.map((u) => [u.code, u])).values()]; // the last of a code wins, as in SQLite's sequence
    await this.#db.write(
      `import ${units.length} area units`,
      `INSERT INTO area_units (code, name, parent_code, valid_from, valid_to)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[])
       ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_code = excluded.parent_code, valid_from = excluded.valid_from, valid_to = excluded.valid_to`,
      [last.map((u) => u.code), last.map((u) => u.name), last.map((u) => u.parentCode ?? null), last.map((u) => u.validFrom ?? null), last.map((u) => u.validTo ?? null)],
    );
  }

  async all(): Promise<Map<string, AreaUnit>> {
    const rows = await this.#db.read<UnitRow>('read the area units', 'SELECT code, name, parent_code, valid_from, valid_to FROM area_units ORDER BY code');
    return new Map(rows.map((r) => [r.code, toUnit(r)]));
  }
}
