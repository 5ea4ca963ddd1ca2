/**
 * The `agents` table: who may report (by the SHA-256 hash of their token; the token itself is
 * never stored), what each site is, and when it was last heard from. Identity changes (add,
 * revoke, rotate) move `agent_changes.seq` (migration 3), which the running collector polls.
 */
import type { SiteKind, Technology } from '@speedwatch/shared';
import type { Db } from './database.js';
import { StoreError, storeRead, storeWrite } from './store-error.js';
import type { AgentRecord, AgentTouch, NewAgent } from './store-types.js';

/** A row of `agents` without its token hash. */
export interface AgentRow {
  id: string;
  name: string;
  site_kind: string;
  technology: string;
  isp: string | null;
  area: string | null;
  area_code: string | null;
  lat: number | null;
  lon: number | null;
  contract_mbps: number | null;
  created_at: number;
  revoked_at: number | null;
  version: string | null;
  last_seen_at: number | null;
  paused_at: number | null;
}

/** An agent and the hash of its current token, as the in-memory directory loads them. */
export interface AgentWithToken {
  agent: AgentRecord;
  /** Absent for a revoked agent. */
  tokenHash?: string;
}

export const AGENT_COLUMNS = 'id, name, site_kind, technology, isp, area, area_code, lat, lon, contract_mbps, created_at, revoked_at, version, last_seen_at, paused_at';

function prepare(db: Db) {
  return {
    insert: db.prepare<[string, string, string, string, string | null, string | null, string | null, number | null, number | null, number | null, string, number]>(
      `INSERT INTO agents (id, name, site_kind, technology, isp, area, area_code, lat, lon, contract_mbps, token_hash, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    get: db.prepare<[string], AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`),
    byTokenHash: db.prepare<[string], AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE token_hash = ? AND revoked_at IS NULL`),
    list: db.prepare<[], AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`),
    listWithTokens: db.prepare<[], AgentRow & { token_hash: string }>(`SELECT ${AGENT_COLUMNS}, token_hash FROM agents ORDER BY id`),
    revoke: db.prepare<[number, string]>('UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
    edit: db.prepare<[string, string, string, string | null, string | null, string | null, number | null, number | null, number | null, string]>(
      'UPDATE agents SET name = ?, site_kind = ?, technology = ?, isp = ?, area = ?, area_code = ?, lat = ?, lon = ?, contract_mbps = ? WHERE id = ?',
    ),
    pause: db.prepare<[number, string]>('UPDATE agents SET paused_at = ? WHERE id = ? AND revoked_at IS NULL AND paused_at IS NULL'),
    resume: db.prepare<[string]>('UPDATE agents SET paused_at = NULL WHERE id = ? AND paused_at IS NOT NULL'),
    rotate: db.prepare<[string, string]>('UPDATE agents SET token_hash = ? WHERE id = ? AND revoked_at IS NULL'),
    // Never moves last_seen_at backwards: touches from two collectors' threads may cross.
    touch: db.prepare<[string | null, number, string]>(
      'UPDATE agents SET version = coalesce(?, version), last_seen_at = max(coalesce(last_seen_at, 0), ?) WHERE id = ?',
    ),
    changeSeq: db.prepare<[], { seq: number }>('SELECT seq FROM agent_changes WHERE id = 1'),
  };
}

export class AgentRegistry {
  readonly #path: string;
  readonly #s: ReturnType<typeof prepare>;
  readonly #touchTx: (touches: readonly AgentTouch[]) => void;
  readonly #pauseTx: (ids: readonly string[], at: number | undefined) => string[];

