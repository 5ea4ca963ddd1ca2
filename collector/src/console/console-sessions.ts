/**
 * The console's login sessions: a read token exchanged once for a random session id, kept in
 * memory with an expiry and sent back as an HttpOnly, SameSite=Strict cookie, so no token ever
 * sits in a URL or in the page's script. Sessions die with the process (people log in again
 * after a restart) and when the read token changes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie's name. */
export const SESSION_COOKIE = 'sw_session';

export interface SessionOptions {
  /** How long a session lasts from login, ms. */
  ttlMs: number;
  /** At most this many live sessions; the oldest is dropped first past it. */
  maxSessions: number;
  now: () => number;
  /** Random bytes for session ids (default node:crypto randomBytes). */
  random?: (bytes: number) => Buffer;
}

export const SESSION_DEFAULTS = Object.freeze({ ttlMs: 12 * 3_600_000, maxSessions: 10_000 });

export class ConsoleSessions {
  readonly #options: SessionOptions;
  /** Session id → expiry (ms), in order of creation. */
  readonly #expiry = new Map<string, number>();

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  /** A new session; returns its id (256 random bits, base64url). */
  create(): string {
    const id = (this.#options.random ?? randomBytes)(32).toString('base64url');
    this.#expiry.set(id, this.#options.now() + this.#options.ttlMs);
    if (this.#expiry.size > this.#options.maxSessions) {
      const oldest = this.#expiry.keys().next().value;
      if (oldest !== undefined) this.#expiry.delete(oldest);
    }
    return id;
  }

  /** True when `id` names a live session; an expired one is forgotten. */
  valid(id: string | undefined): boolean {
    if (id === undefined) return false;
    const expiry = this.#expiry.get(id);
    if (expiry === undefined) return false;
    if (expiry <= this.#options.now()) {
      this.#expiry.delete(id);
      return false;
    }
    return true;
  }

  /** Ends a session (logout). */
  end(id: string | undefined): void {
    if (id !== undefined) this.#expiry.delete(id);
  }

  /** Live and expired sessions not yet forgotten (for tests). */
  get size(): number {
    return this.#expiry.size;
  }
}

/** The session id the request's Cookie header carries, if any. */
export function sessionIdOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{1,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** The Set-Cookie value for a session (`id`), or for clearing it (`undefined`). */
export function sessionCookie(id: string | undefined, { secure, ttlMs }: { secure: boolean; ttlMs: number }): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])];
  return id === undefined
    ? [`${SESSION_COOKIE}=`, 'Max-Age=0', ...attributes].join('; ')
    : [`${SESSION_COOKIE}=${id}`, `Max-Age=${Math.floor(ttlMs / 1000)}`, ...attributes].join('; ');
}
