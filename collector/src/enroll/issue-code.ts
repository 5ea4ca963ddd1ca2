/**
 * Issuing enrollment codes: for the CLI (`agents add --enroll`, `agents enroll`, `agents
 * import`), on its own connection, and for the API (`POST /api/v1/enrollment-codes`), whose
 * code is drawn on the serving thread and stored, as its hash, by the store writer.
 */
import { randomBytes } from 'node:crypto';
import { ENROLLMENT_CODE_RANDOM_BYTES, formatEnrollmentCode, makeEnrollmentCode } from '@speedwatch/shared';
import type { SqliteStore } from '../store/sqlite-store.js';
import { hashEnrollmentCode } from './enroll-route.js';

/** How long a code stays usable unless `--expires` says otherwise. */
export const DEFAULT_CODE_LIFETIME_MS = 7 * 86_400_000;
/** The shortest and longest lifetimes a code may be given, ms. */
export const CODE_LIFETIME_RANGE_MS = Object.freeze({ min: 60_000, max: 366 * 86_400_000 });

export interface IssuedCode {
  agentId: string;
  /** As shown to people: groups of four. */
  code: string;
  expiresAt: number;
}

/** A fresh code: as shown to people, and the hash enrollment_codes stores. */
export function newEnrollmentCode(random: (bytes: number) => Uint8Array = randomBytes): { code: string; codeHash: string } {
  const canonical = makeEnrollmentCode(random(ENROLLMENT_CODE_RANDOM_BYTES));
  return { code: formatEnrollmentCode(canonical), codeHash: hashEnrollmentCode(canonical) };
}

/** A new code for `agentId` (its earlier unused codes end); call inside a transaction to issue several at once. */
export function issueCode(store: SqliteStore, agentId: string, now: number, lifetimeMs: number = DEFAULT_CODE_LIFETIME_MS): IssuedCode {
  const { code, codeHash } = newEnrollmentCode();
  const expiresAt = now + lifetimeMs;
  store.enrollment.issue(agentId, codeHash, now, expiresAt);
  return { agentId, code, expiresAt };
}