  constructor(db: Db, path: string) {
    this.#path = path;
    this.#s = prepare(db);
    this.#touchTx = db.transaction((touches: readonly AgentTouch[]) => {
      for (const t of touches) this.#s.touch.run(t.version ?? null, t.lastSeenAt, t.id);
    });
    this.#pauseTx = db.transaction((ids: readonly string[], at: number | undefined) =>
      ids.filter((id) => (at === undefined ? this.#s.resume.run(id) : this.#s.pause.run(at, id)).changes === 1),
    );
  }

  /** Registers an agent with the hash of its token; `SW_AGENT_EXISTS` if the id is taken. */
  add(agent: NewAgent, tokenHash: string, now: number): AgentRecord {
    const changes = storeWrite(this.#path, `add agent ${agent.id}`, () =>
      this.#s.insert.run(agent.id, agent.name, agent.siteKind, agent.technology, agent.isp ?? null, agent.area ?? null, agent.areaCode ?? null, agent.lat ?? null, agent.lon ?? null, agent.contractMbps ?? null, tokenHash, now),
    ).changes;
    if (changes === 0) throw new StoreError('SW_AGENT_EXISTS', `agent ${agent.id} already exists`);
    return this.get(agent.id) as AgentRecord; // read back: exactly what is stored
  }

  get(id: string): AgentRecord | undefined {
    const row = storeRead(this.#path, `read agent ${id}`, () => this.#s.get.get(id));
    return row === undefined ? undefined : toAgent(row);
  }

  /** The active agent holding this token hash. */
  byTokenHash(tokenHash: string): AgentRecord | undefined {
    const row = storeRead(this.#path, 'look up an agent by token', () => this.#s.byTokenHash.get(tokenHash));
    return row === undefined ? undefined : toAgent(row);
  }

  /** All agents, revoked ones included, ordered by id. */
  list(): AgentRecord[] {
    return storeRead(this.#path, 'list agents', () => this.#s.list.all()).map(toAgent);
  }

  /** All agents with their token hashes (none for the revoked), for the in-memory directory. */
  listWithTokens(): AgentWithToken[] {
    return storeRead(this.#path, 'load agents', () => this.#s.listWithTokens.all()).map((row) => {
      const agent = toAgent(row);
      return row.revoked_at === null ? { agent, tokenHash: row.token_hash } : { agent };
    });
  }

  /** False if there is no such active agent. */
  revoke(id: string, now: number): boolean {
    return storeWrite(this.#path, `revoke agent ${id}`, () => this.#s.revoke.run(now, id)).changes === 1;
  }

  /** Replaces a site's description (not its id, token or history); false if there is no such agent. */
  edit(id: string, site: Omit<NewAgent, 'id'>): boolean {
    return (
      storeWrite(this.#path, `edit agent ${id}`, () =>
        this.#s.edit.run(site.name, site.siteKind, site.technology, site.isp ?? null, site.area ?? null, site.areaCode ?? null, site.lat ?? null, site.lon ?? null, site.contractMbps ?? null, id),
      ).changes === 1
    );
  }

  /** Pauses (`at` the time) or resumes (`at` undefined) agents, one transaction; returns the ids whose state changed. */
  setPaused(ids: readonly string[], at: number | undefined): string[] {
    return storeWrite(this.#path, `${at === undefined ? 'resume' : 'pause'} ${ids.length} agents`, () => this.#pauseTx(ids, at));
  }

  /** Replaces the token hash; false if there is no such active agent. */
  rotate(id: string, tokenHash: string): boolean {
    return storeWrite(this.#path, `rotate the token of agent ${id}`, () => this.#s.rotate.run(tokenHash, id)).changes === 1;
  }

  /** Records versions and last-seen times, in one transaction; unknown ids are skipped. */
  touch(touches: readonly AgentTouch[]): void {
    if (touches.length === 0) return;
    storeWrite(this.#path, `record when ${touches.length} agents were last seen`, () => this.#touchTx(touches));
  }

  /** Moves whenever an agent is added, revoked, rotated or edited (by any connection). */
  changeSeq(): number {
    return storeRead(this.#path, 'read the agent change counter', () => this.#s.changeSeq.get()?.seq ?? 0);
  }
}

/** A row as an AgentRecord (NULL columns absent). */
export function toAgent(row: AgentRow): AgentRecord {
  const agent: AgentRecord = {
    id: row.id,
    name: row.name,
    siteKind: row.site_kind as SiteKind,
    technology: row.technology as Technology,
    createdAt: row.created_at,
  };
  if (row.isp !== null) agent.isp = row.isp;
  if (row.area !== null) agent.area = row.area;
  if (row.area_code !== null) agent.areaCode = row.area_code;
  if (row.lat !== null) agent.lat = row.lat;
  if (row.lon !== null) agent.lon = row.lon;
  if (row.contract_mbps !== null) agent.contractMbps = row.contract_mbps;
  if (row.revoked_at !== null) agent.revokedAt = row.revoked_at;
  if (row.version !== null) agent.version = row.version;
  if (row.last_seen_at !== null) agent.lastSeenAt = row.last_seen_at;
  if (row.paused_at !== null) agent.pausedAt = row.paused_at;
  return agent;
}
