/**
 * The `enrollment_codes` table (migration 4): one-time codes a person types on a box, which
 * `speedwatch-agent enroll` exchanges for the agent's token (docs/deploy.md). Only a code's
 * SHA-256 is stored. An agent has at most one live code: issuing a new one ends the others.
 * Using a code sets the agent's token hash, so the token it replaces (if any) stops working.
 */
import type { Db } from './database.js';
import { storeRead, storeWrite } from './store-error.js';

/** What became of a code presented for enrollment. */
export type Redemption =
  | { outcome: 'enrolled'; agentId: string }
  /** No such code, or its agent is revoked. */
  | { outcome: 'unknown' }
  | { outcome: 'used'; usedAt: number }
  | { outcome: 'expired'; expiredAt: number };

/** A code as `agents list` shows it: never the code itself. */
export interface CodeState {
  agentId: string;
  createdAt: number;
  expiresAt: number;
  usedAt?: number;
}

/** A code with its agent's revocation, as redeeming reads it. */
export interface CodeRow {
  agent_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

/** Why the code `row` (undefined: no such code) cannot be used at `now`, or undefined when it can. */
export function refusal(row: CodeRow | undefined, now: number): Exclude<Redemption, { outcome: 'enrolled' }> | undefined {
  if (row === undefined || row.revoked_at !== null) return { outcome: 'unknown' };
  if (row.used_at !== null) return { outcome: 'used', usedAt: row.used_at };
  if (row.expires_at <= now) return { outcome: 'expired', expiredAt: row.expires_at };
  return undefined;
}

function prepare(db: Db) {
  return {
    endLive: db.prepare<[number, string, number]>('UPDATE enrollment_codes SET expires_at = ? WHERE agent_id = ? AND used_at IS NULL AND expires_at > ?'),
    insert: db.prepare<[string, string, number, number]>('INSERT INTO enrollment_codes (code_hash, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?)'),
    find: db.prepare<[string], CodeRow>(
      `SELECT c.agent_id, c.created_at, c.expires_at, c.used_at, a.revoked_at
       FROM enrollment_codes c JOIN agents a ON a.id = c.agent_id WHERE c.code_hash = ?`,
    ),
    use: db.prepare<[number, string]>('UPDATE enrollment_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL'),
    setToken: db.prepare<[string, string]>('UPDATE agents SET token_hash = ? WHERE id = ? AND revoked_at IS NULL'),
    latest: db.prepare<[], { agent_id: string; created_at: number; expires_at: number; used_at: number | null }>(
      `SELECT agent_id, created_at, expires_at, used_at FROM enrollment_codes c
       WHERE created_at = (SELECT max(created_at) FROM enrollment_codes d WHERE d.agent_id = c.agent_id)`,
    ),
  };
}

export class EnrollmentCodes {
  readonly #path: string;
  readonly #s: ReturnType<typeof prepare>;
  readonly #issueTx: (agentId: string, codeHash: string, now: number, expiresAt: number) => void;
  readonly #redeemTx: (codeHash: string, tokenHash: string, now: number) => Redemption;

  constructor(db: Db, path: string) {
    this.#path = path;
    this.#s = prepare(db);
    this.#issueTx = db.transaction((agentId: string, codeHash: string, now: number, expiresAt: number) => {
      this.#s.endLive.run(now, agentId, now);
      this.#s.insert.run(codeHash, agentId, now, expiresAt);
    });
    // One transaction on the writer's connection: two boxes typing the same code race here,
    // and exactly one of them is enrolled.
    this.#redeemTx = db.transaction((codeHash: string, tokenHash: string, now: number): Redemption => {
      const row = this.#s.find.get(codeHash);
      const refused = refusal(row, now);
      if (refused !== undefined || row === undefined) return refused ?? { outcome: 'unknown' };
      this.#s.use.run(now, codeHash);
      this.#s.setToken.run(tokenHash, row.agent_id);
      return { outcome: 'enrolled', agentId: row.agent_id };
    });
  }

  /** Issues a code (by its hash) for `agentId`, valid until `expiresAt`; the agent's earlier unused codes end now. */
  issue(agentId: string, codeHash: string, now: number, expiresAt: number): void {
    storeWrite(this.#path, `issue an enrollment code for agent ${agentId}`, () => this.#issueTx(agentId, codeHash, now, expiresAt));
  }

  /** Uses the code: on success the agent's token hash becomes `tokenHash`. */
  redeem(codeHash: string, tokenHash: string, now: number): Redemption {
    return storeWrite(this.#path, 'redeem an enrollment code', () => this.#redeemTx(codeHash, tokenHash, now));
  }

  /** Each agent's newest code, for `agents list`. */
  latestByAgent(): Map<string, CodeState> {
    const rows = storeRead(this.#path, 'list enrollment codes', () => this.#s.latest.all());
    return new Map(
      rows.map((r) => [r.agent_id, { agentId: r.agent_id, createdAt: r.created_at, expiresAt: r.expires_at, ...(r.used_at === null ? {} : { usedAt: r.used_at }) }]),
    );
  }
}
