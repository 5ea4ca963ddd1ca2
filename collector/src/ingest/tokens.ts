/**
 * Agent tokens: 256 random bits, shown once at `agents add`/`rotate`; only their SHA-256 is
 * stored. A hash lookup is enough (no per-agent salt) because the tokens are random, not
 * chosen by people.
 */
import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'swa_';

export function newToken(): string {
  return `${PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The token from an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S{8,512})\s*$/i.exec(header ?? '');
  return match?.[1];
}
