/** Issuing enrollment codes, for the CLI (`agents add --enroll`, `agents enroll`, `agents import`). */
import { randomBytes } from 'node:crypto';
import { ENROLLMENT_CODE_RANDOM_BYTES, formatEnrollmentCode, makeEnrollmentCode } from '@speedwatch/shared';
import type { SqliteStore } from '../store/sqlite-store.js';
import { hashEnrollmentCode } from './enroll-route.js';

/** How long a code stays usable unless `--expires` says otherwise. */
export const DEFAULT_CODE_LIFETIME_MS = 7 * 86_400_000;

export interface IssuedCode {
  agentId: string;
  /** As shown to people: groups of four. */
  code: string;
  expiresAt: number;
}

/** A new code for `agentId` (its earlier unused codes end); call inside a transaction to issue several at once. */
export function issueCode(store: SqliteStore, agentId: string, now: number, lifetimeMs: number = DEFAULT_CODE_LIFETIME_MS): IssuedCode {
  const code = makeEnrollmentCode(randomBytes(ENROLLMENT_CODE_RANDOM_BYTES));
  const expiresAt = now + lifetimeMs;
  store.enrollment.issue(agentId, hashEnrollmentCode(code), now, expiresAt);
  return { agentId, code: formatEnrollmentCode(code), expiresAt };
}
